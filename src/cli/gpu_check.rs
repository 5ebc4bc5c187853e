//! `sci gpu-check` (feature `cuda`): runs a model's batched functions — the residuals, the
//! loss and its gradient `grad.loss` — on the GPU with a given PTX and on the CPU with
//! Cranelift, and prints one table: the largest differences and the time per call of each.
//!
//! It is the launch half of the GPU check (`bench/gpu/`): the PTX is written on a machine
//! with MLIR (`sci compile --target nvptx --emit ptx`), this command runs on the GPU
//! machine from a small binary without MLIR or LLVM. Exit codes: 0 when every result
//! matches to f64 round-off (norm-wise relative difference ≤ 1e-10), 1 when one does not,
//! 2 when the check could not run (no GPU, bad PTX, a model without a loss).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use sci::Tensor;
use sci::codegen::CompiledModule;
use sci::codegen::cuda::executor::check_ptx;
use sci::codegen::cuda::{CudaExecutor, CudaRuntime, GpuModule};
use sci::ir::{InputRole, Role};
use sci::runtime::points::draw_all;

/// Largest accepted norm-wise relative difference, GPU against CPU: f64 round-off with
/// reordered sums.
const TOLERANCE: f64 = 1e-10;

#[derive(Args, Debug)]
pub struct GpuCheckArgs {
    /// The `.sci` file.
    file: PathBuf,
    /// The model's kernels: the file `sci compile --target nvptx --emit ptx` wrote.
    #[arg(long, value_name = "FILE")]
    ptx: PathBuf,
    /// The model to check (needed when the file has several models with a loss).
    #[arg(long)]
    model: Option<String>,
    /// Collocation points per residual (default: each residual's declared `points`).
    #[arg(long)]
    points: Option<usize>,
    /// Timed calls per function and device; the table shows the median.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Seed of the collocation points (as `sci train --seed`).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write θ, the points, the network layout, the CPU loss and gradient to this JSON
    /// file (the inputs of `bench/gpu/jax_pinn_gpu.py`), before the GPU runs.
    #[arg(long, value_name = "FILE")]
    dump: Option<PathBuf>,
    /// Write the table as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Only check that the PTX has a kernel, with the right parameters, for every batched
    /// map of the model (no GPU needed: `bench/gpu/prepare.sh` runs this).
    #[arg(long)]
    ptx_only: bool,
}

/// One row of the table.
struct Row {
    function: String,
    points: usize,
    abs: f64,
    rel: f64,
    cpu: Duration,
    gpu: Duration,
}

pub fn run(args: &GpuCheckArgs, color: bool) -> Result<ExitCode, String> {
    if args.steps == 0 {
        return Err("`--steps` must be at least 1.".into());
    }
    let (sources, analysis) = super::analyze_and_report(&args.file, color)?;
    if analysis.has_errors() {
        return Ok(ExitCode::from(1));
    }
    let ptx = sci::stdlib::files::read_regular_text(&args.ptx, sci::jit::MAX_PTX_BYTES)
        .map_err(|why| format!("cannot read `{}`: {why}", args.ptx.display()))?;
    let text = sources.text(analysis.file);
    // The CPU side: Cranelift, the model with its gradient, as `sci train` compiles it.
    let compiled = sci::Compiler::new()
        .data_dir(sci::model_dir(&args.file))
        .compile_source(&args.file.display().to_string(), text)
        .map_err(|e| e.render())?;
    let name = model_name(&compiled, args.model.as_deref())?;
    let model = compiled.model(&name).map_err(|e| e.message)?;
    let sets = draw_all(&model.ir().manifest, args.seed, 0, args.points).map_err(|e| e.message)?;
    let theta = model.params();
    // The peer's inputs come first, so a failure on the GPU still leaves them to compare.
    if let Some(path) = &args.dump {
        write_json(path, &dump(&model, &sets, &theta)?)?;
    }
    if args.ptx_only {
        let missing = check_ptx(model.ir(), &ptx).map_err(|e| e.message)?;
        let sites = sci::ir::kernels::kernel_sites(model.ir()).len();
        if missing.is_empty() {
            outln!(
                "{}: the PTX has all {sites} kernels of `{name}` and the reductions.",
                args.ptx.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "{}: the PTX lacks {} of the {sites} kernels of `{name}`: {}",
            args.ptx.display(),
            missing.len(),
            missing.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    let runtime = CudaRuntime::new().map_err(|e| {
        format!(
            "{}\nhelp: run the check on a machine with an NVIDIA GPU and its driver",
            e.message
        )
    })?;
    let (gpu, executor) = gpu_module(&runtime, model.ir(), &ptx)?;
    let mut rows = Vec::new();
    let functions: Vec<String> = gpu.gpu_functions().iter().map(|s| s.to_string()).collect();
    for function in &functions {
        let (args_base, points) = arguments(model.ir(), function, &sets, &theta)?;
        let cpu_fn = model.function(function).map_err(|e| e.message)?;
        let cpu_out = cpu_fn.call_tensors(&args_base).map_err(|e| e.message)?;
        let gpu_out = gpu
            .call(function, &args_base)
            .map_err(|e| format!("`{function}` on the GPU: {}", e.message))?;
        let (abs, rel) = difference(&gpu_out.data, &cpu_out.data);
        let cpu = median_time(args.steps, |k| {
            let a = perturbed(&args_base, k);
            cpu_fn.call_tensors(&a).map(|_| ()).map_err(|e| e.message)
        })?;
        let gpu_time = median_time(args.steps, |k| {
            let a = perturbed(&args_base, k);
            gpu.call(function, &a).map(|_| ()).map_err(|e| e.message)
        })?;
        rows.push(Row {
            function: function.clone(),
            points,
            abs,
            rel,
            cpu,
            gpu: gpu_time,
        });
    }
    if let Some(row) = step_row(&rows) {
        rows.push(row);
    }
    let (hits, misses) = executor.cache_stats();
    let table = render(&name, runtime.device(), args, &rows, hits, misses);
    // A closed pipe is not an error of ours (see `outln!`).
    let _ = std::io::Write::write_all(&mut std::io::stdout(), table.as_bytes());
    if let Some(path) = &args.json {
        write_json(path, &json_rows(&name, runtime.device(), &rows))?;
    }
    let bad: Vec<&str> = rows
        .iter()
        .filter(|r| r.rel.is_nan() || r.rel > TOLERANCE)
        .map(|r| r.function.as_str())
        .collect();
    if bad.is_empty() {
        outln!("GPU results equal the CPU's within {TOLERANCE:e} (relative).");
        Ok(ExitCode::SUCCESS)
    } else {
        outln!(
            "GPU results differ from the CPU's by more than {TOLERANCE:e} in: {}",
            bad.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// The model with a loss to check.
fn model_name(compiled: &sci::Compiled, name: Option<&str>) -> Result<String, String> {
    let with_loss: Vec<&str> = compiled
        .models()
        .filter(|m| m.function_with_role(&Role::Loss).is_some())
        .map(|m| m.name.as_str())
        .collect();
    match (name, with_loss.as_slice()) {
        (Some(n), _) if with_loss.contains(&n) => Ok(n.to_string()),
        (Some(n), _) => Err(format!("There is no model `{n}` with a loss in the file.")),
        (None, [one]) => Ok(one.to_string()),
        (None, []) => Err("The file defines no model with a loss; the check needs one.".into()),
        (None, many) => Err(format!(
            "The file defines several models with a loss ({}); choose one with `--model`.",
            many.join(", ")
        )),
    }
}

/// The GPU side: the executor over `ir` with `ptx`, every batched function through it.
fn gpu_module(
    runtime: &Arc<CudaRuntime>,
    ir: &sci::Module,
    ptx: &str,
) -> Result<(GpuModule, Arc<CudaExecutor>), String> {
    let executor = CudaExecutor::new(runtime.clone(), ir, ptx).map_err(|e| e.message)?;
    if !executor.missing_kernels().is_empty() {
        return Err(format!(
            "The PTX has no kernels for {} of the model's batched maps ({}); write it from the \
             same model with `sci compile --target nvptx --emit ptx` (the kernels of `{}` \
             included).",
            executor.missing_kernels().len(),
            executor.missing_kernels().join(", "),
            sci::jit::LOSS_GRAD
        ));
    }
    // Functions without kernels are not timed; the interpreter is enough for them.
    let valid = sci::codegen::validate(ir).map_err(|e| e.message)?;
    let cpu = sci::codegen::Backend::compile(&sci::codegen::InterpreterBackend, &valid)
        .map_err(|e| e.message)?;
    let executor = Arc::new(executor);
    let gpu = GpuModule::new(ir, cpu, executor.clone()).map_err(|e| e.message)?;
    Ok((gpu, executor))
}

/// The arguments of `function`, filled by the meaning of each input: θ, and the
/// collocation points of the point set a batched input belongs to (`sets[set][coord]`, as
/// [`draw_all`] draws them for `sci train`); and the number of points.
fn arguments(
    ir: &sci::Module,
    function: &str,
    sets: &[Vec<Vec<f64>>],
    theta: &[f64],
) -> Result<(Vec<Tensor>, usize), String> {
    let f = ir
        .function(function)
        .and_then(|id| ir.functions.get(id))
        .ok_or_else(|| format!("the model has no function `{function}`"))?;
    let mut args = Vec::new();
    let mut used: Vec<usize> = Vec::new();
    for k in 0..f.inputs().len() {
        match f.input_role(k) {
            InputRole::Params => args.push(Tensor::vector(theta.to_vec())),
            InputRole::Point { set, coord } => {
                let values = sets
                    .get(*set)
                    .and_then(|s| s.get(*coord))
                    .ok_or_else(|| format!("`{function}` reads points the model does not draw"))?
                    .clone();
                let n = values.len();
                args.push(Tensor::batch(vec![], n, values).map_err(|e| e.message)?);
                if !used.contains(set) {
                    used.push(*set);
                }
            }
            other => {
                return Err(format!(
                    "`{function}` takes input {k} ({}), which the check cannot fill; the check \
                     covers losses over collocation points",
                    sci::ir::print::format_input_role(other)
                ));
            }
        }
    }
    let points = used
        .iter()
        .map(|&s| sets[s].first().map_or(0, Vec::len))
        .sum();
    Ok((args, points))
}

/// `args` with θ (the first argument) moved by `k` ulps-ish, so that no call finds the
/// previous call's results on the device: every timed call is a fresh training step.
fn perturbed(args: &[Tensor], k: usize) -> Vec<Tensor> {
    let mut a = args.to_vec();
    if let Some(x) = a.first_mut().and_then(|t| t.data.first_mut()) {
        *x += 1e-12 * (k + 1) as f64;
    }
    a
}

/// The median wall time of `steps` calls (after one untimed call).
fn median_time(
    steps: usize,
    mut call: impl FnMut(usize) -> Result<(), String>,
) -> Result<Duration, String> {
    call(steps)?;
    let mut times = Vec::with_capacity(steps);
    for k in 0..steps {
        let t = Instant::now();
        call(k)?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// The largest absolute difference and the norm-wise relative one, `max|a-b| / max|b|`
/// (NaN when the shapes differ or a value is NaN on one side only).
fn difference(a: &[f64], b: &[f64]) -> (f64, f64) {
    if a.len() != b.len() {
        return (f64::NAN, f64::NAN);
    }
    let mut abs = 0.0f64;
    let mut scale = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        if x.is_nan() != y.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        if !x.is_nan() {
            abs = abs.max((x - y).abs());
            scale = scale.max(y.abs());
        }
    }
    (abs, abs / scale.max(f64::MIN_POSITIVE))
}

/// The training step, `loss` then `grad.loss` (what `jax.value_and_grad` computes).
fn step_row(rows: &[Row]) -> Option<Row> {
    let loss = rows.iter().find(|r| r.function == "loss")?;
    let grad = rows.iter().find(|r| r.function == sci::jit::LOSS_GRAD)?;
    Some(Row {
        function: "step = loss + grad.loss".into(),
        points: loss.points,
        abs: loss.abs.max(grad.abs),
        rel: loss.rel.max(grad.rel),
        cpu: loss.cpu + grad.cpu,
        gpu: loss.gpu + grad.gpu,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn render(
    model: &str,
    device: &str,
    args: &GpuCheckArgs,
    rows: &[Row],
    hits: u64,
    misses: u64,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sci gpu-check: {model} on {device}; PTX {}; median of {} calls (CPU: Cranelift)",
        args.ptx.display(),
        args.steps
    );
    let _ = writeln!(
        out,
        "{:<26} {:>7} {:>13} {:>13} {:>12} {:>12} {:>8}",
        "function",
        "points",
        "max abs diff",
        "max rel diff",
        "CPU ms/call",
        "GPU ms/call",
        "speedup"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<26} {:>7} {:>13.3e} {:>13.3e} {:>12.3} {:>12.3} {:>7.1}x",
            r.function,
            r.points,
            r.abs,
            r.rel,
            ms(r.cpu),
            ms(r.gpu),
            r.cpu.as_secs_f64() / r.gpu.as_secs_f64().max(1e-12)
        );
    }
    let _ = writeln!(
        out,
        "device copies: {hits} found on the GPU, {misses} uploaded"
    );
    out
}

/// A JSON number (`null` for NaN and infinities).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:?}")
    } else {
        "null".into()
    }
}

fn nums(xs: &[f64]) -> String {
    let parts: Vec<String> = xs.iter().map(|x| num(*x)).collect();
    format!("[{}]", parts.join(","))
}

/// A JSON string (the names here are identifiers; quotes and backslashes escaped).
fn string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn json_rows(model: &str, device: &str, rows: &[Row]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"function\":{},\"points\":{},\"max_abs\":{},\"max_rel\":{},\"cpu_s\":{},\"gpu_s\":{}}}",
                string(&r.function),
                r.points,
                num(r.abs),
                num(r.rel),
                num(r.cpu.as_secs_f64()),
                num(r.gpu.as_secs_f64())
            )
        })
        .collect();
    format!(
        "{{\"model\":{},\"device\":{},\"tolerance\":{},\"rows\":[{}]}}\n",
        string(model),
        string(device),
        num(TOLERANCE),
        rows.join(",")
    )
}

/// The inputs of a peer's step: θ, the network's layout, every loss input, and sci's CPU
/// loss and gradient there.
fn dump(model: &sci::Model<'_>, sets: &[Vec<Vec<f64>>], theta: &[f64]) -> Result<String, String> {
    let mut points = Vec::new();
    let mut batch = sci::Batch::new();
    let inputs = model.loss_inputs().map_err(|e| e.message)?;
    let ir = model.ir();
    let loss = ir
        .function_with_role(&Role::Loss)
        .and_then(|f| ir.functions.get(f))
        .ok_or_else(|| format!("`{}` has no loss", model.name()))?;
    let mut owned = Vec::new();
    for (k, (name, _)) in inputs.iter().enumerate() {
        let InputRole::Point { set, coord } = loss.input_role(k + 1) else {
            return Err(format!(
                "the loss input `{name}` is no residual's coordinate"
            ));
        };
        let values = sets
            .get(*set)
            .and_then(|s| s.get(*coord))
            .ok_or_else(|| format!("no points for `{name}`"))?;
        owned.push((name.clone(), values.clone()));
    }
    for (name, data) in &owned {
        batch.set(name, data);
        points.push(format!("{}:{}", string(name), nums(data)));
    }
    let (loss, grad) = model.loss_and_grad(theta, &batch).map_err(|e| e.message)?;
    let layers: Vec<String> = model
        .ir()
        .params
        .slots
        .iter()
        .map(|s| {
            let shape: Vec<String> = s.shape.iter().map(|d| d.to_string()).collect();
            format!(
                "{{\"name\":{},\"offset\":{},\"shape\":[{}]}}",
                string(&s.name),
                s.offset,
                shape.join(",")
            )
        })
        .collect();
    Ok(format!(
        "{{\"model\":{},\"theta\":{},\"layers\":[{}],\"points\":{{{}}},\"loss\":{},\"grad\":{}}}\n",
        string(model.name()),
        nums(theta),
        layers.join(","),
        points.join(","),
        num(loss),
        nums(&grad)
    ))
}

fn write_json(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burgers_pinn_inputs_come_from_its_residuals() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/burgers_pinn.sci");
        let compiled = sci::Compiler::new().compile_file(path).unwrap();
        let name = model_name(&compiled, None).unwrap();
        assert_eq!(name, "BurgersPINN");
        let model = compiled.model(&name).unwrap();
        let sets = draw_all(&model.ir().manifest, 0, 0, Some(16)).unwrap();
        let theta = model.params();
        let mut with_sites: Vec<String> = sci::ir::kernels::kernel_sites(model.ir())
            .iter()
            .filter_map(|s| model.ir().functions.get(s.func).map(|f| f.name.clone()))
            .collect();
        with_sites.dedup();
        assert_eq!(
            with_sites,
            [
                "residual.pde",
                "residual.initial",
                "residual.boundary",
                "loss",
                "grad.loss",
                "value_and_grad.loss"
            ]
        );
        for function in &with_sites {
            let (args, points) = arguments(model.ir(), function, &sets, &theta).unwrap();
            let want = if function.starts_with("residual.") {
                16
            } else {
                48
            };
            assert_eq!(points, want, "{function}");
            let out = model
                .function(function)
                .unwrap()
                .call_tensors(&args)
                .unwrap();
            assert!(out.data.iter().all(|x| x.is_finite()), "{function}");
        }
        // The initial residual's points lie on t = 0, as training draws them.
        let manifest = &model.ir().manifest;
        let initial = manifest
            .point_sets
            .iter()
            .position(|s| s.name == "initial")
            .unwrap();
        let t = manifest.point_sets[initial]
            .coords
            .iter()
            .position(|c| c.name == "t")
            .unwrap();
        assert!(sets[initial][t].iter().all(|&x| x == 0.0));
        let json: serde_json::Value =
            serde_json::from_str(&dump(&model, &sets, &theta).unwrap()).unwrap();
        assert_eq!(json["theta"].as_array().unwrap().len(), theta.len());
        assert_eq!(json["points"]["pde.x"].as_array().unwrap().len(), 16);
        assert_eq!(json["layers"][0]["name"], "u.w0");
        let (args, _) = arguments(model.ir(), "loss", &sets, &theta).unwrap();
        let loss = model.function("loss").unwrap().call_tensors(&args).unwrap();
        assert_eq!(json["loss"].as_f64(), Some(loss.data[0]));
        let rows = json_rows(&name, "test", &[]);
        assert!(serde_json::from_str::<serde_json::Value>(&rows).is_ok());
    }

    #[test]
    fn differences_are_norm_wise_and_nan_aware() {
        let (abs, rel) = difference(&[1.0, 2.0 + 1e-12], &[1.0, 2.0]);
        assert!((abs - 1e-12).abs() < 1e-15);
        assert!((rel - 0.5e-12).abs() < 1e-15);
        assert!(difference(&[f64::NAN], &[1.0]).1.is_nan());
        assert_eq!(difference(&[f64::NAN], &[f64::NAN]), (0.0, 0.0));
        assert!(difference(&[1.0], &[1.0, 2.0]).0.is_nan());
        assert_eq!(num(f64::NAN), "null");
        assert_eq!(string("a\"b"), "\"a\\\"b\"");
    }
}
