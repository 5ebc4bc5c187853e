//! Second-order Taylor mode ("collapsed" Taylor mode / the forward Laplacian).
//!
//! For scalar variables `x₁ … x_D` it propagates, through every value `v`, the first
//! derivatives `t_d = ∂v/∂x_d` and one *collapsed* second-order stream
//! `s = Σ_d ∂²v/∂x_d²`. The rule for `y = f(a)` is `t_d(y) = f'(a) t_d(a)`,
//! `s(y) = f'(a) s(a) + f''(a) Σ_d t_d(a)²`; bilinear ops `B(a, b)` (products, `dot`,
//! `matvec`, `matmul`) give `s = B(s_a, b) + B(a, s_b) + 2 Σ_d B(t_{d,a}, t_{d,b})`, and
//! linear ops act on every stream alike. For `D = 1` this is `d(u, x, x)` with two streams
//! where nested forward mode needs three; for `laplacian` over `D` coordinates it needs
//! `D + 1` streams where nested forward mode needs `3D`.
//!
//! Loops carry the `D + 1` streams packed along a new axis. Ops whose second derivative is
//! not written here (`pow`, `atan2`, products and extrema of reductions) make the transform
//! fail with a request error, and expansion falls back to nested forward mode.

use super::AdError;
use super::cx::Cx;
use super::emit::plain;
use super::forward::one;
use super::graph::{free_values, places, slice, val};
use sci_ir::{
    BinaryOp, Block, CmpOp, DType, Function, Module, Op, ReduceOp, Type, UnaryOp, ValueId,
};
use std::collections::HashMap;

/// First-order streams (one per direction) and the collapsed second-order stream.
#[derive(Clone, Debug, Default)]
struct Jet {
    t: Vec<Option<ValueId>>,
    s: Option<ValueId>,
}

impl Jet {
    fn is_zero(&self) -> bool {
        self.s.is_none() && self.t.iter().all(Option::is_none)
    }
}

struct Taylor<'c, 'm, 'a> {
    cx: &'c mut Cx<'m, 'a>,
    dirs: usize,
    jets: Vec<HashMap<ValueId, Jet>>,
}

fn unsupported(what: &str) -> AdError {
    AdError::request(format!("Taylor mode has no rule for `{what}`."))
}

/// Emits (without splicing) `Σ_{x ∈ xs} ∂²of/∂x²` for scalar variables `xs`, for insertion
/// in the block owned by `owner` after every value `of` depends on.
pub(crate) fn second_in_place(
    module: &Module,
    g: &mut Function,
    _owner: Option<ValueId>,
    of: ValueId,
    xs: &[ValueId],
) -> Result<(Vec<ValueId>, ValueId), AdError> {
    let pl = places(g)?;
    let sl = slice(g, &pl, of, xs)?;
    let oty = plain(&val(&g.values, of)?.ty);
    if oty.batched || !oty.dtype.is_float() {
        return Err(AdError::request(
            "Taylor mode needs a real, unbatched value.",
        ));
    }
    for &x in xs {
        let t = &val(&g.values, x)?.ty;
        if !t.shape.is_empty() || t.batched || !t.dtype.is_float() {
            return Err(AdError::request(
                "Taylor mode differentiates with respect to real scalars.",
            ));
        }
    }
    let mut cx = Cx::new(module, &mut g.values);
    let r = {
        let mut tm = Taylor {
            cx: &mut cx,
            dirs: xs.len(),
            jets: vec![HashMap::new()],
        };
        for (d, &x) in xs.iter().enumerate() {
            let dtype = tm.cx.em.ty(x)?.dtype;
            let one = tm.cx.em.scalar(1.0, dtype);
            let mut jet = tm.jet(x);
            if let Some(slot) = jet.t.get_mut(d) {
                *slot = Some(one);
            }
            tm.set(x, jet);
        }
        for &v in &sl {
            tm.value(v)?;
        }
        match tm.jet(of).s {
            Some(s) => s,
            None => tm.cx.em.full(0.0, &oty)?,
        }
    };
    Ok((cx.em.finish(), r))
}

impl Taylor<'_, '_, '_> {
    fn jet(&self, v: ValueId) -> Jet {
        for layer in self.jets.iter().rev() {
            if let Some(j) = layer.get(&v) {
                return j.clone();
            }
        }
        Jet {
            t: vec![None; self.dirs],
            s: None,
        }
    }

    fn set(&mut self, v: ValueId, jet: Jet) {
        if jet.is_zero() {
            return;
        }
        if let Some(layer) = self.jets.last_mut() {
            layer.insert(v, jet);
        }
    }

    fn push(&mut self) -> Result<(), AdError> {
        self.cx.push_layer()?;
        self.jets.push(HashMap::new());
        Ok(())
    }

    fn pop(&mut self) {
        self.cx.pop_layer();
        if self.jets.len() > 1 {
            self.jets.pop();
        }
    }

    /// A stream or zeros of the primal's type.
    fn or_zero(&mut self, s: Option<ValueId>, like: ValueId) -> Result<ValueId, AdError> {
        match s {
            Some(s) => Ok(s),
            None => self.cx.em.full_like(0.0, like),
        }
    }

    /// Applies a linear map to every stream.
    fn linear(
        &mut self,
        a: &Jet,
        mut f: impl FnMut(&mut Self, ValueId) -> Result<ValueId, AdError>,
    ) -> Result<Jet, AdError> {
        let mut out = Jet {
            t: Vec::with_capacity(self.dirs),
            s: None,
        };
        for t in &a.t {
            out.t.push(match t {
                Some(t) => Some(f(self, *t)?),
                None => None,
            });
        }
        out.s = match a.s {
            Some(s) => Some(f(self, s)?),
            None => None,
        };
        Ok(out)
    }

    /// `Σ_d t_d(a)²` (None when all are zero).
    fn sum_sq(&mut self, a: &Jet) -> Result<Option<ValueId>, AdError> {
        let mut acc = None;
        for t in a.t.iter().flatten() {
            let sq = self.cx.em.powi(*t, 2)?;
            acc = self.cx.em.add_opt(acc, Some(sq))?;
        }
        Ok(acc)
    }

    /// The jet of a bilinear op `B`: `B(t_a, b) + B(a, t_b)` and
    /// `B(s_a, b) + B(a, s_b) + 2 Σ B(t_a, t_b)`.
    fn bilinear(
        &mut self,
        ja: &Jet,
        jb: &Jet,
        pa: ValueId,
        pb: ValueId,
        b: impl Fn(&mut Self, ValueId, ValueId) -> Result<ValueId, AdError>,
    ) -> Result<Jet, AdError> {
        let mut out = Jet {
            t: Vec::with_capacity(self.dirs),
            s: None,
        };
        let mut cross = None;
        for d in 0..self.dirs {
            let ta = ja.t.get(d).copied().flatten();
            let tb = jb.t.get(d).copied().flatten();
            let x = match ta {
                Some(t) => Some(b(self, t, pb)?),
                None => None,
            };
            let y = match tb {
                Some(t) => Some(b(self, pa, t)?),
                None => None,
            };
            out.t.push(self.cx.em.add_opt(x, y)?);
            if let (Some(ta), Some(tb)) = (ta, tb) {
                let c = b(self, ta, tb)?;
                cross = self.cx.em.add_opt(cross, Some(c))?;
            }
        }
        let sa = match ja.s {
            Some(s) => Some(b(self, s, pb)?),
            None => None,
        };
        let sb = match jb.s {
            Some(s) => Some(b(self, pa, s)?),
            None => None,
        };
        let mut s = self.cx.em.add_opt(sa, sb)?;
        if let Some(c) = cross {
            let c2 = self.cx.em.scale(c, 2.0)?;
            s = self.cx.em.add_opt(s, Some(c2))?;
        }
        out.s = s;
        Ok(out)
    }

    /// The jet of `y = f(a)` from `f'(a)` and `f''(a)` (None: zero).
    fn chain(
        &mut self,
        ja: &Jet,
        d1: Option<ValueId>,
        d2: Option<ValueId>,
    ) -> Result<Jet, AdError> {
        let mut out = Jet {
            t: vec![None; self.dirs],
            s: None,
        };
        if let Some(d1) = d1 {
            out = self.linear(ja, |tm, t| tm.cx.em.mul(d1, t))?;
        }
        if let Some(d2) = d2
            && let Some(q) = self.sum_sq(ja)?
        {
            let term = self.cx.em.mul(d2, q)?;
            out.s = self.cx.em.add_opt(out.s, Some(term))?;
        }
        Ok(out)
    }

    /// `(f'(a), f''(a))` of a unary op, with `y = f(a)`.
    fn unary_derivs(
        &mut self,
        op: UnaryOp,
        a: ValueId,
        y: ValueId,
    ) -> Result<(Option<ValueId>, Option<ValueId>), AdError> {
        let em = &mut self.cx.em;
        let ty = em.ty(a)?;
        let one = |em: &mut super::emit::Emitter| em.full(1.0, &ty);
        Ok(match op {
            UnaryOp::Neg => (Some(em.full(-1.0, &ty)?), None),
            UnaryOp::Abs => {
                let z = em.full(0.0, &ty)?;
                let c = em.compare(CmpOp::Lt, a, z)?;
                let m = em.full(-1.0, &ty)?;
                let o = one(em)?;
                (Some(em.select(c, m, o)?), None)
            }
            UnaryOp::Sqrt => {
                let two_y = em.scale(y, 2.0)?;
                let o = one(em)?;
                let d1 = em.div(o, two_y)?;
                let c = em.powi(d1, 3)?;
                (Some(d1), Some(em.scale(c, -2.0)?))
            }
            UnaryOp::Exp => (Some(y), Some(y)),
            UnaryOp::Log => {
                let o = one(em)?;
                let d1 = em.div(o, a)?;
                let sq = em.powi(d1, 2)?;
                (Some(d1), Some(em.neg(sq)?))
            }
            UnaryOp::Sin => (Some(em.unary(UnaryOp::Cos, a)?), Some(em.neg(y)?)),
            UnaryOp::Cos => {
                let s = em.unary(UnaryOp::Sin, a)?;
                (Some(em.neg(s)?), Some(em.neg(y)?))
            }
            UnaryOp::Tan => {
                let y2 = em.powi(y, 2)?;
                let o = one(em)?;
                let d1 = em.add(o, y2)?;
                let p = em.mul(y, d1)?;
                (Some(d1), Some(em.scale(p, 2.0)?))
            }
            UnaryOp::Asin | UnaryOp::Acos => {
                let a2 = em.powi(a, 2)?;
                let o = one(em)?;
                let d = em.sub(o, a2)?;
                let r = em.unary(UnaryOp::Sqrt, d)?;
                let o = one(em)?;
                let mut d1 = em.div(o, r)?;
                if op == UnaryOp::Acos {
                    d1 = em.neg(d1)?;
                }
                let c = em.powi(d1, 3)?;
                (Some(d1), Some(em.mul(a, c)?))
            }
            UnaryOp::Atan => {
                let a2 = em.powi(a, 2)?;
                let o = one(em)?;
                let d = em.add(o, a2)?;
                let o = one(em)?;
                let d1 = em.div(o, d)?;
                let sq = em.powi(d1, 2)?;
                let p = em.mul(a, sq)?;
                (Some(d1), Some(em.scale(p, -2.0)?))
            }
            UnaryOp::Sinh => (Some(em.unary(UnaryOp::Cosh, a)?), Some(y)),
            UnaryOp::Cosh => (Some(em.unary(UnaryOp::Sinh, a)?), Some(y)),
            UnaryOp::Tanh => {
                let y2 = em.powi(y, 2)?;
                let o = one(em)?;
                let d1 = em.sub(o, y2)?;
                let p = em.mul(y, d1)?;
                (Some(d1), Some(em.scale(p, -2.0)?))
            }
            UnaryOp::Erf => {
                let a2 = em.powi(a, 2)?;
                let na2 = em.neg(a2)?;
                let e = em.unary(UnaryOp::Exp, na2)?;
                let d1 = em.scale(e, std::f64::consts::FRAC_2_SQRT_PI)?;
                let p = em.mul(a, d1)?;
                (Some(d1), Some(em.scale(p, -2.0)?))
            }
            UnaryOp::Sigmoid => {
                let o = one(em)?;
                let omy = em.sub(o, y)?;
                let d1 = em.mul(y, omy)?;
                let o = one(em)?;
                let two_y = em.scale(y, 2.0)?;
                let f = em.sub(o, two_y)?;
                (Some(d1), Some(em.mul(d1, f)?))
            }
            UnaryOp::Gelu => {
                let d1 = em.unary(UnaryOp::Dgelu, a)?;
                (Some(d1), Some(super::rules::gelu_second(em, a, &ty)?))
            }
            UnaryOp::Dgelu => {
                let d1 = super::rules::gelu_second(em, a, &ty)?;
                (Some(d1), Some(super::rules::gelu_third(em, a, &ty)?))
            }
            UnaryOp::Softplus => {
                let s = em.unary(UnaryOp::Sigmoid, a)?;
                let o = one(em)?;
                let oms = em.sub(o, s)?;
                (Some(s), Some(em.mul(s, oms)?))
            }
            UnaryOp::Floor | UnaryOp::Not => (None, None),
        })
    }

    /// Emits the jet of source value `v`.
    fn value(&mut self, v: ValueId) -> Result<(), AdError> {
        let val = self.cx.src(v)?;
        if !val.ty.dtype.is_float() {
            return Ok(());
        }
        let y = self.cx.p(v);
        let ty = plain(&val.ty);
        let jet = match &val.op {
            Op::Arg(_) | Op::Const(_) | Op::Literal(_) | Op::Compare(..) => return Ok(()),
            Op::Unary(op, a) => {
                let ja = self.jet(*a);
                if ja.is_zero() {
                    return Ok(());
                }
                let pa = self.cx.p(*a);
                let (d1, d2) = self.unary_derivs(*op, pa, y)?;
                self.chain(&ja, d1, d2)?
            }
            Op::Powi(a, n) => {
                let ja = self.jet(*a);
                if ja.is_zero() || *n == 0 {
                    return Ok(());
                }
                let pa = self.cx.p(*a);
                let n = *n;
                let em = &mut self.cx.em;
                let d1 = if n == 1 {
                    em.full(1.0, &ty)?
                } else {
                    let p = if n == 2 { pa } else { em.powi(pa, n - 1)? };
                    em.scale(p, f64::from(n))?
                };
                let d2 = match n {
                    1 => None,
                    2 => Some(em.full(2.0, &ty)?),
                    _ => {
                        let p = if n == 3 { pa } else { em.powi(pa, n - 2)? };
                        Some(em.scale(p, f64::from(n) * f64::from(n - 1))?)
                    }
                };
                self.chain(&ja, Some(d1), d2)?
            }
            Op::Binary(op, a, b) => {
                let (ja, jb) = (self.jet(*a), self.jet(*b));
                if ja.is_zero() && jb.is_zero() {
                    return Ok(());
                }
                let (pa, pb) = (self.cx.p(*a), self.cx.p(*b));
                self.binary(*op, &ja, &jb, pa, pb, y)?
            }
            Op::Select(c, a, b) => {
                let (ja, jb) = (self.jet(*a), self.jet(*b));
                if ja.is_zero() && jb.is_zero() {
                    return Ok(());
                }
                let (pa, pb, pc) = (self.cx.p(*a), self.cx.p(*b), self.cx.p(*c));
                self.zip(&ja, &jb, pa, pb, |tm, x, y| tm.cx.em.select(pc, x, y))?
            }
            Op::Cast(a) => {
                let ja = self.jet(*a);
                if ja.is_zero() || !self.cx.em.ty(*a)?.dtype.is_float() {
                    return Ok(());
                }
                self.linear(&ja, |tm, t| tm.cx.em.cast(t, ty.dtype))?
            }
            Op::Broadcast(_)
            | Op::Index { .. }
            | Op::Slice { .. }
            | Op::Reshape(_)
            | Op::Transpose(_)
            | Op::Rfft { .. }
            | Op::Irfft { .. }
            | Op::Rfft2 { .. }
            | Op::Irfft2 { .. } => {
                let a = *val
                    .op
                    .operands()
                    .first()
                    .ok_or_else(|| AdError::internal("operand"))?;
                let ja = self.jet(a);
                if ja.is_zero() {
                    return Ok(());
                }
                let mut op = val.op.clone();
                let indices: Vec<ValueId> = match &val.op {
                    Op::Index { indices, .. } => indices.iter().map(|i| self.cx.p(*i)).collect(),
                    _ => Vec::new(),
                };
                if let Op::Index { fill, .. } = &mut op {
                    *fill = fill.map(|_| 0.0);
                }
                self.linear(&ja, |tm, t| {
                    let mut o = op.clone();
                    match &mut o {
                        Op::Index {
                            array, indices: ix, ..
                        } => {
                            *array = t;
                            ix.clone_from(&indices);
                        }
                        Op::Broadcast(x) | Op::Reshape(x) | Op::Transpose(x) => *x = t,
                        Op::Slice { array, .. }
                        | Op::Rfft { signal: array, .. }
                        | Op::Irfft {
                            spectrum: array, ..
                        }
                        | Op::Rfft2 { signal: array, .. }
                        | Op::Irfft2 {
                            spectrum: array, ..
                        } => *array = t,
                        _ => {}
                    }
                    Ok(tm.cx.em.push(o, ty.clone()))
                })?
            }
            Op::Concat(parts) => {
                let jets: Vec<Jet> = parts.iter().map(|p| self.jet(*p)).collect();
                if jets.iter().all(Jet::is_zero) {
                    return Ok(());
                }
                let prims: Vec<ValueId> = parts.iter().map(|p| self.cx.p(*p)).collect();
                let mut out = Jet {
                    t: Vec::with_capacity(self.dirs),
                    s: None,
                };
                for d in 0..=self.dirs {
                    let streams: Vec<Option<ValueId>> = jets
                        .iter()
                        .map(|j| {
                            if d < self.dirs {
                                j.t.get(d).copied().flatten()
                            } else {
                                j.s
                            }
                        })
                        .collect();
                    let r = if streams.iter().all(Option::is_none) {
                        None
                    } else {
                        let mut ps = Vec::with_capacity(streams.len());
                        for (s, p) in streams.iter().zip(&prims) {
                            ps.push(self.or_zero(*s, *p)?);
                        }
                        Some(self.cx.em.push(Op::Concat(ps), ty.clone()))
                    };
                    if d < self.dirs {
                        out.t.push(r);
                    } else {
                        out.s = r;
                    }
                }
                out
            }
            Op::Dot(a, b) | Op::MatVec(a, b) | Op::MatMul(a, b) => {
                let (ja, jb) = (self.jet(*a), self.jet(*b));
                if ja.is_zero() && jb.is_zero() {
                    return Ok(());
                }
                let (pa, pb) = (self.cx.p(*a), self.cx.p(*b));
                let make: fn(ValueId, ValueId) -> Op = match &val.op {
                    Op::Dot(..) => Op::Dot,
                    Op::MatVec(..) => Op::MatVec,
                    _ => Op::MatMul,
                };
                self.bilinear(&ja, &jb, pa, pb, |tm, x, y| {
                    Ok(tm.cx.em.push(make(x, y), ty.clone()))
                })?
            }
            Op::Reduce(op, a) => {
                let ja = self.jet(*a);
                if ja.is_zero() {
                    return Ok(());
                }
                if !matches!(op, ReduceOp::Sum | ReduceOp::Mean) {
                    return Err(unsupported("reduce max/min/prod"));
                }
                let op = *op;
                self.linear(&ja, |tm, t| tm.cx.em.reduce(op, t))?
            }
            Op::ReduceBatch(op, a) => {
                let ja = self.jet(*a);
                if ja.is_zero() {
                    return Ok(());
                }
                if !matches!(op, ReduceOp::Sum | ReduceOp::Mean) {
                    return Err(unsupported("reduce_batch max/min/prod"));
                }
                let op = *op;
                self.linear(&ja, |tm, t| tm.cx.reduce_batch(op, t))?
            }
            Op::Tabulate { extents, body } => {
                if !self.block_has_jet(body)? {
                    return Ok(());
                }
                let packed = self.loop_packed(body, &ty, |tm, args, out| {
                    let _ = args;
                    tm.emit_tabulate(extents, out)
                })?;
                self.unpack_loop(packed, &ty, extents.len())?
            }
            Op::Fold { op, extent, body } => {
                if !self.block_has_jet(body)? {
                    return Ok(());
                }
                if !matches!(op, ReduceOp::Sum | ReduceOp::Mean) {
                    return Err(unsupported("fold max/min/prod"));
                }
                let (op, extent) = (*op, *extent);
                let packed =
                    self.loop_packed(body, &ty, |tm, _, out| tm.emit_fold(op, extent, out))?;
                self.unpack_loop(packed, &ty, 0)?
            }
            Op::Map { inputs, body } => self.map(inputs, body, &ty)?,
            Op::Call { func, args } => {
                if args.iter().all(|a| self.jet(*a).is_zero()) {
                    return Ok(());
                }
                let actual: Vec<ValueId> = args.iter().map(|a| self.cx.p(*a)).collect();
                let (top, result) = self.cx.import_call(*func, &actual)?;
                self.push()?;
                for (a, x) in args.iter().zip(&actual) {
                    let j = self.jet(*a);
                    self.set(*x, j);
                }
                let inner = (|| {
                    for &t in &top {
                        self.value(t)?;
                    }
                    Ok(self.jet(result))
                })();
                self.pop();
                inner?
            }
            Op::Deriv { .. } => return Err(AdError::unexpanded()),
            Op::TileMap { .. } => return Err(AdError::tiled()),
        };
        self.set(v, jet);
        Ok(())
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        ja: &Jet,
        jb: &Jet,
        pa: ValueId,
        pb: ValueId,
        y: ValueId,
    ) -> Result<Jet, AdError> {
        match op {
            BinaryOp::Add => self.zip(ja, jb, pa, pb, |tm, x, y| tm.cx.em.add(x, y)),
            BinaryOp::Sub => self.zip(ja, jb, pa, pb, |tm, x, y| tm.cx.em.sub(x, y)),
            BinaryOp::Min | BinaryOp::Max => {
                let cmp = if op == BinaryOp::Min {
                    CmpOp::Le
                } else {
                    CmpOp::Ge
                };
                let c = self.cx.em.compare(cmp, pa, pb)?;
                self.zip(ja, jb, pa, pb, |tm, x, y| tm.cx.em.select(c, x, y))
            }
            BinaryOp::Mul => self.bilinear(ja, jb, pa, pb, |tm, x, y| tm.cx.em.mul(x, y)),
            BinaryOp::Div => {
                // y = a / b:  t = (t_a − y t_b) / b,  s = (s_a − y s_b − 2 Σ t t_b) / b
                let mut out = Jet {
                    t: Vec::with_capacity(self.dirs),
                    s: None,
                };
                let mut cross = None;
                for d in 0..self.dirs {
                    let ta = ja.t.get(d).copied().flatten();
                    let tb = jb.t.get(d).copied().flatten();
                    let yt = match tb {
                        Some(t) => Some(self.cx.em.mul(y, t)?),
                        None => None,
                    };
                    let num = match (ta, yt) {
                        (Some(x), Some(z)) => Some(self.cx.em.sub(x, z)?),
                        (Some(x), None) => Some(x),
                        (None, Some(z)) => Some(self.cx.em.neg(z)?),
                        (None, None) => None,
                    };
                    let t = match num {
                        Some(n) => Some(self.cx.em.div(n, pb)?),
                        None => None,
                    };
                    if let (Some(t), Some(tb)) = (t, tb) {
                        let c = self.cx.em.mul(t, tb)?;
                        cross = self.cx.em.add_opt(cross, Some(c))?;
                    }
                    out.t.push(t);
                }
                let mut num = ja.s;
                if let Some(sb) = jb.s {
                    let ys = self.cx.em.mul(y, sb)?;
                    num = Some(match num {
                        Some(n) => self.cx.em.sub(n, ys)?,
                        None => self.cx.em.neg(ys)?,
                    });
                }
                if let Some(c) = cross {
                    let c2 = self.cx.em.scale(c, 2.0)?;
                    num = Some(match num {
                        Some(n) => self.cx.em.sub(n, c2)?,
                        None => self.cx.em.neg(c2)?,
                    });
                }
                out.s = match num {
                    Some(n) => Some(self.cx.em.div(n, pb)?),
                    None => None,
                };
                Ok(out)
            }
            BinaryOp::Pow => Err(unsupported("pow")),
            BinaryOp::Atan2 => Err(unsupported("atan2")),
            BinaryOp::And | BinaryOp::Or => Ok(Jet::default()),
        }
    }

    /// Streams of an op that acts stream by stream on two operands (`add`, `select`, …).
    fn zip(
        &mut self,
        ja: &Jet,
        jb: &Jet,
        pa: ValueId,
        pb: ValueId,
        f: impl Fn(&mut Self, ValueId, ValueId) -> Result<ValueId, AdError>,
    ) -> Result<Jet, AdError> {
        let mut out = Jet {
            t: Vec::with_capacity(self.dirs),
            s: None,
        };
        for d in 0..=self.dirs {
            let (x, y) = if d < self.dirs {
                (
                    ja.t.get(d).copied().flatten(),
                    jb.t.get(d).copied().flatten(),
                )
            } else {
                (ja.s, jb.s)
            };
            let r = if x.is_none() && y.is_none() {
                None
            } else {
                let x = self.or_zero(x, pa)?;
                let y = self.or_zero(y, pb)?;
                Some(f(self, x, y)?)
            };
            if d < self.dirs {
                out.t.push(r);
            } else {
                out.s = r;
            }
        }
        Ok(out)
    }

    fn block_has_jet(&self, block: &Block) -> Result<bool, AdError> {
        Ok(free_values(self.cx.em.values, block)?
            .iter()
            .any(|v| !self.jet(*v).is_zero()))
    }

    /// The `D + 1` streams of a value stacked on a new leading axis.
    fn stack(&mut self, jet: &Jet, like: ValueId) -> Result<ValueId, AdError> {
        let ty = plain(&self.cx.em.ty(like)?);
        let mut shape1 = vec![1];
        shape1.extend(ty.shape.iter().copied());
        let mut parts = Vec::with_capacity(self.dirs + 1);
        for s in jet.t.iter().copied().chain(std::iter::once(jet.s)) {
            let s = self.or_zero(s, like)?;
            parts.push(self.cx.em.reshape(s, &shape1)?);
        }
        let mut shape = vec![self.dirs + 1];
        shape.extend(ty.shape.iter().copied());
        Ok(self
            .cx
            .em
            .push(Op::Concat(parts), Type::tensor(ty.dtype, shape)))
    }

    /// Opens a loop over a copy of `body` with jets, yielding the stacked streams of its
    /// result; `close` emits the loop op from the finished block.
    fn loop_packed(
        &mut self,
        body: &Block,
        _ty: &Type,
        close: impl FnOnce(&mut Self, &[ValueId], sci_ir::Block) -> Result<ValueId, AdError>,
    ) -> Result<ValueId, AdError> {
        let args = self.cx.em.begin_like(&body.args)?;
        self.push()?;
        for (a, n) in body.args.iter().zip(&args) {
            self.cx.set_p(*a, *n);
        }
        let inner = (|| {
            for &b in &body.body {
                self.cx.clone_value(b)?;
                self.value(b)?;
            }
            let r = self.cx.p(body.result);
            let j = self.jet(body.result);
            self.stack(&j, r)
        })();
        self.pop();
        let out = inner?;
        let block = self.cx.em.end(args.clone(), out)?;
        close(self, &args, block)
    }

    fn emit_tabulate(
        &mut self,
        extents: &[usize],
        block: sci_ir::Block,
    ) -> Result<ValueId, AdError> {
        let rty = plain(&self.cx.em.ty(block.result)?);
        let mut shape = extents.to_vec();
        shape.extend(rty.shape.iter().copied());
        Ok(self.cx.em.push(
            Op::Tabulate {
                extents: extents.to_vec(),
                body: block,
            },
            Type::tensor(rty.dtype, shape),
        ))
    }

    fn emit_fold(
        &mut self,
        op: ReduceOp,
        extent: usize,
        block: sci_ir::Block,
    ) -> Result<ValueId, AdError> {
        let rty = plain(&self.cx.em.ty(block.result)?);
        Ok(self.cx.em.push(
            Op::Fold {
                op,
                extent,
                body: block,
            },
            rty,
        ))
    }

    /// Splits a loop result of shape `extents ++ [D+1] ++ shape(r)` into streams of `ty`.
    fn unpack_loop(&mut self, packed: ValueId, ty: &Type, lead: usize) -> Result<Jet, AdError> {
        let mut out = Jet {
            t: Vec::with_capacity(self.dirs),
            s: None,
        };
        let extents: Vec<usize> = ty.shape.iter().take(lead).copied().collect();
        for d in 0..=self.dirs {
            let k = self.cx.em.scalar(d as f64, DType::I64);
            let x = self.cx.tabulate_with(&extents, |cx, is| {
                let mut indices = is.to_vec();
                indices.push(k);
                let mut shape: Vec<usize> = ty.shape.iter().skip(lead).copied().collect();
                if is.is_empty() {
                    shape = ty.shape.clone();
                }
                Ok(cx.em.push(
                    Op::Index {
                        array: packed,
                        indices,
                        fill: None,
                    },
                    Type::tensor(ty.dtype, shape),
                ))
            })?;
            if d < self.dirs {
                out.t.push(Some(x));
            } else {
                out.s = Some(x);
            }
        }
        Ok(out)
    }

    fn map(&mut self, inputs: &[ValueId], body: &Block, ty: &Type) -> Result<Jet, AdError> {
        let in_jets: Vec<Jet> = inputs.iter().map(|i| self.jet(*i)).collect();
        if in_jets.iter().all(Jet::is_zero) && !self.block_has_jet(body)? {
            return Ok(Jet::default());
        }
        // Batched inputs with streams are passed as extra map inputs.
        let mut map_inputs: Vec<ValueId> = inputs.iter().map(|i| self.cx.p(*i)).collect();
        let mut arg_types = Vec::new();
        for &a in &body.args {
            arg_types.push(self.cx.em.ty(a)?);
        }
        let mut extra: Vec<(usize, usize)> = Vec::new(); // (input, stream)
        for (k, j) in in_jets.iter().enumerate() {
            for (d, s) in j.t.iter().copied().chain(std::iter::once(j.s)).enumerate() {
                if let Some(s) = s {
                    map_inputs.push(s);
                    let a = *body
                        .args
                        .get(k)
                        .ok_or_else(|| AdError::internal("map arguments"))?;
                    arg_types.push(plain(&self.cx.em.ty(a)?));
                    extra.push((k, d));
                }
            }
        }
        let args = self.cx.em.begin(&arg_types);
        self.push()?;
        for (a, n) in body.args.iter().zip(&args) {
            self.cx.set_p(*a, *n);
        }
        let nargs = body.args.len();
        let mut arg_jets: Vec<Jet> = vec![
            Jet {
                t: vec![None; self.dirs],
                s: None
            };
            nargs
        ];
        for (e, &(k, d)) in extra.iter().enumerate() {
            if let (Some(j), Some(&n)) = (arg_jets.get_mut(k), args.get(nargs + e)) {
                if d < self.dirs {
                    if let Some(slot) = j.t.get_mut(d) {
                        *slot = Some(n);
                    }
                } else {
                    j.s = Some(n);
                }
            }
        }
        for (a, j) in body.args.iter().zip(arg_jets) {
            self.set(*a, j);
        }
        let inner = (|| {
            for &b in &body.body {
                self.cx.clone_value(b)?;
                self.value(b)?;
            }
            let r = self.cx.p(body.result);
            let j = self.jet(body.result);
            self.stack(&j, r)
        })();
        self.pop();
        let out = inner?;
        let out_ty = plain(&self.cx.em.ty(out)?).batched();
        let block = self.cx.em.end(args, out)?;
        let packed = self.cx.em.push(
            Op::Map {
                inputs: map_inputs,
                body: block,
            },
            out_ty,
        );
        let mut jet = Jet {
            t: Vec::with_capacity(self.dirs),
            s: None,
        };
        let point = plain(&ty.per_point());
        for d in 0..=self.dirs {
            let x = self.cx.map_points(&[packed], |cx, p| {
                let p = one(p)?;
                let k = cx.em.scalar(d as f64, DType::I64);
                Ok(cx.em.push(
                    Op::Index {
                        array: p,
                        indices: vec![k],
                        fill: None,
                    },
                    point.clone(),
                ))
            })?;
            if d < self.dirs {
                jet.t.push(Some(x));
            } else {
                jet.s = Some(x);
            }
        }
        Ok(jet)
    }
}
