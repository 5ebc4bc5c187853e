//! `sci dataset darcy`: piecewise-constant permeabilities from the sign of a Gaussian random
//! field and the solutions of Darcy's equation `−∇·(a∇u) = 1`, `u = 0` on the boundary,
//! both on the nodes of the unit square (the numerics are `sci_stdlib::operator_data`'s).

use clap::Args;
use sci::stdlib::Error;
use sci::stdlib::operator_data::darcy::DarcySolver;
use sci::stdlib::operator_data::random_fields::{Covariance, NeumannField2d, SampleRng};

use super::{CommonArgs, Sample, check_sizes, make_samples, output_paths, write};

/// The permeability where the field is non-negative, and where it is negative (Li et al.).
const HIGH: f64 = 12.0;
const LOW: f64 = 3.0;

/// The source `f` of `−∇·(a∇u) = f`.
const SOURCE: f64 = 1.0;

/// The largest solve grid: 1025² nodes make a million unknowns, whose Cholesky factor
/// takes about a gigabyte per thread.
const MAX_SOLVE_GRID: usize = 1025;

#[derive(Args, Debug)]
pub struct DarcyArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Nodes per axis of the output grid, boundary included: x_i = i/(grid − 1).
    #[arg(long, default_value_t = 85)]
    grid: usize,
    /// Nodes per axis of the grid the equation is solved on: (solve-grid − 1) must be a
    /// multiple of (grid − 1), so that the output's nodes are solve-grid nodes.
    #[arg(long, default_value_t = 421)]
    solve_grid: usize,
}

pub fn run(args: &DarcyArgs) -> Result<(), Error> {
    let common = &args.common;
    let paths = output_paths(&common.out)?;
    let (grid, solve_grid) = (args.grid, args.solve_grid);
    if grid < 3 {
        return Err(Error::input(format!(
            "`--grid {grid}` is too coarse: the unit square needs at least 3 nodes per axis \
             (one inside the boundary)."
        ))
        .with_help("Li et al. use --grid 85, 141, 211 or 421 (with --solve-grid 421)"));
    }
    if solve_grid < grid || !(solve_grid - 1).is_multiple_of(grid - 1) {
        return Err(Error::input(format!(
            "`--solve-grid {solve_grid}` does not hold the nodes of `--grid {grid}`: \
             (solve-grid − 1) must be a multiple of (grid − 1) = {}.",
            grid - 1
        ))
        .with_help(format!(
            "use e.g. `--solve-grid {}`",
            (grid - 1) * 420usize.div_ceil(grid - 1).max(2) + 1
        )));
    }
    if solve_grid > MAX_SOLVE_GRID {
        return Err(Error::input(format!(
            "`--solve-grid {solve_grid}` is larger than the {MAX_SOLVE_GRID} nodes per axis \
             this command solves on."
        )));
    }
    check_sizes(common.samples, grid * grid)?;
    let fields = NeumannField2d::new(solve_grid, Covariance::DARCY)?;
    let solver = DarcySolver::new(solve_grid)?;
    let stride = (solve_grid - 1) / (grid - 1);
    let subsample = |values: &[f64]| -> Vec<f64> {
        let mut out = Vec::with_capacity(grid * grid);
        for i in 0..grid {
            let row = i * stride * solve_grid;
            out.extend((0..grid).map(|j| values[row + j * stride]));
        }
        out
    };
    let data = make_samples(
        "solving darcy",
        common.samples,
        common.threads,
        || Ok((solver.workspace()?, vec![0.0; solve_grid * solve_grid])),
        |(workspace, u), k| {
            let psi = fields.sample(&mut SampleRng::new(common.seed, k as u64));
            let a: Vec<f64> = psi
                .iter()
                .map(|&v| if v >= 0.0 { HIGH } else { LOW })
                .collect();
            solver.solve_into(workspace, &a, SOURCE, u)?;
            Ok(Sample {
                input: subsample(&a),
                solution: subsample(u),
            })
        },
    )?;
    write(
        (&paths.0, &paths.1),
        &[common.samples, grid, grid],
        &data,
        &format!(
            "Darcy −∇·(a∇u) = 1, a ∈ {{{LOW}, {HIGH}}}, on {solve_grid} × {solve_grid} nodes \
             (sparse Cholesky)"
        ),
    )
}
