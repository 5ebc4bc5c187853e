//! The differential-test harness: any [`Backend`] against the reference interpreter.
//!
//! [`check_module`] compiles a module with the back end under test, evaluates every function
//! that has code on given inputs with both the back end and `sci_ir::interp`, and reports
//! every disagreement: a different value (beyond a [`Tolerance`]), a different shape, or one
//! side failing where the other succeeds. Back ends plug in by implementing [`Backend`]; the
//! tests of every back end (`codegen/tests/backends.rs`) call this with their own tolerance.
//! [`structured_inputs`] gives the structured stress module its edge cases.

use crate::{Backend, CompiledModule};
use sci_ir::interp::close;
use sci_ir::random::random_inputs;
use sci_ir::{FuncId, Interpreter, Module, Tensor, ValidModule};
use std::fmt;

/// How close a back end's numbers must be to the interpreter's: `|got − want| ≤ atol +
/// rtol·|want|`, NaN matching NaN; norm-wise, `|want|` is the largest of the result's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
    /// Whether each element's error is measured against the largest `|want|` of the
    /// result rather than its own: the bound for code that reorders long sums whose terms
    /// cancel (matrix-product kernels over a tile), where a small element can carry the
    /// rounding of large terms.
    pub normwise: bool,
}

impl Tolerance {
    /// Bit-for-bit equal (NaN payloads aside).
    pub const EXACT: Tolerance = Tolerance {
        rtol: 0.0,
        atol: 0.0,
        normwise: false,
    };
    /// The project's bound for back ends that reorder sums or call another libm.
    pub const DEFAULT: Tolerance = Tolerance {
        rtol: 1e-12,
        atol: 1e-13,
        normwise: false,
    };
    /// [`Tolerance::DEFAULT`], norm-wise: for batch-major code with matrix-product kernels.
    pub const NORMWISE: Tolerance = Tolerance {
        normwise: true,
        ..Tolerance::DEFAULT
    };

    /// Whether `got` has `want`'s shape and batch and every element is within this
    /// tolerance of `want`'s.
    pub fn agree(&self, want: &Tensor, got: &Tensor) -> bool {
        let scale = if self.normwise {
            want.data
                .iter()
                .filter(|w| w.is_finite())
                .fold(0.0f64, |m, w| m.max(w.abs()))
        } else {
            0.0
        };
        want.shape == got.shape
            && want.batch == got.batch
            && want.data.len() == got.data.len()
            && want.data.iter().zip(&got.data).all(|(w, x)| {
                close(*x, *w, self.rtol, self.atol)
                    || (self.normwise
                        && w.is_finite()
                        && (x - w).abs() <= self.atol + self.rtol * scale)
            })
    }
}

/// One disagreement.
#[derive(Clone, Debug)]
pub struct Mismatch {
    pub module: String,
    pub function: String,
    pub inputs: Vec<Tensor>,
    /// The interpreter's answer.
    pub expected: Result<Tensor, String>,
    /// The back end's answer.
    pub got: Result<Tensor, String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |r: &Result<Tensor, String>| match r {
            Ok(t) => t.to_string(),
            Err(e) => format!("error: {e}"),
        };
        let ins: Vec<String> = self.inputs.iter().map(|t| t.to_string()).collect();
        write!(
            f,
            "{}::{}({}): interpreter {} but back end {}",
            self.module,
            self.function,
            ins.join(", "),
            show(&self.expected),
            show(&self.got)
        )
    }
}

/// What a check covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Calls whose results were compared.
    pub compared: usize,
    /// Calls where both sides failed (with the same kind of failure).
    pub both_failed: usize,
    /// Functions without code (unexpanded derivatives), not compared.
    pub unavailable: usize,
    /// Calls the interpreter gave up on (its step limit), not compared.
    pub skipped: usize,
}

impl std::ops::AddAssign for Report {
    fn add_assign(&mut self, o: Report) {
        self.compared += o.compared;
        self.both_failed += o.both_failed;
        self.unavailable += o.unavailable;
        self.skipped += o.skipped;
    }
}

/// Where the inputs of each call come from.
pub enum Inputs<'a> {
    /// `sci_ir::random::random_inputs` with these seeds.
    Random(std::ops::Range<u64>),
    /// Given per function (functions without an entry get one random set).
    Given(&'a dyn Fn(&Module, FuncId) -> Vec<Vec<Tensor>>),
}

/// Ops the interpreter may evaluate per call before the call is skipped.
const STEP_LIMIT: u64 = 2_000_000;

/// Compiles `module` with `backend` and compares every function with code against the
/// interpreter on `inputs`. A compile error is reported as `Err` with the message.
pub fn check_module(
    backend: &dyn Backend,
    module: &Module,
    inputs: &Inputs<'_>,
    tol: Tolerance,
) -> Result<(Report, Vec<Mismatch>), String> {
    let valid = crate::validate(module).map_err(|e| e.message)?;
    let code = backend.compile(&valid).map_err(|e| {
        format!(
            "{} could not compile `{}`: {e}",
            backend.name(),
            module.name
        )
    })?;
    let mut report = Report::default();
    let mut mismatches = Vec::new();
    for f in code.functions() {
        if f.unavailable.is_some() {
            report.unavailable += 1;
            continue;
        }
        let sets = match inputs {
            Inputs::Random(seeds) => seeds
                .clone()
                .map(|s| sci_ir::random::random_inputs(module, f.id, s))
                .collect(),
            Inputs::Given(given) => given(module, f.id),
        };
        for args in sets {
            match compare_call(&*code, &valid, f.id, &f.name, args, tol) {
                Ok(Outcome::Compared) => report.compared += 1,
                Ok(Outcome::BothFailed) => report.both_failed += 1,
                Ok(Outcome::Skipped) => report.skipped += 1,
                Err(m) => mismatches.push(*m),
            }
        }
    }
    Ok((report, mismatches))
}

enum Outcome {
    Compared,
    BothFailed,
    Skipped,
}

fn compare_call(
    code: &dyn CompiledModule,
    module: &ValidModule,
    id: FuncId,
    name: &str,
    args: Vec<Tensor>,
    tol: Tolerance,
) -> Result<Outcome, Box<Mismatch>> {
    let expected = Interpreter::of_valid(module)
        .with_step_limit(STEP_LIMIT)
        .call(id, &args)
        .map_err(|e| e.message);
    if let Err(e) = &expected
        && (e.contains("step limit") || e.contains("too large") || e.contains("stack depth"))
    {
        return Ok(Outcome::Skipped);
    }
    let got = code.call(name, &args).map_err(|e| e.message);
    let agree = match (&expected, &got) {
        (Ok(e), Ok(g)) => tol.agree(e, g),
        (Err(e), Err(g)) => same_failure(e, g),
        _ => false,
    };
    match (agree, expected.is_ok()) {
        (true, true) => Ok(Outcome::Compared),
        (true, false) => Ok(Outcome::BothFailed),
        (false, _) => Err(Box::new(Mismatch {
            module: module.module().name.clone(),
            function: name.to_string(),
            inputs: args,
            expected,
            got,
        })),
    }
}

/// Whether two failure messages describe the same kind of failure.
fn same_failure(interp: &str, backend: &str) -> bool {
    let kinds = [
        ("out of range", "out of range"),
        ("batch size mismatch", "batch size mismatch"),
        ("empty batch", "empty batch"),
        ("must have", "must"),
        ("takes", "takes"),
        ("holds", "holds"),
    ];
    kinds
        .iter()
        .any(|(i, b)| interp.contains(i) && backend.contains(b))
}

/// Edge values for min/max/NaN handling.
const EDGES: [f64; 8] = [
    0.0,
    -0.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e300,
    -1e-300,
    2.5,
];

/// Inputs for function `func` of the structured stress module
/// (`ir/tests/filetests/structured.sir`), for [`Inputs::Given`]: random sets, sets salted
/// with edge values, batches of 0 and 1000 points, mismatched batches and indices out of
/// range. Functions of other modules get random sets only.
pub fn structured_inputs(module: &Module, func: FuncId) -> Vec<Vec<Tensor>> {
    let Some(name) = module.functions.get(func).map(|f| f.name.as_str()) else {
        return Vec::new();
    };
    let mut sets: Vec<Vec<Tensor>> = (0..4).map(|s| random_inputs(module, func, s)).collect();
    let indexed = name.starts_with("pick") || name == "map_index";
    for salt in 0..EDGES.len() {
        let mut set = random_inputs(module, func, 100 + salt as u64);
        for t in &mut set {
            for (k, x) in t.data.iter_mut().enumerate() {
                if k % 3 == salt % 3 {
                    *x = EDGES[(k + salt) % EDGES.len()];
                }
            }
        }
        if !indexed {
            sets.push(set);
        }
    }
    let batch = |per: usize, points: usize, scale: f64| Tensor {
        shape: if per == 1 { vec![] } else { vec![per] },
        batch: Some(points),
        data: (0..per * points)
            .map(|k| ((k as f64) * 0.37).sin() * scale)
            .collect(),
    };
    let indices = |values: &[f64]| Tensor {
        shape: vec![],
        batch: Some(values.len()),
        data: values.to_vec(),
    };
    match name {
        "rb_sum" => {
            sets.push(vec![batch(3, 0, 1.0)]);
            sets.push(vec![batch(3, 1000, 1e3)]);
        }
        "rb_prod" | "rb_min" => {
            sets.push(vec![batch(1, 0, 1.0)]);
            sets.push(vec![batch(1, 1000, 1.5)]);
        }
        "rb_max" => {
            sets.push(vec![batch(3, 0, 1.0)]);
            sets.push(vec![batch(3, 1000, 1.0)]);
        }
        "rb_mean" => {
            sets.push(vec![batch(12, 0, 1.0)]);
            sets.push(vec![batch(12, 1000, 1e5)]);
        }
        "map_scale" => {
            sets.push(vec![batch(1, 5, 1.0), batch(3, 4, 1.0)]);
            sets.push(vec![batch(1, 0, 1.0), batch(3, 0, 1.0)]);
            sets.push(vec![batch(1, 300, 1.0), batch(3, 300, 2.0)]);
        }
        "map_loss" => {
            let theta = Tensor {
                shape: vec![2],
                batch: None,
                data: vec![0.5, -0.25],
            };
            sets.push(vec![theta.clone(), batch(1, 0, 1.0)]);
            sets.push(vec![theta, batch(1, 777, 3.0)]);
        }
        "map_index" => {
            let v = Tensor::vector(vec![1.0, -2.0, 30.0, 0.5]);
            sets.push(vec![v.clone(), indices(&[0.0, 3.0, 1.0, 2.0])]);
            sets.push(vec![v.clone(), indices(&[0.0, 4.0, 1.0])]);
            sets.push(vec![v, indices(&[-1.0])]);
        }
        "literal_and_calls" => {
            let x = Tensor::vector(vec![0.5, 2.0, 1.25]);
            sets.push(vec![x, batch(1, 17, 1.0)]);
        }
        "f32_batch" => {
            sets.push(vec![batch(1, 100, 3.3)]);
        }
        "pick" | "pick_row" | "pick_strict_row" => {
            for i in [-1.0, 0.0, 2.0, 3.0, 4.0, 7.0] {
                let mut set = random_inputs(module, func, 7);
                if let Some(x) = set.get_mut(1).and_then(|t| t.data.first_mut()) {
                    *x = i;
                }
                sets.push(set);
            }
        }
        _ => {}
    }
    sets
}
