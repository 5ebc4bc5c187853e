//! The interpreter's offload hook: with an offload that evaluates each kernel site itself
//! (through a nested, plain interpreter), every function gives exactly what the plain
//! interpreter gives — on the filetests and on random programs — and the hook is called for
//! every site that runs.

use proptest::prelude::*;
use sci_diag::FileId;
use sci_ir::interp::{MapOffload, SiteResult, ValidModule};
use sci_ir::kernels::{KernelSite, kernel_sites, sites_of};
use sci_ir::random::{RandomOptions, random_function, random_inputs};
use sci_ir::{EvalError, Interpreter, Module, ReduceOp, Tensor, read_module, validate_module};
use std::cell::RefCell;
use std::path::Path;

/// Evaluates sites on the host with a second interpreter and records what it was given.
struct CpuOffload<'m> {
    module: &'m Module,
    /// Names of the sites run, in call order.
    calls: RefCell<Vec<String>>,
    mode: Mode,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Evaluate,
    Decline,
    WrongSize,
}

impl<'m> CpuOffload<'m> {
    fn new(module: &'m Module, mode: Mode) -> CpuOffload<'m> {
        CpuOffload {
            module,
            calls: RefCell::new(Vec::new()),
            mode,
        }
    }
}

impl MapOffload for CpuOffload<'_> {
    fn run_site(
        &self,
        site: &KernelSite,
        inputs: &[&Tensor],
        captures: &[&Tensor],
    ) -> Result<SiteResult, EvalError> {
        self.calls.borrow_mut().push(site.name.clone());
        let points = inputs.first().and_then(|t| t.batch).unwrap_or(0);
        assert!(points > 0, "the interpreter keeps empty batches");
        assert!(inputs.iter().all(|t| t.batch == Some(points)));
        assert!(captures.iter().all(|t| t.batch.is_none()));
        match self.mode {
            Mode::Evaluate => {
                let data = Interpreter::new(self.module)?.eval_site(site, inputs, captures)?;
                let want = match site.reduce {
                    Some(_) => site.point_len,
                    None => site.point_len * points,
                };
                assert_eq!(data.len(), want, "{}", site.name);
                Ok(SiteResult::Done(data))
            }
            Mode::Decline => Ok(SiteResult::Declined),
            Mode::WrongSize => Ok(SiteResult::Done(vec![0.0; site.point_len * points + 1])),
        }
    }
}

/// Bit-for-bit equality of two results (NaN payloads included), or equal error messages.
fn same(a: &Result<Tensor, EvalError>, b: &Result<Tensor, EvalError>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            a.shape == b.shape
                && a.batch == b.batch
                && a.data.len() == b.data.len()
                && a.data
                    .iter()
                    .zip(&b.data)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
        }
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}

/// Runs every function of `m` on random inputs with and without the offload; returns the
/// number of calls that succeeded with the offload.
fn check_module(m: &Module, seed: u64, label: &str) -> usize {
    let plain = Interpreter::new(m).unwrap().with_step_limit(200_000);
    let valid = ValidModule::new(m.clone()).unwrap();
    let mut ok = 0;
    for (func, f) in m.functions.iter() {
        let args = random_inputs(m, func, seed);
        let expected = plain.call(func, &args);
        let offload = CpuOffload::new(m, Mode::Evaluate);
        let got = Interpreter::of_valid(&valid)
            .with_step_limit(200_000)
            .with_offload(&offload)
            .call(func, &args);
        assert!(
            same(&got, &expected),
            "{label}: `{}` differs with the offload:\n  offload: {got:?}\n  plain:   {expected:?}",
            f.name
        );
        if got.is_ok() {
            ok += 1;
            // Every site of the function ran through the hook (random inputs have points).
            let calls = offload.calls.borrow();
            for site in sites_of(m, func) {
                assert!(
                    calls.contains(&site.name),
                    "{label}: the hook never saw `{}`; it saw {calls:?}",
                    site.name
                );
            }
        }
        // Declining every site is the plain interpreter again.
        let decline = CpuOffload::new(m, Mode::Decline);
        let declined = Interpreter::new(m)
            .unwrap()
            .with_step_limit(200_000)
            .with_offload(&decline)
            .call(func, &args);
        assert!(
            same(&declined, &expected),
            "{label}: declining changed `{}`",
            f.name
        );
    }
    ok
}

#[test]
fn the_filetests_give_the_same_results_with_an_offload() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/filetests");
    let mut with_sites = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sir") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(m) = read_module(FileId(0), &text) else {
            continue;
        };
        if validate_module(&m).is_err() {
            continue;
        }
        if !kernel_sites(&m).is_empty() {
            with_sites += 1;
        }
        for seed in 0..4 {
            check_module(&m, seed, &path.display().to_string());
        }
    }
    assert!(with_sites >= 1, "some filetest has a map");
}

const PINN_LIKE: &str = "module P
func loss(%θ: f64[3], %t: batch f64, %x: batch f64) -> f64 {
  %w: f64[2] = slice %θ, 0, 2
  %c: f64[1] = slice %θ, 2, 1
  %b: f64 = reshape %c
  %r: batch f64 = map %t, %x (%tp: f64, %xp: f64) {
    %p: f64[2] = concat %tp, %xp
    %d: f64 = dot %w, %p
    %e: f64 = add %d, %b
    %h: f64 = tanh %e
    %q: f64 = mul %h, %h
    yield %q
  }
  %m: f64 = reduce_batch mean %r
  %g: batch f64[2] = map %t (%tq: f64) {
    %s: f64 = sin %tq
    %v: f64[2] = concat %s, %b
    yield %v
  }
  %gs: f64[2] = reduce_batch max %g
  %k: f64[1] = slice %gs, 0, 1
  %k0: f64 = reshape %k
  %o: f64 = add %m, %k0
  return %o
}
func points(%θ: f64[3], %t: batch f64) -> batch f32 {
  %r: batch f32 = map %t (%tp: f64) {
    %y: f32 = cast %tp
    %z: f32 = const 0.1
    %s: f32 = add %y, %z
    yield %s
  }
  return %r
}
func oob(%t: batch f64) -> batch f64 {
  %a: f64[2] = literal [1, 2]
  %i: i64 = const 5
  %r: batch f64 = map %t (%tp: f64) {
    %y: f64 = index %a[%i]
    yield %y
  }
  return %r
}
";

#[test]
fn fused_sites_store_the_reduced_value_and_skip_the_reduction() {
    let m = read_module(FileId(0), PINN_LIKE).unwrap();
    let sites = kernel_sites(&m);
    assert_eq!(sites.len(), 4);
    assert!(matches!(sites[0].reduce, Some((ReduceOp::Mean, _))));
    assert!(matches!(sites[1].reduce, Some((ReduceOp::Max, _))));
    assert_eq!(sites[1].point_len, 2);
    assert_eq!(sites[0].captures.len(), 2, "w and b");
    let loss = m.function("loss").unwrap();
    let args = vec![
        Tensor::vector(vec![0.3, -0.7, 0.1]),
        Tensor::batch(vec![], 3, vec![0.0, 0.5, 1.0]).unwrap(),
        Tensor::batch(vec![], 3, vec![-1.0, 0.25, 1.0]).unwrap(),
    ];
    let expected = Interpreter::new(&m).unwrap().call(loss, &args).unwrap();
    // By hand: mean of tanh(0.3 t - 0.7 x + 0.1)^2, plus max of sin(t).
    let by_hand = [(0.0, -1.0), (0.5, 0.25), (1.0, 1.0)]
        .iter()
        .map(|(t, x): &(f64, f64)| (0.3 * t - 0.7 * x + 0.1).tanh().powi(2))
        .sum::<f64>()
        / 3.0
        + 1.0f64.sin();
    assert!((expected.data[0] - by_hand).abs() < 1e-15);
    let offload = CpuOffload::new(&m, Mode::Evaluate);
    let interp = Interpreter::new(&m).unwrap().with_offload(&offload);
    let got = interp.call(loss, &args).unwrap();
    assert_eq!(got.data[0].to_bits(), expected.data[0].to_bits());
    assert_eq!(
        *offload.calls.borrow(),
        [sites[0].name.clone(), sites[1].name.clone()]
    );
    // The same interpreter serves many calls.
    let again = interp.call(loss, &args).unwrap();
    assert_eq!(again, got);
    assert_eq!(offload.calls.borrow().len(), 4);
    // Precomputed sites work too.
    let offload = CpuOffload::new(&m, Mode::Evaluate);
    let interp = Interpreter::new(&m)
        .unwrap()
        .with_offload_sites(&offload, &sites);
    assert_eq!(interp.call(loss, &args).unwrap(), got);
}

#[test]
fn f32_results_run_time_errors_and_empty_batches_match_the_plain_interpreter() {
    let m = read_module(FileId(0), PINN_LIKE).unwrap();
    let offload = CpuOffload::new(&m, Mode::Evaluate);
    let interp = Interpreter::new(&m).unwrap().with_offload(&offload);
    let plain = Interpreter::new(&m).unwrap();
    let points = m.function("points").unwrap();
    let args = vec![
        Tensor::vector(vec![0.0; 3]),
        Tensor::batch(vec![], 2, vec![0.3, 1e-9]).unwrap(),
    ];
    let got = interp.call(points, &args).unwrap();
    assert_eq!(got, plain.call(points, &args).unwrap());
    assert_eq!(got.data[0], (0.3f32 + 0.1f32) as f64);
    let oob = m.function("oob").unwrap();
    let args = vec![Tensor::batch(vec![], 2, vec![0.0, 1.0]).unwrap()];
    let err = interp.call(oob, &args).unwrap_err();
    assert_eq!(err, plain.call(oob, &args).unwrap_err());
    assert!(err.message.contains("out of range"), "{err}");
    // Zero points never reach the hook; `mean` of nothing is the interpreter's error.
    let calls = offload.calls.borrow().len();
    let loss = m.function("loss").unwrap();
    let empty = Tensor::batch(vec![], 0, vec![]).unwrap();
    let args = vec![Tensor::vector(vec![0.0; 3]), empty.clone(), empty];
    let err = interp.call(loss, &args).unwrap_err();
    assert_eq!(err, plain.call(loss, &args).unwrap_err());
    assert_eq!(offload.calls.borrow().len(), calls);
    // Batch mismatches are the interpreter's error, before the hook.
    let args = vec![
        Tensor::vector(vec![0.0; 3]),
        Tensor::batch(vec![], 2, vec![0.0, 1.0]).unwrap(),
        Tensor::batch(vec![], 1, vec![0.0]).unwrap(),
    ];
    let err = interp.call(loss, &args).unwrap_err();
    assert_eq!(err, plain.call(loss, &args).unwrap_err());
    assert!(err.message.contains("batch size mismatch"));
    assert_eq!(offload.calls.borrow().len(), calls);
}

#[test]
fn a_wrong_sized_answer_is_an_error_not_a_panic() {
    let m = read_module(FileId(0), PINN_LIKE).unwrap();
    let offload = CpuOffload::new(&m, Mode::WrongSize);
    let interp = Interpreter::new(&m).unwrap().with_offload(&offload);
    let args = vec![
        Tensor::vector(vec![0.0; 3]),
        Tensor::batch(vec![], 2, vec![0.3, 0.4]).unwrap(),
    ];
    let err = interp
        .call(m.function("points").unwrap(), &args)
        .unwrap_err();
    assert!(err.message.contains("wrong size"), "{err}");
    assert!(err.message.contains("sci_f1_points_v"), "{err}");
}

#[test]
fn only_valid_modules_are_wrapped() {
    let mut m = read_module(FileId(0), PINN_LIKE).unwrap();
    let valid = ValidModule::new(m.clone()).unwrap();
    assert_eq!(valid.module(), &m);
    if let Some(f) = m.functions.get_mut(sci_ir::FuncId::from_index(0)) {
        f.body.result = sci_ir::ValueId::from_index(10_000);
    }
    assert!(ValidModule::new(m).is_err());
    assert_eq!(valid.into_inner().functions.len(), 3);
}

#[test]
fn eval_site_checks_its_arguments() {
    let m = read_module(FileId(0), PINN_LIKE).unwrap();
    let sites = kernel_sites(&m);
    let interp = Interpreter::new(&m).unwrap();
    let t = Tensor::batch(vec![], 1, vec![0.0]).unwrap();
    let err = interp.eval_site(&sites[0], &[&t], &[]).unwrap_err();
    assert!(
        err.message.contains("takes 2 inputs and 2 captures"),
        "{err}"
    );
}

fn options(seed: u64) -> RandomOptions {
    RandomOptions {
        ops: 8 + (seed % 24) as usize,
        ..RandomOptions::default()
    }
}

#[test]
fn random_programs_have_plain_and_fused_sites() {
    let sites: Vec<KernelSite> = (0..256u64)
        .flat_map(|seed| kernel_sites(&random_function(seed, &options(seed))))
        .collect();
    let fused = sites.iter().filter(|s| s.reduce.is_some()).count();
    assert!(
        sites.len() >= 64,
        "only {} sites in 256 random programs",
        sites.len()
    );
    assert!(
        fused >= 8,
        "only {fused} fused sites in 256 random programs"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_give_the_same_results_with_an_offload(seed in any::<u64>()) {
        let m = random_function(seed, &options(seed));
        check_module(&m, seed, &format!("random program {seed}"));
    }
}
