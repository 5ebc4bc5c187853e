//! `sci dataset burgers`: initial conditions from a periodic Gaussian random field and
//! Burgers' solutions at time T, solved by sci itself — the semi-discretised equation is a
//! sci model (`burgers1d.sci`), compiled once with its grid size and solved per sample by
//! the runtime's BDF method (`sci::stdlib::ode::solve`) with the compiled right-hand side
//! and its compiled sparse Jacobian.

use clap::Args;
use sci::runtime::system::CompiledSystem;
use sci::stdlib::Error;
use sci::stdlib::ode::{self, JacobianKind, Method, OdeSystem, SolveOptions, Sparsity};
use sci::stdlib::operator_data::random_fields::{Covariance, PeriodicField, SampleRng};

use super::{CommonArgs, Sample, check_sizes, make_samples, output_paths, positive, write};

/// The semi-discretised equation; its constant `n` is the solve grid.
const MODEL_SOURCE: &str = include_str!("burgers1d.sci");
const MODEL_NAME: &str = "Burgers1D";

/// The largest solve grid, a bound on the work one command line can ask for (at 16,384
/// points the model compiles in a fraction of a second and a sample takes 0.35 s).
const MAX_SOLVE_GRID: usize = 16_384;

#[derive(Args, Debug)]
pub struct BurgersArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Points of the output grid, x_j = j/grid on [0, 1).
    #[arg(long, default_value_t = 256)]
    grid: usize,
    /// Points of the grid the equation is solved on: a multiple of --grid, whose every
    /// (solve-grid/grid)-th point is written.
    #[arg(long, default_value_t = 1024)]
    solve_grid: usize,
    /// The viscosity ν.
    #[arg(long, default_value_t = 0.1)]
    viscosity: f64,
    /// The time T of the solutions written.
    #[arg(long, default_value_t = 1.0)]
    time: f64,
    /// The BDF solver's relative tolerance.
    #[arg(long, default_value_t = 1e-7)]
    rtol: f64,
    /// The BDF solver's absolute tolerance.
    #[arg(long, default_value_t = 1e-10)]
    atol: f64,
}

pub fn run(args: &BurgersArgs) -> Result<(), Error> {
    let common = &args.common;
    let paths = output_paths(&common.out)?;
    let (grid, solve_grid) = (args.grid, args.solve_grid);
    if grid < 3 {
        return Err(Error::input(format!(
            "`--grid {grid}` is too coarse: a periodic field needs at least 3 points."
        ))
        .with_help("Li et al. use --grid 256 to 8192"));
    }
    if solve_grid < grid || !solve_grid.is_multiple_of(grid) {
        return Err(Error::input(format!(
            "`--solve-grid {solve_grid}` is not a multiple of `--grid {grid}`: the output \
             takes every (solve-grid/grid)-th point of the solve grid."
        ))
        .with_help(format!(
            "use e.g. `--solve-grid {}`",
            grid * 4usize.max(1024usize.div_ceil(grid))
        )));
    }
    if solve_grid > MAX_SOLVE_GRID {
        return Err(Error::input(format!(
            "`--solve-grid {solve_grid}` is larger than the {MAX_SOLVE_GRID} points this \
             command solves on."
        )));
    }
    check_sizes(common.samples, grid)?;
    let solver = BurgersSolver::new(
        solve_grid,
        positive("--viscosity", args.viscosity)?,
        positive("--time", args.time)?,
        (
            positive("--rtol", args.rtol)?,
            positive("--atol", args.atol)?,
        ),
    )?;
    let fields = PeriodicField::new(solve_grid, Covariance::BURGERS)?;
    let stride = solve_grid / grid;
    let steps = std::sync::atomic::AtomicUsize::new(0);
    let data = make_samples(
        "solving burgers",
        common.samples,
        common.threads,
        || Ok(()),
        |_, k| {
            let u0 = fields.sample(&mut SampleRng::new(common.seed, k as u64))?;
            let (u, taken) = solver.solve(&u0)?;
            steps.fetch_add(taken, std::sync::atomic::Ordering::Relaxed);
            Ok(Sample {
                input: u0.iter().step_by(stride).copied().collect(),
                solution: u.iter().step_by(stride).copied().collect(),
            })
        },
    )?;
    let mean_steps = steps.into_inner() as f64 / common.samples as f64;
    write(
        (&paths.0, &paths.1),
        &[common.samples, grid],
        &data,
        &format!(
            "Burgers ν = {} to T = {} on {solve_grid} points (BDF, rtol {:e}: {mean_steps:.0} \
             steps per sample)",
            args.viscosity, args.time, args.rtol
        ),
    )
}

/// Burgers' equation on a periodic grid, compiled once and solved per initial condition
/// (from several threads at once: compiled code is `Sync`).
pub struct BurgersSolver {
    compiled: sci::Compiled,
    /// The model's parameters with ν set: `u0` is filled in per solve.
    params: Vec<f64>,
    /// Where `u0` starts in the parameters.
    u0_offset: usize,
    points: usize,
    options: SolveOptions,
}

impl BurgersSolver {
    /// Compiles the model for `points` grid points (x_j = j/points), viscosity `viscosity`,
    /// solving to `time` with BDF at `(rtol, atol)`.
    pub fn new(
        points: usize,
        viscosity: f64,
        time: f64,
        (rtol, atol): (f64, f64),
    ) -> Result<BurgersSolver, Error> {
        // One thread per solve: the samples are the parallel work.
        let compiled = sci::Compiler::new()
            .threads(1)
            .constant("n", vec![points as f64])
            .compile_source("burgers1d.sci", MODEL_SOURCE)
            .map_err(|e| {
                Error::numerical(format!(
                    "The Burgers model did not compile for {points} points:\n{}",
                    e.render()
                ))
            })?;
        let model = compiled.model(MODEL_NAME)?;
        let mut params = model.params();
        let slot = |name: &str| {
            (model.ir().params.slots.iter())
                .find(|s| s.name == name)
                .map(|s| s.offset)
                .ok_or_else(|| Error::numerical(format!("The Burgers model has no `{name}`.")))
        };
        params[slot("nu")?] = viscosity;
        let u0_offset = slot("u0")?;
        let options = SolveOptions {
            method: Method::Bdf,
            span: Some((0.0, time)),
            times: Some(vec![time]),
            rtol,
            atol,
            jacobian: JacobianKind::Sparse,
            ..SolveOptions::default()
        };
        Ok(BurgersSolver {
            compiled,
            params,
            u0_offset,
            points,
            options,
        })
    }

    /// The solution at time T from `u0` (one value per grid point), and the steps BDF took.
    pub fn solve(&self, u0: &[f64]) -> Result<(Vec<f64>, usize), Error> {
        if u0.len() != self.points {
            return Err(Error::input(format!(
                "The Burgers grid has {} points; the initial condition has {}.",
                self.points,
                u0.len()
            )));
        }
        let mut theta = self.params.clone();
        theta[self.u0_offset..self.u0_offset + self.points].copy_from_slice(u0);
        let system = FixedParameters {
            system: CompiledSystem::new(self.compiled.model(MODEL_NAME)?)?,
            theta,
        };
        let solution = ode::solve(&system, &[], &self.options, &mut |_| {});
        // A failed call of the compiled code is recorded by the system, not returned.
        if let Some(e) = system.system.take_error() {
            return Err(e.into());
        }
        let solution = solution?;
        let last = solution.y.into_iter().last().ok_or_else(|| {
            Error::numerical("The Burgers solve returned no state at the final time.")
        })?;
        Ok((last, solution.stats.steps))
    }
}

/// The compiled system with all its parameters — ν and the initial condition `u0` — held
/// inside, so the solver sees an ODE without parameters. Why not `Model::simulate` with `u0`
/// among the parameters: the solver's adapter builds a dense `n_states × n_params` pattern
/// for parameter sensitivities in every solve, wanted or not, and with 1025 parameters on
/// 1024 points that took two thirds of each solve's time (and its page faults most of the
/// system time). Nothing here needs sensitivities.
struct FixedParameters<'c> {
    system: CompiledSystem<'c>,
    theta: Vec<f64>,
}

impl OdeSystem for FixedParameters<'_> {
    fn n_states(&self) -> usize {
        self.system.n_states()
    }

    fn n_params(&self) -> usize {
        0
    }

    fn rhs(&self, t: f64, y: &[f64], _: &[f64], dy: &mut [f64]) {
        self.system.rhs(t, y, &self.theta, dy);
    }

    fn jac_mul(&self, t: f64, y: &[f64], _: &[f64], v: &[f64], out: &mut [f64]) {
        self.system.jac_mul(t, y, &self.theta, v, out);
    }

    // No parameters: `v` is empty and the product is zero.
    fn param_jac_mul(&self, _: f64, _: &[f64], _: &[f64], _: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }

    fn jacobian(&self, t: f64, y: &[f64], _: &[f64], jac: &mut [f64]) {
        self.system.jacobian(t, y, &self.theta, jac);
    }

    fn sparsity(&self) -> Option<&Sparsity> {
        self.system.sparsity()
    }

    fn jacobian_values_cost(&self) -> Option<usize> {
        self.system.jacobian_values_cost()
    }

    fn jacobian_values(&self, t: f64, y: &[f64], _: &[f64], values: &mut [f64]) {
        self.system.jacobian_values(t, y, &self.theta, values);
    }

    fn y0(&self, _: &[f64], y0: &mut [f64]) {
        self.system.y0(&self.theta, y0);
    }

    fn y0_param_jac_mul(&self, _: &[f64], _: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }

    fn state_name(&self, i: usize) -> Option<String> {
        self.system.state_name(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_sine_decays_at_the_viscous_rate() {
        // u0 = ε sin(2πx): for small ε the equation is the heat equation, whose solution
        // is ε e^(−4π²νT) sin(2πx); the nonlinearity feeds the second harmonic, an O(ε²)
        // correction. The grid's own error is separate: on n points the scheme's Laplacian
        // damps sin(2πx) at the rate 4n² sin²(π/n) instead of 4π² (3e-3 relative at T = 1
        // for n = 64), so the sharp check is against that discrete rate, where what remains
        // is the nonlinearity's O(ε²) and the time integration.
        let (n, nu, time) = (64, 0.1, 1.0);
        let solver = BurgersSolver::new(n, nu, time, (1e-10, 1e-16)).unwrap();
        let pi = std::f64::consts::PI;
        let exact_decay = (-4.0 * pi * pi * nu * time).exp();
        let grid_rate = 4.0 * (n * n) as f64 * (pi / n as f64).sin().powi(2);
        let grid_decay = (-grid_rate * nu * time).exp();
        let sine: Vec<f64> = (0..n)
            .map(|j| (2.0 * pi * j as f64 / n as f64).sin())
            .collect();
        let distance = |u: &[f64], scale: f64| -> f64 {
            (u.iter().zip(&sine))
                .map(|(v, s)| (v - scale * s).abs())
                .fold(0.0, f64::max)
        };
        let mut nonlinear = Vec::new();
        for epsilon in [1e-3, 1e-2] {
            let u0: Vec<f64> = sine.iter().map(|s| epsilon * s).collect();
            let (u, steps) = solver.solve(&u0).unwrap();
            assert!(steps > 0);
            let from_pde = distance(&u, epsilon * exact_decay) / (epsilon * exact_decay);
            assert!(from_pde < 5e-3, "ε = {epsilon}: {from_pde}");
            nonlinear.push(distance(&u, epsilon * grid_decay));
        }
        // Quadratic in ε: ten times the amplitude, a hundred times the deviation.
        let growth = nonlinear[1] / nonlinear[0];
        assert!((70.0..130.0).contains(&growth), "{nonlinear:?}");
        // And small: the damping keeps the second harmonic below ε²/100 here.
        assert!(nonlinear[1] < 1e-2 * 1e-2 / 100.0, "{nonlinear:?}");
    }

    #[test]
    fn the_mean_is_conserved_and_a_random_field_smooths_out() {
        let n = 64;
        let solver = BurgersSolver::new(n, 0.1, 1.0, (1e-7, 1e-10)).unwrap();
        let fields = PeriodicField::new(n, Covariance::BURGERS).unwrap();
        let u0 = fields.sample(&mut SampleRng::new(0, 0)).unwrap();
        let (u, _) = solver.solve(&u0).unwrap();
        let mean: f64 = u.iter().sum::<f64>() / n as f64;
        assert!(mean.abs() < 1e-9, "{mean}");
        let energy = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        assert!(energy(&u) < 0.1 * energy(&u0));
        assert!(solver.solve(&u0[1..]).is_err());
    }
}
