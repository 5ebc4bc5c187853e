//! The bridge from an [`OdeSystem`] to diffsol's operator traits.
//!
//! We implement diffsol's op traits ourselves rather than going through its closure
//! builders, so that
//! - the Jacobian matrix is filled straight from [`OdeSystem::jacobian`] (dense) or
//!   [`OdeSystem::jacobian_values`] (sparse, pattern from [`OdeSystem::sparsity`]) instead
//!   of `n` Jacobian-vector products or diffsol's NaN-propagation sparsity detection (which
//!   is wrong for compiled code with branches);
//! - Jacobian-vector products and parameter-Jacobian products go to
//!   [`OdeSystem::jac_mul`] and [`OdeSystem::param_jac_mul`];
//! - we count right-hand side and Jacobian evaluations and remember where the right-hand
//!   side first stopped being finite, for the statistics and the error messages;
//! - a DAE gets its diagonal mass matrix ([`MassOp`]) and starts from the consistent state
//!   and sensitivities computed in `dae.rs` ([`Start`]).
//!
//! Sensitivity equations call the products on *batched* vectors (one batch lane per
//! parameter), so every product runs through `for_each_batch_host`, which broadcasts the
//! unbatched state over the lanes.

use std::cell::{Cell, Ref, RefCell};

use diffsol::matrix::sparsity::MatrixSparsity;
use diffsol::{
    ConstantOp, ConstantOpSens, DenseMatrix, FaerContext, FaerMat, FaerSparseLU, FaerSparseMat,
    FaerVec, LinearOp, Matrix, NonLinearOp, NonLinearOpJacobian, NonLinearOpSens, OdeEquations,
    OdeEquationsRef, Op, UnitCallable, Vector, VectorIndex,
};

use super::dense_lu::DenseLu;
use super::{OdeSystem, Sparsity};
use crate::Error;

/// Counters and diagnostics shared by the operators of one solve attempt.
#[derive(Default)]
pub(crate) struct Counters {
    pub rhs_evals: Cell<usize>,
    pub jacobian_evals: Cell<usize>,
    /// The first time at which the right-hand side returned NaN or infinity.
    pub first_non_finite: Cell<Option<f64>>,
}

/// The matrix types we solve with: faer's dense and sparse (CSC) matrices. Each knows how
/// to hold the system's Jacobian.
pub(crate) trait SystemMatrix: Matrix<T = f64, V = FaerVec<f64>, C = FaerContext> {
    /// The linear solver of the implicit methods for this storage.
    type Solver: diffsol_la::LinearSolver<Self>;

    /// The Jacobian's storage layout for a system with `n` states and the given pattern.
    fn layout(n: usize, pattern: Option<&Sparsity>) -> Result<JacobianLayout<Self>, Error>;

    /// Writes `∂f/∂y` at `(t, x)` into `m`, which was allocated from the layout's sparsity.
    fn write_jacobian(m: &mut Self, rhs: &RhsOp<'_, Self>, x: &[f64], t: f64);

    /// The pattern of an `n × np` parameter Jacobian: sparse storage needs one (we declare
    /// it full), dense storage none.
    fn full_pattern(n: usize, np: usize) -> Option<Self::Sparsity>;

    /// The pattern of an `n × n` diagonal mass matrix: the whole diagonal (the algebraic
    /// states' zeros included, so that the pattern does not depend on the values) for
    /// sparse storage, none for dense.
    fn diagonal_pattern(n: usize) -> Option<Self::Sparsity>;
}

/// Where the Jacobian's entries live.
pub(crate) struct JacobianLayout<M: Matrix> {
    /// The sparsity handed to diffsol (`None` for dense storage).
    pub sparsity: Option<M::Sparsity>,
    /// For sparse storage: `storage[k]` is the index in the CSC value array of the `k`-th
    /// entry of the system's CSR pattern.
    pub storage: Vec<usize>,
}

impl SystemMatrix for FaerMat<f64> {
    type Solver = DenseLu;

    fn layout(_n: usize, _pattern: Option<&Sparsity>) -> Result<JacobianLayout<Self>, Error> {
        Ok(JacobianLayout {
            sparsity: None,
            storage: Vec::new(),
        })
    }

    fn write_jacobian(m: &mut Self, rhs: &RhsOp<'_, Self>, x: &[f64], t: f64) {
        let n = rhs.n;
        let mut buf = rhs.scratch.borrow_mut();
        match rhs.pattern {
            // A known pattern: the compressed values are cheaper than the dense Jacobian
            // (whose default implementation takes `n` products).
            Some(pattern) => {
                buf.clear();
                buf.resize(pattern.col_idx.len(), 0.0);
                rhs.sys.jacobian_values(t, x, &rhs.p, &mut buf);
                m.fill(0.0);
                for r in 0..n {
                    for k in pattern.row_ptr[r]..pattern.row_ptr[r + 1] {
                        m.set_index(r, pattern.col_idx[k], buf[k]);
                    }
                }
            }
            None => {
                buf.clear();
                buf.resize(n * n, 0.0);
                rhs.sys.jacobian(t, x, &rhs.p, &mut buf);
                for i in 0..n {
                    for j in 0..n {
                        m.set_index(i, j, buf[i * n + j]);
                    }
                }
            }
        }
    }

    fn full_pattern(_n: usize, _np: usize) -> Option<Self::Sparsity> {
        None
    }

    fn diagonal_pattern(_n: usize) -> Option<Self::Sparsity> {
        None
    }
}

impl SystemMatrix for FaerSparseMat<f64> {
    type Solver = FaerSparseLU<f64>;

    fn layout(n: usize, pattern: Option<&Sparsity>) -> Result<JacobianLayout<Self>, Error> {
        let Some(pattern) = pattern else {
            return Err(sparse_without_pattern());
        };
        let indices: Vec<(usize, usize)> = (0..n)
            .flat_map(|r| {
                pattern.col_idx[pattern.row_ptr[r]..pattern.row_ptr[r + 1]]
                    .iter()
                    .map(move |&c| (r, c))
            })
            .collect();
        let sparsity =
            MatrixSparsity::<Self>::try_from_indices(n, n, indices.clone()).map_err(|e| {
                Error::input(format!(
                    "The system's Jacobian sparsity pattern was rejected by the sparse solver: {e}."
                ))
            })?;
        let storage = MatrixSparsity::<Self>::get_index(&sparsity, &indices, FaerContext::new())
            .clone_as_vec();
        if storage.len() != indices.len() {
            return Err(Error::input(
                "The system's Jacobian sparsity pattern has repeated entries.",
            ));
        }
        Ok(JacobianLayout {
            sparsity: Some(sparsity),
            storage,
        })
    }

    fn write_jacobian(m: &mut Self, rhs: &RhsOp<'_, Self>, x: &[f64], t: f64) {
        let nnz = rhs.layout.storage.len();
        let mut buf = rhs.scratch.borrow_mut();
        buf.clear();
        buf.resize(nnz, 0.0);
        rhs.sys.jacobian_values(t, x, &rhs.p, &mut buf);
        // The matrix was allocated from our sparsity, so the value array has exactly `nnz`
        // entries; `get_mut` keeps a mismatch from panicking.
        if let Some(block) = m.inner_mut().first_mut() {
            let values = block.val_mut();
            for (k, &dst) in rhs.layout.storage.iter().enumerate() {
                if let Some(v) = values.get_mut(dst) {
                    *v = buf[k];
                }
            }
        }
    }

    fn full_pattern(n: usize, np: usize) -> Option<Self::Sparsity> {
        let indices = (0..np).flat_map(|j| (0..n).map(move |i| (i, j))).collect();
        MatrixSparsity::<Self>::try_from_indices(n, np, indices).ok()
    }

    fn diagonal_pattern(n: usize) -> Option<Self::Sparsity> {
        Some(MatrixSparsity::<Self>::new_diagonal(n))
    }
}

/// The input error for a sparse Jacobian without a pattern.
pub(crate) fn sparse_without_pattern() -> Error {
    Error::input(
        "A sparse Jacobian was requested, but this system does not provide a sparsity pattern.",
    )
    .with_help("use the dense or automatic Jacobian (`jacobian = auto`)")
}

/// The right-hand side `f(t, y; θ)` as a diffsol operator.
pub(crate) struct RhsOp<'s, M: SystemMatrix> {
    sys: &'s dyn OdeSystem,
    p: Vec<f64>,
    n: usize,
    np: usize,
    ctx: FaerContext,
    pattern: Option<&'s Sparsity>,
    layout: JacobianLayout<M>,
    sens_sparsity: Option<M::Sparsity>,
    scratch: RefCell<Vec<f64>>,
    /// `∂f/∂θ` (row-major `n × np`) at the `(t, y)` it was last formed at, when the system
    /// forms it in one call ([`OdeSystem::param_jacobian`]): diffsol asks for `∂f/∂θ · e_j`
    /// one parameter at a time, which would otherwise cost one product per parameter.
    param_jac: RefCell<Option<PointMatrix>>,
    /// The dense `∂f/∂y` at the `(t, y)` it was last formed at (see `jac_mul_inplace`).
    state_jac: RefCell<Option<PointMatrix>>,
    /// The sparse `∂f/∂y`'s values (in the pattern's order) at the `(t, y)` they were last
    /// formed at (see `jac_mul_inplace`).
    state_values: RefCell<Option<PointMatrix>>,
    counters: &'s Counters,
}

/// The initial state `y0(θ)` as a diffsol operator.
pub(crate) struct InitOp<'s, M: SystemMatrix> {
    sys: &'s dyn OdeSystem,
    p: Vec<f64>,
    n: usize,
    np: usize,
    ctx: FaerContext,
    sens_sparsity: Option<M::Sparsity>,
    /// A DAE's consistent start, given instead of the system's `y0` (whose algebraic states
    /// are only guesses).
    start: Option<Start>,
}

/// A DAE's consistent initial state and sensitivities (see `dae.rs`).
#[derive(Clone, Debug)]
pub(crate) struct Start {
    pub y0: Vec<f64>,
    /// `dy0/dθ` as lanes (`n` values per parameter); empty without sensitivities.
    pub s0: Vec<f64>,
}

/// A DAE's mass matrix `diag(1 for a differential state, 0 for an algebraic one)`.
pub(crate) struct MassOp<M: SystemMatrix> {
    diagonal: Vec<f64>,
    n: usize,
    np: usize,
    ctx: FaerContext,
    /// The matrix, formed once (it is constant).
    matrix: M,
    sparsity: Option<M::Sparsity>,
}

/// The equations diffsol integrates: our right-hand side and initial state, for a DAE its
/// mass matrix; no roots, outputs or resets (events are handled in `stepping.rs`).
pub(crate) struct SystemEqn<'s, M: SystemMatrix> {
    rhs: RhsOp<'s, M>,
    init: InitOp<'s, M>,
    mass: Option<MassOp<M>>,
}

impl<'s, M: SystemMatrix> SystemEqn<'s, M> {
    /// The equations of `sys` at parameters `p`; `pattern` is the validated sparsity
    /// pattern (used by both storages when present); `dae`, for a DAE, the mass matrix's
    /// diagonal and the consistent start.
    pub fn new(
        sys: &'s dyn OdeSystem,
        p: &[f64],
        pattern: Option<&'s Sparsity>,
        counters: &'s Counters,
        dae: Option<(Vec<f64>, &Start)>,
    ) -> Result<Self, Error> {
        let n = sys.n_states();
        let np = sys.n_params();
        let ctx = FaerContext::new();
        let layout = M::layout(n, pattern)?;
        let (mass, start) = match dae {
            Some((diagonal, start)) => {
                // Sparse storage keeps the algebraic states' explicit zeros, so the matrix
                // has the whole diagonal as its pattern.
                let matrix = M::from_diagonal(&FaerVec::from_vec(diagonal.clone(), ctx));
                let mass = MassOp {
                    diagonal,
                    n,
                    np,
                    ctx,
                    matrix,
                    sparsity: M::diagonal_pattern(n),
                };
                (Some(mass), Some(start.clone()))
            }
            None => (None, None),
        };
        Ok(SystemEqn {
            mass,
            rhs: RhsOp {
                sys,
                p: p.to_vec(),
                n,
                np,
                ctx,
                pattern,
                layout,
                sens_sparsity: M::full_pattern(n, np),
                scratch: RefCell::new(Vec::new()),
                param_jac: RefCell::new(None),
                state_jac: RefCell::new(None),
                state_values: RefCell::new(None),
                counters,
            },
            init: InitOp {
                sys,
                p: p.to_vec(),
                n,
                np,
                ctx,
                sens_sparsity: M::full_pattern(n, np),
                start,
            },
        })
    }
}

macro_rules! impl_op {
    ($ty:ident, $n:ident, $np:ident) => {
        impl<M: SystemMatrix> Op for $ty<'_, M> {
            type T = f64;
            type V = FaerVec<f64>;
            type M = M;
            type C = FaerContext;
            fn context(&self) -> &FaerContext {
                &self.ctx
            }
            fn nstates(&self) -> usize {
                self.$n
            }
            fn nout(&self) -> usize {
                self.$n
            }
            fn nparams(&self) -> usize {
                self.$np
            }
        }
    };
}

impl_op!(RhsOp, n, np);
impl_op!(InitOp, n, np);

impl<M: SystemMatrix> Op for MassOp<M> {
    type T = f64;
    type V = FaerVec<f64>;
    type M = M;
    type C = FaerContext;
    fn context(&self) -> &FaerContext {
        &self.ctx
    }
    fn nstates(&self) -> usize {
        self.n
    }
    fn nout(&self) -> usize {
        self.n
    }
    fn nparams(&self) -> usize {
        self.np
    }
}

impl<M: SystemMatrix> LinearOp for MassOp<M> {
    fn gemv_inplace(&self, x: &FaerVec<f64>, _t: f64, beta: f64, y: &mut FaerVec<f64>) {
        y.for_each_batch_host([x], |y, [x], _| {
            for ((y, x), d) in y.iter_mut().zip(x).zip(&self.diagonal) {
                *y = d * x + beta * *y;
            }
        });
    }

    fn matrix_inplace(&self, _t: f64, y: &mut M) {
        y.copy_from(&self.matrix);
    }

    fn sparsity(&self) -> Option<M::Sparsity> {
        self.sparsity.clone()
    }
}

impl<M: SystemMatrix> NonLinearOp for RhsOp<'_, M> {
    fn call_inplace(&self, x: &FaerVec<f64>, t: f64, y: &mut FaerVec<f64>) {
        let c = self.counters;
        c.rhs_evals.set(c.rhs_evals.get() + 1);
        y.for_each_batch_host([x], |y, [x], _| {
            self.sys.rhs(t, x, &self.p, y);
            if c.first_non_finite.get().is_none() && y.iter().any(|v| !v.is_finite()) {
                c.first_non_finite.set(Some(t));
            }
        });
    }
}

impl<M: SystemMatrix> NonLinearOpJacobian for RhsOp<'_, M> {
    fn jac_mul_inplace(&self, x: &FaerVec<f64>, t: f64, v: &FaerVec<f64>, y: &mut FaerVec<f64>) {
        // With many lanes (one per parameter when integrating sensitivities), one Jacobian
        // per point beats one product per lane: the dense one for a small system, the
        // sparse one when forming it costs fewer products than there are lanes.
        let lanes = diffsol::Context::nbatch(v.context());
        let sparse_is_cheaper = || {
            self.pattern.is_some()
                && self
                    .sys
                    .jacobian_values_cost()
                    .is_some_and(|cost| lanes > cost)
        };
        if lanes > 1 && self.n <= DENSE_PRODUCT_MAX_STATES && lanes >= self.n {
            y.for_each_batch_host([x, v], |y, [x, v], _| self.jac_mul_cached(t, x, v, y));
        } else if lanes > 1 && sparse_is_cheaper() {
            y.for_each_batch_host([x, v], |y, [x, v], _| {
                self.sparse_jac_mul_cached(t, x, v, y)
            });
        } else {
            y.for_each_batch_host([x, v], |y, [x, v], _| self.sys.jac_mul(t, x, &self.p, v, y));
        }
    }

    fn jacobian_inplace(&self, x: &FaerVec<f64>, t: f64, y: &mut M) {
        let c = self.counters;
        c.jacobian_evals.set(c.jacobian_evals.get() + 1);
        // The Jacobian is only ever formed at the (unbatched) state.
        let x = x.clone_as_vec();
        M::write_jacobian(y, self, &x, t);
    }

    fn jacobian_sparsity(&self) -> Option<M::Sparsity> {
        self.layout.sparsity.clone()
    }
}

/// A matrix formed at a point `(t, y)`, kept while the solver asks about that point again.
type PointMatrix = (f64, Vec<f64>, Vec<f64>);

/// Largest system whose products `J · v` over many lanes go through one dense Jacobian.
const DENSE_PRODUCT_MAX_STATES: usize = 64;

impl<M: SystemMatrix> RhsOp<'_, M> {
    /// `y = ∂f/∂y · v` from the dense Jacobian at `(t, x)`, formed once per point.
    fn jac_mul_cached(&self, t: f64, x: &[f64], v: &[f64], y: &mut [f64]) {
        let jac = at_point(&self.state_jac, t, x, self.n * self.n, |jac| {
            self.sys.jacobian(t, x, &self.p, jac);
            true
        });
        if let Some(jac) = jac {
            dense_product(&jac, v, y);
        }
    }

    /// `y = ∂f/∂y · v` from the sparse Jacobian's values at `(t, x)`, formed once per point
    /// (only called when the system has a pattern).
    fn sparse_jac_mul_cached(&self, t: f64, x: &[f64], v: &[f64], y: &mut [f64]) {
        let Some(pattern) = self.pattern else {
            return;
        };
        let values = at_point(&self.state_values, t, x, pattern.col_idx.len(), |values| {
            self.sys.jacobian_values(t, x, &self.p, values);
            true
        });
        if let Some(values) = values {
            for (r, yr) in y.iter_mut().enumerate() {
                let row = pattern.row_ptr[r]..pattern.row_ptr[r + 1];
                *yr = pattern.col_idx[row.clone()]
                    .iter()
                    .zip(&values[row])
                    .map(|(&c, a)| a * v[c])
                    .sum();
            }
        }
    }

    /// `y = ∂f/∂θ · v` from the dense `∂f/∂θ` at `(t, x)`, formed once per point; `false`
    /// when the system does not form it.
    fn param_jac_mul_cached(&self, t: f64, x: &[f64], v: &[f64], y: &mut [f64]) -> bool {
        let jac = at_point(&self.param_jac, t, x, self.n * self.np, |jac| {
            self.sys.param_jacobian(t, x, &self.p, jac)
        });
        match jac {
            Some(jac) => {
                dense_product(&jac, v, y);
                true
            }
            None => false,
        }
    }
}

/// The matrix of `cache` formed at `(t, x)`: the one kept when the cache holds that point,
/// else a new one of `len` entries filled by `form` (and kept); `None` when `form` says the
/// system cannot form it.
fn at_point<'a>(
    cache: &'a RefCell<Option<PointMatrix>>,
    t: f64,
    x: &[f64],
    len: usize,
    form: impl FnOnce(&mut [f64]) -> bool,
) -> Option<Ref<'a, [f64]>> {
    let fresh = matches!(&*cache.borrow(), Some((ct, cx, _)) if *ct == t && cx.as_slice() == x);
    if !fresh {
        let mut values = vec![0.0; len];
        if !form(&mut values) {
            return None;
        }
        *cache.borrow_mut() = Some((t, x.to_vec(), values));
    }
    Ref::filter_map(cache.borrow(), |c| c.as_ref().map(|(_, _, m)| m.as_slice())).ok()
}

/// `y = A · v` for the row-major matrix `A` with `v.len()` columns.
fn dense_product(a: &[f64], v: &[f64], y: &mut [f64]) {
    let k = v.len();
    for (i, yi) in y.iter_mut().enumerate() {
        let row = &a[i * k..(i + 1) * k];
        *yi = row.iter().zip(v).map(|(a, b)| a * b).sum();
    }
}

impl<M: SystemMatrix> NonLinearOpSens for RhsOp<'_, M> {
    fn sens_mul_inplace(&self, x: &FaerVec<f64>, t: f64, v: &FaerVec<f64>, y: &mut FaerVec<f64>) {
        y.for_each_batch_host([x, v], |y, [x, v], _| {
            if !self.param_jac_mul_cached(t, x, v, y) {
                self.sys.param_jac_mul(t, x, &self.p, v, y)
            }
        });
    }

    fn sens_sparsity(&self) -> Option<M::Sparsity> {
        self.sens_sparsity.clone()
    }
}

impl<M: SystemMatrix> ConstantOp for InitOp<'_, M> {
    fn call_inplace(&self, _t: f64, y: &mut FaerVec<f64>) {
        y.for_each_batch_host([], |y, [], _| match &self.start {
            Some(start) => y.copy_from_slice(&start.y0),
            None => self.sys.y0(&self.p, y),
        });
    }
}

impl<M: SystemMatrix> ConstantOpSens for InitOp<'_, M> {
    fn sens_mul_inplace(&self, _t: f64, v: &FaerVec<f64>, y: &mut FaerVec<f64>) {
        let n = self.n;
        y.for_each_batch_host([v], |y, [v], _| match &self.start {
            // `dy0/dθ · v` from the consistent lanes (one per parameter).
            Some(start) if start.s0.len() == n * self.np => {
                y.fill(0.0);
                for (lane, vj) in start.s0.chunks(n).zip(v) {
                    for (yi, si) in y.iter_mut().zip(lane) {
                        *yi += si * vj;
                    }
                }
            }
            _ => self.sys.y0_param_jac_mul(&self.p, v, y),
        });
    }

    fn sens_sparsity(&self) -> Option<M::Sparsity> {
        self.sens_sparsity.clone()
    }
}

impl<M: SystemMatrix> Op for SystemEqn<'_, M> {
    type T = f64;
    type V = FaerVec<f64>;
    type M = M;
    type C = FaerContext;
    fn context(&self) -> &FaerContext {
        &self.rhs.ctx
    }
    fn nstates(&self) -> usize {
        self.rhs.n
    }
    fn nout(&self) -> usize {
        self.rhs.n
    }
    fn nparams(&self) -> usize {
        self.rhs.np
    }
}

impl<'a, 's, M: SystemMatrix> OdeEquationsRef<'a> for SystemEqn<'s, M> {
    type Mass = &'a MassOp<M>;
    type Rhs = &'a RhsOp<'s, M>;
    type Root = UnitCallable<M>;
    type Init = &'a InitOp<'s, M>;
    type Out = UnitCallable<M>;
    type Reset = UnitCallable<M>;
}

impl<'s, M: SystemMatrix> OdeEquations for SystemEqn<'s, M> {
    fn rhs(&self) -> &RhsOp<'s, M> {
        &self.rhs
    }

    fn mass(&self) -> Option<&MassOp<M>> {
        self.mass.as_ref()
    }

    fn init(&self) -> &InitOp<'s, M> {
        &self.init
    }

    fn set_params(&mut self, p: &FaerVec<f64>) {
        let p = p.clone_as_vec();
        self.rhs.p.clone_from(&p);
        self.init.p = p;
    }

    fn get_params(&self, p: &mut FaerVec<f64>) {
        p.copy_from(&FaerVec::from_vec(self.rhs.p.clone(), self.rhs.ctx));
    }
}
