//! Lowering of one IR function to Cranelift IR: the frame, the exit path, loops and memory
//! helpers, and the dispatch over ops (the ops themselves are in `ops.rs` and
//! `structured.rs`).
//!
//! Representation: a value with shape `[]` is an `f64` SSA value; an unbatched tensor is a
//! pointer to its row-major elements; a batched value is a pointer plus a point count. Every
//! dtype is carried as `f64`, as in the interpreter (`i64`/`bool` hold integral values, `f32`
//! values are rounded through `f32` after every op), so results agree bit for bit.
//!
//! Failures (an index out of range, mismatched batches, an empty batch, no memory) branch to
//! one exit block that frees what the call allocated and returns the status code.

use super::CraneliftOptions;
use crate::CodegenError;
use crate::abi::Status;
use crate::abi::{WS_BASE, WS_PEAK, WS_SIZE, WS_USED, out_and_workspace};
use crate::lower::{Env, Lower, Values, function};
use crate::plan::{Plan, Storage, WorkMemory};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F64, F64X2, I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, Block, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::{FuncId as ClFuncId, Linkage, Module as ClModule};
use sci_ir::{DType, Function, Module, ValueId};
use std::collections::HashMap;

/// Loops over at most this many elements are unrolled when their body is one element op.
pub(super) const UNROLL: usize = 8;

/// Module-wide declarations a function may reference.
pub(crate) struct Imports {
    /// The code of each IR function (`None` where it is unavailable).
    pub funcs: Vec<Option<ClFuncId>>,
    /// The packed entry of each IR function (JIT only; `None` elsewhere).
    pub packed: Vec<Option<ClFuncId>>,
}

/// How a value is held: an `f64` scalar, a tensor's address, or a batch's address and
/// point count (`i64`).
pub(super) type Repr = crate::lower::Repr<Value, Value, Value>;

/// The elementwise ops [`FnLower::elementwise_pairs`] runs on vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PairOp {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    /// `powi x, 2`: `x * x`.
    Square,
}

/// An element index: a compile-time constant or an `i64` value.
pub(super) type Ix = crate::lower::Ix<Value>;

/// The state of lowering one function.
pub(super) struct FnLower<'a, 'b, M: ClModule> {
    pub m: &'a mut M,
    pub b: FunctionBuilder<'b>,
    pub ir: &'a Module,
    pub f: &'a Function,
    pub imports: &'a Imports,
    pub opts: &'a CraneliftOptions,
    pub plan: Plan,
    pub values: Values<Value, Value, Value>,
    pub frame: Value,
    pub out: Value,
    pub exit: Block,
    /// Address of the table of heap buffers to free on exit (`malloc`ed work memory).
    pub heap: Option<Value>,
    /// The arena's top on entry, restored on exit (work memory from sci's arena).
    pub arena_mark: Option<Value>,
    /// The caller's `sci_workspace *` (object code), and its `used` on entry, restored on
    /// exit.
    pub ws: Option<Value>,
    ws_mark: Option<Value>,
    refs: HashMap<ClFuncId, ir::FuncRef>,
}

pub(super) type Res<T> = Result<T, CodegenError>;

pub(super) fn internal(what: &str) -> CodegenError {
    CodegenError::new(format!(
        "internal error in the Cranelift back end: {what} (the IR validated, so this is a bug)"
    ))
}

/// The Cranelift signature of an IR function under the sci ABI (see `abi.rs`); with
/// `workspace`, the `_ws` form that takes a `sci_workspace *` after `out` (object code).
pub(crate) fn abi_signature<M: ClModule>(m: &M, f: &Function, workspace: bool) -> ir::Signature {
    let mut sig = m.make_signature();
    for k in 0..f.inputs().len() {
        match f.input_type(k) {
            Some(t) if t.batched => {
                sig.params.push(AbiParam::new(I64));
                sig.params.push(AbiParam::new(I64));
            }
            Some(t) if t.shape.is_empty() => sig.params.push(AbiParam::new(F64)),
            _ => sig.params.push(AbiParam::new(I64)),
        }
    }
    sig.params.push(AbiParam::new(I64));
    if workspace {
        sig.params.push(AbiParam::new(I64));
    }
    sig.returns.push(AbiParam::new(I32));
    sig
}

/// Lowers the body of `f` into `b` (whose function has [`abi_signature`], with the
/// workspace parameter when `workspace`).
pub(crate) fn lower_function<M: ClModule>(
    m: &mut M,
    b: FunctionBuilder<'_>,
    ir: &Module,
    f: &Function,
    imports: &Imports,
    opts: &CraneliftOptions,
    workspace: bool,
) -> Res<()> {
    let plan = crate::plan::plan(f)?;
    let mut b = b;
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let exit = b.create_block();
    b.append_block_param(exit, I32);
    // Object code takes the caller's workspace after `out` (`abi_signature`).
    let (out, ws) =
        out_and_workspace(&params, workspace).ok_or_else(|| internal("no out parameter"))?;

    let WorkMemory {
        frame_bytes,
        frame_on_heap: on_heap,
        arena,
        table_slots,
    } = plan.work_memory(opts.links_runtime());
    // The heap table: what to free on exit; null until allocated (and for workspace
    // memory).
    let heap = (table_slots > 0).then(|| {
        let slot = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (table_slots * 8) as u32,
            3,
        ));
        let addr = b.ins().stack_addr(I64, slot, 0);
        let null = b.ins().iconst(I64, 0);
        for k in 0..table_slots {
            b.ins()
                .store(MemFlagsData::trusted(), null, addr, (k * 8) as i32);
        }
        addr
    });
    let frame = if on_heap {
        // Allocated below, once the lowering state exists.
        b.ins().iconst(I64, 0)
    } else {
        let slot = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            frame_bytes.max(8) as u32,
            3,
        ));
        b.ins().stack_addr(I64, slot, 0)
    };
    let mut s = FnLower {
        m,
        b,
        ir,
        f,
        imports,
        opts,
        plan,
        values: Values::new(f.values.len()),
        frame,
        out,
        exit,
        heap,
        arena_mark: None,
        ws,
        ws_mark: None,
        refs: HashMap::new(),
    };
    if arena {
        let id = s.import("sci_arena_mark", &[], Some(I64))?;
        s.arena_mark = Some(s.call_import(id, &[])?);
    }
    if let Some(ws) = ws.filter(|_| table_slots > 0) {
        let used = s.b.ins().load(I64, MemFlagsData::trusted(), ws, WS_USED);
        s.ws_mark = Some(used);
    }
    if on_heap {
        let size = s.b.ins().iconst(I64, frame_bytes as i64);
        let frame_slot = s.plan.heap_slots;
        let ptr = s.work_alloc(size, frame_slot)?;
        let is_null = s.b.ins().icmp_imm_s(IntCC::Equal, ptr, 0);
        s.frame = ptr;
        s.exit_if(is_null, Status::OutOfMemory);
    }
    let inputs = s.input_reprs(&params)?;
    function::bind_inputs(&mut s, inputs)?;
    s.lower_body(&f.body.body)?;
    let (out, in_place) = (s.out, s.plan.of(f.body.result) == Storage::Out);
    function::write_result(&mut s, out, in_place)?;
    let ok = s.b.ins().iconst(I32, 0);
    s.b.ins().jump(exit, &[ok.into()]);

    // The exit: free the heap buffers and the frame, return the status.
    s.b.switch_to_block(exit);
    let status = s.b.block_params(exit)[0];
    if let Some(mark) = s.arena_mark {
        let id = s.import("sci_arena_release", &[I64], None)?;
        let r = s.func_ref(id);
        s.b.ins().call(r, &[mark]);
    } else if let Some(table) = s.heap {
        for k in 0..table_slots {
            let p =
                s.b.ins()
                    .load(I64, MemFlagsData::trusted(), table, (k * 8) as i32);
            s.free(p)?;
        }
    }
    if let (Some(ws), Some(mark)) = (s.ws, s.ws_mark) {
        s.b.ins().store(MemFlagsData::trusted(), mark, ws, WS_USED);
    }
    s.b.ins().return_(&[status]);
    s.b.seal_all_blocks();
    let config = s.m.target_config();
    s.b.finalize(config);
    Ok(())
}

impl<'a, 'b, M: ClModule> FnLower<'a, 'b, M> {
    /// The buffer planned for `v` (frame region or `out`); batched buffers are allocated by
    /// [`FnLower::alloc_batch`].
    pub fn planned(&mut self, v: ValueId) -> Res<Value> {
        match self.plan.of(v) {
            Storage::Out => Ok(self.out),
            Storage::OutPart { offset } => {
                Ok(self.b.ins().iadd_imm_s(self.out, (offset * 8) as i64))
            }
            Storage::Frame { offset } => {
                Ok(self.b.ins().iadd_imm_s(self.frame, (offset * 8) as i64))
            }
            _ => Err(internal("no buffer planned for a tensor value")),
        }
    }

    /// Allocates the buffer of batched value `v`: `n` points of `per` elements.
    pub fn batch_buffer(&mut self, v: ValueId, n: Value, per: usize) -> Res<Value> {
        match self.plan.of(v) {
            Storage::Out => Ok(self.out),
            Storage::Heap { slot } => {
                let bytes = self.b.ins().imul_imm_s(n, (per * 8) as i64);
                let eight = self.b.ins().iconst(I64, 8);
                // malloc(0) may return null; ask for at least one element.
                let small = self.b.ins().icmp(IntCC::UnsignedLessThan, bytes, eight);
                let bytes = self.b.ins().select(small, eight, bytes);
                let p = self.work_alloc(bytes, slot)?;
                let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, p, 0);
                self.exit_if(is_null, Status::OutOfMemory);
                Ok(p)
            }
            _ => Err(internal("no heap slot planned for a batched value")),
        }
    }

    /// Calls function `id` and returns its first result.
    pub fn call_import(&mut self, id: ClFuncId, args: &[Value]) -> Res<Value> {
        let r = self.func_ref(id);
        let call = self.b.ins().call(r, args);
        self.b
            .inst_results(call)
            .first()
            .copied()
            .ok_or_else(|| internal("call without result"))
    }

    /// The address of function `id`.
    pub fn func_address(&mut self, id: ClFuncId) -> Value {
        let r = self.func_ref(id);
        self.b.ins().func_addr(I64, r)
    }

    /// Calls one of sci's kernels on `i64` arguments and returns its `i32` status.
    pub fn kernel_status(&mut self, name: &str, args: &[Value]) -> Res<Value> {
        let id = self.import(name, &vec![I64; args.len()], Some(I32))?;
        self.call_import(id, args)
    }

    /// A new stack region of `words` 8-byte words; its address.
    pub fn stack_words(&mut self, words: usize) -> Value {
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (words.max(1) * 8) as u32,
            3,
        ));
        self.b.ins().stack_addr(I64, slot, 0)
    }

    pub(super) fn func_ref(&mut self, id: ClFuncId) -> ir::FuncRef {
        if let Some(r) = self.refs.get(&id) {
            return *r;
        }
        let r = self.m.declare_func_in_func(id, self.b.func);
        self.refs.insert(id, r);
        r
    }

    /// Declares (once) the C function `name` with `params` and an optional result.
    pub(super) fn import(
        &mut self,
        name: &str,
        params: &[ir::Type],
        ret: Option<ir::Type>,
    ) -> Res<ClFuncId> {
        let mut sig = self.m.make_signature();
        sig.params.extend(params.iter().map(|t| AbiParam::new(*t)));
        sig.returns.extend(ret.map(AbiParam::new));
        self.m
            .declare_function(name, Linkage::Import, &sig)
            .map_err(|e| internal(&format!("cannot declare `{name}`: {e}")))
    }

    /// A libm function by C name, on `f64` arguments.
    pub fn call_math(&mut self, name: &str, args: &[Value]) -> Res<Value> {
        let params = vec![F64; args.len()];
        let id = self.import(name, &params, Some(F64))?;
        self.call_import(id, args)
    }

    /// Calls one of sci's kernels (`libm::kernel_symbols`) on `i64` arguments.
    pub fn kernel(&mut self, name: &str, args: &[Value]) -> Res<()> {
        let id = self.import(name, &vec![I64; args.len()], None)?;
        let r = self.func_ref(id);
        self.b.ins().call(r, args);
        Ok(())
    }

    /// `bytes` of work memory, freed when the call returns: from sci's arena (a bump of
    /// this thread's stack of buffers) when the function took a mark; else from the
    /// caller's workspace when it has room, else `malloc`ed and recorded in heap-table
    /// entry `slot` to be freed on exit. Null when no memory can be had.
    fn work_alloc(&mut self, bytes: Value, slot: usize) -> Res<Value> {
        if self.arena_mark.is_some() {
            let id = self.import("sci_arena_alloc", &[I64], Some(I64))?;
            return self.call_import(id, &[bytes]);
        }
        let table = self.heap.ok_or_else(|| internal("no heap table"))?;
        let flags = MemFlagsData::trusted();
        let done = self.b.create_block();
        self.b.append_block_param(done, I64);
        let heap = self.b.create_block();
        if let Some(ws) = self.ws {
            // The workspace's `used`, `size` and `peak` (in doubles), in 64-byte granules.
            let bump = self.b.create_block();
            let used = self.b.ins().load(I64, flags, ws, WS_USED);
            let size = self.b.ins().load(I64, flags, ws, WS_SIZE);
            let peak = self.b.ins().load(I64, flags, ws, WS_PEAK);
            let granules = self.b.ins().iadd_imm_s(bytes, 63);
            let granules = self.b.ins().ushr_imm_u(granules, 6);
            let words = self.b.ins().ishl_imm_u(granules, 3);
            let wanted = self.b.ins().iadd(used, words);
            let higher = self.b.ins().icmp(IntCC::UnsignedGreaterThan, wanted, peak);
            let peak = self.b.ins().select(higher, wanted, peak);
            self.b.ins().store(flags, peak, ws, WS_PEAK);
            // Taken even when it does not fit (then `malloc` serves it), so `peak` is what
            // the whole call would need.
            self.b.ins().store(flags, wanted, ws, WS_USED);
            let fits = self
                .b
                .ins()
                .icmp(IntCC::UnsignedLessThanOrEqual, wanted, size);
            self.b.ins().brif(fits, bump, &[], heap, &[]);
            self.b.switch_to_block(bump);
            self.b.seal_block(bump);
            let base = self.b.ins().load(I64, flags, ws, WS_BASE);
            let offset = self.b.ins().ishl_imm_u(used, 3);
            let p = self.b.ins().iadd(base, offset);
            self.b.ins().jump(done, &[p.into()]);
        } else {
            self.b.ins().jump(heap, &[]);
        }
        self.b.switch_to_block(heap);
        self.b.seal_block(heap);
        let id = self.import("malloc", &[I64], Some(I64))?;
        let p = self.call_import(id, &[bytes])?;
        self.b.ins().store(flags, p, table, (slot * 8) as i32);
        self.b.ins().jump(done, &[p.into()]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        Ok(self.b.block_params(done)[0])
    }

    fn free(&mut self, ptr: Value) -> Res<()> {
        let id = self.import("free", &[I64], None)?;
        let r = self.func_ref(id);
        self.b.ins().call(r, &[ptr]);
        Ok(())
    }

    /// Returns `status` from the function if `cond` (an `i8` truth value) holds.
    pub fn exit_if(&mut self, cond: Value, status: Status) {
        let code = self.b.ins().iconst(I32, status as i64);
        let cont = self.b.create_block();
        self.b
            .ins()
            .brif(cond, self.exit, &[code.into()], cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// Returns a callee's non-zero status from the function.
    pub fn fail_on_status(&mut self, status: Value) {
        let cont = self.b.create_block();
        self.b
            .ins()
            .brif(status, self.exit, &[status.into()], cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    // ----- memory -----

    /// `ptr + i * scale * 8`.
    pub fn address(&mut self, ptr: Value, i: Ix, scale: usize) -> Value {
        match i {
            Ix::C(0) => ptr,
            Ix::C(c) => self.b.ins().iadd_imm_s(ptr, (c * scale * 8) as i64),
            Ix::V(v) => {
                let off = self.b.ins().imul_imm_s(v, (scale * 8) as i64);
                self.b.ins().iadd(ptr, off)
            }
        }
    }

    pub fn load_f64(&mut self, ptr: Value, i: Ix) -> Value {
        match i {
            Ix::C(c) => self
                .b
                .ins()
                .load(F64, MemFlagsData::trusted(), ptr, (c * 8) as i32),
            Ix::V(_) => {
                let a = self.address(ptr, i, 1);
                self.b.ins().load(F64, MemFlagsData::trusted(), a, 0)
            }
        }
    }

    pub fn store_f64(&mut self, ptr: Value, i: Ix, x: Value) {
        match i {
            Ix::C(c) => {
                self.b
                    .ins()
                    .store(MemFlagsData::trusted(), x, ptr, (c * 8) as i32);
            }
            Ix::V(_) => {
                let a = self.address(ptr, i, 1);
                self.b.ins().store(MemFlagsData::trusted(), x, a, 0);
            }
        }
    }

    // ----- loops -----

    /// A loop over `i` in `0..n` (`n` static); the body is emitted once.
    pub fn repeat_c(&mut self, n: usize, body: impl FnMut(&mut Self, Value) -> Res<()>) -> Res<()> {
        match n {
            0 => Ok(()),
            _ => {
                let count = self.b.ins().iconst(I64, n as i64);
                self.repeat_dyn(count, body)
            }
        }
    }

    /// A loop over `i` in `0..n` (`n` an `i64` value).
    pub fn repeat_dyn(
        &mut self,
        n: Value,
        mut body: impl FnMut(&mut Self, Value) -> Res<()>,
    ) -> Res<()> {
        let header = self.b.create_block();
        let inner = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(header, I64);
        let zero = self.b.ins().iconst(I64, 0);
        self.b.ins().jump(header, &[zero.into()]);
        self.b.switch_to_block(header);
        let i = self.b.block_params(header)[0];
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, i, n);
        self.b.ins().brif(more, inner, &[], done, &[]);
        self.b.switch_to_block(inner);
        self.b.seal_block(inner);
        body(self, i)?;
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().jump(header, &[next.into()]);
        self.b.seal_block(header);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        Ok(())
    }

    // ----- the function -----

    /// The function's inputs as the caller passed them (its parameters, in order).
    fn input_reprs(&self, params: &[Value]) -> Res<Vec<Repr>> {
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
                    ptr: param(k - 2)?,
                    n: param(k - 1)?,
                }
            } else {
                k += 1;
                if ty.shape.is_empty() {
                    Repr::Scalar(param(k - 1)?)
                } else {
                    Repr::Buf(param(k - 1)?)
                }
            });
        }
        Ok(reprs)
    }

    /// `f64` arithmetic over whole tensors two lanes per instruction (`F64X2`: Cranelift's
    /// x86-64 back end has no wider vectors), four elements per loop iteration: the same
    /// IEEE operations as the element loop, so the same bits. `None` (the element loop then
    /// runs) for other dtypes, scalars, and lengths that are not a multiple of four.
    pub fn elementwise_pairs(
        &mut self,
        id: ValueId,
        operands: &[ValueId],
        op: PairOp,
    ) -> Res<Option<Repr>> {
        let ty = self.ty(id)?;
        if ty.dtype != DType::F64 || ty.shape.is_empty() {
            return Ok(None);
        }
        let len = self.len_of(id)?;
        if len < 16 || len % 4 != 0 {
            return Ok(None);
        }
        let mut ptrs = Vec::with_capacity(operands.len());
        for &a in operands {
            match self.repr(a)? {
                Repr::Buf(p) => ptrs.push(p),
                _ => return Ok(None),
            }
        }
        let dst = self.planned(id)?;
        // Unaligned: frame regions are 8-byte aligned only.
        let flags = MemFlagsData::new().with_notrap();
        self.repeat_c(len / 4, |s, i| {
            let at: Vec<Value> = ptrs.iter().map(|p| s.address(*p, Ix::V(i), 4)).collect();
            let to = s.address(dst, Ix::V(i), 4);
            for half in [0, 16] {
                let x: Vec<Value> = at
                    .iter()
                    .map(|a| s.b.ins().load(F64X2, flags, *a, half))
                    .collect();
                let r = match (op, x.as_slice()) {
                    (PairOp::Add, [a, b]) => s.b.ins().fadd(*a, *b),
                    (PairOp::Sub, [a, b]) => s.b.ins().fsub(*a, *b),
                    (PairOp::Mul, [a, b]) => s.b.ins().fmul(*a, *b),
                    (PairOp::Div, [a, b]) => s.b.ins().fdiv(*a, *b),
                    (PairOp::Neg, [a]) => s.b.ins().fneg(*a),
                    (PairOp::Square, [a]) => s.b.ins().fmul(*a, *a),
                    _ => return Err(internal("vector op with the wrong operands")),
                };
                s.b.ins().store(flags, r, to, half);
            }
            Ok(())
        })?;
        Ok(Some(Repr::Buf(dst)))
    }
}
