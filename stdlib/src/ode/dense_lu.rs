//! The dense linear solver of the implicit methods: faer's LU with full pivoting (the same
//! factorisation as diffsol's `FaerLU`, so the same numbers), with every buffer allocated
//! once per solve instead of once per factorisation and per linear solve.
//!
//! Why our own: diffsol's `FaerLU` allocates the factor, four permutation arrays and a
//! scratch buffer on every Jacobian update, and a scratch buffer on every Newton iteration's
//! solve. On a small stiff system (Robertson: 3 states, 339 steps) removing them took a
//! third off the whole solve. The sparse solver (`FaerSparseLU`) already keeps its
//! symbolic factorisation and scratch across updates, so it stays as it is.

use std::cell::RefCell;

use diffsol::{Context, FaerContext, FaerMat, FaerVec, LaError, LaLinearOp, Matrix};
use diffsol::{MatrixCommon, Vector, VectorCommon};
use diffsol_la::LinearSolver;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::full_pivoting::{factor, solve};
use faer::perm::PermRef;
use faer::reborrow::ReborrowMut;
use faer::{Conj, MatMut, MatRef};

/// The LU factors of one batch of the matrix, packed as faer leaves them: the strict lower
/// triangle is `L` (unit diagonal), the upper triangle `U`; `P·A·Q = L·U`.
struct Factors {
    n: usize,
    /// Column-major `n × n`.
    lu: Vec<f64>,
    row: Vec<usize>,
    row_inv: Vec<usize>,
    col: Vec<usize>,
    col_inv: Vec<usize>,
}

/// Largest system solved by the substitutions of [`Factors::solve_small`]: below this,
/// faer's general solve (permutations through a scratch matrix, recursive triangular
/// blocks) costs several times the arithmetic of the solve itself.
const SMALL_SYSTEM: usize = 16;

impl Factors {
    /// Solves `A·x = b` in place (`x` holds `b`) by plain substitutions: `y = P·b`,
    /// `L·z = y`, `U·w = z`, `x = Q·w` (`buffer` holds the permuted vector).
    fn solve_small(&self, x: &mut [f64], buffer: &mut Vec<f64>) {
        let n = x.len();
        buffer.clear();
        buffer.extend(self.row.iter().map(|&r| x[r]));
        let lu = &self.lu;
        for i in 0..n {
            let mut v = buffer[i];
            for j in 0..i {
                v -= lu[i + j * n] * buffer[j];
            }
            buffer[i] = v;
        }
        for i in (0..n).rev() {
            let mut v = buffer[i];
            for j in i + 1..n {
                v -= lu[i + j * n] * buffer[j];
            }
            buffer[i] = v / lu[i + i * n];
        }
        for (i, &c) in self.col.iter().enumerate() {
            x[c] = buffer[i];
        }
    }

    fn new(n: usize) -> Factors {
        Factors {
            n,
            lu: vec![0.0; n * n],
            row: vec![0; n],
            row_inv: vec![0; n],
            col: vec![0; n],
            col_inv: vec![0; n],
        }
    }
}

/// Dense LU solves with buffers reused across factorisations (see the module header).
#[derive(Default)]
pub(crate) struct DenseLu {
    /// Everything sized by `set_sparsity` (`None` before it).
    prepared: Option<Prepared>,
    /// Whether the factors hold a factorisation of the current linearisation.
    factored: bool,
    /// The permuted right-hand side of [`Factors::solve_small`].
    small_buffer: RefCell<Vec<f64>>,
}

/// The matrix, factors and scratch of one problem size.
struct Prepared {
    /// The matrix the operator is written into, then copied into the factors.
    matrix: FaerMat<f64>,
    /// One set of factors per batch of the matrix.
    factors: Vec<Factors>,
    factor_scratch: MemBuffer,
    /// The permutations' scratch for one right-hand side column (solves go column by column).
    solve_scratch: RefCell<MemBuffer>,
}

impl LinearSolver<FaerMat<f64>> for DenseLu {
    fn set_sparsity<C>(&mut self, op: &C)
    where
        C: LaLinearOp<T = f64, V = FaerVec<f64>, M = FaerMat<f64>, C = FaerContext>,
    {
        let (n, ncols) = (op.nrows(), op.ncols());
        let par = op.context().par;
        self.prepared = Some(Prepared {
            matrix: FaerMat::new_from_sparsity(n, ncols, op.sparsity(), *op.context()),
            factors: (0..op.context().nbatch())
                .map(|_| Factors::new(n))
                .collect(),
            factor_scratch: MemBuffer::new(factor::lu_in_place_scratch::<usize, f64>(
                n,
                n,
                par,
                Default::default(),
            )),
            solve_scratch: RefCell::new(MemBuffer::new(
                solve::solve_in_place_scratch::<usize, f64>(n, 1, par).or(
                    solve::solve_transpose_in_place_scratch::<usize, f64>(n, 1, par),
                ),
            )),
        });
        self.factored = false;
    }

    fn set_linearisation<C>(&mut self, op: &C)
    where
        C: LaLinearOp<T = f64, V = FaerVec<f64>, M = FaerMat<f64>, C = FaerContext>,
    {
        let Some(Prepared {
            matrix,
            factors,
            factor_scratch,
            ..
        }) = self.prepared.as_mut()
        else {
            self.factored = false;
            return;
        };
        op.matrix_inplace(matrix);
        let n = matrix.nrows();
        let par = matrix.context().par;
        let data = matrix.inner();
        for (b, f) in factors.iter_mut().enumerate() {
            let mut lu = MatMut::from_column_major_slice_mut(&mut f.lu, n, n);
            lu.copy_from(data.subcols(b * n, n));
            factor::lu_in_place(
                lu,
                &mut f.row,
                &mut f.row_inv,
                &mut f.col,
                &mut f.col_inv,
                par,
                MemStack::new(factor_scratch),
                Default::default(),
            );
        }
        self.factored = true;
    }

    fn solve_in_place(&self, x: &mut FaerVec<f64>) -> Result<(), LaError> {
        self.solve_columns(x, false)
    }

    fn solve_transpose_in_place(&self, x: &mut FaerVec<f64>) -> Result<(), LaError> {
        self.solve_columns(x, true)
    }
}

impl DenseLu {
    /// Solves each batch column of `x` with the factors of its batch (a single factorisation
    /// serves every column; otherwise columns are grouped over the factorisations as diffsol
    /// broadcasts batches).
    fn solve_columns(&self, x: &mut FaerVec<f64>, transpose: bool) -> Result<(), LaError> {
        let Some(Prepared {
            factors,
            solve_scratch,
            ..
        }) = self.prepared.as_ref().filter(|_| self.factored)
        else {
            return Err(LaError::Other("the LU factorisation was not formed".into()));
        };
        let par = x.context().par;
        let columns = x.inner().ncols();
        let groups = factors.len();
        if groups == 0 || !columns.is_multiple_of(groups) {
            return Err(LaError::Other(format!(
                "{columns} right-hand sides do not spread over {groups} factorisations"
            )));
        }
        let mut scratch = solve_scratch.borrow_mut();
        let data = x.inner_mut();
        for c in 0..columns {
            let f = &factors[c * groups / columns];
            let n = f.n;
            if !transpose
                && n <= SMALL_SYSTEM
                && let Some(column) = data.rb_mut().col_mut(c).try_as_col_major_mut()
            {
                f.solve_small(column.as_slice_mut(), &mut self.small_buffer.borrow_mut());
                continue;
            }
            let row = PermRef::new_checked(&f.row, &f.row_inv, n);
            let col = PermRef::new_checked(&f.col, &f.col_inv, n);
            let rhs = data.rb_mut().col_mut(c).as_mat_mut();
            let stack = MemStack::new(&mut scratch);
            let lu = MatRef::from_column_major_slice(&f.lu, n, n);
            if transpose {
                solve::solve_transpose_in_place_with_conj(
                    lu,
                    lu,
                    row,
                    col,
                    Conj::No,
                    rhs,
                    par,
                    stack,
                );
            } else {
                solve::solve_in_place_with_conj(lu, lu, row, col, Conj::No, rhs, par, stack);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diffsol::DenseMatrix;

    /// A fixed matrix as the operator the solver factorises.
    struct Fixed(FaerMat<f64>);

    impl LaLinearOp for Fixed {
        type T = f64;
        type V = FaerVec<f64>;
        type M = FaerMat<f64>;
        type C = FaerContext;
        fn nrows(&self) -> usize {
            self.0.nrows()
        }
        fn ncols(&self) -> usize {
            self.0.ncols()
        }
        fn context(&self) -> &FaerContext {
            self.0.context()
        }
        fn matrix_inplace(&self, y: &mut FaerMat<f64>) {
            y.copy_from(&self.0);
        }
    }

    /// A well-conditioned matrix whose pivots move rows and columns (`a[(i, j)]` at
    /// `values[i + j·n]`, column-major).
    fn matrix(n: usize) -> Vec<f64> {
        let mut a = vec![0.0; n * n];
        for j in 0..n {
            for i in 0..n {
                let k = (i * 7 + j * 3) % 11;
                a[i + j * n] = k as f64 - 5.0 + if (i + 1) % n == j { 20.0 } else { 0.0 };
            }
        }
        a
    }

    fn residual(a: &[f64], n: usize, x: &[f64], b: &[f64], transpose: bool) -> f64 {
        (0..n)
            .map(|i| {
                let ax: f64 = (0..n)
                    .map(|j| if transpose { a[j + i * n] } else { a[i + j * n] } * x[j])
                    .sum();
                (ax - b[i]).abs()
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn solves_and_transposed_solves_match_the_matrix() {
        // Sizes on both sides of SMALL_SYSTEM: the substitutions and faer's solve.
        for n in [1, 2, 3, 5, SMALL_SYSTEM, SMALL_SYSTEM + 1, 40] {
            let ctx = FaerContext::new();
            let a = matrix(n);
            let op = Fixed(FaerMat::from_vec(n, n, a.clone(), ctx));
            let mut lu = DenseLu::default();
            let b: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.5).collect();
            let mut x = FaerVec::from_vec(b.clone(), ctx);
            assert!(
                lu.solve_in_place(&mut x).is_err(),
                "solve before a factorisation"
            );
            lu.set_sparsity(&op);
            lu.set_linearisation(&op);
            for transpose in [false, true] {
                let mut x = FaerVec::from_vec(b.clone(), ctx);
                if transpose {
                    lu.solve_transpose_in_place(&mut x).unwrap();
                } else {
                    lu.solve_in_place(&mut x).unwrap();
                }
                let r = residual(&a, n, &x.clone_as_vec(), &b, transpose);
                assert!(r < 1e-12, "n = {n}, transpose = {transpose}: residual {r}");
            }
        }
    }

    #[test]
    fn one_factorisation_serves_every_batch_lane() {
        let n = 4;
        let a = matrix(n);
        let op = Fixed(FaerMat::from_vec(n, n, a.clone(), FaerContext::new()));
        let mut lu = DenseLu::default();
        lu.set_sparsity(&op);
        lu.set_linearisation(&op);
        let b: Vec<f64> = (0..3 * n).map(|i| (i as f64).sin()).collect();
        let mut x = FaerVec::from_vec(b.clone(), FaerContext::with_nbatch(3));
        lu.solve_in_place(&mut x).unwrap();
        let x = x.clone_as_vec();
        for lane in 0..3 {
            let s = lane * n..(lane + 1) * n;
            assert!(residual(&a, n, &x[s.clone()], &b[s], false) < 1e-12);
        }
    }
}
