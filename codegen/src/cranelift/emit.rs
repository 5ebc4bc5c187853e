//! Cranelift's primitives for the shared lowering ([`crate::lower::Emit`]): every value is a
//! Cranelift `Value` (`f64`, `i64` indices and addresses, `i8` truth values); a failure
//! branches to the function's exit block.

use super::BatchSum;
use super::lower::{FnLower, Ix, Repr, Res, UNROLL, internal};
use crate::abi::Status;
use crate::libm::MatmulKernel;
use crate::lower::{BBin, DescWord, Emit, FBin, FCmp, FUn, ICmp, Kinds, LoopBody, Values};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F64, I8, I64};
use cranelift_codegen::ir::{BlockArg, InstBuilder, MemFlagsData, Value};
use cranelift_module::{DataDescription, Module as ClModule};
use sci_ir::{FuncId, Function, Module, Op, ValueId};

impl<M: ClModule> Kinds for FnLower<'_, '_, M> {
    type F = Value;
    type I = Value;
    type B = Value;
    type P = Value;
}

impl<'a, M: ClModule> Emit<'a> for FnLower<'a, '_, M> {
    const NAME: &'static str = "Cranelift";
    const FAILURE_EXITS: bool = true;
    const UNROLL: usize = UNROLL;

    fn function(&self) -> &'a Function {
        self.f
    }

    fn values(&self) -> &Values<Value, Value, Value> {
        &self.values
    }

    fn values_mut(&mut self) -> &mut Values<Value, Value, Value> {
        &mut self.values
    }

    fn f64c(&mut self, x: f64) -> Res<Value> {
        Ok(self.b.ins().f64const(x))
    }

    fn ic(&mut self, n: usize) -> Res<Value> {
        Ok(self.b.ins().iconst(I64, n as i64))
    }

    fn bc(&mut self, b: bool) -> Res<Value> {
        Ok(self.b.ins().iconst(I8, i64::from(b)))
    }

    fn fbin(&mut self, op: FBin, a: Value, b: Value) -> Res<Value> {
        let ins = self.b.ins();
        Ok(match op {
            FBin::Add => ins.fadd(a, b),
            FBin::Sub => ins.fsub(a, b),
            FBin::Mul => ins.fmul(a, b),
            FBin::Div => ins.fdiv(a, b),
        })
    }

    fn fun(&mut self, op: FUn, x: Value) -> Res<Value> {
        let ins = self.b.ins();
        Ok(match op {
            FUn::Neg => ins.fneg(x),
            FUn::Abs => ins.fabs(x),
            FUn::Sqrt => ins.sqrt(x),
            FUn::Floor => ins.floor(x),
        })
    }

    fn fcmp(&mut self, op: FCmp, a: Value, b: Value) -> Res<Value> {
        let cc = match op {
            FCmp::Eq => FloatCC::Equal,
            FCmp::Ne => FloatCC::NotEqual,
            FCmp::Lt => FloatCC::LessThan,
            FCmp::Le => FloatCC::LessThanOrEqual,
            FCmp::Gt => FloatCC::GreaterThan,
            FCmp::Ge => FloatCC::GreaterThanOrEqual,
            FCmp::Uno => FloatCC::Unordered,
        };
        Ok(self.b.ins().fcmp(cc, a, b))
    }

    fn bbin(&mut self, op: BBin, a: Value, b: Value) -> Res<Value> {
        let ins = self.b.ins();
        Ok(match op {
            BBin::And => ins.band(a, b),
            BBin::Or => ins.bor(a, b),
            BBin::Xor => ins.bxor(a, b),
        })
    }

    fn select_f(&mut self, c: Value, a: Value, b: Value) -> Res<Value> {
        Ok(self.b.ins().select(c, a, b))
    }

    fn select_i(&mut self, c: Value, a: Value, b: Value) -> Res<Value> {
        Ok(self.b.ins().select(c, a, b))
    }

    fn bool_to_f64(&mut self, c: Value) -> Res<Value> {
        let one = self.b.ins().f64const(1.0);
        let zero = self.b.ins().f64const(0.0);
        Ok(self.b.ins().select(c, one, zero))
    }

    fn round_f32(&mut self, x: Value) -> Res<Value> {
        let s = self.b.ins().fdemote(F32, x);
        Ok(self.b.ins().fpromote(F64, s))
    }

    fn trunc_to_int(&mut self, x: Value) -> Res<Value> {
        // Truncates toward zero, saturates, NaN → 0: Rust's `as i64`.
        let i = self.b.ins().fcvt_to_sint_sat(I64, x);
        Ok(self.b.ins().fcvt_from_sint(F64, i))
    }

    fn f64_to_index(&mut self, x: Value) -> Res<Value> {
        Ok(self.b.ins().fcvt_to_sint_sat(I64, x))
    }

    fn index_to_f64(&mut self, i: Value) -> Res<Value> {
        Ok(self.b.ins().fcvt_from_sint(F64, i))
    }

    fn count_to_f64(&mut self, n: Value) -> Res<Value> {
        Ok(self.b.ins().fcvt_from_uint(F64, n))
    }

    fn iadd(&mut self, a: Value, b: Value) -> Res<Value> {
        Ok(self.b.ins().iadd(a, b))
    }

    fn isub(&mut self, a: Value, b: Value) -> Res<Value> {
        Ok(self.b.ins().isub(a, b))
    }

    fn idiv(&mut self, a: Value, c: usize) -> Res<Value> {
        let c = self.b.ins().iconst(I64, c as i64);
        Ok(self.b.ins().udiv(a, c))
    }

    fn imul(&mut self, a: Value, c: usize) -> Res<Value> {
        Ok(self.b.ins().imul_imm_s(a, c as i64))
    }

    fn icmp(&mut self, op: ICmp, a: Value, b: Value) -> Res<Value> {
        let cc = match op {
            ICmp::Eq => IntCC::Equal,
            ICmp::Ne => IntCC::NotEqual,
            ICmp::Ult => IntCC::UnsignedLessThan,
        };
        Ok(self.b.ins().icmp(cc, a, b))
    }

    fn math(&mut self, name: &'static str, args: &[Value]) -> Res<Value> {
        self.call_math(name, args)
    }

    fn addr(&mut self, p: Value, i: Ix, scale: usize) -> Res<Value> {
        Ok(self.address(p, i, scale))
    }

    fn load(&mut self, p: Value, i: Ix) -> Res<Value> {
        Ok(self.load_f64(p, i))
    }

    fn store(&mut self, p: Value, i: Ix, x: Value) -> Res<()> {
        self.store_f64(p, i, x);
        Ok(())
    }

    fn literal_data(&mut self, _id: ValueId, xs: &[f64]) -> Res<Value> {
        self.read_only_data(xs.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    fn index_data(&mut self, xs: &[usize]) -> Res<Option<Value>> {
        let bytes = xs.iter().flat_map(|&x| (x as u64).to_le_bytes()).collect();
        self.read_only_data(bytes).map(Some)
    }

    fn load_index(&mut self, table: Value, i: Ix) -> Res<Value> {
        let (at, offset) = match i {
            Ix::C(c) => (table, (c * 8) as i32),
            Ix::V(_) => (self.address(table, i, 1), 0),
        };
        Ok(self.b.ins().load(I64, MemFlagsData::trusted(), at, offset))
    }

    fn dest(&mut self, v: ValueId) -> Res<Value> {
        self.planned(v)
    }

    fn in_place(&self, v: ValueId) -> bool {
        self.plan.in_place(v)
    }

    fn alloc_batch(&mut self, v: ValueId, n: Value, per: usize) -> Res<Value> {
        self.batch_buffer(v, n, per)
    }

    fn for_loop(
        &mut self,
        lo: Ix,
        hi: Ix,
        inits: Vec<Value>,
        body: &mut LoopBody<'_, Self>,
    ) -> Res<Vec<Value>> {
        let lo = self.index(lo);
        let hi = self.index(hi);
        let header = self.b.create_block();
        let inner = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(header, I64);
        for _ in &inits {
            self.b.append_block_param(header, F64);
            self.b.append_block_param(done, F64);
        }
        let start: Vec<BlockArg> = std::iter::once(lo).chain(inits).map(Into::into).collect();
        self.b.ins().jump(header, &start);
        self.b.switch_to_block(header);
        let params = self.b.block_params(header).to_vec();
        let (i, carried) = params
            .split_first()
            .ok_or_else(|| internal("loop header without a counter"))?;
        let (i, carried) = (*i, carried.to_vec());
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, i, hi);
        let out: Vec<BlockArg> = carried.iter().map(|&v| v.into()).collect();
        self.b.ins().brif(more, inner, &[], done, &out);
        self.b.switch_to_block(inner);
        self.b.seal_block(inner);
        let next = body(self, i, carried)?;
        let step = self.b.ins().iadd_imm_s(i, 1);
        let back: Vec<BlockArg> = std::iter::once(step).chain(next).map(Into::into).collect();
        self.b.ins().jump(header, &back);
        self.b.seal_block(header);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        Ok(self.b.block_params(done).to_vec())
    }

    fn fail_if(&mut self, cond: Value, status: Status) -> Res<()> {
        self.exit_if(cond, status);
        Ok(())
    }

    fn compensated_batch_sums(&self) -> bool {
        self.opts.batch_sum == BatchSum::Compensated
    }

    fn module(&self) -> &'a Module {
        self.ir
    }

    fn call_code(&mut self, func: FuncId, args: &[Repr], out: Value) -> Res<()> {
        self.call_function(func, args, out)
    }

    fn stack_cells(&mut self, words: usize) -> Res<Value> {
        Ok(self.stack_words(words))
    }

    fn tile_runtime(&self, func: FuncId) -> Option<usize> {
        let threads = self.opts.threads?;
        self.imports.packed.get(func.index()).copied().flatten()?;
        Some(threads)
    }

    fn store_word(&mut self, desc: Value, k: usize, w: DescWord<Value, Value>) -> Res<()> {
        let x = match w {
            DescWord::Int(v) | DescWord::Ptr(v) => v,
            DescWord::Entry(func) => {
                let entry = self
                    .imports
                    .packed
                    .get(func.index())
                    .copied()
                    .flatten()
                    .ok_or_else(|| internal("tile function without a packed entry"))?;
                self.func_address(entry)
            }
        };
        self.b
            .ins()
            .store(MemFlagsData::trusted(), x, desc, (k * 8) as i32);
        Ok(())
    }

    fn call_tile_runtime(&mut self, desc: Value) -> Res<()> {
        let status = self.kernel_status("sci_tile_map", &[desc])?;
        self.fail_on_status(status);
        Ok(())
    }

    fn fast_elementwise(&mut self, id: ValueId, op: &Op) -> Res<Option<Repr>> {
        self.fast_paths(id, op)
    }

    fn matmul_kernel(&mut self, dims: [usize; 3], a: Value, b: Value, dst: Value) -> Res<bool> {
        let Some(kernel) = MatmulKernel::for_dims(dims).filter(|_| self.opts.matmul_kernel) else {
            return Ok(false);
        };
        let dims = dims.map(|d| self.b.ins().iconst(I64, d as i64));
        self.kernel(kernel.symbol(), &[dims[0], dims[1], dims[2], a, b, dst])?;
        Ok(true)
    }
}

impl<M: ClModule> FnLower<'_, '_, M> {
    /// An index as an `i64` value.
    fn index(&mut self, i: Ix) -> Value {
        match i {
            Ix::C(c) => self.b.ins().iconst(I64, c as i64),
            Ix::V(v) => v,
        }
    }

    /// The address of `bytes` placed in read-only data (8-byte aligned).
    fn read_only_data(&mut self, bytes: Vec<u8>) -> Res<Value> {
        let mut desc = DataDescription::new();
        desc.define(bytes.into_boxed_slice());
        desc.set_align(8);
        let data = self
            .m
            .declare_anonymous_data(false, false)
            .map_err(|e| internal(&e.to_string()))?;
        self.m
            .define_data(data, &desc)
            .map_err(|e| internal(&e.to_string()))?;
        let gv = self.m.declare_data_in_func(data, self.b.func);
        Ok(self.b.ins().symbol_value(I64, gv))
    }
}
