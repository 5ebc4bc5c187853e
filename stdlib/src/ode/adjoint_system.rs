//! The adjoint equations as an [`OdeSystem`] the solvers integrate: `λ` backwards in time.
//!
//! With `s = −t`, the adjoint of `y' = f(t, y; θ)` is `dλ/ds = (∂f/∂y)ᵀ λ`, a linear system
//! whose Jacobian is `(∂f/∂y)ᵀ`. The forward problem's stability carries over: the
//! eigenvalues of `Jᵀ` are those of `J`, so a stiff forward problem gives a stiff adjoint,
//! integrated forwards in `s` by the same implicit method, with the transposed sparsity
//! pattern. The state `y(t)` comes from the forward solve's dense output.

use std::cell::RefCell;

use super::{DenseOutput, OdeSystem, Sparsity};

/// `dλ/ds = J(−s, y(−s))ᵀ λ`, starting from [`AdjointSystem::set_start`].
pub(super) struct AdjointSystem<'a> {
    system: &'a dyn OdeSystem,
    p: &'a [f64],
    forward: &'a DenseOutput,
    /// `λ` where the current segment starts.
    start: RefCell<Vec<f64>>,
    /// The forward state at the time of the last call, and scratch for `(∂f/∂θ)ᵀ λ`, which
    /// the right-hand side does not need.
    y: RefCell<Vec<f64>>,
    discard: RefCell<Vec<f64>>,
    /// The forward system's pattern transposed, and per entry of it the position of the
    /// same entry in the forward pattern; scratch for the forward values.
    transposed: Option<(Sparsity, Vec<usize>)>,
    values: RefCell<Vec<f64>>,
    /// The first interpolation that failed (a time outside the forward solve's span).
    failed: RefCell<Option<crate::Error>>,
}

impl<'a> AdjointSystem<'a> {
    pub(super) fn new(
        system: &'a dyn OdeSystem,
        p: &'a [f64],
        forward: &'a DenseOutput,
    ) -> AdjointSystem<'a> {
        let n = system.n_states();
        let transposed = system.sparsity().map(transpose);
        let nnz = system.sparsity().map_or(0, |s| s.col_idx.len());
        AdjointSystem {
            system,
            p,
            forward,
            start: RefCell::new(vec![0.0; n]),
            y: RefCell::new(vec![0.0; n]),
            discard: RefCell::new(vec![0.0; system.n_params()]),
            transposed,
            values: RefCell::new(vec![0.0; nnz]),
            failed: RefCell::new(None),
        }
    }

    /// The initial value of the next segment's solve.
    pub(super) fn set_start(&self, lambda: &[f64]) {
        self.start.borrow_mut().copy_from_slice(lambda);
    }

    /// The first failure to interpolate the forward solution, if any.
    pub(super) fn take_failure(&self) -> Option<crate::Error> {
        self.failed.borrow_mut().take()
    }

    /// The forward state at `t = −s` into `self.y`; on failure, NaN (so the solver stops)
    /// and the error kept.
    fn state_at(&self, s: f64) -> std::cell::RefMut<'_, Vec<f64>> {
        let mut y = self.y.borrow_mut();
        if let Err(e) = self.forward.clamped_into(-s, &mut y) {
            y.fill(f64::NAN);
            self.failed.borrow_mut().get_or_insert(e);
        }
        y
    }

    /// `out = J(t, y(t))ᵀ v` at `t = −s`.
    fn transposed_product(&self, s: f64, v: &[f64], out: &mut [f64]) {
        let y = self.state_at(s);
        let mut discard = self.discard.borrow_mut();
        self.system.rhs_vjp(-s, &y, self.p, v, out, &mut discard);
    }
}

impl OdeSystem for AdjointSystem<'_> {
    fn n_states(&self) -> usize {
        self.system.n_states()
    }

    fn n_params(&self) -> usize {
        0
    }

    fn rhs(&self, s: f64, lambda: &[f64], _p: &[f64], out: &mut [f64]) {
        self.transposed_product(s, lambda, out);
    }

    fn jac_mul(&self, s: f64, _lambda: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        self.transposed_product(s, v, out);
    }

    fn param_jac_mul(&self, _s: f64, _l: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }

    fn jacobian(&self, s: f64, _lambda: &[f64], _p: &[f64], jac: &mut [f64]) {
        let n = self.system.n_states();
        let y = self.state_at(s);
        self.system.jacobian(-s, &y, self.p, jac);
        for i in 0..n {
            for j in i + 1..n {
                jac.swap(i * n + j, j * n + i);
            }
        }
    }

    fn sparsity(&self) -> Option<&Sparsity> {
        self.transposed.as_ref().map(|(pattern, _)| pattern)
    }

    fn jacobian_values(&self, s: f64, _lambda: &[f64], _p: &[f64], values: &mut [f64]) {
        let Some((_, from)) = &self.transposed else {
            return;
        };
        let y = self.state_at(s);
        let mut forward = self.values.borrow_mut();
        self.system.jacobian_values(-s, &y, self.p, &mut forward);
        for (v, &k) in values.iter_mut().zip(from) {
            *v = forward[k];
        }
    }

    fn jacobian_values_cost(&self) -> Option<usize> {
        self.system.jacobian_values_cost()
    }

    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0.copy_from_slice(&self.start.borrow());
    }

    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }

    fn state_name(&self, i: usize) -> Option<String> {
        self.system.state_name(i).map(|name| format!("λ of {name}"))
    }
}

/// The transpose of a square pattern (columns sorted within each row, as [`Sparsity`]
/// requires), and per entry of it the position of the same entry in `pattern`.
fn transpose(pattern: &Sparsity) -> (Sparsity, Vec<usize>) {
    let n = pattern.n;
    let mut counts = vec![0usize; n + 1];
    for &c in &pattern.col_idx {
        counts[c + 1] += 1;
    }
    for r in 0..n {
        counts[r + 1] += counts[r];
    }
    let row_ptr = counts.clone();
    let mut next = counts;
    let mut col_idx = vec![0; pattern.col_idx.len()];
    let mut from = vec![0; pattern.col_idx.len()];
    // Rows of `pattern` in increasing order fill each transposed row in increasing column
    // order, so the result is sorted without a sort.
    for r in 0..n {
        for k in pattern.row_ptr[r]..pattern.row_ptr[r + 1] {
            let c = pattern.col_idx[k];
            let at = next[c];
            col_idx[at] = r;
            from[at] = k;
            next[c] += 1;
        }
    }
    (
        Sparsity {
            n,
            row_ptr,
            col_idx,
        },
        from,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_keeps_every_entry_and_sorts_rows() {
        // [[a, b, 0], [0, c, 0], [d, 0, e]]
        let pattern = Sparsity {
            n: 3,
            row_ptr: vec![0, 2, 3, 5],
            col_idx: vec![0, 1, 1, 0, 2],
        };
        let (t, from) = transpose(&pattern);
        // [[a, 0, d], [b, c, 0], [0, 0, e]]
        assert_eq!(t.row_ptr, vec![0, 2, 4, 5]);
        assert_eq!(t.col_idx, vec![0, 2, 0, 1, 2]);
        assert_eq!(from, vec![0, 3, 1, 2, 4]);
    }
}
