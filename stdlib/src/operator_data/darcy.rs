//! Steady Darcy flow `−∇·(a(x)∇u(x)) = f` on the unit square with `u = 0` on the boundary,
//! the second benchmark of Li et al.: a five-point finite-volume scheme on the nodes
//! `(x_i, y_j) = (i h, j h)`, `h = 1/(m − 1)`, solved by a sparse Cholesky factorisation.
//!
//! **The scheme.** Each interior node owns the square cell of side `h` around it; the flux
//! through the face it shares with a neighbour is `a_face (u_P − u_N)/h` and, over the
//! face's length `h`, the balance of the cell is
//! `Σ_N a_PN (u_P − u_N) = h² f`, with `u_N = 0` for a neighbour on the boundary. The face
//! coefficient is the **harmonic mean** `2 a_P a_N / (a_P + a_N)` of the coefficients of
//! the two nodes: `a` is piecewise constant (3 or 12 in the benchmark), and across a jump
//! the two half-cells conduct in series, so the harmonic mean is the one that keeps the
//! flux continuous (exact for a layered medium); the arithmetic mean would let a face
//! between 3 and 12 conduct 7.5 where the series value is 4.8. Second order where `a` is
//! smooth; at the jumps, as any scheme that does not fit the interface, first order.
//!
//! **The solve.** The matrix is symmetric positive definite (a weighted graph Laplacian
//! plus the boundary's terms on the diagonal) and its pattern depends on the grid alone,
//! so [`DarcySolver::new`] orders it (AMD) and factorises it symbolically once, and each
//! sample only assembles the values and factorises them numerically
//! ([`DarcySolver::solve_into`] with a [`DarcyWorkspace`] per thread), with faer run
//! sequentially: the caller parallelises across samples.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::sparse::linalg::cholesky::{
    CholeskySymbolicParams, SymbolicCholesky, SymmetricOrdering, factorize_symbolic_cholesky,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par, Side};

use crate::Error;

/// The factorisation's symbolic part for one grid, shared by every sample (and thread).
pub struct DarcySolver {
    /// Nodes per axis, boundary included.
    points: usize,
    /// The lower triangle's pattern (CSC): per interior node, itself, then its neighbours
    /// at `+y` and `+x` where those are interior.
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
    symbolic: SymbolicCholesky<usize>,
}

/// What one thread reuses from sample to sample: the matrix's values, the factor's values
/// and faer's scratch memory.
pub struct DarcyWorkspace {
    values: Vec<f64>,
    factor: Vec<f64>,
    rhs: Vec<f64>,
    scratch: MemBuffer,
}

impl DarcySolver {
    /// The solver for a grid of `points × points` nodes (at least 3 per axis, for one
    /// interior node).
    pub fn new(points: usize) -> Result<DarcySolver, Error> {
        if points < 3 {
            return Err(Error::input(format!(
                "The Darcy problem needs at least 3 nodes per axis (one interior node); got \
                 {points}."
            )));
        }
        let inner = points - 2;
        let unknowns = inner.checked_mul(inner).ok_or_else(|| {
            Error::input(format!("A grid of {points} × {points} nodes is too large."))
        })?;
        let mut col_ptr = Vec::with_capacity(unknowns + 1);
        let mut row_idx = Vec::with_capacity(3 * unknowns);
        col_ptr.push(0);
        for i in 0..inner {
            for j in 0..inner {
                let p = i * inner + j;
                row_idx.push(p);
                if j + 1 < inner {
                    row_idx.push(p + 1);
                }
                if i + 1 < inner {
                    row_idx.push(p + inner);
                }
                col_ptr.push(row_idx.len());
            }
        }
        let pattern =
            SymbolicSparseColMatRef::new_checked(unknowns, unknowns, &col_ptr, None, &row_idx);
        let symbolic = factorize_symbolic_cholesky(
            pattern,
            Side::Lower,
            SymmetricOrdering::Amd,
            CholeskySymbolicParams::default(),
        )
        .map_err(|e| {
            Error::numerical(format!(
                "The symbolic factorisation of the {unknowns} × {unknowns} Darcy matrix \
                 failed: {e:?}."
            ))
        })?;
        Ok(DarcySolver {
            points,
            col_ptr,
            row_idx,
            symbolic,
        })
    }

    /// Nodes per axis.
    pub fn points(&self) -> usize {
        self.points
    }

    /// The memory one thread's solves reuse.
    pub fn workspace(&self) -> Result<DarcyWorkspace, Error> {
        let unknowns = self.col_ptr.len() - 1;
        let scratch = StackReq::any_of(&[
            self.symbolic
                .factorize_numeric_llt_scratch::<f64>(Par::Seq, Default::default()),
            self.symbolic.solve_in_place_scratch::<f64>(1, Par::Seq),
        ]);
        let scratch = MemBuffer::try_new(scratch).map_err(|_| {
            Error::numerical("Not enough memory for the Darcy solver's scratch space.")
        })?;
        Ok(DarcyWorkspace {
            values: vec![0.0; self.row_idx.len()],
            factor: vec![0.0; self.symbolic.len_val()],
            rhs: vec![0.0; unknowns],
            scratch,
        })
    }

    /// Solves with coefficient `a` (row-major `[m, m]` at the nodes: element `i·m + j` at
    /// `(x_i, y_j)`, boundary nodes included, every value positive) and constant source
    /// `f`; returns `u` on the same nodes, zero on the boundary.
    pub fn solve(&self, a: &[f64], f: f64) -> Result<Vec<f64>, Error> {
        let mut workspace = self.workspace()?;
        let mut u = vec![0.0; self.points * self.points];
        self.solve_into(&mut workspace, a, f, &mut u)?;
        Ok(u)
    }

    /// [`DarcySolver::solve`] into `u` (`m²` values), reusing `workspace`.
    pub fn solve_into(
        &self,
        workspace: &mut DarcyWorkspace,
        a: &[f64],
        f: f64,
        u: &mut [f64],
    ) -> Result<(), Error> {
        let m = self.points;
        let nodes = m * m;
        if a.len() != nodes || u.len() != nodes {
            return Err(Error::input(format!(
                "The Darcy grid has {m} × {m} = {nodes} nodes, but the coefficient has {} \
                 values and the solution {}.",
                a.len(),
                u.len()
            )));
        }
        if let Some(bad) = a.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(Error::input(format!(
                "The Darcy coefficient must be positive and finite everywhere; it has {bad}."
            )));
        }
        if !f.is_finite() {
            return Err(Error::input(format!(
                "The Darcy source must be finite; got {f}."
            )));
        }
        let h = 1.0 / (m - 1) as f64;
        let inner = m - 2;
        let face = |p: usize, q: usize| 2.0 * a[p] * a[q] / (a[p] + a[q]);
        let mut k = 0;
        for i in 1..=inner {
            for j in 1..=inner {
                let node = i * m + j;
                let (east, north) = (face(node, node + m), face(node, node + 1));
                workspace.values[k] = face(node, node - m) + east + face(node, node - 1) + north;
                k += 1;
                // The same order as the pattern: +y, then +x, where interior.
                if j < inner {
                    workspace.values[k] = -north;
                    k += 1;
                }
                if i < inner {
                    workspace.values[k] = -east;
                    k += 1;
                }
            }
        }
        let unknowns = inner * inner;
        let pattern = SymbolicSparseColMatRef::new_checked(
            unknowns,
            unknowns,
            &self.col_ptr,
            None,
            &self.row_idx,
        );
        let matrix = SparseColMatRef::new(pattern, &workspace.values);
        let stack = MemStack::new(&mut workspace.scratch);
        let factor = self
            .symbolic
            .factorize_numeric_llt(
                &mut workspace.factor,
                matrix,
                Side::Lower,
                LltRegularization::default(),
                Par::Seq,
                stack,
                Default::default(),
            )
            .map_err(|e| {
                Error::numerical(format!(
                    "The Darcy matrix could not be factorised (it should be positive \
                     definite): {e:?}."
                ))
            })?;
        workspace.rhs.fill(h * h * f);
        factor.solve_in_place_with_conj(
            Conj::No,
            MatMut::from_column_major_slice_mut(&mut workspace.rhs, unknowns, 1),
            Par::Seq,
            stack,
        );
        u.fill(0.0);
        for i in 1..=inner {
            let row = &workspace.rhs[(i - 1) * inner..i * inner];
            u[i * m + 1..i * m + 1 + inner].copy_from_slice(row);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `u(1/2, 1/2)` for `−Δu = 1` on the unit square with `u = 0` on the boundary, by the
    /// double sine series `u = Σ_{k,l odd} 16 sin(πkx) sin(πly) / (π⁴ k l (k² + l²))`.
    fn centre_of_the_torsion_problem() -> f64 {
        let mut sum = 0.0;
        for k in (1..4000).step_by(2) {
            for l in (1..4000).step_by(2) {
                let sign = if ((k - 1) / 2 + (l - 1) / 2) % 2 == 0 {
                    1.0
                } else {
                    -1.0
                };
                let (k, l) = (k as f64, l as f64);
                sum += sign * 16.0 / (std::f64::consts::PI.powi(4) * k * l * (k * k + l * l));
            }
        }
        sum
    }

    #[test]
    fn constant_coefficient_matches_the_series_at_the_centre() {
        let m = 101;
        let solver = DarcySolver::new(m).unwrap();
        let u = solver.solve(&vec![1.0; m * m], 1.0).unwrap();
        let centre = u[50 * m + 50];
        let exact = centre_of_the_torsion_problem();
        // 0.0736713…; the five-point scheme's error is O(h²) ≈ 1e-4 · (a modest constant).
        assert!((exact - 0.073_671_3).abs() < 1e-6, "{exact}");
        assert!((centre - exact).abs() < 2e-5, "{centre} vs {exact}");
        // The maximum is at the centre, and the solution is symmetric under x ↔ y.
        let max = u.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(max, centre);
        for (i, j) in [(10, 30), (2, 97), (50, 3)] {
            assert!((u[i * m + j] - u[j * m + i]).abs() < 1e-14);
        }
        // Zero on the boundary.
        for t in 0..m {
            assert_eq!(u[t], 0.0);
            assert_eq!(u[(m - 1) * m + t], 0.0);
            assert_eq!(u[t * m], 0.0);
            assert_eq!(u[t * m + m - 1], 0.0);
        }
    }

    /// `Σ_N a_PN (u_P − u_N) − h² f` at interior node `(i, j)`, with harmonic face means.
    fn residual(a: &[f64], u: &[f64], m: usize, f: f64, i: usize, j: usize) -> f64 {
        let h = 1.0 / (m - 1) as f64;
        let p = i * m + j;
        let mut r = -h * h * f;
        for q in [p - m, p + m, p - 1, p + 1] {
            r += 2.0 * a[p] * a[q] / (a[p] + a[q]) * (u[p] - u[q]);
        }
        r
    }

    #[test]
    fn a_piecewise_constant_coefficient_satisfies_the_discrete_balance() {
        // A checkerboard of 3 and 12 in quarters: the scheme's equations hold at every
        // interior node to rounding, and the solution is positive inside (maximum
        // principle: a positive source and a zero boundary).
        let m = 33;
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                a[i * m + j] = if (i < m / 2) == (j < m / 2) {
                    12.0
                } else {
                    3.0
                };
            }
        }
        let solver = DarcySolver::new(m).unwrap();
        let mut workspace = solver.workspace().unwrap();
        let mut u = vec![0.0; m * m];
        for f in [1.0, 2.5] {
            solver.solve_into(&mut workspace, &a, f, &mut u).unwrap();
            let scale = (1.0 / (m - 1) as f64).powi(2) * f;
            for i in 1..m - 1 {
                for j in 1..m - 1 {
                    let r = residual(&a, &u, m, f, i, j);
                    assert!(r.abs() < 1e-12 * scale.max(1.0), "({i}, {j}): {r}");
                    assert!(u[i * m + j] > 0.0);
                }
            }
        }
        // Linear in the source: the workspace was reused between the two solves.
        let again = solver.solve(&a, 1.0).unwrap();
        for (x, y) in u.iter().zip(&again) {
            assert!((x - 2.5 * y).abs() < 1e-14);
        }
    }

    #[test]
    fn bad_grids_and_coefficients_are_refused() {
        assert!(DarcySolver::new(2).is_err());
        let solver = DarcySolver::new(5).unwrap();
        assert!(solver.solve(&[1.0; 24], 1.0).is_err());
        let mut a = vec![1.0; 25];
        a[7] = 0.0;
        assert!(solver.solve(&a, 1.0).is_err());
        a[7] = f64::NAN;
        assert!(solver.solve(&a, 1.0).is_err());
        assert!(solver.solve(&[1.0; 25], f64::INFINITY).is_err());
    }
}
