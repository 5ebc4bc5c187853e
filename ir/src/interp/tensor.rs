//! Run-time values of the interpreter: row-major `f64` tensors, optionally batched.

use super::EvalError;
use crate::types::element_count;
use std::fmt;

/// A tensor value: `shape` per point, and for a batched value the number of points.
///
/// `data` is row-major; a batched tensor stores its points one after another
/// (`points × elements`). Every dtype is stored as `f64`: `i64` values are integers, `bool`
/// values are 0 or 1, `f32` values are exactly representable in `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub batch: Option<usize>,
    pub data: Vec<f64>,
}

impl Tensor {
    /// A scalar.
    pub fn scalar(x: f64) -> Tensor {
        Tensor {
            shape: Vec::new(),
            batch: None,
            data: vec![x],
        }
    }

    /// A vector of `data.len()` elements.
    pub fn vector(data: Vec<f64>) -> Tensor {
        Tensor {
            shape: vec![data.len()],
            batch: None,
            data,
        }
    }

    /// An unbatched tensor; `data` must have `element_count(shape)` elements.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Tensor, EvalError> {
        let count = element_count(&shape);
        if count != Some(data.len()) {
            return Err(EvalError::new(format!(
                "A tensor of shape {} needs {} elements but {} were given.",
                show_shape(&shape),
                count
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "too many".into()),
                data.len()
            )));
        }
        Ok(Tensor {
            shape,
            batch: None,
            data,
        })
    }

    /// A batched tensor of `points` points of `shape`; `data` holds the points one after
    /// another.
    pub fn batch(shape: Vec<usize>, points: usize, data: Vec<f64>) -> Result<Tensor, EvalError> {
        let count = element_count(&shape).and_then(|c| c.checked_mul(points));
        if count != Some(data.len()) {
            return Err(EvalError::new(format!(
                "A batch of {points} points of shape {} needs {} elements but {} were given.",
                show_shape(&shape),
                count
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "too many".into()),
                data.len()
            )));
        }
        Ok(Tensor {
            shape,
            batch: Some(points),
            data,
        })
    }

    /// Elements per point (all elements for an unbatched tensor).
    pub fn elements(&self) -> usize {
        element_count(&self.shape).unwrap_or(0)
    }

    /// The data of point `p` of a batched tensor.
    pub fn point(&self, p: usize) -> Option<&[f64]> {
        let n = self.elements();
        self.data
            .get(p.checked_mul(n)?..p.checked_add(1)?.checked_mul(n)?)
    }

    /// The single element of a scalar (the first element of anything else).
    pub fn as_scalar(&self) -> Option<f64> {
        self.data.first().copied()
    }

    /// True if both tensors have the same shape and batch and every pair of elements is
    /// within `atol + rtol·|expected|` (NaN matches NaN).
    pub fn approx_eq(&self, expected: &Tensor, rtol: f64, atol: f64) -> bool {
        self.shape == expected.shape
            && self.batch == expected.batch
            && self.data.len() == expected.data.len()
            && self
                .data
                .iter()
                .zip(&expected.data)
                .all(|(a, e)| close(*a, *e, rtol, atol))
    }
}

/// `|a - e| <= atol + rtol·|e|`, with NaN equal to NaN and infinities equal to themselves.
pub fn close(a: f64, e: f64, rtol: f64, atol: f64) -> bool {
    if a.is_nan() || e.is_nan() {
        return a.is_nan() && e.is_nan();
    }
    if a == e {
        return true;
    }
    (a - e).abs() <= atol + rtol * e.abs()
}

pub(crate) fn show_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

impl fmt::Display for Tensor {
    /// `1.5` for a scalar, `[1, 2]` for a vector, nested brackets for higher ranks,
    /// `batch 3 × [...]` for a batch (points listed in brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn nested(out: &mut String, shape: &[usize], data: &[f64]) {
            match shape.split_first() {
                None => out.push_str(&crate::print::format_f64(
                    data.first().copied().unwrap_or(f64::NAN),
                )),
                Some((&n, rest)) => {
                    let sub = element_count(rest).unwrap_or(0);
                    out.push('[');
                    for i in 0..n {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        let part = data.get(i * sub..(i + 1) * sub).unwrap_or(&[]);
                        nested(out, rest, part);
                    }
                    out.push(']');
                }
            }
        }
        let mut out = String::new();
        match self.batch {
            None => nested(&mut out, &self.shape, &self.data),
            Some(points) => {
                out.push_str(&format!("batch {points} ["));
                for p in 0..points {
                    if p > 0 {
                        out.push_str(", ");
                    }
                    nested(&mut out, &self.shape, self.point(p).unwrap_or(&[]));
                }
                out.push(']');
            }
        }
        f.write_str(&out)
    }
}
