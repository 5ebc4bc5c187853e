//! Sparsity detection: which input elements each result element depends on.
//!
//! An abstract interpreter runs the function on *dependency sets*: every element of every
//! value carries the sorted set of input elements it depends on, and, for values that do
//! not depend on any input (index arithmetic, constants), its concrete number, so that
//! indices and `if` conditions on indices are followed exactly (`if i == 0 then 1 else
//! u[i-1]` depends on nothing at `i = 0`). Ops with zero derivative (comparisons, `floor`,
//! casts to integers) carry no dependencies. Values that depend on unknown inputs (θ when
//! differentiating with respect to y) are unknown numbers: a condition on them keeps both
//! branches, an index by them may read any element. The pattern therefore holds for every
//! value of the other inputs.
//!
//! `tabulate` bodies are first analysed *symbolically*, once for all indices: values are
//! sums of gathers `outer[a·i + b] if guard(i)` with affine indices and guards that are
//! comparisons of affine index expressions; the pattern is then read off per index without
//! re-running the body. Bodies outside that form (nested loops, dynamic indices, …) are
//! unrolled: the body is interpreted once per index.

use super::symbolic;
use crate::ad::AdError;
use sci_ir::{BinaryOp, Block, CmpOp, DType, FuncId, Function, Module, Op, UnaryOp, ValueId};
use std::collections::HashMap;
use std::rc::Rc;

/// Most element operations one detection may perform.
const BUDGET: usize = 200_000_000;
/// Deepest nesting of calls and blocks followed.
const MAX_DEPTH: usize = 96;

/// A sorted set of input element indices.
pub(crate) type Deps = Rc<[u32]>;

/// One element: its dependencies and, when known, its value.
#[derive(Clone, Debug)]
pub(crate) struct El {
    pub deps: Deps,
    pub val: Option<f64>,
}

/// The abstract value of one IR value (unbatched; row-major elements).
#[derive(Clone, Debug)]
pub(crate) struct AVal {
    pub shape: Vec<usize>,
    pub el: Vec<El>,
}

/// The union of two sorted sets.
pub(crate) fn union(a: &Deps, b: &Deps) -> Deps {
    if b.is_empty() || Rc::ptr_eq(a, b) {
        return a.clone();
    }
    if a.is_empty() {
        return b.clone();
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x == y => {
                out.push(x);
                i += 1;
                j += 1;
            }
            (Some(&x), Some(&y)) if x < y => {
                out.push(x);
                i += 1;
            }
            (Some(_), Some(&y)) => {
                out.push(y);
                j += 1;
            }
            (Some(&x), None) => {
                out.push(x);
                i += 1;
            }
            (None, Some(&y)) => {
                out.push(y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    out.into()
}

/// The union of many sorted sets at once: one sort of their concatenation, where folding
/// them pairwise copies the growing union once per set (quadratic for a sum over a wide
/// layer, whose union is every weight).
pub(crate) fn union_all<'a>(empty: &Deps, sets: impl IntoIterator<Item = &'a Deps>) -> Deps {
    let sets: Vec<&Deps> = sets.into_iter().filter(|d| !d.is_empty()).collect();
    match sets.as_slice() {
        [] => empty.clone(),
        [one] => (*one).clone(),
        [a, b] => union(a, b),
        _ => {
            let mut all: Vec<u32> = sets.iter().flat_map(|d| d.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            all.into()
        }
    }
}

pub(crate) struct Detector<'m> {
    pub module: &'m Module,
    work: usize,
    empty: Deps,
    /// Tabulates analysed symbolically / by unrolling (for reports and tests).
    pub symbolic_loops: usize,
    pub unrolled_loops: usize,
}

fn unsupported(what: &str) -> AdError {
    AdError::request(format!(
        "Sparsity detection does not handle {what}; use the dense Jacobian."
    ))
}

impl<'m> Detector<'m> {
    pub fn new(module: &'m Module) -> Detector<'m> {
        Detector {
            module,
            work: 0,
            empty: Rc::from(Vec::new()),
            symbolic_loops: 0,
            unrolled_loops: 0,
        }
    }

    pub fn empty(&self) -> Deps {
        self.empty.clone()
    }

    pub(crate) fn spend(&mut self, n: usize) -> Result<(), AdError> {
        self.work = self.work.saturating_add(n);
        if self.work > BUDGET {
            return Err(AdError::request(
                "Sparsity detection needs too much work for this function; use the dense Jacobian.",
            ));
        }
        Ok(())
    }

    /// Abstract evaluation of `f` on abstract arguments.
    pub fn function(
        &mut self,
        f: &Function,
        args: Vec<AVal>,
        depth: usize,
    ) -> Result<AVal, AdError> {
        if depth > MAX_DEPTH {
            return Err(AdError::limit());
        }
        let mut env: HashMap<ValueId, AVal> = HashMap::new();
        self.block(f, &mut env, &f.body, args, depth)
    }

    pub(crate) fn block(
        &mut self,
        f: &Function,
        env: &mut HashMap<ValueId, AVal>,
        block: &Block,
        args: Vec<AVal>,
        depth: usize,
    ) -> Result<AVal, AdError> {
        if depth > MAX_DEPTH {
            return Err(AdError::limit());
        }
        for (a, v) in block.args.iter().zip(args) {
            env.insert(*a, v);
        }
        for &id in &block.body {
            let v = self.value(f, env, id, depth)?;
            env.insert(id, v);
        }
        env.get(&block.result)
            .cloned()
            .ok_or_else(|| AdError::internal("a block result is not defined"))
    }

    fn get(env: &HashMap<ValueId, AVal>, id: ValueId) -> Result<&AVal, AdError> {
        env.get(&id).ok_or_else(|| {
            AdError::internal(format!(
                "value %{} is used before it is defined",
                id.index()
            ))
        })
    }

    fn value(
        &mut self,
        f: &Function,
        env: &mut HashMap<ValueId, AVal>,
        id: ValueId,
        depth: usize,
    ) -> Result<AVal, AdError> {
        let v = f
            .values
            .get(id)
            .ok_or_else(|| AdError::internal("a value does not exist"))?;
        let shape = v.ty.shape.clone();
        let n = v.ty.element_count().unwrap_or(0);
        self.spend(n.max(1))?;
        if v.ty.batched {
            return Err(unsupported("batched values (map, reduce_batch)"));
        }
        let e = self.empty();
        let konst = |x: f64| El {
            deps: e.clone(),
            val: Some(x),
        };
        let unknown = |deps: Deps| El { deps, val: None };
        let out: Vec<El> = match &v.op {
            Op::Arg(_) => return Err(AdError::internal("a block argument without a value")),
            Op::Const(x) => vec![konst(*x); n],
            Op::Literal(xs) => xs.iter().map(|x| konst(*x)).collect(),
            Op::Unary(op, a) => {
                let a = Self::get(env, *a)?;
                let zero = matches!(op, UnaryOp::Floor | UnaryOp::Not);
                a.el.iter()
                    .map(|x| El {
                        deps: if zero { e.clone() } else { x.deps.clone() },
                        val: x.val.and_then(|x| unary(*op, x)),
                    })
                    .collect()
            }
            Op::Binary(op, a, b) => {
                let (a, b) = (Self::get(env, *a)?, Self::get(env, *b)?);
                let logical = matches!(op, BinaryOp::And | BinaryOp::Or);
                a.el.iter()
                    .zip(&b.el)
                    .map(|(x, y)| El {
                        deps: if logical {
                            e.clone()
                        } else {
                            union(&x.deps, &y.deps)
                        },
                        val: match (x.val, y.val) {
                            (Some(p), Some(q)) => binary(*op, p, q),
                            _ => None,
                        },
                    })
                    .collect()
            }
            Op::Powi(a, k) => Self::get(env, *a)?
                .el
                .iter()
                .map(|x| El {
                    deps: if *k == 0 { e.clone() } else { x.deps.clone() },
                    val: x.val.map(|x| x.powi(*k)),
                })
                .collect(),
            Op::Compare(op, a, b) => {
                let (a, b) = (Self::get(env, *a)?, Self::get(env, *b)?);
                a.el.iter()
                    .zip(&b.el)
                    .map(|(x, y)| El {
                        deps: e.clone(),
                        val: match (x.val, y.val) {
                            (Some(p), Some(q)) => Some(f64::from(u8::from(compare(*op, p, q)))),
                            _ => None,
                        },
                    })
                    .collect()
            }
            Op::Select(c, a, b) => {
                let (c, a, b) = (
                    Self::get(env, *c)?,
                    Self::get(env, *a)?,
                    Self::get(env, *b)?,
                );
                c.el.iter()
                    .zip(a.el.iter().zip(&b.el))
                    .map(|(c, (x, y))| match c.val {
                        Some(v) if v != 0.0 => x.clone(),
                        Some(_) => y.clone(),
                        None => unknown(union(&x.deps, &y.deps)),
                    })
                    .collect()
            }
            Op::Cast(a) => {
                let a = Self::get(env, *a)?;
                let keep = v.ty.dtype.is_float();
                a.el.iter()
                    .map(|x| El {
                        deps: if keep { x.deps.clone() } else { e.clone() },
                        val: x.val.map(|x| cast(x, v.ty.dtype)),
                    })
                    .collect()
            }
            Op::Broadcast(a) => {
                let a = Self::get(env, *a)?;
                broadcast(a, &shape)?
            }
            Op::Index {
                array,
                indices,
                fill,
            } => {
                let a = Self::get(env, *array)?;
                let mut idx = Vec::with_capacity(indices.len());
                for i in indices {
                    idx.push(Self::get(env, *i)?.el.first().and_then(|x| x.val));
                }
                index(a, &idx, *fill, &e)?
            }
            Op::Slice { array, start, len } => {
                let a = Self::get(env, *array)?;
                let inner = numel(a.shape.get(1..).unwrap_or(&[]))?;
                a.el.iter()
                    .skip(start * inner)
                    .take(len * inner)
                    .cloned()
                    .collect()
            }
            Op::Concat(parts) => {
                let mut out = Vec::with_capacity(n);
                for p in parts {
                    out.extend(Self::get(env, *p)?.el.iter().cloned());
                }
                out
            }
            Op::Reshape(a) => Self::get(env, *a)?.el.clone(),
            Op::Transpose(a) => {
                let a = Self::get(env, *a)?;
                let (batch, r, c) = match a.shape.as_slice() {
                    [batch @ .., r, c] => (batch.iter().product::<usize>(), *r, *c),
                    _ => return Err(AdError::internal("transpose of a non-matrix")),
                };
                let mut out = Vec::with_capacity(n);
                for p in 0..batch {
                    for j in 0..c {
                        for i in 0..r {
                            out.push(
                                a.el.get(p * r * c + i * c + j)
                                    .cloned()
                                    .ok_or_else(|| AdError::internal("transpose"))?,
                            );
                        }
                    }
                }
                out
            }
            // Every frequency of a signal (a row; in 2-D the last two axes) depends on every
            // point of it, and the other way round.
            Op::Rfft { signal, modes } => {
                let a = Self::get(env, *signal)?;
                let len = a.shape.last().copied().unwrap_or(1);
                self.spend(a.el.len() * 2 * modes)?;
                spectra_of(&e, &a.el, len, *modes)
            }
            Op::Irfft {
                spectrum,
                n: points,
            } => {
                let a = Self::get(env, *spectrum)?;
                let len = a.shape.last().copied().unwrap_or(1);
                self.spend(a.el.len() * points)?;
                signals_of(&e, &a.el, len, *points)
            }
            Op::Rfft2 { signal, modes } => {
                let a = Self::get(env, *signal)?;
                let len = match a.shape[..] {
                    [.., n1, n2] => n1 * n2,
                    _ => return Err(AdError::internal("rfft2 of a non-matrix")),
                };
                let per = 2 * modes[0] * modes[1];
                self.spend(a.el.len() * 2 * per)?;
                spectra_of(&e, &a.el, len, per)
            }
            Op::Irfft2 { spectrum, n } => {
                let a = Self::get(env, *spectrum)?;
                let len = match a.shape[..] {
                    [.., rows, m2] => rows * m2,
                    _ => return Err(AdError::internal("irfft2 of a non-matrix")),
                };
                let points = n[0] * n[1];
                self.spend(a.el.len() * points)?;
                signals_of(&e, &a.el, len, points)
            }
            Op::Dot(a, b) => {
                let (a, b) = (Self::get(env, *a)?, Self::get(env, *b)?);
                vec![unknown(union_all(
                    &e,
                    a.el.iter().chain(&b.el).map(|x| &x.deps),
                ))]
            }
            Op::MatVec(a, x) => {
                let (a, x) = (Self::get(env, *a)?, Self::get(env, *x)?);
                let cols = a.shape.get(1).copied().unwrap_or(0);
                let xd = union_all(&e, x.el.iter().map(|el| &el.deps));
                self.spend(a.el.len())?;
                (0..n)
                    .map(|i| {
                        let row = a.el.iter().skip(i * cols).take(cols);
                        unknown(union_all(
                            &e,
                            std::iter::once(&xd).chain(row.map(|el| &el.deps)),
                        ))
                    })
                    .collect()
            }
            Op::MatMul(a, b) => {
                let (a, b) = (Self::get(env, *a)?, Self::get(env, *b)?);
                let (batch, m, k) = match a.shape.as_slice() {
                    [batch @ .., m, k] => (batch.iter().product::<usize>(), *m, *k),
                    _ => return Err(AdError::internal("matmul of a non-matrix")),
                };
                let nn = b.shape.last().copied().unwrap_or(0);
                self.spend(batch * m * k * nn)?;
                let mut out = Vec::with_capacity(batch * m * nn);
                for p in 0..batch {
                    let (ab, bb) = (p * m * k, p * k * nn);
                    for i in 0..m {
                        for j in 0..nn {
                            let terms = (0..k).filter_map(|l| {
                                let x = a.el.get(ab + i * k + l)?;
                                let y = b.el.get(bb + l * nn + j)?;
                                Some([&x.deps, &y.deps])
                            });
                            out.push(unknown(union_all(&e, terms.flatten())));
                        }
                    }
                }
                out
            }
            Op::Reduce(_, a) => {
                let a = Self::get(env, *a)?;
                vec![unknown(union_all(&e, a.el.iter().map(|x| &x.deps)))]
            }
            Op::Tabulate { extents, body } => {
                if let Some(out) = symbolic::tabulate(self, f, env, extents, body, &shape)? {
                    self.symbolic_loops += 1;
                    out
                } else {
                    self.unrolled_loops += 1;
                    self.unroll(f, env, extents, body, n, depth)?
                }
            }
            Op::Fold { extent, body, .. } => {
                let mut acc: Option<Vec<El>> = None;
                for i in 0..*extent {
                    let idx = AVal {
                        shape: Vec::new(),
                        el: vec![konst(i as f64)],
                    };
                    let r = self.block(f, env, body, vec![idx], depth + 1)?;
                    acc = Some(match acc {
                        None => r.el.into_iter().map(|x| unknown(x.deps)).collect(),
                        Some(acc) => acc
                            .iter()
                            .zip(&r.el)
                            .map(|(x, y)| unknown(union(&x.deps, &y.deps)))
                            .collect(),
                    });
                }
                acc.unwrap_or_else(|| vec![konst(0.0); n])
            }
            Op::Map { .. } | Op::ReduceBatch(..) => {
                return Err(unsupported("batched values (map, reduce_batch)"));
            }
            Op::Call { func, args } => {
                let mut actual = Vec::with_capacity(args.len());
                for a in args {
                    actual.push(Self::get(env, *a)?.clone());
                }
                let callee = self.callee(*func)?;
                return self.function(callee, actual, depth + 1);
            }
            Op::Deriv { .. } => return Err(AdError::unexpanded()),
            Op::TileMap { .. } => return Err(AdError::tiled()),
        };
        if out.len() != n {
            return Err(AdError::internal(format!(
                "sparsity of `{}` has {} elements where {} were expected",
                v.op.mnemonic(),
                out.len(),
                n
            )));
        }
        Ok(AVal { shape, el: out })
    }

    fn callee(&self, func: FuncId) -> Result<&'m Function, AdError> {
        let module = self.module;
        module
            .functions
            .get(func)
            .ok_or_else(|| AdError::internal("a call of a missing function"))
    }

    fn unroll(
        &mut self,
        f: &Function,
        env: &mut HashMap<ValueId, AVal>,
        extents: &[usize],
        body: &Block,
        n: usize,
        depth: usize,
    ) -> Result<Vec<El>, AdError> {
        let mut out = Vec::with_capacity(n);
        let total = numel(extents)?;
        let mut idx = vec![0usize; extents.len()];
        for _ in 0..total {
            let args = idx
                .iter()
                .map(|&i| AVal {
                    shape: Vec::new(),
                    el: vec![El {
                        deps: self.empty(),
                        val: Some(i as f64),
                    }],
                })
                .collect();
            let r = self.block(f, env, body, args, depth + 1)?;
            out.extend(r.el);
            // Next index, row-major.
            for k in (0..idx.len()).rev() {
                if let (Some(i), Some(&e)) = (idx.get_mut(k), extents.get(k)) {
                    *i += 1;
                    if *i < e {
                        break;
                    }
                    *i = 0;
                }
            }
        }
        Ok(out)
    }
}

/// Number of elements of a shape, or an error on overflow.
/// The elements of a transform's spectrum (real parts, then imaginary) from `signal`'s
/// signals of `len` points each: `per` frequencies per signal, each depending on every
/// point of its signal.
fn spectra_of(empty: &Deps, signal: &[El], len: usize, per: usize) -> Vec<El> {
    let part: Vec<El> = (signal.chunks(len.max(1)))
        .map(|x| union_all(empty, x.iter().map(|x| &x.deps)))
        .flat_map(|d| std::iter::repeat_n(d, per))
        .map(|deps| El { deps, val: None })
        .collect();
    [part.clone(), part].concat()
}

/// The elements of an inverse transform's signals from `spectrum` (real parts, then
/// imaginary; `len` frequencies per signal): `points` per signal, each depending on every
/// frequency, both parts, of its spectrum.
fn signals_of(empty: &Deps, spectrum: &[El], len: usize, points: usize) -> Vec<El> {
    let (re, im) = spectrum.split_at(spectrum.len() / 2);
    (re.chunks(len.max(1)).zip(im.chunks(len.max(1))))
        .flat_map(|(r, i)| {
            let deps = union_all(empty, r.iter().chain(i).map(|x| &x.deps));
            std::iter::repeat_n(El { deps, val: None }, points)
        })
        .collect()
}

pub(crate) fn numel(shape: &[usize]) -> Result<usize, AdError> {
    sci_ir::types::element_count(shape)
        .ok_or_else(|| AdError::request("A value of the function has too many elements."))
}

fn broadcast(a: &AVal, shape: &[usize]) -> Result<Vec<El>, AdError> {
    let n = numel(shape)?;
    let lead = shape.len().saturating_sub(a.shape.len());
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let mut pos = 0usize;
        for (k, &ext) in a.shape.iter().enumerate() {
            let i = if ext == 1 {
                0
            } else {
                idx.get(k + lead).copied().unwrap_or(0)
            };
            pos = pos * ext + i;
        }
        out.push(
            a.el.get(pos)
                .cloned()
                .ok_or_else(|| AdError::internal("broadcast"))?,
        );
        for k in (0..idx.len()).rev() {
            if let (Some(i), Some(&e)) = (idx.get_mut(k), shape.get(k)) {
                *i += 1;
                if *i < e {
                    break;
                }
                *i = 0;
            }
        }
    }
    Ok(out)
}

/// `a[idx…]` where unknown indices may be anything in range.
fn index(
    a: &AVal,
    idx: &[Option<f64>],
    fill: Option<f64>,
    empty: &Deps,
) -> Result<Vec<El>, AdError> {
    let k = idx.len();
    let tail = numel(a.shape.get(k..).unwrap_or(&[]))?;
    let lead: Vec<usize> = a.shape.iter().take(k).copied().collect();
    // Candidate positions along each leading axis.
    let mut candidates: Vec<Vec<usize>> = Vec::with_capacity(k);
    let mut maybe_out = false;
    for (i, &ext) in idx.iter().zip(&lead) {
        match i {
            Some(x) if *x >= 0.0 && x.fract() == 0.0 && (*x as usize) < ext => {
                candidates.push(vec![*x as usize])
            }
            Some(_) => {
                candidates.push(Vec::new());
                maybe_out = true;
            }
            None => {
                candidates.push((0..ext).collect());
                maybe_out = true;
            }
        }
    }
    let mut out: Vec<El> = (0..tail)
        .map(|_| El {
            deps: empty.clone(),
            val: None,
        })
        .collect();
    let mut first = true;
    let mut rows: Vec<usize> = vec![0];
    for (c, &ext) in candidates.iter().zip(&lead) {
        let mut next = Vec::with_capacity(rows.len() * c.len());
        for r in &rows {
            for &i in c {
                next.push(r * ext + i);
            }
        }
        rows = next;
    }
    for r in rows {
        for (t, o) in out.iter_mut().enumerate() {
            let x =
                a.el.get(r * tail + t)
                    .ok_or_else(|| AdError::internal("index"))?;
            if first {
                *o = x.clone();
            } else {
                o.deps = union(&o.deps, &x.deps);
                o.val = None;
            }
        }
        first = false;
    }
    if first {
        // Every candidate is out of range: the fill value.
        for o in &mut out {
            o.val = fill;
        }
    } else if maybe_out {
        for o in &mut out {
            o.val = None;
        }
    }
    Ok(out)
}

fn unary(op: UnaryOp, x: f64) -> Option<f64> {
    Some(match op {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Tan => x.tan(),
        UnaryOp::Asin => x.asin(),
        UnaryOp::Acos => x.acos(),
        UnaryOp::Atan => x.atan(),
        UnaryOp::Sinh => x.sinh(),
        UnaryOp::Cosh => x.cosh(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Floor => x.floor(),
        UnaryOp::Not => f64::from(u8::from(x == 0.0)),
        UnaryOp::Erf | UnaryOp::Sigmoid | UnaryOp::Softplus | UnaryOp::Gelu | UnaryOp::Dgelu => {
            return None;
        }
    })
}

fn binary(op: BinaryOp, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Min => sci_ir::interp::min_nan(a, b),
        BinaryOp::Max => sci_ir::interp::max_nan(a, b),
        BinaryOp::Atan2 => a.atan2(b),
        BinaryOp::And => f64::from(u8::from(a != 0.0 && b != 0.0)),
        BinaryOp::Or => f64::from(u8::from(a != 0.0 || b != 0.0)),
    })
}

pub(crate) fn compare(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

fn cast(x: f64, to: DType) -> f64 {
    sci_ir::interp::cast(x, to)
}
