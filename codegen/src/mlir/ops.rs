//! Lowering of the unstructured ops: scalar math, data movement, linear algebra and
//! whole-tensor reductions. Each follows `sci_ir::interp` exactly (see `docs/ir.md`,
//! "Interpreter numerics"): sums run left to right from `+0.0` with no fused multiply-add
//! (no op carries fast-math flags), `min`/`max` propagate NaN and keep the first operand on
//! ties.

use super::lower::{FnLower, MEM, Repr, Res, Target, internal};
use super::text::{Ix, f64_literal};
use sci_ir::interp::PowiForm;
use sci_ir::types::element_count;
use sci_ir::{BinaryOp, CmpOp, DType, ReduceOp, Type, UnaryOp, ValueId};

impl FnLower<'_> {
    /// 1.0 if `c` (an `i1`) holds, else 0.0.
    pub fn bool_value(&mut self, c: &str) -> String {
        self.def(format!("arith.uitofp {c} : i1 to f64"))
    }

    /// `x != 0` as an `i1` (true for NaN, as in the interpreter).
    pub fn truthy(&mut self, x: &str) -> String {
        let zero = self.cf64(0.0);
        self.def(format!("arith.cmpf une, {x}, {zero} : f64"))
    }

    /// `max` that propagates NaN and returns `a` on ties.
    pub fn max_nan(&mut self, a: &str, b: &str) -> String {
        let ge = self.def(format!("arith.cmpf oge, {a}, {b} : f64"));
        self.pick_nan(&ge, a, b)
    }

    /// `min` that propagates NaN and returns `a` on ties.
    pub fn min_nan(&mut self, a: &str, b: &str) -> String {
        let le = self.def(format!("arith.cmpf ole, {a}, {b} : f64"));
        self.pick_nan(&le, a, b)
    }

    fn pick_nan(&mut self, first: &str, a: &str, b: &str) -> String {
        let r = self.select(first, a, b, "f64");
        let unordered = self.def(format!("arith.cmpf uno, {a}, {b} : f64"));
        let nan = self.cf64(f64::NAN);
        self.select(&unordered, &nan, &r, "f64")
    }

    /// A libm function by C name on `f64` arguments: on the CPU a call of the `libm`
    /// crate's function (what the interpreter calls, so results agree bit for bit); on the
    /// GPU the `math` op, which NVVM lowers to libdevice's `__nv_NAME`.
    pub fn math(&mut self, name: &'static str, args: &[&str]) -> String {
        self.cx.math.insert((name, args.len()));
        match self.target() {
            Target::Cpu => {
                let tys = vec!["f64"; args.len()].join(", ");
                self.def(format!(
                    "func.call @{}({}) : ({tys}) -> f64",
                    super::runtime::symbol(name),
                    args.join(", ")
                ))
            }
            Target::Gpu => {
                let op = if name == "pow" { "powf" } else { name };
                self.def(format!("math.{op} {} : f64", args.join(", ")))
            }
        }
    }

    /// `math.OP x` for an exact or correctly rounded function (`absf`, `sqrt`, `floor`,
    /// `trunc`): an LLVM intrinsic on the CPU; on the GPU NVVM may call libdevice's
    /// `__nv_LIBDEVICE` for it, which is recorded.
    pub fn exact(&mut self, op: &str, libdevice: &'static str, x: &str) -> String {
        if self.target() == Target::Gpu && libdevice != "trunc" {
            self.cx.math.insert((libdevice, 1));
        }
        self.def(format!("math.{op} {x} : f64"))
    }

    pub fn unary(&mut self, op: UnaryOp, x: &str) -> Res<String> {
        let name = match op {
            UnaryOp::Neg => return Ok(self.def(format!("arith.negf {x} : f64"))),
            UnaryOp::Abs => return Ok(self.exact("absf", "fabs", x)),
            UnaryOp::Sqrt => return Ok(self.exact("sqrt", "sqrt", x)),
            UnaryOp::Floor => return Ok(self.exact("floor", "floor", x)),
            UnaryOp::Not => {
                let zero = self.cf64(0.0);
                let c = self.def(format!("arith.cmpf oeq, {x}, {zero} : f64"));
                return Ok(self.bool_value(&c));
            }
            UnaryOp::Sigmoid => {
                // x ≥ 0: 1/(1+e^-x); else e^x/(1+e^x). Both use e = exp(-|x|).
                let ax = self.exact("absf", "fabs", x);
                let nx = self.def(format!("arith.negf {ax} : f64"));
                let e = self.math("exp", &[&nx]);
                let one = self.cf64(1.0);
                let den = self.def(format!("arith.addf {one}, {e} : f64"));
                let pos = self.def(format!("arith.divf {one}, {den} : f64"));
                let neg = self.def(format!("arith.divf {e}, {den} : f64"));
                let zero = self.cf64(0.0);
                let c = self.def(format!("arith.cmpf oge, {x}, {zero} : f64"));
                return Ok(self.select(&c, &pos, &neg, "f64"));
            }
            UnaryOp::Softplus => {
                // max(x, 0) + log1p(exp(-|x|)).
                let ax = self.exact("absf", "fabs", x);
                let nx = self.def(format!("arith.negf {ax} : f64"));
                let e = self.math("exp", &[&nx]);
                let l = self.math("log1p", &[&e]);
                let zero = self.cf64(0.0);
                let m = self.max_nan(x, &zero);
                return Ok(self.def(format!("arith.addf {m}, {l} : f64")));
            }
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tan => "tan",
            UnaryOp::Asin => "asin",
            UnaryOp::Acos => "acos",
            UnaryOp::Atan => "atan",
            UnaryOp::Sinh => "sinh",
            UnaryOp::Cosh => "cosh",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Erf => "erf",
        };
        Ok(self.math(name, &[x]))
    }

    /// `powi x, n` in the form the interpreter computes it (`sci_ir::interp::PowiForm`).
    pub fn powi(&mut self, x: &str, n: i32) -> String {
        match PowiForm::of(n) {
            PowiForm::One => self.cf64(1.0),
            PowiForm::Identity => x.to_string(),
            PowiForm::Square => self.def(format!("arith.mulf {x}, {x} : f64")),
            PowiForm::Reciprocal => {
                let one = self.cf64(1.0);
                self.def(format!("arith.divf {one}, {x} : f64"))
            }
            PowiForm::Pow => {
                let e = self.cf64(f64::from(n));
                self.math("pow", &[x, &e])
            }
        }
    }

    pub fn binary(&mut self, op: BinaryOp, a: &str, b: &str) -> Res<String> {
        let arith = |s: &mut Self, name: &str| s.def(format!("arith.{name} {a}, {b} : f64"));
        Ok(match op {
            BinaryOp::Add => arith(self, "addf"),
            BinaryOp::Sub => arith(self, "subf"),
            BinaryOp::Mul => arith(self, "mulf"),
            BinaryOp::Div => arith(self, "divf"),
            BinaryOp::Pow => self.math("pow", &[a, b]),
            BinaryOp::Atan2 => self.math("atan2", &[a, b]),
            BinaryOp::Min => self.min_nan(a, b),
            BinaryOp::Max => self.max_nan(a, b),
            BinaryOp::And | BinaryOp::Or => {
                let x = self.truthy(a);
                let y = self.truthy(b);
                let name = if op == BinaryOp::And { "andi" } else { "ori" };
                let c = self.def(format!("arith.{name} {x}, {y} : i1"));
                self.bool_value(&c)
            }
        })
    }

    pub fn compare(&mut self, op: CmpOp, a: &str, b: &str) -> String {
        let pred = match op {
            CmpOp::Eq => "oeq",
            CmpOp::Ne => "une",
            CmpOp::Lt => "olt",
            CmpOp::Le => "ole",
            CmpOp::Gt => "ogt",
            CmpOp::Ge => "oge",
        };
        let c = self.def(format!("arith.cmpf {pred}, {a}, {b} : f64"));
        self.bool_value(&c)
    }

    /// Conversion to `to` (the rounding to `f32` is done by the caller for every op).
    pub fn cast(&mut self, x: &str, to: DType) -> String {
        match to {
            DType::F64 | DType::F32 => x.to_string(),
            DType::I64 => {
                // Rust's `(x as i64) as f64`: toward zero, saturating at ±2^63 (which is
                // what i64::MIN/MAX round to), NaN → 0, -0 → +0 (the `+ 0.0`). In
                // floats, so nothing is poison.
                let t = self.exact("trunc", "trunc", x);
                let z = self.cf64(0.0);
                let t = self.def(format!("arith.addf {t}, {z} : f64"));
                let hi = self.cf64(9_223_372_036_854_775_808.0);
                let lo = self.cf64(-9_223_372_036_854_775_808.0);
                let above = self.def(format!("arith.cmpf ogt, {t}, {hi} : f64"));
                let t = self.select(&above, &hi, &t, "f64");
                let below = self.def(format!("arith.cmpf olt, {t}, {lo} : f64"));
                let t = self.select(&below, &lo, &t, "f64");
                let nan = self.def(format!("arith.cmpf uno, {x}, {x} : f64"));
                let zero = self.cf64(0.0);
                self.select(&nan, &zero, &t, "f64")
            }
            DType::Bool => {
                let c = self.truthy(x);
                self.bool_value(&c)
            }
        }
    }

    /// A constant tensor: a `memref.global` of the module (a scalar is a constant).
    pub fn literal(&mut self, id: ValueId, ty: &Type, xs: &[f64]) -> Res<Repr> {
        let round = |x: f64| {
            if ty.dtype == DType::F32 {
                x as f32 as f64
            } else {
                x
            }
        };
        if ty.shape.is_empty() {
            let x = xs
                .first()
                .copied()
                .ok_or_else(|| internal("empty scalar literal"))?;
            return Ok(Repr::Scalar(self.cf64(round(x))));
        }
        let n = xs.len().max(1);
        let data: Vec<String> = if xs.is_empty() {
            vec![f64_literal(0.0)]
        } else {
            xs.iter().map(|x| f64_literal(round(*x))).collect()
        };
        let name = format!("sci_lit_{}_{}", self.tag, id.index());
        self.cx.globals.push(format!(
            "memref.global \"private\" constant @{name} : memref<{n}xf64> = dense<[{}]>",
            data.join(", ")
        ));
        let g = self.def(format!("memref.get_global @{name} : memref<{n}xf64>"));
        let mem = self.def(format!("memref.cast {g} : memref<{n}xf64> to {MEM}"));
        Ok(Repr::Buf { mem, off: Ix::C(0) })
    }

    pub fn broadcast(&mut self, id: ValueId, a: ValueId) -> Res<Repr> {
        let shape = self.ty(id)?.shape.clone();
        let from = self.ty(a)?.shape.clone();
        if shape.is_empty() {
            return Ok(Repr::Scalar(self.scalar(a)?));
        }
        let (dst, doff) = self.dest(id)?;
        let len = self.len_of(id)?;
        if let Repr::Scalar(x) = self.repr(a)? {
            self.each(len, |s, i| {
                let at = s.add(&doff, &i);
                s.store(&x, &dst, &at);
                Ok(())
            })?;
            return Ok(Repr::Buf {
                mem: dst,
                off: doff,
            });
        }
        let (src, soff) = self.buf(a)?;
        // Strides of `a` aligned with the trailing axes of the target; 0 where repeated.
        let offset = shape.len().saturating_sub(from.len());
        let mut strides = vec![0usize; shape.len()];
        let mut stride = 1usize;
        for (i, &n) in from.iter().enumerate().rev() {
            if let Some(s) = strides.get_mut(i + offset) {
                *s = if n == 1 { 0 } else { stride };
            }
            stride = stride.saturating_mul(n);
        }
        let mut idx = Vec::new();
        self.nest(&shape, &mut idx, &mut |s, idx| {
            let lin = s.linear(&shape, idx);
            let mut off = soff.clone();
            for (i, &st) in idx.iter().zip(&strides) {
                if st != 0 {
                    off = s.at(&off, &Ix::V(i.clone()), st);
                }
            }
            let x = s.load(&src, &off);
            let at = s.add(&doff, &lin);
            s.store(&x, &dst, &at);
            Ok(())
        })?;
        Ok(Repr::Buf {
            mem: dst,
            off: doff,
        })
    }

    pub fn index(
        &mut self,
        id: ValueId,
        array: ValueId,
        indices: &[ValueId],
        fill: Option<f64>,
    ) -> Res<Repr> {
        let shape = self.ty(array)?.shape.clone();
        let ty = self.ty(id)?;
        let dtype = ty.dtype;
        let scalar_result = ty.shape.is_empty();
        let sub = element_count(shape.get(indices.len()..).unwrap_or(&[]))
            .ok_or_else(|| internal("shape overflow"))?;
        let total = element_count(&shape).ok_or_else(|| internal("shape overflow"))?;
        let (mem, base) = self.buf(array)?;
        let mut lin = Ix::C(0);
        let mut ok: Option<String> = None;
        for (&i, &n) in indices.iter().zip(&shape) {
            let x = self.scalar(i)?;
            let (inr, iv) = match self.int_of.get(&x).cloned() {
                Some(iv) => {
                    let nc = self.cidx(n);
                    (self.def(format!("arith.cmpi ult, {iv}, {nc} : index")), iv)
                }
                None => {
                    let zero = self.cf64(0.0);
                    let nf = self.cf64(n as f64);
                    let ge = self.def(format!("arith.cmpf oge, {x}, {zero} : f64"));
                    let lt = self.def(format!("arith.cmpf olt, {x}, {nf} : f64"));
                    let inr = self.def(format!("arith.andi {ge}, {lt} : i1"));
                    // Converted only when in range, so the conversion is never poison.
                    let safe = self.select(&inr, &x, &zero, "f64");
                    let i = self.def(format!("arith.fptosi {safe} : f64 to i64"));
                    (
                        inr,
                        self.def(format!("arith.index_cast {i} : i64 to index")),
                    )
                }
            };
            let scaled = self.mul(&lin, n);
            lin = self.add(&scaled, &Ix::V(iv));
            ok = Some(match ok {
                Some(prev) => self.def(format!("arith.andi {prev}, {inr} : i1")),
                None => inr,
            });
        }
        let ok = ok.ok_or_else(|| internal("index without indices"))?;
        // The element offset when in range, else 0 (a readable element when total > 0).
        let linv = self.ix(&lin);
        let zero = self.cidx(0);
        let safe = Ix::V(self.select(&ok, &linv, &zero, "index"));
        let start = self.at(&base, &safe, sub);
        match fill {
            None => {
                let t = self.cbool(true);
                let bad = self.def(format!("arith.xori {ok}, {t} : i1"));
                self.fail_if(&bad, crate::Status::IndexOutOfRange);
                if total == 0 {
                    // Always out of range: any value will do, the call fails.
                    if scalar_result {
                        return Ok(Repr::Scalar(self.cf64(0.0)));
                    }
                    let at = self
                        .layout
                        .scratch(id)
                        .ok_or_else(|| internal("no scratch for an empty index"))?;
                    return Ok(Repr::Buf {
                        mem: "%frame".into(),
                        off: Ix::C(at),
                    });
                }
                if scalar_result {
                    Ok(Repr::Scalar(self.load(&mem, &start)))
                } else {
                    Ok(Repr::Buf { mem, off: start })
                }
            }
            Some(x) => {
                let x = if dtype == DType::F32 {
                    x as f32 as f64
                } else {
                    x
                };
                let xv = self.cf64(x);
                if scalar_result {
                    if total == 0 {
                        return Ok(Repr::Scalar(xv));
                    }
                    let y = self.load(&mem, &start);
                    return Ok(Repr::Scalar(self.select(&ok, &y, &xv, "f64")));
                }
                let (dst, doff) = self.dest(id)?;
                self.each(sub, |s, i| {
                    let v = if total == 0 {
                        xv.clone()
                    } else {
                        let from = s.add(&start, &i);
                        let y = s.load(&mem, &from);
                        s.select(&ok, &y, &xv, "f64")
                    };
                    let at = s.add(&doff, &i);
                    s.store(&v, &dst, &at);
                    Ok(())
                })?;
                Ok(Repr::Buf {
                    mem: dst,
                    off: doff,
                })
            }
        }
    }

    pub fn concat(&mut self, id: ValueId, parts: &[ValueId]) -> Res<Repr> {
        let (dst, doff) = self.dest(id)?;
        let mut offset = 0usize;
        for &p in parts {
            let len = self.len_of(p)?;
            let at = self.add(&doff, &Ix::C(offset));
            let r = self.repr(p)?;
            self.store_repr(&r, (&dst, &at), len)?;
            offset += len;
        }
        Ok(Repr::Buf {
            mem: dst,
            off: doff,
        })
    }

    pub fn reshape(&mut self, id: ValueId, a: ValueId) -> Res<Repr> {
        let to_scalar = self.ty(id)?.shape.is_empty();
        match self.repr(a)? {
            Repr::Scalar(x) if to_scalar => Ok(Repr::Scalar(x)),
            Repr::Scalar(x) => {
                let (dst, doff) = self.dest(id)?;
                self.store(&x, &dst, &doff);
                Ok(Repr::Buf {
                    mem: dst,
                    off: doff,
                })
            }
            Repr::Buf { mem, off } if to_scalar => Ok(Repr::Scalar(self.load(&mem, &off))),
            r @ Repr::Buf { .. } => Ok(r),
            Repr::Batch { .. } => Err(internal("reshape of a batched value")),
        }
    }

    pub fn transpose(&mut self, id: ValueId, a: ValueId) -> Res<Repr> {
        let (m, n) = match self.ty(a)?.shape[..] {
            [m, n] => (m, n),
            _ => return Err(internal("transpose of a non-matrix")),
        };
        let (src, soff) = self.buf(a)?;
        let (dst, doff) = self.dest(id)?;
        let mut idx = Vec::new();
        self.nest(&[n, m], &mut idx, &mut |s, idx| {
            let (j, i) = (idx[0].clone(), idx[1].clone());
            let d = s.linear(&[n, m], &[j.clone(), i.clone()]);
            let o = s.linear(&[m, n], &[i, j]);
            let from = s.add(&soff, &o);
            let x = s.load(&src, &from);
            let to = s.add(&doff, &d);
            s.store(&x, &dst, &to);
            Ok(())
        })?;
        Ok(Repr::Buf {
            mem: dst,
            off: doff,
        })
    }

    /// `Σ_{l<k} term(l)` left to right from `+0.0`.
    pub fn sum_of(
        &mut self,
        k: usize,
        term: impl FnOnce(&mut Self, Ix) -> Res<String>,
    ) -> Res<String> {
        let zero = self.cf64(0.0);
        match k {
            0 => Ok(zero),
            1 => {
                let t = term(self, Ix::C(0))?;
                Ok(self.def(format!("arith.addf {zero}, {t} : f64")))
            }
            _ => {
                let r = self.for_loop(&Ix::C(0), &Ix::C(k), &[zero], |s, l, acc| {
                    let t = term(s, Ix::V(l.to_string()))?;
                    Ok(vec![s.def(format!("arith.addf {}, {t} : f64", acc[0]))])
                })?;
                Ok(r[0].clone())
            }
        }
    }

    pub fn dot(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<Repr> {
        let k = self.len_of(a)?;
        let (pa, oa) = self.buf(a)?;
        let (pb, ob) = self.buf(b)?;
        let r = self.sum_of(k, |s, l| {
            let ia = s.add(&oa, &l);
            let x = s.load(&pa, &ia);
            let ib = s.add(&ob, &l);
            let y = s.load(&pb, &ib);
            Ok(s.def(format!("arith.mulf {x}, {y} : f64")))
        })?;
        let dtype = self.ty(id)?.dtype;
        Ok(Repr::Scalar(self.round(&r, dtype)))
    }

    /// `matvec` and `matmul`: `[m, k] × [k, n]` with `n = 1` for a vector.
    pub fn matmul(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<Repr> {
        let (m, k) = match self.ty(a)?.shape[..] {
            [m, k] => (m, k),
            _ => return Err(internal("matrix product of a non-matrix")),
        };
        let n = match self.ty(b)?.shape[..] {
            [_] => 1,
            [_, n] => n,
            _ => return Err(internal("matrix product with a bad operand")),
        };
        let dtype = self.ty(id)?.dtype;
        let (pa, oa) = self.buf(a)?;
        let (pb, ob) = self.buf(b)?;
        let (dst, doff) = self.dest(id)?;
        let mut idx = Vec::new();
        self.nest(&[m, n], &mut idx, &mut |s, idx| {
            let (i, j) = (Ix::V(idx[0].clone()), Ix::V(idx[1].clone()));
            let row = s.at(&oa, &i, k);
            let col = s.add(&ob, &j);
            let r = s.sum_of(k, |s, l| {
                let ia = s.add(&row, &l);
                let x = s.load(&pa, &ia);
                let ib = s.at(&col, &l, n);
                let y = s.load(&pb, &ib);
                Ok(s.def(format!("arith.mulf {x}, {y} : f64")))
            })?;
            let r = s.round(&r, dtype);
            let lin = s.linear(&[m, n], idx);
            let at = s.add(&doff, &lin);
            s.store(&r, &dst, &at);
            Ok(())
        })?;
        Ok(Repr::Buf {
            mem: dst,
            off: doff,
        })
    }

    /// Combines `acc` with `x` for `op` (sum and mean add; max/min take `x` on the first
    /// item, when `first` (an `i1`) holds).
    pub fn combine(&mut self, op: ReduceOp, acc: &str, x: &str, first: Option<&str>) -> String {
        match op {
            ReduceOp::Sum | ReduceOp::Mean => self.def(format!("arith.addf {acc}, {x} : f64")),
            ReduceOp::Prod => self.def(format!("arith.mulf {acc}, {x} : f64")),
            ReduceOp::Max | ReduceOp::Min => {
                let r = if op == ReduceOp::Max {
                    self.max_nan(acc, x)
                } else {
                    self.min_nan(acc, x)
                };
                match first {
                    Some(f) => self.select(f, x, &r, "f64"),
                    None => r,
                }
            }
        }
    }

    /// The starting accumulator of `op` (NaN for max/min, replaced by the first item).
    pub fn start(&mut self, op: ReduceOp) -> String {
        self.cf64(match op {
            ReduceOp::Sum | ReduceOp::Mean => 0.0,
            ReduceOp::Prod => 1.0,
            ReduceOp::Max | ReduceOp::Min => f64::NAN,
        })
    }

    /// `i == c` for an `index` counter, as an `i1`.
    pub fn is_index(&mut self, i: &str, c: usize) -> String {
        let k = self.cidx(c);
        self.def(format!("arith.cmpi eq, {i}, {k} : index"))
    }

    pub fn reduce(&mut self, id: ValueId, op: ReduceOp, a: ValueId) -> Res<Repr> {
        let len = self.len_of(a)?;
        let dtype = self.ty(id)?.dtype;
        let r = match self.repr(a)? {
            Repr::Scalar(x) => {
                let acc = self.start(op);
                let t = self.cbool(true);
                self.combine(op, &acc, &x, Some(&t))
            }
            Repr::Buf { mem, off } => {
                let init = self.start(op);
                let r = self.for_loop(&Ix::C(0), &Ix::C(len), &[init], |s, i, acc| {
                    let at = s.add(&off, &Ix::V(i.to_string()));
                    let x = s.load(&mem, &at);
                    let first = s.is_index(i, 0);
                    Ok(vec![s.combine(op, &acc[0], &x, Some(&first))])
                })?;
                r[0].clone()
            }
            Repr::Batch { .. } => return Err(internal("reduce of a batched value")),
        };
        let r = if op == ReduceOp::Mean {
            let n = self.cf64(len as f64);
            self.def(format!("arith.divf {r}, {n} : f64"))
        } else {
            r
        };
        Ok(Repr::Scalar(self.round(&r, dtype)))
    }
}
