//! Insta snapshots of the printed IR of builder-made and random modules, of validator
//! reports, and of reader diagnostics (with line:column positions).

use sci_diag::{FileId, LineIndex};
use sci_ir::random::{RandomOptions, random_function};
use sci_ir::*;

/// The heat equation `du/dt = κ (u[i-1] - 2u[i] + u[i+1]) / dx²` on `n` points, built the
/// way lowering builds it: a `tabulate` whose body reads neighbours with `fill 0`.
fn heat(n: usize) -> Module {
    let mut m = Module::new("Heat1D");
    let per_second = Unit::base(2).powr(Rational::int(-1));
    m.params.push("kappa", vec![], per_second, vec![0.1]);
    m.states.push("u", vec![n], None, Vec::new());
    let mut b = FunctionBuilder::new(
        "rhs",
        vec![
            ("t".into(), Type::scalar().with_unit(Some(Unit::base(2)))),
            ("u".into(), Type::f64(vec![n])),
            ("θ".into(), Type::f64(vec![1])),
        ],
    );
    let (u, theta) = (b.input(1).unwrap(), b.input(2).unwrap());
    let zero = b.push(Op::Const(0.0), Type::index());
    let kappa = b.push_named(
        Op::Index {
            array: theta,
            indices: vec![zero],
            fill: None,
        },
        Type::scalar(),
        "kappa",
    );
    let dx = 1.0 / (n as f64 + 1.0);
    let inv_dx2 = b.push_named(Op::Const(1.0 / (dx * dx)), Type::scalar(), "inv_dx2");
    let i = b.begin_block(vec![(Some("i".into()), Type::index())])[0];
    let one = b.push(Op::Const(1.0), Type::index());
    let im1 = b.push(Op::Binary(BinaryOp::Sub, i, one), Type::index());
    let ip1 = b.push(Op::Binary(BinaryOp::Add, i, one), Type::index());
    let left = b.push(
        Op::Index {
            array: u,
            indices: vec![im1],
            fill: Some(0.0),
        },
        Type::scalar(),
    );
    let mid = b.push(
        Op::Index {
            array: u,
            indices: vec![i],
            fill: None,
        },
        Type::scalar(),
    );
    let right = b.push(
        Op::Index {
            array: u,
            indices: vec![ip1],
            fill: Some(0.0),
        },
        Type::scalar(),
    );
    let twice = b.push(Op::Powi(mid, 1), Type::scalar());
    let two = b.push(Op::Const(2.0), Type::scalar());
    let twice = b.push(Op::Binary(BinaryOp::Mul, two, twice), Type::scalar());
    let s = b.push(Op::Binary(BinaryOp::Sub, left, twice), Type::scalar());
    let lap = b.push(Op::Binary(BinaryOp::Add, s, right), Type::scalar());
    let k = b.push(Op::Binary(BinaryOp::Mul, kappa, lap), Type::scalar());
    let v = b.push(Op::Binary(BinaryOp::Mul, k, inv_dx2), Type::scalar());
    let body = b.end_block(v);
    let du = b.push_named(
        Op::Tabulate {
            extents: vec![n],
            body,
        },
        Type::f64(vec![n]),
        "du",
    );
    m.functions.push(b.finish(du));
    m
}

#[test]
fn heat_equation_prints() {
    let m = heat(200);
    validate_module(&m).unwrap();
    insta::assert_snapshot!(print_module(&m));
}

#[test]
fn heat_equation_evaluates() {
    let m = heat(3);
    let u = Tensor::vector(vec![1.0, 2.0, 3.0]);
    let out = eval(
        &m,
        FuncId::from_index(0),
        &[Tensor::scalar(0.0), u, Tensor::vector(vec![0.1])],
    )
    .unwrap();
    // dx = 1/4: κ/dx² = 1.6; Laplacians 0, 0, -4.
    insta::assert_snapshot!(out.to_string(), @"[0, 0, -6.4]");
}

#[test]
fn random_programs_print() {
    let plain = RandomOptions {
        decorate: false,
        ..RandomOptions::default()
    };
    insta::assert_snapshot!("random_1_plain", print_module(&random_function(1, &plain)));
    insta::assert_snapshot!(
        "random_2_decorated",
        print_module(&random_function(2, &RandomOptions::default()))
    );
}

#[test]
fn validator_report() {
    let text = "\
func f(%0: f64[2], %1: batch f64) -> i64 indexed {
  %2: f64[3] = add %0, %0
  %3: f64 = exp %1
  %4: f64 = deriv %2 wrt %0
  %5: f64 = index %0[%3]
  %6: i64 = const 0.5
  return %6
}
";
    let m = read_module(FileId(0), text).unwrap();
    let errors = validate_module(&m).unwrap_err();
    let lines: Vec<String> = errors.iter().map(|e| format!("[{}] {e}", e.code)).collect();
    insta::assert_snapshot!(lines.join("\n"));
}

fn render(text: &str) -> String {
    let idx = LineIndex::new(text);
    match read_module(FileId(0), text) {
        Ok(_) => "reads".to_string(),
        Err(diags) => diags
            .iter()
            .map(|d| {
                let (line, col) = d
                    .primary_span()
                    .map(|s| idx.line_col(text, s.start as usize))
                    .unwrap_or((0, 0));
                let label = d.labels.first().map(|l| l.message.as_str()).unwrap_or("");
                let help = d
                    .help
                    .as_deref()
                    .map(|h| format!("\n  help: {h}"))
                    .unwrap_or_default();
                format!("{}:{}: {d} ({label}){help}", line + 1, col + 1)
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn reader_diagnostics() {
    let cases = [
        "func f(%x: f64) -> f64 {\n  %y: f64 = add %x %x\n  return %y\n}\n",
        "func f(%x: f64) -> f64 {\n  %y: f64 = add %x, %q\n  return %y\n}\n",
        "func f(%x: f64) -> f64 {\n  %y: f64 = call @nothing(%x)\n  return %y\n}\n",
        "func f(%x: f65) -> f64 {\n  return %x\n}\n",
        "func f(%x: f64 [m/furlong]) -> f64 {\n  return %x\n}\n",
        "func f(%x: f64) -> f64 {\n  %y \"unterminated: f64 = exp %x\n",
        "func f(%x: f64) -> f64 indexed {\n  %0: f64 = exp %x\n  return %0\n}\n",
        "func f(%1: f64) -> f64 indexed {\n  return %1\n}\n",
        "module M\nfunc f(%x: f64) -> f64 {\n  return %x\n",
        "func f(%x: f64) -> f64 {\n  %y: f64 = exp %x\n  %y: f64 = exp %y\n  return %y\n}\n",
        "params { a: i64 @ 0 }\n",
        "func f(%x: f64) -> f64 {\n  %y: f64 = const 1e\n  return %y\n}\n",
        "func f(%x: f64) -> f64 { $ }\n",
    ];
    let out: Vec<String> = cases.iter().map(|c| render(c)).collect();
    insta::assert_snapshot!(out.join("\n\n"));
}

#[test]
fn tensors_display() {
    let t = Tensor::new(vec![2, 2], vec![1.0, 2.5, -0.0, f64::INFINITY]).unwrap();
    let b = Tensor::batch(vec![2], 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    insta::assert_snapshot!(format!("{t}\n{b}\n{}", Tensor::scalar(0.1)), @r"
    [[1, 2.5], [-0.0, inf]]
    batch 2 [[1, 2], [3, 4]]
    0.1
    ");
}
