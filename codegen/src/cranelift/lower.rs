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

use super::{BatchSum, CraneliftOptions};
use crate::CodegenError;
use crate::abi::Status;
use crate::plan::{Plan, Storage};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32, F64, F64X2, I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, Block, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::{FuncId as ClFuncId, Linkage, Module as ClModule};
use sci_ir::interp::PowiForm;
use sci_ir::types::element_count;
use sci_ir::{BinaryOp, DType, Function, Module, Op, Type, ValueId};
use std::collections::HashMap;

/// Frames up to this many bytes live on the stack; larger ones are `malloc`ed.
const STACK_FRAME_LIMIT: usize = 32 * 1024;

/// Loops over at most this many elements are unrolled when their body is one element op.
pub(super) const UNROLL: usize = 8;

/// Module-wide declarations a function may reference.
pub(crate) struct Imports {
    /// The code of each IR function (`None` where it is unavailable).
    pub funcs: Vec<Option<ClFuncId>>,
    /// The packed entry of each IR function (JIT only; `None` elsewhere).
    pub packed: Vec<Option<ClFuncId>>,
}

/// How a value is held during lowering.
#[derive(Clone, Copy, Debug)]
pub(super) enum Repr {
    /// A scalar, as an `f64`.
    Scalar(Value),
    /// An unbatched tensor: the address of its first element.
    Buf(Value),
    /// A batched value: the address of its first point and the number of points (`i64`).
    Batch { ptr: Value, n: Value },
}

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
#[derive(Clone, Copy, Debug)]
pub(super) enum Ix {
    C(usize),
    V(Value),
}

/// The state of lowering one function.
pub(super) struct FnLower<'a, 'b, M: ClModule> {
    pub m: &'a mut M,
    pub b: FunctionBuilder<'b>,
    pub ir: &'a Module,
    pub f: &'a Function,
    pub imports: &'a Imports,
    pub opts: &'a CraneliftOptions,
    pub plan: Plan,
    pub env: Vec<Option<Repr>>,
    /// The `i64` form of index values (loop counters), to skip float conversions.
    pub int_of: HashMap<Value, Value>,
    pub frame: Value,
    pub out: Value,
    pub exit: Block,
    /// Address of the table of heap buffers to free on exit.
    pub heap: Option<Value>,
    refs: HashMap<ClFuncId, ir::FuncRef>,
}

pub(super) type Res<T> = Result<T, CodegenError>;

pub(super) fn internal(what: &str) -> CodegenError {
    CodegenError::new(format!(
        "internal error in the Cranelift back end: {what} (the IR validated, so this is a bug)"
    ))
}

/// The Cranelift signature of an IR function under the sci ABI (see `abi.rs`).
pub(crate) fn abi_signature<M: ClModule>(m: &M, f: &Function) -> ir::Signature {
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
    sig.returns.push(AbiParam::new(I32));
    sig
}

/// Lowers the body of `f` into `b` (whose function has [`abi_signature`]).
pub(crate) fn lower_function<M: ClModule>(
    m: &mut M,
    b: FunctionBuilder<'_>,
    ir: &Module,
    f: &Function,
    imports: &Imports,
    opts: &CraneliftOptions,
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
    let out = *params.last().ok_or_else(|| internal("no out parameter"))?;

    // The heap table: one pointer per heap buffer, null until allocated.
    let heap = (plan.heap_slots > 0).then(|| {
        let slot = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (plan.heap_slots * 8) as u32,
            3,
        ));
        let addr = b.ins().stack_addr(I64, slot, 0);
        let null = b.ins().iconst(I64, 0);
        for k in 0..plan.heap_slots {
            b.ins()
                .store(MemFlagsData::trusted(), null, addr, (k * 8) as i32);
        }
        addr
    });
    let frame_bytes = plan.frame_len * 8;
    let on_heap = frame_bytes > STACK_FRAME_LIMIT;
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
        env: vec![None; f.values.len()],
        int_of: HashMap::new(),
        frame,
        out,
        exit,
        heap,
        refs: HashMap::new(),
    };
    if on_heap {
        let size = s.b.ins().iconst(I64, frame_bytes as i64);
        let ptr = s.malloc(size)?;
        let is_null = s.b.ins().icmp_imm_s(IntCC::Equal, ptr, 0);
        s.frame = ptr;
        s.fail_if(is_null, Status::OutOfMemory);
    }
    s.bind_inputs(&params)?;
    s.lower_body(&f.body.body)?;
    s.write_result()?;
    let ok = s.b.ins().iconst(I32, 0);
    s.b.ins().jump(exit, &[ok.into()]);

    // The exit: free the heap buffers and the frame, return the status.
    s.b.switch_to_block(exit);
    let status = s.b.block_params(exit)[0];
    if let Some(table) = s.heap {
        for k in 0..s.plan.heap_slots {
            let p =
                s.b.ins()
                    .load(I64, MemFlagsData::trusted(), table, (k * 8) as i32);
            s.free(p)?;
        }
    }
    if on_heap {
        let frame = s.frame;
        s.free(frame)?;
    }
    s.b.ins().return_(&[status]);
    s.b.seal_all_blocks();
    let config = s.m.target_config();
    s.b.finalize(config);
    Ok(())
}

impl<'a, 'b, M: ClModule> FnLower<'a, 'b, M> {
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

    pub fn repr(&self, v: ValueId) -> Res<Repr> {
        self.env
            .get(v.index())
            .copied()
            .flatten()
            .ok_or_else(|| internal(&format!("%{} used before it is lowered", v.index())))
    }

    pub fn set(&mut self, v: ValueId, r: Repr) {
        if let Some(slot) = self.env.get_mut(v.index()) {
            *slot = Some(r);
        }
    }

    /// The scalar value of `v`.
    pub fn scalar(&mut self, v: ValueId) -> Res<Value> {
        match self.repr(v)? {
            Repr::Scalar(x) => Ok(x),
            Repr::Buf(p) => Ok(self.load(p, Ix::C(0))),
            Repr::Batch { .. } => Err(internal("batched value used as a scalar")),
        }
    }

    /// The address of the elements of unbatched tensor `v`.
    pub fn buf(&self, v: ValueId) -> Res<Value> {
        match self.repr(v)? {
            Repr::Buf(p) => Ok(p),
            _ => Err(internal("expected a tensor")),
        }
    }

    /// The buffer planned for `v` (frame region or `out`); batched buffers are allocated by
    /// [`FnLower::alloc_batch`].
    pub fn dest(&mut self, v: ValueId) -> Res<Value> {
        match self.plan.of(v) {
            Storage::Out => Ok(self.out),
            Storage::Frame { offset } => {
                Ok(self.b.ins().iadd_imm_s(self.frame, (offset * 8) as i64))
            }
            _ => Err(internal("no buffer planned for a tensor value")),
        }
    }

    /// Allocates the buffer of batched value `v`: `n` points of `per` elements.
    pub fn alloc_batch(&mut self, v: ValueId, n: Value, per: usize) -> Res<Value> {
        match self.plan.of(v) {
            Storage::Out => Ok(self.out),
            Storage::Heap { slot } => {
                let bytes = self.b.ins().imul_imm_s(n, (per * 8) as i64);
                let eight = self.b.ins().iconst(I64, 8);
                // malloc(0) may return null; ask for at least one element.
                let small = self.b.ins().icmp(IntCC::UnsignedLessThan, bytes, eight);
                let bytes = self.b.ins().select(small, eight, bytes);
                let p = self.malloc(bytes)?;
                let table = self.heap.ok_or_else(|| internal("no heap table"))?;
                self.b
                    .ins()
                    .store(MemFlagsData::trusted(), p, table, (slot * 8) as i32);
                let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, p, 0);
                self.fail_if(is_null, Status::OutOfMemory);
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

    fn func_ref(&mut self, id: ClFuncId) -> ir::FuncRef {
        if let Some(r) = self.refs.get(&id) {
            return *r;
        }
        let r = self.m.declare_func_in_func(id, self.b.func);
        self.refs.insert(id, r);
        r
    }

    /// Declares (once) the C function `name` with `params` and an optional result.
    fn import(&mut self, name: &str, params: &[ir::Type], ret: Option<ir::Type>) -> Res<ClFuncId> {
        let mut sig = self.m.make_signature();
        sig.params.extend(params.iter().map(|t| AbiParam::new(*t)));
        sig.returns.extend(ret.map(AbiParam::new));
        self.m
            .declare_function(name, Linkage::Import, &sig)
            .map_err(|e| internal(&format!("cannot declare `{name}`: {e}")))
    }

    /// A libm function by C name, on `f64` arguments.
    pub fn math(&mut self, name: &str, args: &[Value]) -> Res<Value> {
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

    fn malloc(&mut self, bytes: Value) -> Res<Value> {
        let id = self.import("malloc", &[I64], Some(I64))?;
        self.call_import(id, &[bytes])
    }

    fn free(&mut self, ptr: Value) -> Res<()> {
        let id = self.import("free", &[I64], None)?;
        let r = self.func_ref(id);
        self.b.ins().call(r, &[ptr]);
        Ok(())
    }

    /// Returns `status` from the function if `cond` (an `i8` truth value) holds.
    pub fn fail_if(&mut self, cond: Value, status: Status) {
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
    pub fn addr(&mut self, ptr: Value, i: Ix, scale: usize) -> Value {
        match i {
            Ix::C(0) => ptr,
            Ix::C(c) => self.b.ins().iadd_imm_s(ptr, (c * scale * 8) as i64),
            Ix::V(v) => {
                let off = self.b.ins().imul_imm_s(v, (scale * 8) as i64);
                self.b.ins().iadd(ptr, off)
            }
        }
    }

    pub fn load(&mut self, ptr: Value, i: Ix) -> Value {
        match i {
            Ix::C(c) => self
                .b
                .ins()
                .load(F64, MemFlagsData::trusted(), ptr, (c * 8) as i32),
            Ix::V(_) => {
                let a = self.addr(ptr, i, 1);
                self.b.ins().load(F64, MemFlagsData::trusted(), a, 0)
            }
        }
    }

    pub fn store(&mut self, ptr: Value, i: Ix, x: Value) {
        match i {
            Ix::C(c) => {
                self.b
                    .ins()
                    .store(MemFlagsData::trusted(), x, ptr, (c * 8) as i32);
            }
            Ix::V(_) => {
                let a = self.addr(ptr, i, 1);
                self.b.ins().store(MemFlagsData::trusted(), x, a, 0);
            }
        }
    }

    /// Copies `len` elements from `src` to `dst`.
    pub fn copy(&mut self, src: Value, dst: Value, len: usize) -> Res<()> {
        self.each(len, |s, i| {
            let x = s.load(src, i);
            s.store(dst, i, x);
            Ok(())
        })
    }

    /// Writes `r` (a scalar or a tensor of `len` elements) at `dst`.
    pub fn store_repr(&mut self, r: Repr, dst: Value, len: usize) -> Res<()> {
        match r {
            Repr::Scalar(x) => {
                self.store(dst, Ix::C(0), x);
                Ok(())
            }
            Repr::Buf(p) => self.copy(p, dst, len),
            Repr::Batch { .. } => Err(internal("a batched value inside a block")),
        }
    }

    /// `x` rounded through `f32` when `dtype` is `f32`.
    pub fn round(&mut self, x: Value, dtype: DType) -> Value {
        if dtype == DType::F32 {
            let s = self.b.ins().fdemote(F32, x);
            self.b.ins().fpromote(F64, s)
        } else {
            x
        }
    }

    pub fn f64c(&mut self, x: f64) -> Value {
        self.b.ins().f64const(x)
    }

    // ----- loops -----

    /// Runs `body` for `i` in `0..n`: unrolled with constant indices when `n` is small,
    /// else as a loop.
    pub fn each(&mut self, n: usize, mut body: impl FnMut(&mut Self, Ix) -> Res<()>) -> Res<()> {
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
    pub fn repeat(&mut self, n: usize, body: impl FnMut(&mut Self, Value) -> Res<()>) -> Res<()> {
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

    /// Nested loops over `extents` (outermost first); `body` gets the indices.
    pub fn nest(
        &mut self,
        extents: &[usize],
        idx: &mut Vec<Value>,
        body: &mut dyn FnMut(&mut Self, &[Value]) -> Res<()>,
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
    pub fn linear(&mut self, extents: &[usize], idx: &[Value]) -> Value {
        let mut lin = self.b.ins().iconst(I64, 0);
        for (&e, &i) in extents.iter().zip(idx) {
            let scaled = self.b.ins().imul_imm_s(lin, e as i64);
            lin = self.b.ins().iadd(scaled, i);
        }
        lin
    }

    /// An index value as `f64` (block arguments of `tabulate`/`fold`), remembering its
    /// integer form.
    pub fn index_value(&mut self, i: Value) -> Value {
        let x = self.b.ins().fcvt_from_sint(F64, i);
        self.int_of.insert(x, i);
        x
    }

    // ----- the function -----

    fn bind_inputs(&mut self, params: &[Value]) -> Res<()> {
        let mut k = 0;
        for &id in self.f.inputs() {
            let ty = self.ty(id)?;
            let p = *params
                .get(k)
                .ok_or_else(|| internal("too few parameters"))?;
            let r = if ty.batched {
                let n = *params
                    .get(k + 1)
                    .ok_or_else(|| internal("too few parameters"))?;
                k += 2;
                if ty.dtype == DType::F32 {
                    let per = self.len_of(id)?;
                    let dst = self.alloc_batch(id, n, per)?;
                    let total = self.b.ins().imul_imm_s(n, per as i64);
                    self.repeat_dyn(total, |s, i| {
                        let x = s.load(p, Ix::V(i));
                        let x = s.round(x, DType::F32);
                        s.store(dst, Ix::V(i), x);
                        Ok(())
                    })?;
                    Repr::Batch { ptr: dst, n }
                } else {
                    Repr::Batch { ptr: p, n }
                }
            } else {
                k += 1;
                if ty.shape.is_empty() {
                    Repr::Scalar(self.round(p, ty.dtype))
                } else if ty.dtype == DType::F32 {
                    let dst = self.dest(id)?;
                    let len = self.len_of(id)?;
                    self.each(len, |s, i| {
                        let x = s.load(p, i);
                        let x = s.round(x, DType::F32);
                        s.store(dst, i, x);
                        Ok(())
                    })?;
                    Repr::Buf(dst)
                } else {
                    Repr::Buf(p)
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
                let total = self.b.ins().imul_imm_s(n, per as i64);
                let out = self.out;
                self.repeat_dyn(total, |s, i| {
                    let x = s.load(ptr, Ix::V(i));
                    s.store(out, Ix::V(i), x);
                    Ok(())
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

    fn lower_value(&mut self, id: ValueId) -> Res<Repr> {
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
                if op == sci_ir::UnaryOp::Neg
                    && let Some(r) = self.elementwise_pairs(id, &[*a], PairOp::Neg)?
                {
                    return Ok(r);
                }
                self.elementwise(id, &[*a], move |s, x| s.unary(op, x[0]))
            }
            Op::Binary(op, a, b) => {
                let op = *op;
                let pair = match op {
                    BinaryOp::Add => Some(PairOp::Add),
                    BinaryOp::Sub => Some(PairOp::Sub),
                    BinaryOp::Mul => Some(PairOp::Mul),
                    BinaryOp::Div => Some(PairOp::Div),
                    _ => None,
                };
                if let Some(pair) = pair
                    && let Some(r) = self.elementwise_pairs(id, &[*a, *b], pair)?
                {
                    return Ok(r);
                }
                self.elementwise(id, &[*a, *b], move |s, x| s.binary(op, x[0], x[1]))
            }
            Op::Powi(a, n) => {
                let n = *n;
                if PowiForm::of(n) == PowiForm::Square
                    && let Some(r) = self.elementwise_pairs(id, &[*a], PairOp::Square)?
                {
                    return Ok(r);
                }
                self.elementwise(id, &[*a], move |s, x| s.powi(x[0], n))
            }
            Op::Compare(op, a, b) => {
                let op = *op;
                self.elementwise(id, &[*a, *b], move |s, x| Ok(s.compare(op, x[0], x[1])))
            }
            Op::Select(c, a, b) => self.elementwise(id, &[*c, *a, *b], |s, x| {
                let zero = s.f64c(0.0);
                let t = s.b.ins().fcmp(
                    cranelift_codegen::ir::condcodes::FloatCC::NotEqual,
                    x[0],
                    zero,
                );
                Ok(s.b.ins().select(t, x[1], x[2]))
            }),
            Op::Cast(a) => {
                let to = ty.dtype;
                self.elementwise(id, &[*a], move |s, x| Ok(s.cast(x[0], to)))
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
                Ok(Repr::Buf(self.addr(p, Ix::C(*start), sub)))
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
        f: impl Fn(&mut Self, &[Value]) -> Res<Value>,
    ) -> Res<Repr> {
        let ty = self.ty(id)?;
        let dtype = ty.dtype;
        if ty.shape.is_empty() {
            let xs = operands
                .iter()
                .map(|a| self.scalar(*a))
                .collect::<Res<Vec<_>>>()?;
            let r = f(self, &xs)?;
            return Ok(Repr::Scalar(self.round(r, dtype)));
        }
        let len = self.len_of(id)?;
        let dst = self.dest(id)?;
        let ptrs = operands
            .iter()
            .map(|a| self.buf(*a))
            .collect::<Res<Vec<_>>>()?;
        self.each(len, |s, i| {
            let xs: Vec<Value> = ptrs.iter().map(|p| s.load(*p, i)).collect();
            let r = f(s, &xs)?;
            let r = s.round(r, dtype);
            s.store(dst, i, r);
            Ok(())
        })?;
        Ok(Repr::Buf(dst))
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
        let dst = self.dest(id)?;
        // Unaligned: frame regions are 8-byte aligned only.
        let flags = MemFlagsData::new().with_notrap();
        self.repeat(len / 4, |s, i| {
            let at: Vec<Value> = ptrs.iter().map(|p| s.addr(*p, Ix::V(i), 4)).collect();
            let to = s.addr(dst, Ix::V(i), 4);
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

    /// The batch sum mode in force.
    pub fn batch_sum(&self) -> BatchSum {
        self.opts.batch_sum
    }
}
