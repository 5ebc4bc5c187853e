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

use super::{BatchSum, Decls, LlvmOptions};
use crate::CodegenError;
use crate::abi::Status;
use crate::plan::{Plan, Storage};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::module::Module as LlModule;
use inkwell::types::{FloatType, IntType, PointerType};
use inkwell::values::{
    BasicMetadataValueEnum, FloatValue, FunctionValue, IntValue, PhiValue, PointerValue,
};
use inkwell::{AddressSpace, FloatPredicate, IntPredicate};
use sci_ir::types::element_count;
use sci_ir::{DType, Function, Module, Op, Type, ValueId};
use std::collections::HashMap;

/// Frames up to this many bytes live on the stack; larger ones are `malloc`ed.
const STACK_FRAME_LIMIT: usize = 32 * 1024;

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

/// How a value is held during lowering.
#[derive(Clone, Copy, Debug)]
pub(super) enum Repr<'ctx> {
    /// A scalar, as a `double`.
    Scalar(FloatValue<'ctx>),
    /// An unbatched tensor: the address of its first element.
    Buf(PointerValue<'ctx>),
    /// A batched value: the address of its first point and the number of points.
    Batch {
        ptr: PointerValue<'ctx>,
        n: IntValue<'ctx>,
    },
}

/// An element index: a compile-time constant or an `i64` value.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ix<'ctx> {
    C(usize),
    V(IntValue<'ctx>),
}

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
    pub env: Vec<Option<Repr<'ctx>>>,
    /// The `i64` form of index values (loop counters bound to block arguments), to skip
    /// float conversions.
    pub int_of: HashMap<ValueId, IntValue<'ctx>>,
    pub frame: PointerValue<'ctx>,
    pub out: PointerValue<'ctx>,
    exit: BasicBlock<'ctx>,
    exit_status: PhiValue<'ctx>,
    /// Address of the table of heap buffers to free on exit.
    pub heap: Option<PointerValue<'ctx>>,
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
    let out = params
        .last()
        .copied()
        .ok_or_else(|| internal("no out parameter"))?
        .into_pointer_value();

    // The heap table: one pointer per heap buffer, null until allocated.
    let heap = if plan.heap_slots > 0 {
        let ty = t.ptr.array_type(u32_of(plan.heap_slots)?);
        let table = alloca_b.build_alloca(ty, "heap")?;
        let null = t.ptr.const_null();
        for k in 0..plan.heap_slots {
            let at = gep(b, t.ptr.into(), table, t.i64.const_int(k as u64, false))?;
            b.build_store(at, null)?;
        }
        Some(table)
    } else {
        None
    };
    let frame_bytes = plan.frame_len * 8;
    let on_heap = frame_bytes > STACK_FRAME_LIMIT;
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
        env: vec![None; f.values.len()],
        int_of: HashMap::new(),
        frame,
        out,
        exit,
        exit_status,
        heap,
    };
    if on_heap {
        let size = s.t.i64.const_int(frame_bytes as u64, false);
        let ptr = s.malloc(size)?;
        let is_null = s.b.build_is_null(ptr, "")?;
        s.frame = ptr;
        s.fail_if(is_null, Status::OutOfMemory)?;
    }
    s.bind_inputs(&params)?;
    s.lower_body(&f.body.body)?;
    s.write_result()?;
    let ok = s.t.i32.const_zero();
    s.branch_to_exit(ok)?;

    // The exit: free the heap buffers and the frame, return the status.
    s.b.position_at_end(exit);
    if let Some(table) = s.heap {
        for k in 0..s.plan.heap_slots {
            let at = s.gep_ty(s.t.ptr.into(), table, Ix::C(k))?;
            let p = s.b.build_load(s.t.ptr, at, "")?.into_pointer_value();
            s.free(p)?;
        }
    }
    if on_heap {
        let frame = s.frame;
        s.free(frame)?;
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
    /// The IR type of a value.
    pub fn ty(&self, v: ValueId) -> Res<&'a Type> {
        self.f
            .values
            .get(v)
            .map(|v| &v.ty)
            .ok_or_else(|| internal("value out of range"))
    }

    /// Elements per point of a value.
    pub fn len_of(&self, v: ValueId) -> Res<usize> {
        element_count(&self.ty(v)?.shape).ok_or_else(|| internal("shape overflow"))
    }

    pub fn repr(&self, v: ValueId) -> Res<Repr<'ctx>> {
        self.env
            .get(v.index())
            .copied()
            .flatten()
            .ok_or_else(|| internal(&format!("%{} used before it is lowered", v.index())))
    }

    pub fn set(&mut self, v: ValueId, r: Repr<'ctx>) {
        if let Some(slot) = self.env.get_mut(v.index()) {
            *slot = Some(r);
        }
    }

    /// The scalar value of `v`.
    pub fn scalar(&mut self, v: ValueId) -> Res<FloatValue<'ctx>> {
        match self.repr(v)? {
            Repr::Scalar(x) => Ok(x),
            Repr::Buf(p) => self.load(p, Ix::C(0)),
            Repr::Batch { .. } => Err(internal("batched value used as a scalar")),
        }
    }

    /// The address of the elements of unbatched tensor `v`.
    pub fn buf(&self, v: ValueId) -> Res<PointerValue<'ctx>> {
        match self.repr(v)? {
            Repr::Buf(p) => Ok(p),
            _ => Err(internal("expected a tensor")),
        }
    }

    /// The buffer planned for `v` (frame region or `out`); batched buffers are allocated by
    /// [`FnLower::alloc_batch`].
    pub fn dest(&mut self, v: ValueId) -> Res<PointerValue<'ctx>> {
        match self.plan.of(v) {
            Storage::Out => Ok(self.out),
            Storage::Frame { offset } => {
                let frame = self.frame;
                self.addr(frame, Ix::C(offset), 1)
            }
            _ => Err(internal("no buffer planned for a tensor value")),
        }
    }

    /// Allocates the buffer of batched value `v`: `n` points of `per` elements.
    pub fn alloc_batch(
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
                let p = self.malloc(bytes)?;
                let table = self.heap.ok_or_else(|| internal("no heap table"))?;
                let at = self.gep_ty(self.t.ptr.into(), table, Ix::C(slot))?;
                self.b.build_store(at, p)?;
                let is_null = self.b.build_is_null(p, "")?;
                self.fail_if(is_null, Status::OutOfMemory)?;
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
    pub fn math(&mut self, name: &str, args: &[FloatValue<'ctx>]) -> Res<FloatValue<'ctx>> {
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

    fn malloc(&mut self, bytes: IntValue<'ctx>) -> Res<PointerValue<'ctx>> {
        let malloc = self.decls.malloc;
        Ok(self.call_fn(malloc, &[bytes.into()])?.into_pointer_value())
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
    pub fn fail_if(&mut self, cond: IntValue<'ctx>, status: Status) -> Res<()> {
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

    pub fn f64c(&self, x: f64) -> FloatValue<'ctx> {
        self.t.f64.const_float(x)
    }

    pub fn i64c(&self, x: usize) -> IntValue<'ctx> {
        self.t.i64.const_int(x as u64, false)
    }

    /// An `i1` constant.
    pub fn bool_const(&self, b: bool) -> IntValue<'ctx> {
        self.cx.bool_type().const_int(u64::from(b), false)
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
    pub fn addr(
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

    pub fn load(&mut self, ptr: PointerValue<'ctx>, i: Ix<'ctx>) -> Res<FloatValue<'ctx>> {
        let a = self.addr(ptr, i, 1)?;
        Ok(self.b.build_load(self.t.f64, a, "")?.into_float_value())
    }

    pub fn store(&mut self, ptr: PointerValue<'ctx>, i: Ix<'ctx>, x: FloatValue<'ctx>) -> Res<()> {
        let a = self.addr(ptr, i, 1)?;
        self.b.build_store(a, x)?;
        Ok(())
    }

    /// Copies `len` elements from `src` to `dst`.
    pub fn copy(
        &mut self,
        src: PointerValue<'ctx>,
        dst: PointerValue<'ctx>,
        len: usize,
    ) -> Res<()> {
        self.each(len, |s, i| {
            let x = s.load(src, i)?;
            s.store(dst, i, x)
        })
    }

    /// Writes `r` (a scalar or a tensor of `len` elements) at `dst`.
    pub fn store_repr(&mut self, r: Repr<'ctx>, dst: PointerValue<'ctx>, len: usize) -> Res<()> {
        match r {
            Repr::Scalar(x) => self.store(dst, Ix::C(0), x),
            Repr::Buf(p) => self.copy(p, dst, len),
            Repr::Batch { .. } => Err(internal("a batched value inside a block")),
        }
    }

    /// `x` rounded through `float` when `dtype` is `f32`.
    pub fn round(&mut self, x: FloatValue<'ctx>, dtype: DType) -> Res<FloatValue<'ctx>> {
        if dtype == DType::F32 {
            let s = self.b.build_float_trunc(x, self.t.f32, "")?;
            Ok(self.b.build_float_ext(s, self.t.f64, "")?)
        } else {
            Ok(x)
        }
    }

    // ----- variables (stack slots promoted to registers by mem2reg) -----

    /// A new `double` variable holding `init`.
    /// A new stack region of `words` 8-byte words (in the entry block); its address.
    pub fn stack_words(&mut self, words: usize) -> Res<PointerValue<'ctx>> {
        let ty = self.t.i64.array_type(words.max(1) as u32);
        Ok(self.alloca_b.build_alloca(ty, "")?)
    }

    pub fn var(&mut self, init: FloatValue<'ctx>) -> Res<PointerValue<'ctx>> {
        let slot = self.alloca_b.build_alloca(self.t.f64, "")?;
        self.b.build_store(slot, init)?;
        Ok(slot)
    }

    pub fn use_var(&mut self, var: PointerValue<'ctx>) -> Res<FloatValue<'ctx>> {
        Ok(self.b.build_load(self.t.f64, var, "")?.into_float_value())
    }

    pub fn def_var(&mut self, var: PointerValue<'ctx>, x: FloatValue<'ctx>) -> Res<()> {
        self.b.build_store(var, x)?;
        Ok(())
    }

    // ----- loops -----

    /// Runs `body` for `i` in `0..n`: unrolled with constant indices when `n` is small,
    /// else as a loop.
    pub fn each(
        &mut self,
        n: usize,
        mut body: impl FnMut(&mut Self, Ix<'ctx>) -> Res<()>,
    ) -> Res<()> {
        if n <= UNROLL {
            for i in 0..n {
                body(self, Ix::C(i))?;
            }
            Ok(())
        } else {
            self.repeat(n, |s, i| body(s, Ix::V(i)))
        }
    }

    /// A loop over `i` in `0..n` (`n` static); the body is emitted once.
    pub fn repeat(
        &mut self,
        n: usize,
        body: impl FnMut(&mut Self, IntValue<'ctx>) -> Res<()>,
    ) -> Res<()> {
        match n {
            0 => Ok(()),
            _ => {
                let count = self.i64c(n);
                self.repeat_dyn(count, body)
            }
        }
    }

    /// A loop over `i` in `0..n` (`n` an `i64` value): a `phi` counter, tested at the top.
    pub fn repeat_dyn(
        &mut self,
        n: IntValue<'ctx>,
        mut body: impl FnMut(&mut Self, IntValue<'ctx>) -> Res<()>,
    ) -> Res<()> {
        let pre = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        let header = self.cx.append_basic_block(self.func, "loop");
        let inner = self.cx.append_basic_block(self.func, "body");
        let done = self.cx.append_basic_block(self.func, "done");
        self.b.build_unconditional_branch(header)?;
        self.b.position_at_end(header);
        let phi = self.b.build_phi(self.t.i64, "i")?;
        let zero = self.t.i64.const_zero();
        phi.add_incoming(&[(&zero, pre)]);
        let i = phi.as_basic_value().into_int_value();
        let more = self.b.build_int_compare(IntPredicate::ULT, i, n, "")?;
        self.b.build_conditional_branch(more, inner, done)?;
        self.b.position_at_end(inner);
        body(self, i)?;
        let one = self.i64c(1);
        let next = self.b.build_int_nuw_add(i, one, "")?;
        let latch = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        phi.add_incoming(&[(&next, latch)]);
        self.b.build_unconditional_branch(header)?;
        self.b.position_at_end(done);
        Ok(())
    }

    /// Nested loops over `extents` (outermost first); `body` gets the indices.
    pub fn nest(
        &mut self,
        extents: &[usize],
        idx: &mut Vec<IntValue<'ctx>>,
        body: &mut dyn FnMut(&mut Self, &[IntValue<'ctx>]) -> Res<()>,
    ) -> Res<()> {
        match extents.split_first() {
            None => body(self, idx),
            Some((&e, rest)) => self.repeat(e, |s, i| {
                idx.push(i);
                s.nest(rest, idx, body)?;
                idx.pop();
                Ok(())
            }),
        }
    }

    /// The row-major linear index of `idx` in `extents`.
    pub fn linear(&mut self, extents: &[usize], idx: &[IntValue<'ctx>]) -> Res<IntValue<'ctx>> {
        let mut lin = self.t.i64.const_zero();
        for (&e, &i) in extents.iter().zip(idx) {
            let ec = self.i64c(e);
            let scaled = self.b.build_int_nuw_mul(lin, ec, "")?;
            lin = self.b.build_int_nuw_add(scaled, i, "")?;
        }
        Ok(lin)
    }

    /// An index value as `double` (block arguments of `tabulate`/`fold`), remembering its
    /// integer form for `v`.
    pub fn index_value(&mut self, v: ValueId, i: IntValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let x = self.b.build_signed_int_to_float(i, self.t.f64, "")?;
        self.int_of.insert(v, i);
        Ok(x)
    }

    /// `x != 0` as an `i1` (true for NaN, as in the interpreter).
    pub fn truthy(&mut self, x: FloatValue<'ctx>) -> Res<IntValue<'ctx>> {
        let zero = self.f64c(0.0);
        Ok(self
            .b
            .build_float_compare(FloatPredicate::UNE, x, zero, "")?)
    }

    // ----- the function -----

    fn bind_inputs(&mut self, params: &[inkwell::values::BasicValueEnum<'ctx>]) -> Res<()> {
        let mut k = 0;
        for &id in self.f.inputs() {
            let ty = self.ty(id)?;
            let p = *params
                .get(k)
                .ok_or_else(|| internal("too few parameters"))?;
            let r = if ty.batched {
                let n = params
                    .get(k + 1)
                    .ok_or_else(|| internal("too few parameters"))?
                    .into_int_value();
                let p = p.into_pointer_value();
                k += 2;
                if ty.dtype == DType::F32 {
                    let per = self.len_of(id)?;
                    let dst = self.alloc_batch(id, n, per)?;
                    let perc = self.i64c(per);
                    let total = self.b.build_int_mul(n, perc, "")?;
                    self.repeat_dyn(total, |s, i| {
                        let x = s.load(p, Ix::V(i))?;
                        let x = s.round(x, DType::F32)?;
                        s.store(dst, Ix::V(i), x)
                    })?;
                    Repr::Batch { ptr: dst, n }
                } else {
                    Repr::Batch { ptr: p, n }
                }
            } else {
                k += 1;
                if ty.shape.is_empty() {
                    Repr::Scalar(self.round(p.into_float_value(), ty.dtype)?)
                } else if ty.dtype == DType::F32 {
                    let p = p.into_pointer_value();
                    let dst = self.dest(id)?;
                    let len = self.len_of(id)?;
                    self.each(len, |s, i| {
                        let x = s.load(p, i)?;
                        let x = s.round(x, DType::F32)?;
                        s.store(dst, i, x)
                    })?;
                    Repr::Buf(dst)
                } else {
                    Repr::Buf(p.into_pointer_value())
                }
            };
            self.set(id, r);
        }
        Ok(())
    }

    fn write_result(&mut self) -> Res<()> {
        let result = self.f.body.result;
        if self.plan.of(result) == Storage::Out {
            return Ok(());
        }
        let per = self.len_of(result)?;
        match self.repr(result)? {
            Repr::Batch { ptr, n } => {
                let perc = self.i64c(per);
                let total = self.b.build_int_mul(n, perc, "")?;
                let out = self.out;
                self.repeat_dyn(total, |s, i| {
                    let x = s.load(ptr, Ix::V(i))?;
                    s.store(out, Ix::V(i), x)
                })
            }
            r => {
                let out = self.out;
                self.store_repr(r, out, per)
            }
        }
    }

    /// Lowers the values of a block body in order.
    pub fn lower_body(&mut self, body: &[ValueId]) -> Res<()> {
        for &id in body {
            let r = self.lower_value(id)?;
            self.set(id, r);
        }
        Ok(())
    }

    fn lower_value(&mut self, id: ValueId) -> Res<Repr<'ctx>> {
        let v = self
            .f
            .values
            .get(id)
            .ok_or_else(|| internal("value out of range"))?;
        let ty = &v.ty;
        match &v.op {
            Op::Arg(_) => Err(internal("`arg` in a block body")),
            Op::Const(x) => {
                let x = if ty.dtype == DType::F32 {
                    *x as f32 as f64
                } else {
                    *x
                };
                Ok(Repr::Scalar(self.f64c(x)))
            }
            Op::Literal(xs) => self.literal(ty, xs),
            Op::Unary(op, a) => {
                let op = *op;
                if op == sci_ir::UnaryOp::Tanh
                    && let Some(r) = self.tanh_buffer(id, *a)?
                {
                    return Ok(r);
                }
                self.elementwise(id, &[*a], move |s, x| s.unary(op, x[0]))
            }
            Op::Binary(op, a, b) => {
                let op = *op;
                self.elementwise(id, &[*a, *b], move |s, x| s.binary(op, x[0], x[1]))
            }
            Op::Powi(a, n) => {
                let n = *n;
                self.elementwise(id, &[*a], move |s, x| s.powi(x[0], n))
            }
            Op::Compare(op, a, b) => {
                let op = *op;
                self.elementwise(id, &[*a, *b], move |s, x| s.compare(op, x[0], x[1]))
            }
            Op::Select(c, a, b) => self.elementwise(id, &[*c, *a, *b], |s, x| {
                let t = s.truthy(x[0])?;
                Ok(s.b.build_select(t, x[1], x[2], "")?.into_float_value())
            }),
            Op::Cast(a) => {
                let to = ty.dtype;
                self.elementwise(id, &[*a], move |s, x| s.cast(x[0], to))
            }
            Op::Broadcast(a) => self.broadcast(id, *a),
            Op::Index {
                array,
                indices,
                fill,
            } => self.index(id, *array, indices, *fill),
            Op::Slice { array, start, .. } => {
                let sub = element_count(self.ty(*array)?.shape.get(1..).unwrap_or(&[]))
                    .ok_or_else(|| internal("shape overflow"))?;
                let p = self.buf(*array)?;
                Ok(Repr::Buf(self.addr(p, Ix::C(*start), sub)?))
            }
            Op::Concat(parts) => self.concat(id, parts),
            Op::Reshape(a) => self.reshape(id, *a),
            Op::Transpose(a) => self.transpose(id, *a),
            Op::Dot(a, b) => self.dot(id, *a, *b),
            Op::MatVec(a, b) | Op::MatMul(a, b) => self.matmul(id, *a, *b),
            Op::Reduce(op, a) => self.reduce(id, *op, *a),
            Op::Tabulate { extents, body } => self.tabulate(id, extents, body),
            Op::Fold { op, extent, body } => self.fold(id, *op, *extent, body),
            Op::Map { inputs, body } => self.map(id, inputs, body),
            Op::TileMap {
                inputs,
                lanes,
                reduce,
                body,
            } => self.tile_map(id, inputs, *lanes, *reduce, body),
            Op::ReduceBatch(op, a) => self.reduce_batch(id, *op, *a),
            Op::Call { func, args } => self.call(id, *func, args),
            Op::Deriv { .. } => Err(CodegenError::new(format!(
                "`{}` still contains a derivative placeholder (`deriv`); run the AD pass before \
                 compiling it.",
                self.f.name
            ))),
        }
    }

    /// `f` applied elementwise to `operands` (all of `id`'s shape), rounded to `id`'s dtype.
    pub fn elementwise(
        &mut self,
        id: ValueId,
        operands: &[ValueId],
        f: impl Fn(&mut Self, &[FloatValue<'ctx>]) -> Res<FloatValue<'ctx>>,
    ) -> Res<Repr<'ctx>> {
        let ty = self.ty(id)?;
        let dtype = ty.dtype;
        if ty.shape.is_empty() {
            let xs = operands
                .iter()
                .map(|a| self.scalar(*a))
                .collect::<Res<Vec<_>>>()?;
            let r = f(self, &xs)?;
            return Ok(Repr::Scalar(self.round(r, dtype)?));
        }
        let len = self.len_of(id)?;
        let dst = self.dest(id)?;
        let ptrs = operands
            .iter()
            .map(|a| self.buf(*a))
            .collect::<Res<Vec<_>>>()?;
        self.each(len, |s, i| {
            let xs = ptrs
                .iter()
                .map(|p| s.load(*p, i))
                .collect::<Res<Vec<_>>>()?;
            let r = f(s, &xs)?;
            let r = s.round(r, dtype)?;
            s.store(dst, i, r)
        })?;
        Ok(Repr::Buf(dst))
    }

    /// The batch sum mode in force.
    pub fn batch_sum(&self) -> BatchSum {
        self.opts.batch_sum
    }
}
