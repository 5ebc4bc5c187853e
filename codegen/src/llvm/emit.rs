//! LLVM's primitives for the shared lowering ([`crate::lower::Emit`]): `double` values,
//! `i64` indices, `i1` truth values, pointers; loops carry their values in `phi`s; a
//! failure branches to the function's exit block. No instruction carries fast-math flags.

use super::BatchSum;
use super::lower::{FnLower, Ix, Repr, Res, UNROLL, internal};
use crate::abi::Status;
use crate::libm::MatmulKernel;
use crate::lower::{BBin, DescWord, Emit, FBin, FCmp, FUn, ICmp, Kinds, LoopBody, Values};
use inkwell::module::Linkage;
use inkwell::values::{BasicValueEnum, FloatValue, IntValue, PhiValue, PointerValue};
use inkwell::{FloatPredicate, IntPredicate};
use sci_ir::{FuncId, Function, Module, Op, UnaryOp, ValueId};

impl<'ctx> Kinds for FnLower<'_, 'ctx> {
    type F = FloatValue<'ctx>;
    type I = IntValue<'ctx>;
    type B = IntValue<'ctx>;
    type P = PointerValue<'ctx>;
}

impl<'a, 'ctx> Emit<'a> for FnLower<'a, 'ctx> {
    const NAME: &'static str = "LLVM";
    const FAILURE_EXITS: bool = true;
    const UNROLL: usize = UNROLL;

    fn function(&self) -> &'a Function {
        self.f
    }

    fn values(&self) -> &Values<FloatValue<'ctx>, IntValue<'ctx>, PointerValue<'ctx>> {
        &self.values
    }

    fn values_mut(&mut self) -> &mut Values<FloatValue<'ctx>, IntValue<'ctx>, PointerValue<'ctx>> {
        &mut self.values
    }

    fn f64c(&mut self, x: f64) -> Res<FloatValue<'ctx>> {
        Ok(self.t.f64.const_float(x))
    }

    fn ic(&mut self, n: usize) -> Res<IntValue<'ctx>> {
        Ok(self.t.i64.const_int(n as u64, false))
    }

    fn bc(&mut self, b: bool) -> Res<IntValue<'ctx>> {
        Ok(self.cx.bool_type().const_int(u64::from(b), false))
    }

    fn fbin(
        &mut self,
        op: FBin,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Res<FloatValue<'ctx>> {
        Ok(match op {
            FBin::Add => self.b.build_float_add(a, b, "")?,
            FBin::Sub => self.b.build_float_sub(a, b, "")?,
            FBin::Mul => self.b.build_float_mul(a, b, "")?,
            FBin::Div => self.b.build_float_div(a, b, "")?,
        })
    }

    fn fun(&mut self, op: FUn, x: FloatValue<'ctx>) -> Res<FloatValue<'ctx>> {
        match op {
            FUn::Neg => Ok(self.b.build_float_neg(x, "")?),
            FUn::Abs => self.intrinsic("llvm.fabs", x),
            FUn::Sqrt => self.intrinsic("llvm.sqrt", x),
            FUn::Floor => self.intrinsic("llvm.floor", x),
        }
    }

    fn fcmp(&mut self, op: FCmp, a: FloatValue<'ctx>, b: FloatValue<'ctx>) -> Res<IntValue<'ctx>> {
        let p = match op {
            FCmp::Eq => FloatPredicate::OEQ,
            FCmp::Ne => FloatPredicate::UNE,
            FCmp::Lt => FloatPredicate::OLT,
            FCmp::Le => FloatPredicate::OLE,
            FCmp::Gt => FloatPredicate::OGT,
            FCmp::Ge => FloatPredicate::OGE,
            FCmp::Uno => FloatPredicate::UNO,
        };
        Ok(self.b.build_float_compare(p, a, b, "")?)
    }

    fn bbin(&mut self, op: BBin, a: IntValue<'ctx>, b: IntValue<'ctx>) -> Res<IntValue<'ctx>> {
        Ok(match op {
            BBin::And => self.b.build_and(a, b, "")?,
            BBin::Or => self.b.build_or(a, b, "")?,
            BBin::Xor => self.b.build_xor(a, b, "")?,
        })
    }

    fn select_f(
        &mut self,
        c: IntValue<'ctx>,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Res<FloatValue<'ctx>> {
        Ok(self.b.build_select(c, a, b, "")?.into_float_value())
    }

    fn select_i(
        &mut self,
        c: IntValue<'ctx>,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> Res<IntValue<'ctx>> {
        Ok(self.b.build_select(c, a, b, "")?.into_int_value())
    }

    fn bool_to_f64(&mut self, c: IntValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let one = self.t.f64.const_float(1.0);
        let zero = self.t.f64.const_float(0.0);
        self.select_f(c, one, zero)
    }

    fn round_f32(&mut self, x: FloatValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let s = self.b.build_float_trunc(x, self.t.f32, "")?;
        Ok(self.b.build_float_ext(s, self.t.f64, "")?)
    }

    fn trunc_to_int(&mut self, x: FloatValue<'ctx>) -> Res<FloatValue<'ctx>> {
        // `llvm.fptosi.sat`: toward zero, saturating, NaN → 0 (Rust's `as i64`).
        let callee = self.decls.intrinsic(
            self.m,
            "llvm.fptosi.sat",
            &[self.t.i64.into(), self.t.f64.into()],
        )?;
        let i = self.call_fn(callee, &[x.into()])?.into_int_value();
        Ok(self.b.build_signed_int_to_float(i, self.t.f64, "")?)
    }

    fn f64_to_index(&mut self, x: FloatValue<'ctx>) -> Res<IntValue<'ctx>> {
        Ok(self.b.build_float_to_signed_int(x, self.t.i64, "")?)
    }

    fn index_to_f64(&mut self, i: IntValue<'ctx>) -> Res<FloatValue<'ctx>> {
        Ok(self.b.build_signed_int_to_float(i, self.t.f64, "")?)
    }

    fn count_to_f64(&mut self, n: IntValue<'ctx>) -> Res<FloatValue<'ctx>> {
        Ok(self.b.build_unsigned_int_to_float(n, self.t.f64, "")?)
    }

    fn iadd(&mut self, a: IntValue<'ctx>, b: IntValue<'ctx>) -> Res<IntValue<'ctx>> {
        Ok(self.b.build_int_nuw_add(a, b, "")?)
    }

    fn isub(&mut self, a: IntValue<'ctx>, b: IntValue<'ctx>) -> Res<IntValue<'ctx>> {
        Ok(self.b.build_int_sub(a, b, "")?)
    }

    fn idiv(&mut self, a: IntValue<'ctx>, c: usize) -> Res<IntValue<'ctx>> {
        let c = self.t.i64.const_int(c as u64, false);
        Ok(self.b.build_int_unsigned_div(a, c, "")?)
    }

    fn imul(&mut self, a: IntValue<'ctx>, c: usize) -> Res<IntValue<'ctx>> {
        let c = self.t.i64.const_int(c as u64, false);
        Ok(self.b.build_int_nuw_mul(a, c, "")?)
    }

    fn icmp(&mut self, op: ICmp, a: IntValue<'ctx>, b: IntValue<'ctx>) -> Res<IntValue<'ctx>> {
        let p = match op {
            ICmp::Eq => IntPredicate::EQ,
            ICmp::Ne => IntPredicate::NE,
            ICmp::Ult => IntPredicate::ULT,
        };
        Ok(self.b.build_int_compare(p, a, b, "")?)
    }

    fn math(&mut self, name: &'static str, args: &[FloatValue<'ctx>]) -> Res<FloatValue<'ctx>> {
        self.call_math(name, args)
    }

    fn addr(
        &mut self,
        p: PointerValue<'ctx>,
        i: Ix<'ctx>,
        scale: usize,
    ) -> Res<PointerValue<'ctx>> {
        self.address(p, i, scale)
    }

    fn load(&mut self, p: PointerValue<'ctx>, i: Ix<'ctx>) -> Res<FloatValue<'ctx>> {
        self.load_f64(p, i)
    }

    fn store(&mut self, p: PointerValue<'ctx>, i: Ix<'ctx>, x: FloatValue<'ctx>) -> Res<()> {
        self.store_f64(p, i, x)
    }

    fn literal_data(&mut self, _id: ValueId, xs: &[f64]) -> Res<PointerValue<'ctx>> {
        let items: Vec<FloatValue<'ctx>> = xs.iter().map(|x| self.t.f64.const_float(*x)).collect();
        let n = u32::try_from(items.len()).map_err(|_| internal("literal too large"))?;
        let g = self.m.add_global(self.t.f64.array_type(n), None, "literal");
        g.set_initializer(&self.t.f64.const_array(&items));
        g.set_constant(true);
        g.set_linkage(Linkage::Private);
        g.set_unnamed_addr(true);
        g.set_alignment(8);
        Ok(g.as_pointer_value())
    }

    fn dest(&mut self, v: ValueId) -> Res<PointerValue<'ctx>> {
        self.planned(v)
    }

    fn in_place(&self, v: ValueId) -> bool {
        self.plan.in_place(v)
    }

    fn alloc_batch(
        &mut self,
        v: ValueId,
        n: IntValue<'ctx>,
        per: usize,
    ) -> Res<PointerValue<'ctx>> {
        self.batch_buffer(v, n, per)
    }

    fn for_loop(
        &mut self,
        lo: Ix<'ctx>,
        hi: Ix<'ctx>,
        inits: Vec<FloatValue<'ctx>>,
        body: &mut LoopBody<'_, Self>,
    ) -> Res<Vec<FloatValue<'ctx>>> {
        let lo = self.ix_int(lo);
        let hi = self.ix_int(hi);
        let pre = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        let header = self.cx.append_basic_block(self.func, "loop");
        let inner = self.cx.append_basic_block(self.func, "body");
        let done = self.cx.append_basic_block(self.func, "done");
        self.b.build_unconditional_branch(header)?;
        self.b.position_at_end(header);
        let counter = self.b.build_phi(self.t.i64, "i")?;
        counter.add_incoming(&[(&lo, pre)]);
        let mut carried: Vec<PhiValue<'ctx>> = Vec::with_capacity(inits.len());
        for init in &inits {
            let phi = self.b.build_phi(self.t.f64, "acc")?;
            phi.add_incoming(&[(init, pre)]);
            carried.push(phi);
        }
        let i = counter.as_basic_value().into_int_value();
        let more = self.b.build_int_compare(IntPredicate::ULT, i, hi, "")?;
        self.b.build_conditional_branch(more, inner, done)?;
        self.b.position_at_end(inner);
        let now: Vec<FloatValue<'ctx>> = carried
            .iter()
            .map(|p| p.as_basic_value().into_float_value())
            .collect();
        let next = body(self, i, now.clone())?;
        if next.len() != carried.len() {
            return Err(internal("loop yields the wrong number of values"));
        }
        let one = self.t.i64.const_int(1, false);
        let step = self.b.build_int_nuw_add(i, one, "")?;
        let latch = self
            .b
            .get_insert_block()
            .ok_or_else(|| internal("builder not positioned"))?;
        counter.add_incoming(&[(&step, latch)]);
        for (phi, x) in carried.iter().zip(&next) {
            phi.add_incoming(&[(x, latch)]);
        }
        self.b.build_unconditional_branch(header)?;
        self.b.position_at_end(done);
        Ok(now)
    }

    fn fail_if(&mut self, cond: IntValue<'ctx>, status: Status) -> Res<()> {
        self.exit_if(cond, status)
    }

    fn compensated_batch_sums(&self) -> bool {
        self.opts.batch_sum == BatchSum::Compensated
    }

    fn module(&self) -> &'a Module {
        self.ir
    }

    fn call_code(&mut self, func: FuncId, args: &[Repr<'ctx>], out: PointerValue<'ctx>) -> Res<()> {
        self.call_function(func, args, out)
    }

    fn stack_cells(&mut self, words: usize) -> Res<PointerValue<'ctx>> {
        self.stack_words(words)
    }

    fn tile_runtime(&self, func: FuncId) -> Option<usize> {
        let threads = self.opts.threads?;
        self.decls.packed.get(func.index()).copied().flatten()?;
        Some(threads)
    }

    fn store_word(
        &mut self,
        desc: PointerValue<'ctx>,
        k: usize,
        w: DescWord<IntValue<'ctx>, PointerValue<'ctx>>,
    ) -> Res<()> {
        let x: BasicValueEnum<'ctx> = match w {
            DescWord::Int(v) => v.into(),
            DescWord::Ptr(p) => p.into(),
            DescWord::Entry(func) => self
                .decls
                .packed
                .get(func.index())
                .copied()
                .flatten()
                .ok_or_else(|| internal("tile function without a packed entry"))?
                .as_global_value()
                .as_pointer_value()
                .into(),
        };
        let at = self.gep_ty(self.t.i64.into(), desc, Ix::C(k))?;
        self.b.build_store(at, x)?;
        Ok(())
    }

    fn call_tile_runtime(&mut self, desc: PointerValue<'ctx>) -> Res<()> {
        let status = self
            .b
            .build_call(self.decls.tile_map, &[desc.into()], "")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("sci_tile_map without a result"))?
            .into_int_value();
        self.fail_on_status(status)
    }

    fn fast_elementwise(&mut self, id: ValueId, op: &Op) -> Res<Option<Repr<'ctx>>> {
        match op {
            Op::Unary(
                op @ (UnaryOp::Tanh | UnaryOp::Erf | UnaryOp::Exp | UnaryOp::Gelu | UnaryOp::Dgelu),
                a,
            ) => self.unary_buffer(id, *op, *a),
            _ => Ok(None),
        }
    }

    fn matmul_kernel(
        &mut self,
        dims: [usize; 3],
        a: PointerValue<'ctx>,
        b: PointerValue<'ctx>,
        dst: PointerValue<'ctx>,
    ) -> Res<bool> {
        let kernel = match MatmulKernel::for_dims(dims).filter(|_| self.opts.matmul_kernel) {
            Some(MatmulKernel::Gemm) => self.decls.matmul,
            Some(MatmulKernel::Sequential) => self.decls.matmul_seq,
            None => return Ok(false),
        };
        let [mc, nc, kc] = dims.map(|d| self.t.i64.const_int(d as u64, false));
        let args = [
            mc.into(),
            nc.into(),
            kc.into(),
            a.into(),
            b.into(),
            dst.into(),
        ];
        self.b.build_call(kernel, &args, "")?;
        Ok(true)
    }
}

impl<'ctx> FnLower<'_, 'ctx> {
    /// An index as an `i64` value.
    fn ix_int(&self, i: Ix<'ctx>) -> IntValue<'ctx> {
        match i {
            Ix::C(c) => self.t.i64.const_int(c as u64, false),
            Ix::V(v) => v,
        }
    }
}
