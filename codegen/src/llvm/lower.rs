//! Lowering of one IR function to LLVM IR: the frame, the exit path, loops and memory
//! helpers, and the dispatch over ops (the ops themselves are in `ops.rs` and
//! `structured.rs`).
//!
//! Representation (as in the Cranelift back end): a value with shape `[]` is a `double`; an
//! unbatched tensor is a pointer to its row-major elements; a batched value is a pointer plus
//! a point count (`i64`). Every dtype is carried as `double`, as in the interpreter
//! (`i64`/`bool` hold integral values, `f32` values are rounded through `float` after every
//! op), so results agree bit for bit. No instruction carries fast-math flags.
//!
//! Loops are counted loops with a `phi` counter; accumulators are stack slots in the entry
//! block, which LLVM's `mem2reg`/SROA turn into registers, so the loop vectoriser sees
//! ordinary loops. Failures (an index out of range, mismatched batches, an empty batch, no
//! memory) branch to one exit block that frees what the call allocated and returns the
//! status code.

use super::{Decls, LlvmOptions};
use crate::CodegenError;
use crate::abi::Status;
use crate::abi::{WS_BASE, WS_PEAK, WS_SIZE, WS_USED, out_and_workspace};
use crate::lower::{Env, Lower, Values, function};
use crate::plan::{Plan, Storage, WorkMemory};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::module::Module as LlModule;
use inkwell::types::{FloatType, IntType, PointerType};
use inkwell::values::{
    BasicMetadataValueEnum, FloatValue, FunctionValue, IntValue, PhiValue, PointerValue,
};
use inkwell::{AddressSpace, IntPredicate};
use sci_ir::{Function, Module, ValueId};

/// Loops over at most this many elements are unrolled when their body is one element op.
pub(super) const UNROLL: usize = 8;

pub(super) type Res<T> = Result<T, CodegenError>;

impl From<BuilderError> for CodegenError {
    fn from(e: BuilderError) -> CodegenError {
        internal(&format!("LLVM's IR builder failed: {e}"))
    }
}

pub(super) fn internal(what: &str) -> CodegenError {
    CodegenError::new(format!(
        "internal error in the LLVM back end: {what} (the IR validated, so this is a bug)"
    ))
}

/// How a value is held: a `double`, a tensor's address, or a batch's address and point
/// count (`i64`).
pub(super) type Repr<'ctx> =
    crate::lower::Repr<FloatValue<'ctx>, IntValue<'ctx>, PointerValue<'ctx>>;

/// An element index: a compile-time constant or an `i64` value.
pub(super) type Ix<'ctx> = crate::lower::Ix<IntValue<'ctx>>;

/// The LLVM types the lowering uses.
#[derive(Clone, Copy)]
pub(super) struct Types<'ctx> {
    pub f64: FloatType<'ctx>,
    pub f32: FloatType<'ctx>,
    pub i64: IntType<'ctx>,
    pub i32: IntType<'ctx>,
    pub ptr: PointerType<'ctx>,
}

impl<'ctx> Types<'ctx> {
    pub fn new(cx: &'ctx Context) -> Types<'ctx> {
        Types {
            f64: cx.f64_type(),
            f32: cx.f32_type(),
            i64: cx.i64_type(),
            i32: cx.i32_type(),
            ptr: cx.ptr_type(AddressSpace::default()),
        }
    }
}

/// The state of lowering one function.
pub(super) struct FnLower<'a, 'ctx> {
    pub cx: &'ctx Context,
    pub m: &'a LlModule<'ctx>,
    pub b: &'a Builder<'ctx>,
    /// Positioned at the end of the entry block, where stack slots go.
    alloca_b: Builder<'ctx>,
    pub t: Types<'ctx>,
    pub ir: &'a Module,
    pub f: &'a Function,
    pub func: FunctionValue<'ctx>,
    pub decls: &'a Decls<'ctx>,
    pub opts: &'a LlvmOptions,
    pub plan: Plan,
    pub values: Values<FloatValue<'ctx>, IntValue<'ctx>, PointerValue<'ctx>>,
    pub frame: PointerValue<'ctx>,
    pub out: PointerValue<'ctx>,
    exit: BasicBlock<'ctx>,
    exit_status: PhiValue<'ctx>,
    /// Address of the table of heap buffers to free on exit (`malloc`ed work memory).
    pub heap: Option<PointerValue<'ctx>>,
    /// The arena's top on entry, restored on exit (work memory from sci's arena).
    pub arena_mark: Option<IntValue<'ctx>>,
    /// The caller's `sci_workspace *` (object code), and its `used` on entry, restored on
    /// exit.
    pub ws: Option<PointerValue<'ctx>>,
    ws_mark: Option<IntValue<'ctx>>,
}

/// Lowers the body of `f` into `func` (declared with the sci ABI, see `mod.rs`).
#[allow(clippy::too_many_arguments)]
pub(super) fn lower_function<'ctx>(
    cx: &'ctx Context,
    m: &LlModule<'ctx>,
    b: &Builder<'ctx>,
    ir: &Module,
    f: &Function,
    func: FunctionValue<'ctx>,
    decls: &Decls<'ctx>,
    opts: &LlvmOptions,
) -> Res<()> {
    let plan = crate::plan::plan(f)?;
    let t = Types::new(cx);
    let entry = cx.append_basic_block(func, "entry");
    let start = cx.append_basic_block(func, "start");
    let exit = cx.append_basic_block(func, "exit");
    let alloca_b = cx.create_builder();
    alloca_b.position_at_end(entry);
    b.position_at_end(exit);
    let exit_status = b.build_phi(t.i32, "status")?;
    b.position_at_end(start);

    let params = func.get_params();
    // Object code takes the caller's workspace after `out` (`abi_type`).
    let (out, ws) =
        out_and_workspace(&params, decls.workspace).ok_or_else(|| internal("no out parameter"))?;
    let (out, ws) = (out.into_pointer_value(), ws.map(|w| w.into_pointer_value()));

    let WorkMemory {
        frame_bytes,
        frame_on_heap: on_heap,
        arena,
        table_slots,
    } = plan.work_memory(opts.links_runtime());
    // The heap table: what to free on exit; null until allocated (and for workspace
    // memory).
    let heap = if table_slots > 0 {
        let ty = t.ptr.array_type(u32_of(table_slots)?);
        let table = alloca_b.build_alloca(ty, "heap")?;
        let null = t.ptr.const_null();
        for k in 0..table_slots {
            let at = gep(b, t.ptr.into(), table, t.i64.const_int(k as u64, false))?;
            b.build_store(at, null)?;
        }
        Some(table)
    } else {
        None
    };
    let frame = if on_heap {
        // Allocated below, once the lowering state exists.
        t.ptr.const_null()
    } else {
        let ty = t.f64.array_type(u32_of(plan.frame_len.max(1))?);
        alloca_b.build_alloca(ty, "frame")?
    };
    let mut s = FnLower {
        cx,
        m,
        b,
        alloca_b,
        t,
        ir,
        f,
        func,
        decls,
        opts,
        plan,
        values: Values::new(f.values.len()),
        frame,
        out,
        exit,
        exit_status,
        heap,
        arena_mark: None,
        ws,
        ws_mark: None,
    };
    if arena {
        let mark = s.decls.arena_mark;
        s.arena_mark = Some(s.call_fn(mark, &[])?.into_int_value());
    }
    if let Some(ws) = ws.filter(|_| table_slots > 0) {
        let at = s.ws_field(ws, WS_USED)?;
        s.ws_mark = Some(s.b.build_load(s.t.i64, at, "")?.into_int_value());
    }
    if on_heap {
        let size = s.t.i64.const_int(frame_bytes as u64, false);
        let frame_slot = s.plan.heap_slots;
        let ptr = s.work_alloc(size, frame_slot)?;
        let is_null = s.b.build_is_null(ptr, "")?;
        s.frame = ptr;
        s.exit_if(is_null, Status::OutOfMemory)?;
    }
    let inputs = s.input_reprs(&params)?;
    function::bind_inputs(&mut s, inputs)?;
    s.lower_body(&f.body.body)?;
    let (out, in_place) = (s.out, s.plan.of(f.body.result) == Storage::Out);
    function::write_result(&mut s, out, in_place)?;
    let ok = s.t.i32.const_zero();
    s.branch_to_exit(ok)?;

    // The exit: free the heap buffers and the frame, return the status.
    s.b.position_at_end(exit);
    if let Some(mark) = s.arena_mark {
        s.b.build_call(s.decls.arena_release, &[mark.into()], "")?;
    } else if let Some(table) = s.heap {
        for k in 0..table_slots {
            let at = s.gep_ty(s.t.ptr.into(), table, Ix::C(k))?;
            let p = s.b.build_load(s.t.ptr, at, "")?.into_pointer_value();
            s.free(p)?;
        }
    }
    if let (Some(ws), Some(mark)) = (s.ws, s.ws_mark) {
        let at = s.ws_field(ws, WS_USED)?;
        s.b.build_store(at, mark)?;
    }
    s.b.build_return(Some(&s.exit_status.as_basic_value()))?;
    // The entry holds only stack slots; it falls through to the code.
    s.alloca_b.build_unconditional_branch(start)?;
    Ok(())
}

/// `n` as a `u32` (array lengths); sizes are bounded by the plan, so this never fails on a
/// planned value.
fn u32_of(n: usize) -> Res<u32> {
    u32::try_from(n).map_err(|_| internal("array too large"))
}

/// `&ptr[i]` for elements of type `ty`.
pub(super) fn gep<'ctx>(
    b: &Builder<'ctx>,
    ty: inkwell::types::BasicTypeEnum<'ctx>,
    ptr: PointerValue<'ctx>,
    i: IntValue<'ctx>,
) -> Res<PointerValue<'ctx>> {
    // SAFETY: building a `getelementptr` instruction reads no memory at compile time;
    // inkwell marks it unsafe because the *generated* code may address memory out of
    // bounds. Every index the lowering uses is in bounds of its buffer (indices from the
    // IR are range-checked before use, or the address is discarded by a `select`, which
    // LLVM's semantics allow for a poison operand that is not chosen).
    Ok(unsafe { b.build_in_bounds_gep(ty, ptr, &[i], "")? })
}

impl<'a, 'ctx> FnLower<'a, 'ctx> {
    /// The buffer planned for `v` (frame region or `out`); batched buffers are allocated by
    /// [`FnLower::alloc_batch`].
    pub fn planned(&mut self, v: ValueId) -> Res<PointerValue<'ctx>> {
        match self.plan.of(v) {
            Storage::Out => Ok(self.out),
            Storage::OutPart { offset } => {
                let out = self.out;
                self.address(out, Ix::C(offset), 1)
            }
            Storage::Frame { offset } => {
                let frame = self.frame;
                self.address(frame, Ix::C(offset), 1)
            }
            _ => Err(internal("no buffer planned for a tensor value")),
        }
    }

    /// Allocates the buffer of batched value `v`: `n` points of `per` elements.
    pub fn batch_buffer(
        &mut self,
        v: ValueId,
        n: IntValue<'ctx>,
        per: usize,
    ) -> Res<PointerValue<'ctx>> {
        match self.plan.of(v) {
            Storage::Out => Ok(self.out),
            Storage::Heap { slot } => {
                let size = self.i64c(per * 8);
                let bytes = self.b.build_int_mul(n, size, "")?;
                let eight = self.i64c(8);
                // malloc(0) may return null; ask for at least one element.
                let small = self
                    .b
                    .build_int_compare(IntPredicate::ULT, bytes, eight, "")?;
                let bytes = self
                    .b
                    .build_select(small, eight, bytes, "")?
                    .into_int_value();
                let p = self.work_alloc(bytes, slot)?;
                let is_null = self.b.build_is_null(p, "")?;
                self.exit_if(is_null, Status::OutOfMemory)?;
                Ok(p)
            }
            _ => Err(internal("no heap slot planned for a batched value")),
        }
    }

    /// Calls `callee` and returns its result.
    pub fn call_fn(
        &mut self,
        callee: FunctionValue<'ctx>,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Res<inkwell::values::BasicValueEnum<'ctx>> {
        self.b
            .build_call(callee, args, "")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("call without result"))
    }

    /// A libm function by C name (`sin`, `pow`), on `double` arguments.
    pub fn call_math(&mut self, name: &str, args: &[FloatValue<'ctx>]) -> Res<FloatValue<'ctx>> {
        let callee = self
            .decls
            .math
            .get(name)
            .copied()
            .ok_or_else(|| internal(&format!("no math function `{name}`")))?;
        let args: Vec<BasicMetadataValueEnum<'ctx>> = args.iter().map(|&x| x.into()).collect();
        Ok(self.call_fn(callee, &args)?.into_float_value())
    }

    /// An LLVM intrinsic on one `double` (`llvm.floor`, `llvm.sqrt`, `llvm.fabs`).
    pub fn intrinsic(&mut self, name: &str, x: FloatValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let callee = self.decls.intrinsic(self.m, name, &[self.t.f64.into()])?;
        Ok(self.call_fn(callee, &[x.into()])?.into_float_value())
    }

    /// `bytes` of work memory, freed when the call returns: from sci's arena (a bump of
    /// this thread's stack of buffers) when the function took a mark, else `malloc`ed.
    fn work_alloc(&mut self, bytes: IntValue<'ctx>, slot: usize) -> Res<PointerValue<'ctx>> {
        if self.arena_mark.is_some() {
            let alloc = self.decls.arena_alloc;
            return Ok(self.call_fn(alloc, &[bytes.into()])?.into_pointer_value());
        }
        let table = self.heap.ok_or_else(|| internal("no heap table"))?;
        let here = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        let heap = self.cx.append_basic_block(self.func, "heap");
        let done = self.cx.append_basic_block(self.func, "allocated");
        let mut incoming: Vec<(PointerValue<'ctx>, inkwell::basic_block::BasicBlock<'ctx>)> =
            Vec::new();
        if let Some(ws) = self.ws {
            // The workspace's `used`, `size` and `peak` (in doubles), in 64-byte granules.
            let bump = self.cx.append_basic_block(self.func, "workspace");
            let i64t = self.t.i64;
            let field = |s: &mut Self, at: i32| -> Res<(PointerValue<'ctx>, IntValue<'ctx>)> {
                let p = s.ws_field(ws, at)?;
                Ok((p, s.b.build_load(i64t, p, "")?.into_int_value()))
            };
            let (used_at, used) = field(self, WS_USED)?;
            let (_, size) = field(self, WS_SIZE)?;
            let (peak_at, peak) = field(self, WS_PEAK)?;
            let granules = self.b.build_int_add(bytes, self.i64c(63), "")?;
            let granules = self
                .b
                .build_right_shift(granules, self.i64c(6), false, "")?;
            let words = self.b.build_left_shift(granules, self.i64c(3), "")?;
            let wanted = self.b.build_int_add(used, words, "")?;
            let higher = self
                .b
                .build_int_compare(IntPredicate::UGT, wanted, peak, "")?;
            let peak = self.b.build_select(higher, wanted, peak, "")?;
            self.b.build_store(peak_at, peak)?;
            // Taken even when it does not fit (then `malloc` serves it), so `peak` is what
            // the whole call would need.
            self.b.build_store(used_at, wanted)?;
            let fits = self
                .b
                .build_int_compare(IntPredicate::ULE, wanted, size, "")?;
            self.b.build_conditional_branch(fits, bump, heap)?;
            self.b.position_at_end(bump);
            let base_at = self.ws_field(ws, WS_BASE)?;
            let base = self
                .b
                .build_load(self.t.ptr, base_at, "")?
                .into_pointer_value();
            let p = self.address(base, Ix::V(used), 1)?;
            self.b.build_unconditional_branch(done)?;
            incoming.push((p, bump));
        } else {
            let _ = here;
            self.b.build_unconditional_branch(heap)?;
        }
        self.b.position_at_end(heap);
        let malloc = self.decls.malloc;
        let p = self.call_fn(malloc, &[bytes.into()])?.into_pointer_value();
        let at = self.gep_ty(self.t.ptr.into(), table, Ix::C(slot))?;
        self.b.build_store(at, p)?;
        self.b.build_unconditional_branch(done)?;
        incoming.push((p, heap));
        self.b.position_at_end(done);
        let phi = self.b.build_phi(self.t.ptr, "work")?;
        for (p, block) in &incoming {
            phi.add_incoming(&[(p, *block)]);
        }
        Ok(phi.as_basic_value().into_pointer_value())
    }

    /// The address of the field at byte offset `at` of the workspace `ws`.
    fn ws_field(&mut self, ws: PointerValue<'ctx>, at: i32) -> Res<PointerValue<'ctx>> {
        self.gep_ty(self.t.i64.into(), ws, Ix::C(at as usize / 8))
    }

    fn free(&mut self, ptr: PointerValue<'ctx>) -> Res<()> {
        self.b.build_call(self.decls.free, &[ptr.into()], "")?;
        Ok(())
    }

    /// Branches to the exit with `status` from the current block.
    fn branch_to_exit(&mut self, status: IntValue<'ctx>) -> Res<()> {
        let here = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        self.exit_status.add_incoming(&[(&status, here)]);
        self.b.build_unconditional_branch(self.exit)?;
        Ok(())
    }

    /// Returns `status` from the function if `cond` (an `i1`) holds.
    pub fn exit_if(&mut self, cond: IntValue<'ctx>, status: Status) -> Res<()> {
        let code = self.t.i32.const_int(status as u64, false);
        let here = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        let cont = self.cx.append_basic_block(self.func, "");
        self.exit_status.add_incoming(&[(&code, here)]);
        self.b.build_conditional_branch(cond, self.exit, cont)?;
        self.b.position_at_end(cont);
        Ok(())
    }

    /// Returns a callee's non-zero status from the function.
    pub fn fail_on_status(&mut self, status: IntValue<'ctx>) -> Res<()> {
        let zero = self.t.i32.const_zero();
        let bad = self
            .b
            .build_int_compare(IntPredicate::NE, status, zero, "")?;
        let here = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        let cont = self.cx.append_basic_block(self.func, "");
        self.exit_status.add_incoming(&[(&status, here)]);
        self.b.build_conditional_branch(bad, self.exit, cont)?;
        self.b.position_at_end(cont);
        Ok(())
    }

    // ----- constants -----

    pub fn i64c(&self, x: usize) -> IntValue<'ctx> {
        self.t.i64.const_int(x as u64, false)
    }

    // ----- memory -----

    /// `&ptr[i]` for elements of type `ty`.
    pub fn gep_ty(
        &self,
        ty: inkwell::types::BasicTypeEnum<'ctx>,
        ptr: PointerValue<'ctx>,
        i: Ix<'ctx>,
    ) -> Res<PointerValue<'ctx>> {
        match i {
            Ix::C(0) => Ok(ptr),
            Ix::C(c) => gep(self.b, ty, ptr, self.i64c(c)),
            Ix::V(v) => gep(self.b, ty, ptr, v),
        }
    }

    /// `ptr + i * scale` elements.
    pub fn address(
        &mut self,
        ptr: PointerValue<'ctx>,
        i: Ix<'ctx>,
        scale: usize,
    ) -> Res<PointerValue<'ctx>> {
        let f64t = self.t.f64.into();
        match i {
            Ix::C(c) => self.gep_ty(f64t, ptr, Ix::C(c * scale)),
            Ix::V(v) if scale == 1 => self.gep_ty(f64t, ptr, Ix::V(v)),
            Ix::V(v) => {
                let s = self.i64c(scale);
                let off = self.b.build_int_nuw_mul(v, s, "")?;
                self.gep_ty(f64t, ptr, Ix::V(off))
            }
        }
    }

    pub fn load_f64(&mut self, ptr: PointerValue<'ctx>, i: Ix<'ctx>) -> Res<FloatValue<'ctx>> {
        let a = self.address(ptr, i, 1)?;
        Ok(self.b.build_load(self.t.f64, a, "")?.into_float_value())
    }

    pub fn store_f64(
        &mut self,
        ptr: PointerValue<'ctx>,
        i: Ix<'ctx>,
        x: FloatValue<'ctx>,
    ) -> Res<()> {
        let a = self.address(ptr, i, 1)?;
        self.b.build_store(a, x)?;
        Ok(())
    }

    /// A new stack region of `words` 8-byte words (in the entry block); its address.
    pub fn stack_words(&mut self, words: usize) -> Res<PointerValue<'ctx>> {
        let ty = self.t.i64.array_type(words.max(1) as u32);
        Ok(self.alloca_b.build_alloca(ty, "")?)
    }

    // ----- loops -----

    // ----- the function -----

    /// The function's inputs as the caller passed them (its parameters, in order).
    fn input_reprs(
        &self,
        params: &[inkwell::values::BasicValueEnum<'ctx>],
    ) -> Res<Vec<Repr<'ctx>>> {
        let mut k = 0;
        let mut reprs = Vec::with_capacity(self.f.inputs().len());
        let param = |k: usize| {
            params
                .get(k)
                .copied()
                .ok_or_else(|| internal("too few parameters"))
        };
        for &id in self.f.inputs() {
            let ty = self.ty(id)?;
            reprs.push(if ty.batched {
                k += 2;
                Repr::Batch {
                    ptr: param(k - 2)?.into_pointer_value(),
                    n: param(k - 1)?.into_int_value(),
                }
            } else {
                k += 1;
                if ty.shape.is_empty() {
                    Repr::Scalar(param(k - 1)?.into_float_value())
                } else {
                    Repr::Buf(param(k - 1)?.into_pointer_value())
                }
            });
        }
        Ok(reprs)
    }
}
