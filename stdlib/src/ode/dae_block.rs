//! The algebraic block `∂f_alg/∂z` of a semi-explicit DAE, factored: the matrix Newton's
//! method solves with when it makes the algebraic states consistent, and the one whose
//! singularity means that the algebraic equations do not determine the algebraic states
//! (the DAE's index is higher than 1).
//!
//! Written here rather than taken from diffsol or faer because we need the diagnosis, not
//! just the factors: which equation involves no algebraic state, which algebraic state
//! appears in no equation, or a numerical rank deficiency. The block is usually small (the
//! algebraic states of a model), so a dense LU with full pivoting, `O(m³)`, is cheap and
//! the most reliable rank test short of an SVD.

/// Why the block is singular. Positions are among the algebraic states (and their rows),
/// in increasing state order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Singular {
    /// These rows (equations) are zero: they involve no algebraic state.
    ZeroRows(Vec<usize>),
    /// These columns (algebraic states) are zero: no algebraic equation involves them.
    ZeroColumns(Vec<usize>),
    /// Neither, but the rows are (numerically) linearly dependent.
    Rank,
    /// An entry is NaN or infinite.
    NotFinite,
}

/// The factors `P·D·A·Q = L·U` of an `m × m` block `A`, with `D` the row equilibration
/// (each row scaled to a largest entry of 1) and `P`, `Q` the pivoting permutations.
pub(crate) struct Block {
    m: usize,
    /// Row-major: the strict lower triangle is `L` (unit diagonal), the rest `U`.
    lu: Vec<f64>,
    /// `row[i]`: the row of `D·A` in position `i`.
    row: Vec<usize>,
    /// `col[j]`: the column of `D·A` in position `j`.
    col: Vec<usize>,
    /// `D`'s diagonal.
    scale: Vec<f64>,
}

/// A pivot this small relative to the first (after equilibration, 1) makes the block
/// singular: the rounding error of the elimination is about `m ε`, so a smaller pivot is
/// indistinguishable from zero. Regular blocks this ill-conditioned cannot be solved to any
/// useful accuracy either.
fn pivot_floor(m: usize) -> f64 {
    (m.max(1) as f64) * 1e3 * f64::EPSILON
}

impl Block {
    /// Factors the row-major `m × m` block `a`.
    pub fn factor(m: usize, mut a: Vec<f64>) -> Result<Block, Singular> {
        if a.iter().any(|v| !v.is_finite()) {
            return Err(Singular::NotFinite);
        }
        let zero_rows: Vec<usize> = (0..m)
            .filter(|&i| a[i * m..(i + 1) * m].iter().all(|&v| v == 0.0))
            .collect();
        if !zero_rows.is_empty() {
            return Err(Singular::ZeroRows(zero_rows));
        }
        let zero_columns: Vec<usize> = (0..m)
            .filter(|&j| (0..m).all(|i| a[i * m + j] == 0.0))
            .collect();
        if !zero_columns.is_empty() {
            return Err(Singular::ZeroColumns(zero_columns));
        }
        // Equilibrate the rows, so that the rank test does not depend on the equations'
        // units.
        let scale: Vec<f64> = (0..m)
            .map(|i| {
                let big = a[i * m..(i + 1) * m]
                    .iter()
                    .fold(0.0f64, |b, v| b.max(v.abs()));
                1.0 / big
            })
            .collect();
        for (i, s) in scale.iter().enumerate() {
            for v in &mut a[i * m..(i + 1) * m] {
                *v *= s;
            }
        }
        let mut row: Vec<usize> = (0..m).collect();
        let mut col: Vec<usize> = (0..m).collect();
        let floor = pivot_floor(m);
        let mut first = 0.0;
        for k in 0..m {
            // The largest remaining entry is the pivot.
            let (mut pi, mut pj, mut big) = (k, k, -1.0);
            for i in k..m {
                for j in k..m {
                    let v = a[i * m + j].abs();
                    if v > big {
                        (pi, pj, big) = (i, j, v);
                    }
                }
            }
            if k == 0 {
                first = big;
            }
            if big <= floor * first {
                return Err(Singular::Rank);
            }
            if pi != k {
                for j in 0..m {
                    a.swap(k * m + j, pi * m + j);
                }
                row.swap(k, pi);
            }
            if pj != k {
                for i in 0..m {
                    a.swap(i * m + k, i * m + pj);
                }
                col.swap(k, pj);
            }
            let pivot = a[k * m + k];
            for i in k + 1..m {
                let l = a[i * m + k] / pivot;
                a[i * m + k] = l;
                if l != 0.0 {
                    for j in k + 1..m {
                        a[i * m + j] -= l * a[k * m + j];
                    }
                }
            }
        }
        Ok(Block {
            m,
            lu: a,
            row,
            col,
            scale,
        })
    }

    /// Solves `A·x = b` in place (`x` holds `b` on entry).
    pub fn solve(&self, x: &mut [f64]) {
        let m = self.m;
        let mut w: Vec<f64> = self.row.iter().map(|&r| x[r] * self.scale[r]).collect();
        for i in 0..m {
            let row = &self.lu[i * m..(i + 1) * m];
            let v = w[i]
                - row[..i]
                    .iter()
                    .zip(&w[..i])
                    .map(|(l, w)| l * w)
                    .sum::<f64>();
            w[i] = v;
        }
        for i in (0..m).rev() {
            let row = &self.lu[i * m..(i + 1) * m];
            let v = w[i]
                - row[i + 1..]
                    .iter()
                    .zip(&w[i + 1..])
                    .map(|(u, w)| u * w)
                    .sum::<f64>();
            w[i] = v / row[i];
        }
        for (j, &c) in self.col.iter().enumerate() {
            x[c] = w[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest residual of `A·x = b` relative to the size of its row's terms.
    fn residual(a: &[f64], m: usize, x: &[f64], b: &[f64]) -> f64 {
        (0..m)
            .map(|i| {
                let ax: f64 = (0..m).map(|j| a[i * m + j] * x[j]).sum();
                let size: f64 = (0..m).map(|j| (a[i * m + j] * x[j]).abs()).sum();
                (ax - b[i]).abs() / (size + b[i].abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn solves_badly_scaled_regular_blocks() {
        // Rows in very different units, pivots that move rows and columns.
        let m = 4;
        let a = vec![
            0.0, 2e6, 1e6, 0.0, //
            1e-6, 0.0, 3e-6, 2e-6, //
            4.0, 1.0, 0.0, 1.0, //
            0.0, 0.0, 5e3, 1e3,
        ];
        let block = Block::factor(m, a.clone()).expect("regular");
        let b = vec![1.0, -2.0, 3.0, 0.5];
        let mut x = b.clone();
        block.solve(&mut x);
        assert!(residual(&a, m, &x, &b) < 1e-14, "{x:?}");
    }

    #[test]
    fn names_zero_rows_and_columns_and_finds_dependent_rows() {
        let zero_row = vec![1.0, 2.0, 0.0, 0.0];
        assert_eq!(
            Block::factor(2, zero_row).err(),
            Some(Singular::ZeroRows(vec![1]))
        );
        let zero_column = vec![0.0, 1.0, 0.0, 3.0];
        assert_eq!(
            Block::factor(2, zero_column).err(),
            Some(Singular::ZeroColumns(vec![0]))
        );
        // The third row is the sum of the first two, up to rounding.
        let dependent = vec![1.0, 2.0, 3.0, 0.1, 0.7, 0.2, 1.1, 2.7, 3.2 + 1e-17];
        assert_eq!(Block::factor(3, dependent).err(), Some(Singular::Rank));
        assert_eq!(
            Block::factor(1, vec![f64::NAN]).err(),
            Some(Singular::NotFinite)
        );
    }
}
