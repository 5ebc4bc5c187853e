//! The differential-test harness: any [`Backend`] against the reference interpreter.
//!
//! [`check_module`] compiles a module with the back end under test, evaluates every function
//! that has code on given inputs with both the back end and `sci_ir::interp`, and reports
//! every disagreement: a different value (beyond a [`Tolerance`]), a different shape, or one
//! side failing where the other succeeds. Back ends plug in by implementing [`Backend`]; the
//! tests of each (Cranelift today; LLVM, MLIR later) call this with their own tolerance.

use crate::{Backend, CompiledModule};
use sci_ir::interp::close;
use sci_ir::{FuncId, Interpreter, Module, Tensor};
use std::fmt;

/// How close a back end's numbers must be to the interpreter's: `|got − want| ≤ atol +
/// rtol·|want|`, NaN matching NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Tolerance {
    /// Bit-for-bit equal (NaN payloads aside).
    pub const EXACT: Tolerance = Tolerance {
        rtol: 0.0,
        atol: 0.0,
    };
    /// The project's bound for back ends that reorder sums or call another libm.
    pub const DEFAULT: Tolerance = Tolerance {
        rtol: 1e-12,
        atol: 1e-13,
    };
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
    let code = backend.compile(module).map_err(|e| {
        format!(
            "{} could not compile `{}`: {e}",
            backend.name(),
            module.name
        )
    })?;
    Interpreter::new(module).map_err(|e| e.message)?;
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
            match compare_call(&*code, module, f.id, &f.name, args, tol) {
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
    module: &Module,
    id: FuncId,
    name: &str,
    args: Vec<Tensor>,
    tol: Tolerance,
) -> Result<Outcome, Box<Mismatch>> {
    let limited = Interpreter::new(module).map(|i| i.with_step_limit(STEP_LIMIT));
    let expected = match &limited {
        Ok(i) => i.call(id, &args).map_err(|e| e.message),
        Err(e) => Err(e.message.clone()),
    };
    if let Err(e) = &expected
        && (e.contains("step limit") || e.contains("too large") || e.contains("stack depth"))
    {
        return Ok(Outcome::Skipped);
    }
    let got = code.call(name, &args).map_err(|e| e.message);
    let agree = match (&expected, &got) {
        (Ok(e), Ok(g)) => {
            e.shape == g.shape
                && e.batch == g.batch
                && e.data.len() == g.data.len()
                && e.data
                    .iter()
                    .zip(&g.data)
                    .all(|(w, x)| close(*x, *w, tol.rtol, tol.atol))
        }
        (Err(e), Err(g)) => same_failure(e, g),
        _ => false,
    };
    match (agree, expected.is_ok()) {
        (true, true) => Ok(Outcome::Compared),
        (true, false) => Ok(Outcome::BothFailed),
        (false, _) => Err(Box::new(Mismatch {
            module: module.name.clone(),
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
