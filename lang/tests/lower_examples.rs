//! The example models end to end: parse → check → lower → validate → interpret.
//!
//! Every example's printed IR is a snapshot; the numbers below are worked out by hand from
//! the equations in the example files.

use sci_diag::FileId;
use sci_ir::interp::{Tensor, eval};
use sci_ir::print::print_module;
use sci_ir::read::read_module;
use sci_ir::validate::validate_module;
use sci_ir::{Module, Op};
use sci_lang::check::{Checked, NO_OVERRIDES, TableSource, check_with_inputs, instantiate};
use sci_lang::hir::Program;
use sci_lang::lower::{LossInput, loss_inputs, lower_functions, lower_program};
use sci_lang::parser::parse;

/// The examples' data files (`examples/data/*.csv`, with a header row), for `interp`.
struct ExampleTables;

impl TableSource for ExampleTables {
    fn columns(
        &self,
        _name: &str,
        path: &str,
        columns: &[String],
    ) -> Result<Vec<Vec<f64>>, String> {
        let path = format!("{}/../examples/{path}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let rows: Vec<Vec<f64>> = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                l.split(',')
                    .map(|v| v.trim().parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        columns
            .iter()
            .map(|c| {
                let k = header
                    .iter()
                    .position(|h| h.trim() == c)
                    .ok_or("no column")?;
                Ok(rows.iter().map(|r| r[k]).collect())
            })
            .collect()
    }
}

fn checked(src: &str) -> (sci_lang::ast::SourceFile, Checked) {
    let parsed = parse(FileId(0), src);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let checked = check_with_inputs(&parsed.file, &NO_OVERRIDES, Some(&ExampleTables));
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    (parsed.file, checked)
}

/// Lowers every module of the program and validates each.
fn lower_all(program: &Program) -> Vec<Module> {
    let modules = match lower_program(program) {
        Ok(m) => m,
        Err(d) => panic!("lowering failed: {d:#?}"),
    };
    for m in &modules {
        if let Err(e) = validate_module(m) {
            let msgs: Vec<String> = e.iter().map(|e| e.to_string()).collect();
            panic!("invalid IR:\n{}\n{}", msgs.join("\n"), print_module(m));
        }
        let text = print_module(m);
        match read_module(FileId(0), &text) {
            Ok(back) => assert!(&back == m, "the printed IR reads back differently:\n{text}"),
            Err(d) => panic!("the printed IR does not read back: {d:#?}\n{text}"),
        }
    }
    modules
}

/// The module of the (first) model of an example file.
fn model(src: &str) -> Module {
    let (_, c) = checked(src);
    lower_all(&c.program).remove(0)
}

fn call(m: &Module, name: &str, args: &[Tensor]) -> Vec<f64> {
    let f = m
        .function(name)
        .unwrap_or_else(|| panic!("no function {name}"));
    match eval(m, f, args) {
        Ok(t) => t.data,
        Err(e) => panic!("{name} failed: {e:?}\n{}", print_module(m)),
    }
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

fn theta(m: &Module) -> Tensor {
    Tensor::vector(m.params.defaults())
}

/// `rhs(0, y, θ_default)`.
fn rhs(m: &Module, y: &[f64]) -> Vec<f64> {
    call(
        m,
        "rhs",
        &[Tensor::scalar(0.0), Tensor::vector(y.to_vec()), theta(m)],
    )
}

fn y0(m: &Module) -> Vec<f64> {
    call(m, "y0", &[theta(m)])
}

const LOTKA_VOLTERRA: &str = include_str!("../../examples/lotka_volterra.sci");
const ROBERTSON: &str = include_str!("../../examples/robertson.sci");
const VAN_DER_POL: &str = include_str!("../../examples/van_der_pol.sci");
const PENDULUM: &str = include_str!("../../examples/pendulum.sci");
const HEAT1D: &str = include_str!("../../examples/heat1d.sci");
const BRUSSELATOR: &str = include_str!("../../examples/brusselator.sci");
const BURGERS: &str = include_str!("../../examples/burgers_pinn.sci");
const POISSON: &str = include_str!("../../examples/poisson2d_pinn.sci");
const LV_UDE: &str = include_str!("../../examples/lv_ude.sci");
const ROSENBROCK: &str = include_str!("../../examples/rosenbrock.sci");

#[test]
fn every_example_lowers_to_valid_ir() {
    insta::glob!("../../examples", "*.sci", |path| {
        let src = std::fs::read_to_string(path).expect("readable example");
        let (_, c) = checked(&src);
        let mut modules = lower_all(&c.program);
        for m in &mut modules {
            // A paper-sized network's initial weights (`burgers_fno`: 550k) would make a
            // snapshot of megabytes; their layout is kept, the values are checked by
            // `tests/fno.rs`.
            if m.params.len > 100_000 {
                for slot in &mut m.params.slots {
                    slot.default.clear();
                }
            }
        }
        let text: Vec<String> = modules.iter().map(print_module).collect();
        insta::assert_snapshot!(text.join("\n"));
    });
}

#[test]
fn lotka_volterra() {
    let m = model(LOTKA_VOLTERRA);
    close(&rhs(&m, &[10.0, 5.0]), &[-35.0, 35.0]);
    close(&y0(&m), &[10.0, 5.0]);
    let invariant = 10.0 - 3.0 * 10f64.ln() + 5.0 - 1.5 * 5f64.ln();
    let out = call(
        &m,
        "outputs",
        &[
            Tensor::scalar(0.0),
            Tensor::vector(vec![10.0, 5.0]),
            theta(&m),
        ],
    );
    close(&out, &[15.0, invariant]);
}

#[test]
fn robertson() {
    let m = model(ROBERTSON);
    close(&y0(&m), &[1.0, 0.0, 0.0]);
    let y = [0.9, 1e-5, 0.1];
    let (k1, k2, k3) = (0.04, 3.0e7, 1.0e4);
    let r1 = -k1 * y[0] + k3 * y[1] * y[2];
    let r2 = k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] * y[1];
    let r3 = k2 * y[1] * y[1];
    close(&rhs(&m, &y), &[r1, r2, r3]);
}

#[test]
fn van_der_pol() {
    let m = model(VAN_DER_POL);
    close(&y0(&m), &[2.0, 0.0]);
    close(
        &rhs(&m, &[2.0, 0.5]),
        &[0.5, 1000.0 * (1.0 - 4.0) * 0.5 - 2.0],
    );
}

#[test]
fn pendulum_with_units() {
    let m = model(PENDULUM);
    assert!(print_module(&m).contains("[m]"));
    close(&y0(&m), &[0.3, 0.0]);
    let y = [0.3, 0.5];
    close(&rhs(&m, &y), &[0.5, -9.81 * 0.3f64.sin() - 0.1 * 0.5]);
    let h = 1.0 - 0.3f64.cos();
    let out = call(
        &m,
        "outputs",
        &[Tensor::scalar(0.0), Tensor::vector(y.to_vec()), theta(&m)],
    );
    close(&out, &[h, 0.5 * 0.25 + 9.81 * h]);
}

#[test]
fn heat1d_stencil() {
    let m = model(HEAT1D);
    let n = 200;
    let dx = 1.0 / (n as f64 + 1.0);
    let expected_y0: Vec<f64> = (0..n)
        .map(|i| (std::f64::consts::PI * (i as f64 + 1.0) * dx).sin())
        .collect();
    close(&y0(&m), &expected_y0);
    let u: Vec<f64> = (0..n)
        .map(|i| (i as f64 * 0.1).sin() + 0.01 * i as f64)
        .collect();
    let at = |k: isize| {
        if k < 0 || k >= n as isize {
            0.0
        } else {
            u[k as usize]
        }
    };
    let expected: Vec<f64> = (0..n as isize)
        .map(|i| 0.1 * (at(i - 1) - 2.0 * at(i) + at(i + 1)) / (dx * dx))
        .collect();
    close(&rhs(&m, &u), &expected);
    let out = call(
        &m,
        "outputs",
        &[Tensor::scalar(0.0), Tensor::vector(u.clone()), theta(&m)],
    );
    close(&out, &[u[100]]);
    // The stencil stays one tabulate: code size does not grow with n.
    assert!(m.functions[m.function("rhs").unwrap()].op_count() < 40);
}

#[test]
fn brusselator_boundaries() {
    let m = model(BRUSSELATOR);
    let n = 32;
    let dx = 1.0 / (n as f64 + 1.0);
    let mut expected_y0: Vec<f64> = (0..n)
        .map(|i| 1.0 + (2.0 * std::f64::consts::PI * (i as f64 + 1.0) * dx).sin())
        .collect();
    expected_y0.extend(std::iter::repeat_n(3.0, n));
    close(&y0(&m), &expected_y0);
    let u: Vec<f64> = (0..n).map(|i| 1.0 + 0.1 * (i as f64 * 0.3).cos()).collect();
    let v: Vec<f64> = (0..n).map(|i| 3.0 - 0.05 * i as f64).collect();
    let (a, b, alpha) = (1.0, 3.0, 0.02);
    let lap = |w: &[f64], lo: f64, hi: f64, i: usize| {
        let left = if i == 0 { lo } else { w[i - 1] };
        let right = if i == n - 1 { hi } else { w[i + 1] };
        (left - 2.0 * w[i] + right) / (dx * dx)
    };
    let mut expected: Vec<f64> = (0..n)
        .map(|i| a + u[i] * u[i] * v[i] - (b + 1.0) * u[i] + alpha * lap(&u, 1.0, 1.0, i))
        .collect();
    expected.extend((0..n).map(|i| b * u[i] - u[i] * u[i] * v[i] + alpha * lap(&v, 3.0, 3.0, i)));
    let mut y = u.clone();
    y.extend(&v);
    close(&rhs(&m, &y), &expected);
}

#[test]
fn burgers_loss_structure() {
    let (_, c) = checked(BURGERS);
    let m = lower_all(&c.program).remove(0);
    // (2·20 + 20) + (20·20 + 20) + (20·20 + 20) + (20·1 + 1).
    assert_eq!(m.params.len, 921);
    let names: Vec<String> = loss_inputs(&c.program.models[0])
        .iter()
        .map(LossInput::name)
        .collect();
    assert_eq!(
        names,
        [
            "pde.t",
            "pde.x",
            "initial.t",
            "initial.x",
            "boundary.t",
            "boundary.x"
        ]
    );
    let loss = &m.functions[m.function("loss").unwrap()];
    assert_eq!(loss.inputs().len(), 7);
    let count = |pred: fn(&Op) -> bool| loss.values.iter().filter(|(_, v)| pred(&v.op)).count();
    assert_eq!(count(|op| matches!(op, Op::Map { .. })), 3);
    assert_eq!(count(|op| matches!(op, Op::ReduceBatch(..))), 3);
    assert!(count(|op| matches!(op, Op::Deriv { .. })) >= 3);
    for r in ["residual.pde", "residual.initial", "residual.boundary"] {
        assert!(m.function(r).is_some(), "{r}");
    }
    // The initial residual has no derivatives: u(0, x) + sin(πx) evaluates.
    let pts = |v: Vec<f64>| Tensor {
        shape: vec![],
        batch: Some(v.len()),
        data: v,
    };
    let xs = vec![-0.5, 0.5];
    let got = call(
        &m,
        "residual.initial",
        &[theta(&m), pts(vec![0.0, 0.0]), pts(xs.clone())],
    );
    for (g, x) in got.iter().zip(&xs) {
        let u = call(
            &m,
            "net.u",
            &[theta(&m), Tensor::scalar(0.0), Tensor::scalar(*x)],
        )[0];
        close(&[*g], &[u + (std::f64::consts::PI * x).sin()]);
    }
}

#[test]
fn poisson_loss_structure() {
    let (_, c) = checked(POISSON);
    let m = lower_all(&c.program).remove(0);
    assert_eq!(m.params.len, (2 * 32 + 32) + (32 * 32 + 32) + (32 + 1));
    let names: Vec<String> = loss_inputs(&c.program.models[0])
        .iter()
        .map(LossInput::name)
        .collect();
    assert_eq!(names, ["interior.x", "interior.y", "edge.x", "edge.y"]);
    let loss = &m.functions[m.function("loss").unwrap()];
    let derivs = loss
        .values
        .iter()
        .filter(|(_, v)| matches!(v.op, Op::Deriv { .. }))
        .count();
    assert!(derivs >= 2, "the laplacian is two second derivatives");
}

/// The network `h` of the UDE evaluated by hand (tanh hidden layers).
fn mlp_by_hand(m: &Module, x: &[f64]) -> Vec<f64> {
    let theta = m.params.defaults();
    let mut h = x.to_vec();
    let mut k = 0;
    while let Some(w) = m.params.slot(&format!("h.w{k}")) {
        let b = m.params.slot(&format!("h.b{k}")).expect("bias");
        let (rows, cols) = (w.shape[0], w.shape[1]);
        let last = m.params.slot(&format!("h.w{}", k + 1)).is_none();
        h = (0..rows)
            .map(|r| {
                let z = (0..cols)
                    .map(|c| theta[w.offset + r * cols + c] * h[c])
                    .sum::<f64>()
                    + theta[b.offset + r];
                if last { z } else { z.tanh() }
            })
            .collect();
        k += 1;
    }
    h
}

#[test]
fn lv_ude_rhs_and_loss() {
    let (_, c) = checked(LV_UDE);
    let m = lower_all(&c.program).remove(0);
    assert_eq!(
        m.params.len,
        2 + (2 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)
    );
    close(&y0(&m), &[0.44, 4.6]);
    let y = [0.44, 4.6];
    let h = mlp_by_hand(&m, &y);
    close(&rhs(&m, &y), &[1.3 * 0.44 + h[0], -0.8 * 4.6 + h[1]]);
    assert_eq!(
        loss_inputs(&c.program.models[0]),
        [
            LossInput::Data {
                data: "obs".to_string(),
                columns: 3
            },
            LossInput::Trajectory {
                data: "obs".to_string(),
                states: 2,
                time_column: 0
            },
        ]
    );
    let rows = Tensor {
        shape: vec![3],
        batch: Some(2),
        data: vec![0.0, 1.0, 2.0, 0.5, 3.0, 1.0],
    };
    let traj = Tensor {
        shape: vec![2],
        batch: Some(2),
        data: vec![1.5, 2.0, 2.0, 4.0],
    };
    let got = call(&m, "loss", &[theta(&m), rows, traj]);
    // Row 0: (1.5 − 1)² + (2 − 2)² = 0.25; row 1: (2 − 3)² + (4 − 1)² = 10.
    close(&got, &[(0.25 + 10.0) / 2.0]);
}

#[test]
fn rosenbrock_instances() {
    let (file, mut c) = checked(ROSENBROCK);
    let four = instantiate(&file, &mut c, "rosenbrock", &[vec![4]]).expect("instantiates");
    let two = instantiate(&file, &mut c, "rosenbrock", &[vec![2]]).expect("instantiates");
    instantiate(&file, &mut c, "rosenbrock_grad", &[vec![3]]).expect("instantiates");
    let m = match lower_functions(&c.program) {
        Ok(m) => m,
        Err(d) => panic!("{d:#?}"),
    };
    validate_module(&m).expect("valid");
    let symbol = |id: sci_lang::hir::FnInstanceId| c.program.functions[id.index()].symbol.clone();
    close(
        &call(&m, &symbol(four), &[Tensor::vector(vec![1.0; 4])]),
        &[0.0],
    );
    close(
        &call(&m, &symbol(two), &[Tensor::vector(vec![0.0, 0.0])]),
        &[1.0],
    );
    close(
        &call(&m, &symbol(two), &[Tensor::vector(vec![0.5, 2.0])]),
        &[100.0 * 1.75f64.powi(2) + 0.25],
    );
}
