//! Symbolic sparsity of a `tabulate` body, analysed once for all indices.
//!
//! Integer values of the body are affine in the loop indices, conditions are comparisons
//! of affine expressions, and a real value's dependencies are a list of *terms*: a gather
//! `outer[a·i + b, …]` of an array computed outside the loop, or the fixed dependencies
//! of an outer scalar, each valid under a list of guards (the conditions of the `select`s
//! it passed through). The dependencies of element `i` are then read off the terms whose
//! guards hold at `i`, without evaluating the body again. Anything else in the body
//! (nested loops, index arithmetic that is not affine, sub-tensor reads) returns `None`
//! and the caller unrolls the loop instead.

use super::detect::{AVal, Deps, Detector, El, compare, numel, union};
use crate::ad::AdError;
use sci_ir::{BinaryOp, Block, CmpOp, DType, Function, Op, UnaryOp, ValueId};
use std::collections::HashMap;

/// `c + Σ k_m · index_m`.
#[derive(Clone, Debug, PartialEq)]
struct Affine {
    c: i64,
    k: Vec<i64>,
}

impl Affine {
    fn constant(c: i64, n: usize) -> Affine {
        Affine { c, k: vec![0; n] }
    }

    fn at(&self, idx: &[i64]) -> i64 {
        self.k.iter().zip(idx).fold(self.c, |acc, (a, b)| {
            acc.saturating_add(a.saturating_mul(*b))
        })
    }

    fn combine(&self, other: &Affine, sign: i64) -> Option<Affine> {
        Some(Affine {
            c: self.c.checked_add(sign.checked_mul(other.c)?)?,
            k: self
                .k
                .iter()
                .zip(&other.k)
                .map(|(a, b)| a.checked_add(sign.checked_mul(*b)?))
                .collect::<Option<_>>()?,
        })
    }

    fn scale(&self, s: i64) -> Option<Affine> {
        Some(Affine {
            c: self.c.checked_mul(s)?,
            k: self
                .k
                .iter()
                .map(|a| a.checked_mul(s))
                .collect::<Option<_>>()?,
        })
    }

    fn as_const(&self) -> Option<i64> {
        self.k.iter().all(|k| *k == 0).then_some(self.c)
    }
}

/// `a op b`, possibly negated.
#[derive(Clone, Debug)]
struct Cond {
    a: Affine,
    op: CmpOp,
    b: Affine,
    negated: bool,
}

impl Cond {
    fn holds(&self, idx: &[i64]) -> bool {
        let r = compare(self.op, self.a.at(idx) as f64, self.b.at(idx) as f64);
        r != self.negated
    }

    fn not(&self) -> Cond {
        Cond {
            negated: !self.negated,
            ..self.clone()
        }
    }
}

#[derive(Clone, Debug)]
enum Source {
    Gather(ValueId, Vec<Affine>),
    Fixed(Deps),
}

#[derive(Clone, Debug)]
struct Term {
    source: Source,
    guards: Vec<Cond>,
}

#[derive(Clone, Debug)]
enum Sym {
    Int(Affine),
    /// A condition on the indices; `None` for one that depends on data (keeps both branches).
    Bool(Option<Cond>),
    Const(bool),
    Real(Vec<Term>),
}

/// The dependencies of every element of `tabulate extents body` (row-major), or `None`
/// when the body is outside the symbolic form.
pub(crate) fn tabulate(
    det: &mut Detector,
    f: &Function,
    env: &HashMap<ValueId, AVal>,
    extents: &[usize],
    body: &Block,
    shape: &[usize],
) -> Result<Option<Vec<El>>, AdError> {
    if shape.len() != extents.len() {
        return Ok(None); // The body yields arrays.
    }
    let n = extents.len();
    let mut syms: HashMap<ValueId, Sym> = HashMap::new();
    for (m, a) in body.args.iter().enumerate() {
        let mut k = vec![0; n];
        if let Some(x) = k.get_mut(m) {
            *x = 1;
        }
        syms.insert(*a, Sym::Int(Affine { c: 0, k }));
    }
    for &id in &body.body {
        match analyse(det, f, env, &syms, id, n)? {
            Some(s) => {
                syms.insert(id, s);
            }
            None => return Ok(None),
        }
    }
    let terms = match lookup(det, env, &syms, body.result, n) {
        Some(Sym::Real(t)) => t,
        _ => return Ok(None),
    };
    // Read the pattern off the terms, index by index.
    let total = numel(extents)?;
    det.spend(total.saturating_mul(terms.len().max(1)))?;
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0i64; n];
    for _ in 0..total {
        let mut deps = det.empty();
        for t in &terms {
            if !t.guards.iter().all(|g| g.holds(&idx)) {
                continue;
            }
            match &t.source {
                Source::Fixed(d) => deps = union(&deps, d),
                Source::Gather(array, index) => {
                    let a = env
                        .get(array)
                        .ok_or_else(|| AdError::internal("gather of an unknown value"))?;
                    let mut pos = 0usize;
                    let mut inside = true;
                    for (aff, &ext) in index.iter().zip(&a.shape) {
                        let i = aff.at(&idx);
                        if i < 0 || i as usize >= ext {
                            inside = false;
                            break;
                        }
                        pos = pos * ext + i as usize;
                    }
                    if inside && let Some(e) = a.el.get(pos) {
                        deps = union(&deps, &e.deps);
                    }
                }
            }
        }
        out.push(El { deps, val: None });
        for k in (0..n).rev() {
            if let (Some(i), Some(&e)) = (idx.get_mut(k), extents.get(k)) {
                *i += 1;
                if (*i as usize) < e {
                    break;
                }
                *i = 0;
            }
        }
    }
    Ok(Some(out))
}

/// The symbolic value of a body value or an outer value.
fn lookup(
    det: &Detector,
    env: &HashMap<ValueId, AVal>,
    syms: &HashMap<ValueId, Sym>,
    id: ValueId,
    n: usize,
) -> Option<Sym> {
    if let Some(s) = syms.get(&id) {
        return Some(s.clone());
    }
    let outer = env.get(&id)?;
    let [el] = outer.el.as_slice() else {
        return None; // An outer array used whole.
    };
    Some(match el.val {
        Some(x) if el.deps.is_empty() && x.fract() == 0.0 && x.abs() < 9.0e15 => {
            // Known numbers may be indices, bools or reals; the user decides.
            Sym::Int(Affine::constant(x as i64, n))
        }
        _ => {
            let _ = det;
            Sym::Real(vec![Term {
                source: Source::Fixed(el.deps.clone()),
                guards: Vec::new(),
            }])
        }
    })
}

/// Terms of a real operand (an integer constant used as a real has none).
fn real(s: Option<Sym>) -> Option<Vec<Term>> {
    match s? {
        Sym::Real(t) => Some(t),
        Sym::Int(a) if a.as_const().is_some() => Some(Vec::new()),
        Sym::Const(_) => Some(Vec::new()),
        _ => None,
    }
}

fn guarded(terms: Vec<Term>, g: &Cond) -> Vec<Term> {
    terms
        .into_iter()
        .map(|mut t| {
            t.guards.push(g.clone());
            t
        })
        .collect()
}

fn analyse(
    det: &Detector,
    f: &Function,
    env: &HashMap<ValueId, AVal>,
    syms: &HashMap<ValueId, Sym>,
    id: ValueId,
    n: usize,
) -> Result<Option<Sym>, AdError> {
    let v = f
        .values
        .get(id)
        .ok_or_else(|| AdError::internal("a value does not exist"))?;
    let get = |x: ValueId| lookup(det, env, syms, x, n);
    let dtype = v.ty.dtype;
    if !v.ty.shape.is_empty() {
        return Ok(None);
    }
    Ok(match &v.op {
        Op::Const(x) => Some(match dtype {
            DType::I64 => Sym::Int(Affine::constant(*x as i64, n)),
            DType::Bool => Sym::Const(*x != 0.0),
            _ => Sym::Real(Vec::new()),
        }),
        Op::Unary(op, a) => match (dtype, get(*a)) {
            (DType::I64, Some(Sym::Int(x))) if *op == UnaryOp::Neg => x.scale(-1).map(Sym::Int),
            (DType::Bool, Some(Sym::Bool(c))) => Some(Sym::Bool(c.map(|c| c.not()))),
            (DType::Bool, Some(Sym::Const(b))) => Some(Sym::Const(!b)),
            (d, s) if d.is_float() => match op {
                UnaryOp::Floor => Some(Sym::Real(Vec::new())),
                _ => real(s).map(Sym::Real),
            },
            _ => None,
        },
        Op::Binary(op, a, b) => match (dtype, get(*a), get(*b)) {
            (DType::I64, Some(Sym::Int(x)), Some(Sym::Int(y))) => match op {
                BinaryOp::Add => x.combine(&y, 1).map(Sym::Int),
                BinaryOp::Sub => x.combine(&y, -1).map(Sym::Int),
                BinaryOp::Mul => match (x.as_const(), y.as_const()) {
                    (Some(c), _) => y.scale(c).map(Sym::Int),
                    (_, Some(c)) => x.scale(c).map(Sym::Int),
                    _ => None,
                },
                _ => None,
            },
            (d, sa, sb) if d.is_float() => match (real(sa), real(sb)) {
                (Some(mut x), Some(y)) => {
                    x.extend(y);
                    Some(Sym::Real(x))
                }
                _ => None,
            },
            _ => None,
        },
        Op::Powi(a, k) => match real(get(*a)) {
            Some(_) if *k == 0 => Some(Sym::Real(Vec::new())),
            Some(t) => Some(Sym::Real(t)),
            None => None,
        },
        Op::Compare(op, a, b) => match (get(*a), get(*b)) {
            (Some(Sym::Int(x)), Some(Sym::Int(y))) => Some(Sym::Bool(Some(Cond {
                a: x,
                op: *op,
                b: y,
                negated: false,
            }))),
            (Some(Sym::Real(_) | Sym::Int(_)), Some(Sym::Real(_) | Sym::Int(_))) => {
                Some(Sym::Bool(None))
            }
            _ => None,
        },
        Op::Select(c, a, b) => {
            let (x, y) = (real(get(*a)), real(get(*b)));
            match (get(*c), x, y) {
                (Some(Sym::Const(true)), Some(x), _) => Some(Sym::Real(x)),
                (Some(Sym::Const(false)), _, Some(y)) => Some(Sym::Real(y)),
                (Some(Sym::Bool(Some(c))), Some(x), Some(y)) => {
                    let mut t = guarded(x, &c);
                    t.extend(guarded(y, &c.not()));
                    Some(Sym::Real(t))
                }
                (Some(Sym::Bool(None)), Some(mut x), Some(y)) => {
                    x.extend(y);
                    Some(Sym::Real(x))
                }
                _ => None,
            }
        }
        Op::Cast(a) => {
            let from = f.values.get(*a).map(|x| x.ty.dtype);
            match (from, dtype) {
                (Some(DType::I64 | DType::Bool), d) if d.is_float() => Some(Sym::Real(Vec::new())),
                (Some(s), d) if s.is_float() && d.is_float() => real(get(*a)).map(Sym::Real),
                _ => None,
            }
        }
        Op::Index {
            array,
            indices,
            fill: _,
        } => {
            if syms.contains_key(array) {
                return Ok(None);
            }
            let Some(outer) = env.get(array) else {
                return Ok(None);
            };
            if indices.len() != outer.shape.len() || !dtype.is_float() {
                return Ok(None);
            }
            let mut aff = Vec::with_capacity(indices.len());
            for i in indices {
                match get(*i) {
                    Some(Sym::Int(x)) => aff.push(x),
                    _ => return Ok(None),
                }
            }
            Some(Sym::Real(vec![Term {
                source: Source::Gather(*array, aff),
                guards: Vec::new(),
            }]))
        }
        Op::Reduce(_, a) if !syms.contains_key(a) => {
            let outer = env.get(a);
            outer.map(|o| {
                let mut d = det.empty();
                for e in &o.el {
                    d = union(&d, &e.deps);
                }
                Sym::Real(vec![Term {
                    source: Source::Fixed(d),
                    guards: Vec::new(),
                }])
            })
        }
        _ => None,
    })
}
