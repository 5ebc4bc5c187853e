//! Compile-time evaluation of checked expressions (constant folding).
//!
//! Constants, parameter defaults, index ranges, domain bounds and options are checked like
//! any expression and then evaluated here, so folding follows exactly the semantics of the
//! language (including calls of user functions). Evaluation is bounded: at most
//! [`BUDGET`] elementary operations and [`MAX_DEPTH`] nested evaluations, so a huge
//! reduction or a deep call chain is reported, never a hang or a stack overflow.

use crate::hir::{BinderId, FnHir, HExpr, HExprKind, Reduction, Unary};
use sci_diag::Span;
use sci_ir::BinaryOp as Binary;
use sci_ir::CmpOp as Compare;

/// Most elementary operations one evaluation may do.
pub const BUDGET: u64 = 4_000_000;
/// Deepest nesting of evaluation (expressions and calls together).
pub const MAX_DEPTH: u32 = 600;

/// A constant tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    /// Row-major elements (booleans are 0/1, integers are whole numbers).
    pub data: Vec<f64>,
}

impl Tensor {
    /// A scalar.
    pub fn scalar(v: f64) -> Tensor {
        Tensor {
            shape: Vec::new(),
            data: vec![v],
        }
    }

    /// The single value of a scalar (or the first element).
    pub fn first(&self) -> f64 {
        self.data.first().copied().unwrap_or(f64::NAN)
    }
}

/// Why an expression has no compile-time value.
#[derive(Clone, Debug, PartialEq)]
pub enum FoldError {
    /// It depends on something known only at run time (what, where).
    NotConstant(&'static str, Span),
    /// It would take too long, or nests too deeply, to evaluate.
    TooExpensive(Span),
    /// A constant index is outside its array.
    OutOfRange(Span),
}

/// Evaluates a closed expression.
pub fn eval(functions: &[FnHir], h: &HExpr) -> Result<Tensor, FoldError> {
    Folder::new(functions).eval(h)
}

/// Evaluates an expression whose index variables have the given values (an unrolled loop).
pub fn eval_with(
    functions: &[FnHir],
    binders: &[(BinderId, i64)],
    h: &HExpr,
) -> Result<Tensor, FoldError> {
    let mut folder = Folder::new(functions);
    folder.binders = binders.to_vec();
    folder.eval(h)
}

/// Evaluates an expression for every combination of binder values (`u[i in 0..n] = …`),
/// giving the elements of the whole array (binder axes first).
pub fn eval_defn(
    functions: &[FnHir],
    binders: &[(BinderId, i64, i64)],
    value: &HExpr,
) -> Result<Tensor, FoldError> {
    let mut folder = Folder::new(functions);
    let flat = eval_defn_with(&mut folder, &[], binders, value)?;
    let mut shape: Vec<usize> = binders
        .iter()
        .map(|b| usize::try_from(b.2 - b.1).unwrap_or(0))
        .collect();
    shape.extend(value.ty.shape.iter().copied());
    Ok(Tensor {
        shape,
        data: flat.data,
    })
}

struct Folder<'a> {
    functions: &'a [FnHir],
    budget: u64,
    depth: u32,
    binders: Vec<(BinderId, i64)>,
    frames: Vec<Vec<Tensor>>,
}

fn count(shape: &[usize]) -> usize {
    sci_ir::types::element_count(shape).unwrap_or(usize::MAX)
}

impl<'a> Folder<'a> {
    fn new(functions: &'a [FnHir]) -> Folder<'a> {
        Folder {
            functions,
            budget: BUDGET,
            depth: 0,
            binders: Vec::new(),
            frames: Vec::new(),
        }
    }

    fn spend(&mut self, n: usize, span: Span) -> Result<(), FoldError> {
        let n = n as u64;
        if n > self.budget {
            return Err(FoldError::TooExpensive(span));
        }
        self.budget -= n;
        Ok(())
    }

    fn eval(&mut self, h: &HExpr) -> Result<Tensor, FoldError> {
        if self.depth >= MAX_DEPTH {
            return Err(FoldError::TooExpensive(h.span));
        }
        self.depth += 1;
        let r = self.eval_inner(h);
        self.depth -= 1;
        r
    }

    fn eval_inner(&mut self, h: &HExpr) -> Result<Tensor, FoldError> {
        let span = h.span;
        self.spend(1, span)?;
        let not_const = |what| Err(FoldError::NotConstant(what, span));
        match &h.kind {
            HExprKind::Const(v) => Ok(Tensor::scalar(*v)),
            HExprKind::ConstArray(data) => Ok(Tensor {
                shape: h.ty.shape.clone(),
                data: data.clone(),
            }),
            HExprKind::Array(items) => {
                let mut data = Vec::new();
                let mut inner = Vec::new();
                for item in items {
                    let t = self.eval(item)?;
                    inner = t.shape;
                    data.extend(t.data);
                }
                let mut shape = vec![items.len()];
                shape.extend(inner);
                Ok(Tensor { shape, data })
            }
            HExprKind::Param(_) => not_const("a parameter"),
            HExprKind::State(_) | HExprKind::StateAt { .. } => not_const("a state"),
            HExprKind::Let(_) => not_const("a `let`"),
            HExprKind::Output(_) => not_const("an output"),
            HExprKind::Time => not_const("the time `t`"),
            HExprKind::Coord(_) => not_const("a coordinate"),
            HExprKind::DataColumn { .. } => not_const("a data column"),
            HExprKind::Residual(_) => not_const("a residual"),
            HExprKind::Der(_) => not_const("a time derivative"),
            HExprKind::Expval { .. } => not_const("an expectation value"),
            HExprKind::Net { .. } => not_const("a neural network"),
            HExprKind::Deriv { .. } => not_const("a derivative"),
            HExprKind::ReduceBatch(..) => not_const("a batch reduction"),
            HExprKind::IndexVar(id) => match self.binders.iter().rev().find(|(b, _)| b == id) {
                Some((_, v)) => Ok(Tensor::scalar(*v as f64)),
                None => not_const("an index variable"),
            },
            HExprKind::Local(i) => match self.frames.last().and_then(|f| f.get(*i)) {
                Some(t) => Ok(t.clone()),
                None => not_const("a function parameter"),
            },
            HExprKind::Unary(op, a) => {
                let a = self.eval(a)?;
                self.spend(a.data.len(), span)?;
                let f = unary_fn(*op).ok_or(FoldError::NotConstant(
                    "a function that is not evaluated at compile time",
                    span,
                ))?;
                Ok(Tensor {
                    data: a.data.iter().map(|&x| f(x)).collect(),
                    shape: a.shape,
                })
            }
            HExprKind::ToReal(a) => self.eval(a),
            HExprKind::Powi(a, n) => {
                let a = self.eval(a)?;
                self.spend(a.data.len(), span)?;
                Ok(Tensor {
                    data: a.data.iter().map(|&x| x.powi(*n)).collect(),
                    shape: a.shape,
                })
            }
            HExprKind::Binary(op, a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                let op = *op;
                self.zip(&a, &b, &h.ty.shape, span, |x, y| binary(op, x, y))
            }
            HExprKind::Compare(op, a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                let op = *op;
                self.zip(&a, &b, &h.ty.shape, span, |x, y| {
                    f64::from(u8::from(compare(op, x, y)))
                })
            }
            HExprKind::Select(c, a, b) => {
                let c = self.eval(c)?;
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                let n = count(&h.ty.shape);
                self.spend(n, span)?;
                let pick = |t: &Tensor, k: usize| {
                    if t.data.is_empty() {
                        f64::NAN
                    } else {
                        t.data[k % t.data.len()]
                    }
                };
                let data = (0..n)
                    .map(|k| {
                        if pick(&c, k) != 0.0 {
                            pick(&a, k)
                        } else {
                            pick(&b, k)
                        }
                    })
                    .collect();
                Ok(Tensor {
                    shape: h.ty.shape.clone(),
                    data,
                })
            }
            HExprKind::Index {
                base,
                indices,
                fill,
            } => {
                let base = self.eval(base)?;
                let mut offset = 0usize;
                let mut stride_shape = base.shape.clone();
                let mut out_of_range = false;
                for (k, ix) in indices.iter().enumerate() {
                    let v = self.eval(ix)?.first();
                    let dim = base.shape.get(k).copied().unwrap_or(0);
                    if v < 0.0 || v >= dim as f64 || v.fract() != 0.0 {
                        out_of_range = true;
                        break;
                    }
                    stride_shape.remove(0);
                    offset += (v as usize) * count(&stride_shape);
                }
                let rest: Vec<usize> = base.shape.iter().skip(indices.len()).copied().collect();
                let n = count(&rest);
                self.spend(n, span)?;
                if out_of_range {
                    return match fill {
                        Some(f) => Ok(Tensor {
                            data: vec![*f; n],
                            shape: rest,
                        }),
                        None => Err(FoldError::OutOfRange(span)),
                    };
                }
                let data = base
                    .data
                    .get(offset..offset + n)
                    .ok_or(FoldError::OutOfRange(span))?
                    .to_vec();
                Ok(Tensor { shape: rest, data })
            }
            HExprKind::Reduce { op, binders, body } => {
                let bs: Vec<(BinderId, i64, i64)> =
                    binders.iter().map(|b| (b.id, b.start, b.end)).collect();
                let saved = self.binders.clone();
                let all = {
                    let mut sub = Folder {
                        functions: self.functions,
                        budget: self.budget,
                        depth: self.depth,
                        binders: Vec::new(),
                        frames: self.frames.clone(),
                    };
                    let r = eval_defn_with(&mut sub, &saved, &bs, body);
                    self.budget = sub.budget;
                    r?
                };
                let elems = count(&body.ty.shape).max(1);
                let terms = all.data.len() / elems;
                let mut data = Vec::with_capacity(elems);
                for e in 0..elems {
                    let vals = (0..terms).map(|t| all.data[t * elems + e]);
                    data.push(reduce(*op, vals, terms));
                }
                Ok(Tensor {
                    shape: body.ty.shape.clone(),
                    data,
                })
            }
            HExprKind::ReduceAll(op, a) => {
                let a = self.eval(a)?;
                let n = a.data.len();
                Ok(Tensor::scalar(reduce(*op, a.data.into_iter(), n)))
            }
            HExprKind::Dot(a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                self.spend(a.data.len(), span)?;
                Ok(Tensor::scalar(
                    a.data.iter().zip(&b.data).map(|(x, y)| x * y).sum(),
                ))
            }
            HExprKind::MatVec(m, v) => {
                let m = self.eval(m)?;
                let v = self.eval(v)?;
                let (rows, cols) = (h.ty.shape.first().copied().unwrap_or(0), v.data.len());
                self.spend(rows.saturating_mul(cols), span)?;
                let data = (0..rows)
                    .map(|r| {
                        (0..cols)
                            .map(|c| {
                                m.data.get(r * cols + c).copied().unwrap_or(f64::NAN) * v.data[c]
                            })
                            .sum()
                    })
                    .collect();
                Ok(Tensor {
                    shape: h.ty.shape.clone(),
                    data,
                })
            }
            HExprKind::MatMul(a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                let rows = a.shape.first().copied().unwrap_or(0);
                let inner = a.shape.get(1).copied().unwrap_or(0);
                let cols = b.shape.get(1).copied().unwrap_or(0);
                self.spend(rows.saturating_mul(inner).saturating_mul(cols), span)?;
                self.spend(rows.saturating_mul(cols), span)?;
                let mut data = vec![0.0; rows * cols];
                for r in 0..rows {
                    for c in 0..cols {
                        data[r * cols + c] = (0..inner)
                            .map(|k| {
                                a.data.get(r * inner + k).copied().unwrap_or(f64::NAN)
                                    * b.data.get(k * cols + c).copied().unwrap_or(f64::NAN)
                            })
                            .sum();
                    }
                }
                Ok(Tensor {
                    shape: vec![rows, cols],
                    data,
                })
            }
            HExprKind::Transpose(a) => {
                let a = self.eval(a)?;
                let rows = a.shape.first().copied().unwrap_or(0);
                let cols = a.shape.get(1).copied().unwrap_or(0);
                self.spend(a.data.len(), span)?;
                let mut data = vec![0.0; rows * cols];
                for r in 0..rows {
                    for c in 0..cols {
                        data[c * rows + r] = a.data.get(r * cols + c).copied().unwrap_or(f64::NAN);
                    }
                }
                Ok(Tensor {
                    shape: vec![cols, rows],
                    data,
                })
            }
            HExprKind::Rfft(a, modes) => {
                let a = self.eval(a)?;
                let n = a.shape.last().copied().unwrap_or(1).max(1);
                self.spend(a.data.len().saturating_mul(2 * modes), span)?;
                let data = sci_ir::spectral::rfft(&a.data, n, *modes);
                let shape = [
                    &[2][..],
                    &a.shape[..a.shape.len().saturating_sub(1)],
                    &[*modes],
                ];
                Ok(Tensor {
                    shape: shape.concat(),
                    data,
                })
            }
            HExprKind::Rfft2(a, modes) => {
                let a = self.eval(a)?;
                // The checker gave it two axes at least.
                let split = a.shape.len().saturating_sub(2);
                let (lead, last) = a.shape.split_at(split);
                let (n1, n2) = (
                    last.first().copied().unwrap_or(1),
                    last.get(1).copied().unwrap_or(1),
                );
                let (n1, n2) = (&n1, &n2);
                let per = 2 * modes[0] * modes[1];
                self.spend(a.data.len().saturating_mul(2 * per), span)?;
                let data = sci_ir::spectral::rfft2(&a.data, [*n1, *n2], *modes);
                Ok(Tensor {
                    shape: [&[2][..], lead, &[2 * modes[0], modes[1]]].concat(),
                    data,
                })
            }
            HExprKind::Irfft2(a, n) => {
                let a = self.eval(a)?;
                // The checker gave it `[2, ..., rows, m2]`.
                let split = a.shape.len().saturating_sub(2);
                let (head, last) = a.shape.split_at(split);
                let middle = head.get(1..).unwrap_or(&[]);
                let (rows, m2) = (
                    last.first().copied().unwrap_or(1),
                    last.get(1).copied().unwrap_or(1),
                );
                let (rows, m2) = (&rows, &m2);
                self.spend(a.data.len().saturating_mul(n[0] * n[1]), span)?;
                let data = sci_ir::spectral::irfft2(&a.data, [*rows, *m2], *n);
                Ok(Tensor {
                    shape: [middle, &n[..]].concat(),
                    data,
                })
            }
            HExprKind::Irfft(a, n) => {
                let a = self.eval(a)?;
                let m = a.shape.last().copied().unwrap_or(1).max(1);
                self.spend(a.data.len().saturating_mul(*n), span)?;
                let data = sci_ir::spectral::irfft(&a.data, m, *n);
                let middle = a
                    .shape
                    .get(1..a.shape.len().saturating_sub(1))
                    .unwrap_or(&[]);
                Ok(Tensor {
                    shape: [middle, &[*n]].concat(),
                    data,
                })
            }
            HExprKind::Call { func, args } => {
                let Some(f) = self.functions.get(func.index()) else {
                    return not_const("an unknown function");
                };
                let mut frame = Vec::with_capacity(args.len());
                for a in args {
                    frame.push(self.eval(a)?);
                }
                self.frames.push(frame);
                let saved = std::mem::take(&mut self.binders);
                let r = self.eval(&f.body);
                self.binders = saved;
                self.frames.pop();
                r
            }
        }
    }

    /// Elementwise combination with scalar / trailing-suffix broadcasting.
    fn zip(
        &mut self,
        a: &Tensor,
        b: &Tensor,
        shape: &[usize],
        span: Span,
        f: impl Fn(f64, f64) -> f64,
    ) -> Result<Tensor, FoldError> {
        let n = count(shape);
        self.spend(n, span)?;
        if a.data.is_empty() || b.data.is_empty() {
            return Ok(Tensor {
                shape: shape.to_vec(),
                data: Vec::new(),
            });
        }
        let data = (0..n)
            .map(|k| f(a.data[k % a.data.len()], b.data[k % b.data.len()]))
            .collect();
        Ok(Tensor {
            shape: shape.to_vec(),
            data,
        })
    }
}

fn eval_defn_with(
    folder: &mut Folder<'_>,
    outer: &[(BinderId, i64)],
    binders: &[(BinderId, i64, i64)],
    value: &HExpr,
) -> Result<Tensor, FoldError> {
    let mut data = Vec::new();
    if binders.iter().any(|b| b.2 <= b.1) {
        return Ok(Tensor {
            shape: Vec::new(),
            data,
        });
    }
    let mut idx: Vec<i64> = binders.iter().map(|b| b.1).collect();
    loop {
        folder.binders = outer.to_vec();
        folder
            .binders
            .extend(binders.iter().zip(&idx).map(|(b, &v)| (b.0, v)));
        let t = folder.eval(value)?;
        data.extend(t.data);
        let mut k = binders.len();
        loop {
            if k == 0 {
                return Ok(Tensor {
                    shape: Vec::new(),
                    data,
                });
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < binders[k].2 {
                break;
            }
            idx[k] = binders[k].1;
        }
    }
}

fn reduce(op: Reduction, vals: impl Iterator<Item = f64>, n: usize) -> f64 {
    match op {
        Reduction::Sum => vals.sum(),
        Reduction::Prod => vals.product(),
        Reduction::Max => vals.fold(f64::NEG_INFINITY, f64::max),
        Reduction::Min => vals.fold(f64::INFINITY, f64::min),
        Reduction::Mean => vals.sum::<f64>() / n as f64,
    }
}

fn unary_fn(op: Unary) -> Option<fn(f64) -> f64> {
    Some(match op {
        Unary::Neg => |x: f64| -x,
        Unary::Abs => f64::abs,
        Unary::Sqrt => f64::sqrt,
        Unary::Exp => f64::exp,
        Unary::Log => f64::ln,
        Unary::Sin => f64::sin,
        Unary::Cos => f64::cos,
        Unary::Tan => f64::tan,
        Unary::Asin => f64::asin,
        Unary::Acos => f64::acos,
        Unary::Atan => f64::atan,
        Unary::Sinh => f64::sinh,
        Unary::Cosh => f64::cosh,
        Unary::Tanh => f64::tanh,
        Unary::Floor => f64::floor,
        Unary::Sigmoid => |x: f64| 1.0 / (1.0 + (-x).exp()),
        Unary::Softplus => |x: f64| {
            if x > 30.0 { x } else { x.exp().ln_1p() }
        },
        Unary::Not => |x: f64| f64::from(u8::from(x == 0.0)),
        // The standard library has no erf; these are evaluated at run time only.
        Unary::Erf | Unary::Gelu | Unary::Dgelu => return None,
    })
}

fn binary(op: Binary, x: f64, y: f64) -> f64 {
    match op {
        Binary::Add => x + y,
        Binary::Sub => x - y,
        Binary::Mul => x * y,
        Binary::Div => x / y,
        Binary::Pow => x.powf(y),
        Binary::Min => x.min(y),
        Binary::Max => x.max(y),
        Binary::Atan2 => x.atan2(y),
        Binary::And => f64::from(u8::from(x != 0.0 && y != 0.0)),
        Binary::Or => f64::from(u8::from(x != 0.0 || y != 0.0)),
    }
}

fn compare(op: Compare, x: f64, y: f64) -> bool {
    match op {
        Compare::Eq => x == y,
        Compare::Ne => x != y,
        Compare::Lt => x < y,
        Compare::Le => x <= y,
        Compare::Gt => x > y,
        Compare::Ge => x >= y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hir::{Binder, Ty};
    use sci_diag::FileId;

    fn sp() -> Span {
        Span::new(FileId(0), 0, 0)
    }
    fn real(shape: Vec<usize>) -> Ty {
        Ty {
            shape,
            ..Ty::real(None)
        }
    }
    fn c(v: f64) -> HExpr {
        HExpr {
            kind: HExprKind::Const(v),
            ty: Ty::real(None),
            span: sp(),
        }
    }
    fn bin(op: Binary, a: HExpr, b: HExpr, shape: Vec<usize>) -> HExpr {
        HExpr {
            kind: HExprKind::Binary(op, Box::new(a), Box::new(b)),
            ty: real(shape),
            span: sp(),
        }
    }
    fn arr(v: Vec<f64>) -> HExpr {
        HExpr {
            ty: real(vec![v.len()]),
            kind: HExprKind::ConstArray(v),
            span: sp(),
        }
    }

    #[test]
    fn arithmetic_and_broadcasting() {
        let e = bin(
            Binary::Div,
            c(1.0),
            bin(Binary::Add, c(200.0), c(1.0), vec![]),
            vec![],
        );
        assert_eq!(eval(&[], &e).unwrap().first(), 1.0 / 201.0);
        let v = bin(Binary::Mul, arr(vec![1.0, 2.0, 3.0]), c(2.0), vec![3]);
        assert_eq!(eval(&[], &v).unwrap().data, vec![2.0, 4.0, 6.0]);
    }

    #[test]
    fn reductions_over_binders() {
        let i = BinderId(0);
        let body = HExpr {
            kind: HExprKind::Powi(
                Box::new(HExpr {
                    kind: HExprKind::ToReal(Box::new(HExpr {
                        kind: HExprKind::IndexVar(i),
                        ty: Ty::int(),
                        span: sp(),
                    })),
                    ty: Ty::real(None),
                    span: sp(),
                }),
                2,
            ),
            ty: Ty::real(None),
            span: sp(),
        };
        let sum = HExpr {
            kind: HExprKind::Reduce {
                op: Reduction::Sum,
                binders: vec![Binder {
                    id: i,
                    name: "i".into(),
                    start: 0,
                    end: 4,
                    span: sp(),
                }],
                body: Box::new(body.clone()),
            },
            ty: Ty::real(None),
            span: sp(),
        };
        assert_eq!(eval(&[], &sum).unwrap().first(), 14.0);
        let table = eval_defn(&[], &[(i, 1, 4)], &body).unwrap();
        assert_eq!(table.shape, vec![3]);
        assert_eq!(table.data, vec![1.0, 4.0, 9.0]);
    }

    #[test]
    fn run_time_values_are_not_constant() {
        let p = HExpr {
            kind: HExprKind::Param(crate::hir::ParamId(0)),
            ty: Ty::real(None),
            span: sp(),
        };
        assert!(matches!(
            eval(&[], &bin(Binary::Add, p, c(1.0), vec![])),
            Err(FoldError::NotConstant("a parameter", _))
        ));
    }

    #[test]
    fn huge_reductions_are_refused() {
        let sum = HExpr {
            kind: HExprKind::Reduce {
                op: Reduction::Sum,
                binders: vec![Binder {
                    id: BinderId(0),
                    name: "i".into(),
                    start: 0,
                    end: 1 << 40,
                    span: sp(),
                }],
                body: Box::new(c(1.0)),
            },
            ty: Ty::real(None),
            span: sp(),
        };
        assert!(matches!(eval(&[], &sum), Err(FoldError::TooExpensive(_))));
    }
}
