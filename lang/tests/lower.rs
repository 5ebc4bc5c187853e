//! Lowering of hand-built HIR, independent of the parser and checker: layouts, function
//! signatures, the printed IR, validation, diagnostics for broken HIR, and values through
//! the reference interpreter.

use sci_diag::Span;
use sci_ir::interp::{Tensor, eval};
use sci_ir::print::print_module;
use sci_ir::read::read_module;
use sci_ir::validate::validate_module;
use sci_ir::{Module, Op, Unit};
use sci_lang::hir::*;
use sci_lang::lower::{
    LossInput, SplitMix64, loss_inputs, lower_functions, lower_model, lower_program,
};

// ---------------------------------------------------------------- HIR construction kit

fn sp() -> Span {
    Span::default()
}

fn real() -> Ty {
    Ty::real(None)
}

fn real_unit(u: Unit) -> Ty {
    Ty::real(Some(u))
}

fn arr(n: usize) -> Ty {
    Ty {
        shape: vec![n],
        ..real()
    }
}

fn ex(kind: HExprKind, ty: Ty) -> HExpr {
    HExpr {
        kind,
        ty,
        span: sp(),
    }
}

fn num(v: f64) -> HExpr {
    ex(HExprKind::Const(v), real())
}

fn int(v: i64) -> HExpr {
    ex(HExprKind::Const(v as f64), Ty::int())
}

fn param(k: u32) -> HExpr {
    ex(HExprKind::Param(ParamId(k)), real())
}

fn state(k: u32) -> HExpr {
    ex(HExprKind::State(StateId(k)), real())
}

/// Elementwise binary op; the result type is the operand with more axes (units dropped).
fn bin(op: Binary, a: HExpr, b: HExpr) -> HExpr {
    let mut ty = if a.ty.shape.len() >= b.ty.shape.len() {
        a.ty.clone()
    } else {
        b.ty.clone()
    };
    ty.unit = None;
    if a.ty.scalar == Scalar::Real || b.ty.scalar == Scalar::Real {
        ty.scalar = Scalar::Real;
    }
    ex(HExprKind::Binary(op, Box::new(a), Box::new(b)), ty)
}

fn add(a: HExpr, b: HExpr) -> HExpr {
    bin(Binary::Add, a, b)
}
fn sub(a: HExpr, b: HExpr) -> HExpr {
    bin(Binary::Sub, a, b)
}
fn mul(a: HExpr, b: HExpr) -> HExpr {
    bin(Binary::Mul, a, b)
}
fn div(a: HExpr, b: HExpr) -> HExpr {
    bin(Binary::Div, a, b)
}
fn powi(a: HExpr, n: i32) -> HExpr {
    let ty = a.ty.clone();
    ex(HExprKind::Powi(Box::new(a), n), ty)
}
fn unary(op: Unary, a: HExpr) -> HExpr {
    let ty = a.ty.clone();
    ex(HExprKind::Unary(op, Box::new(a)), ty)
}
fn index(base: HExpr, i: HExpr, fill: Option<f64>) -> HExpr {
    let ty = Ty {
        shape: base.ty.shape.get(1..).unwrap_or_default().to_vec(),
        ..base.ty.clone()
    };
    ex(
        HExprKind::Index {
            base: Box::new(base),
            indices: vec![i],
            fill,
        },
        ty,
    )
}
fn to_real(a: HExpr) -> HExpr {
    ex(HExprKind::ToReal(Box::new(a)), real())
}

fn binder(id: u32, name: &str, start: i64, end: i64) -> Binder {
    Binder {
        id: BinderId(id),
        name: name.to_string(),
        start,
        end,
        span: sp(),
    }
}

fn ivar(id: u32) -> HExpr {
    ex(HExprKind::IndexVar(BinderId(id)), Ty::int())
}

fn scalar_defn(value: HExpr) -> Defn {
    Defn {
        binders: Vec::new(),
        value,
    }
}

fn empty_model(name: &str) -> ModelHir {
    ModelHir {
        name: name.to_string(),
        span: sp(),
        consts: Vec::new(),
        params: Vec::new(),
        states: Vec::new(),
        lets: Vec::new(),
        outputs: Vec::new(),
        domains: Vec::new(),
        nets: Vec::new(),
        residuals: Vec::new(),
        data: Vec::new(),
        loss: None,
        time_unit: None,
        events: Vec::new(),
        inputs: Vec::new(),
        unloaded_inputs: Vec::new(),
        algebraic: Vec::new(),
        algebraic_states: Vec::new(),
        components: Vec::new(),
        circuits: Vec::new(),
        observables: Vec::new(),
    }
}

fn add_param(
    m: &mut ModelHir,
    name: &str,
    shape: Vec<usize>,
    default: Vec<f64>,
    unit: Option<Unit>,
) {
    m.params.push(ParamHir {
        name: name.to_string(),
        shape,
        unit,
        default,
        fixed: false,
        span: sp(),
    });
}

fn add_state(
    m: &mut ModelHir,
    name: &str,
    shape: Vec<usize>,
    unit: Option<Unit>,
    init: Defn,
    rhs: Defn,
) {
    m.states.push(StateHir {
        name: name.to_string(),
        shape,
        unit,
        init,
        rhs: Some(rhs),
        span: sp(),
    });
}

fn add_output(m: &mut ModelHir, name: &str, shape: Vec<usize>, unit: Option<Unit>, defn: Defn) {
    m.outputs.push(OutputHir {
        name: name.to_string(),
        shape,
        unit,
        defn,
        span: sp(),
    });
}

fn program_of(model: ModelHir) -> Program {
    Program {
        models: vec![model],
        functions: Vec::new(),
        consts: Vec::new(),
    }
}

fn lower_one(model: &ModelHir) -> Module {
    let program = program_of(model.clone());
    let module = match lower_model(&program, model) {
        Ok(m) => m,
        Err(d) => panic!("lowering failed: {d:#?}"),
    };
    if let Err(e) = validate_module(&module) {
        let msgs: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        panic!(
            "invalid IR:\n{}\n{}",
            msgs.join("\n"),
            print_module(&module)
        );
    }
    let text = print_module(&module);
    match read_module(sci_diag::FileId(0), &text) {
        Ok(back) => assert!(
            back == module,
            "the printed IR reads back differently:\n{text}"
        ),
        Err(d) => panic!("the printed IR does not read back: {d:#?}\n{text}"),
    }
    module
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

fn signatures(m: &Module) -> Vec<String> {
    m.functions
        .iter()
        .map(|(_, f)| {
            let ins: Vec<String> = (0..f.inputs().len())
                .map(|k| {
                    let name = f.values[f.inputs()[k]].name.clone().unwrap_or_default();
                    format!(
                        "{name}: {}",
                        f.input_type(k).map(|t| t.to_string()).unwrap_or_default()
                    )
                })
                .collect();
            format!(
                "{}({}) -> {}",
                f.name,
                ins.join(", "),
                f.result_type().map(|t| t.to_string()).unwrap_or_default()
            )
        })
        .collect()
}

// ---------------------------------------------------------------- example models

/// Lotka–Volterra with two outputs, as the checker would produce it.
fn lotka_volterra() -> ModelHir {
    let mut m = empty_model("LotkaVolterra");
    for (name, v) in [
        ("alpha", 1.5),
        ("beta", 1.0),
        ("gamma", 3.0),
        ("delta", 1.0),
    ] {
        add_param(&mut m, name, vec![], vec![v], None);
    }
    let (alpha, beta, gamma, delta) = (param(0), param(1), param(2), param(3));
    let (prey, pred) = (state(0), state(1));
    add_state(
        &mut m,
        "prey",
        vec![],
        None,
        scalar_defn(num(10.0)),
        scalar_defn(sub(
            mul(alpha.clone(), prey.clone()),
            mul(mul(beta.clone(), prey.clone()), pred.clone()),
        )),
    );
    add_state(
        &mut m,
        "pred",
        vec![],
        None,
        scalar_defn(num(5.0)),
        scalar_defn(sub(
            mul(mul(delta.clone(), prey.clone()), pred.clone()),
            mul(gamma.clone(), pred.clone()),
        )),
    );
    add_output(
        &mut m,
        "total",
        vec![],
        None,
        scalar_defn(add(prey.clone(), pred.clone())),
    );
    let invariant = sub(
        add(
            sub(
                mul(delta, prey.clone()),
                mul(gamma, unary(Unary::Log, prey)),
            ),
            mul(beta, pred.clone()),
        ),
        mul(alpha, unary(Unary::Log, pred)),
    );
    add_output(&mut m, "invariant", vec![], None, scalar_defn(invariant));
    m
}

/// The heat equation on `n` points with Dirichlet zeros read through `fill`, and the
/// output `mid = u[n / 2]` with an unfolded integer division.
fn heat(n: usize) -> ModelHir {
    let mut m = empty_model("Heat1D");
    add_param(&mut m, "kappa", vec![], vec![0.1], None);
    let dx = 1.0 / (n as f64 + 1.0);
    let u = ex(HExprKind::State(StateId(0)), arr(n));
    let i = || ivar(0);
    let init = Defn {
        binders: vec![binder(0, "i", 0, n as i64)],
        value: unary(
            Unary::Sin,
            mul(num(std::f64::consts::PI * dx), to_real(add(i(), int(1)))),
        ),
    };
    let stencil = add(
        sub(
            index(u.clone(), sub(i(), int(1)), Some(0.0)),
            mul(num(2.0), index(u.clone(), i(), None)),
        ),
        index(u.clone(), add(i(), int(1)), Some(0.0)),
    );
    let rhs = Defn {
        binders: vec![binder(1, "i", 0, n as i64)],
        value: div(mul(param(0), stencil), num(dx * dx)),
    };
    // der(u[i]) refers to binder 1, so rebind the body's index variable.
    let rhs = Defn {
        value: rebind(rhs.value, 0, 1),
        ..rhs
    };
    add_state(&mut m, "u", vec![n], None, init, rhs);
    let half = bin(Binary::Div, int(n as i64), int(2));
    add_output(
        &mut m,
        "mid",
        vec![],
        None,
        scalar_defn(index(u, half, None)),
    );
    m
}

/// Replaces index variable `from` by `to`.
fn rebind(mut e: HExpr, from: u32, to: u32) -> HExpr {
    fn go(e: &mut HExpr, from: u32, to: u32) {
        use HExprKind as K;
        match &mut e.kind {
            K::IndexVar(b) if b.0 == from => *b = BinderId(to),
            K::Unary(_, a) | K::Powi(a, _) | K::ToReal(a) => go(a, from, to),
            K::Binary(_, a, b) | K::Compare(_, a, b) => {
                go(a, from, to);
                go(b, from, to);
            }
            K::Select(c, a, b) => {
                go(c, from, to);
                go(a, from, to);
                go(b, from, to);
            }
            K::Index { base, indices, .. } => {
                go(base, from, to);
                indices.iter_mut().for_each(|i| go(i, from, to));
            }
            _ => {}
        }
    }
    go(&mut e, from, to);
    e
}

/// The pendulum with units on every quantity.
fn pendulum() -> ModelHir {
    let metre = Unit::base(0);
    let second = Unit::base(2);
    let per_s = Unit::DIMENSIONLESS.div(&second).unwrap();
    let per_s2 = per_s.mul(&per_s).unwrap();
    let mut m = empty_model("Pendulum");
    m.time_unit = Some(second);
    add_param(&mut m, "L", vec![], vec![1.0], Some(metre));
    add_param(&mut m, "c", vec![], vec![0.1], Some(per_s));
    let l = ex(HExprKind::Param(ParamId(0)), real_unit(metre));
    let c = ex(HExprKind::Param(ParamId(1)), real_unit(per_s));
    let theta = ex(HExprKind::State(StateId(0)), real_unit(Unit::DIMENSIONLESS));
    let omega = ex(HExprKind::State(StateId(1)), real_unit(per_s));
    let g = ex(
        HExprKind::Const(9.81),
        real_unit(metre.mul(&per_s2).unwrap()),
    );
    add_state(
        &mut m,
        "theta",
        vec![],
        Some(Unit::DIMENSIONLESS),
        scalar_defn(num(0.3)),
        scalar_defn(omega.clone()),
    );
    let accel = sub(
        mul(
            unary(Unary::Neg, div(g.clone(), l.clone())),
            unary(Unary::Sin, theta.clone()),
        ),
        mul(c, omega.clone()),
    );
    add_state(
        &mut m,
        "omega",
        vec![],
        Some(per_s),
        scalar_defn(num(0.0)),
        scalar_defn(accel),
    );
    let height = mul(l.clone(), sub(num(1.0), unary(Unary::Cos, theta)));
    add_output(&mut m, "height", vec![], Some(metre), scalar_defn(height));
    let energy = add(
        mul(num(0.5), powi(mul(l, omega), 2)),
        mul(g, ex(HExprKind::Output(OutputId(0)), real_unit(metre))),
    );
    add_output(&mut m, "energy", vec![], None, scalar_defn(energy));
    m
}

// ---------------------------------------------------------------- ODE models

#[test]
fn lotka_volterra_layouts_and_signatures() {
    let m = lower_one(&lotka_volterra());
    let names: Vec<_> = m
        .params
        .slots
        .iter()
        .map(|s| (s.name.as_str(), s.offset))
        .collect();
    assert_eq!(
        names,
        [("alpha", 0), ("beta", 1), ("gamma", 2), ("delta", 3)]
    );
    assert_eq!(m.params.defaults(), [1.5, 1.0, 3.0, 1.0]);
    assert_eq!(m.states.len, 2);
    assert_eq!(m.outputs.slot("invariant").map(|s| s.offset), Some(1));
    assert_eq!(
        signatures(&m),
        [
            "rhs(t: f64, y: f64[2], θ: f64[4]) -> f64[2]",
            "y0(θ: f64[4]) -> f64[2]",
            "outputs(t: f64, y: f64[2], θ: f64[4]) -> f64[2]",
        ]
    );
    insta::assert_snapshot!("lotka_volterra", print_module(&m));
}

#[test]
fn lotka_volterra_rhs_y0_and_outputs_evaluate() {
    let m = lower_one(&lotka_volterra());
    let theta = Tensor::vector(m.params.defaults());
    let y = Tensor::vector(vec![10.0, 5.0]);
    let t = Tensor::scalar(0.0);
    close(
        &call(&m, "rhs", &[t.clone(), y.clone(), theta.clone()]),
        &[-35.0, 35.0],
    );
    close(&call(&m, "y0", std::slice::from_ref(&theta)), &[10.0, 5.0]);
    let v = 10.0 - 3.0 * 10f64.ln() + 5.0 - 1.5 * 5f64.ln();
    close(&call(&m, "outputs", &[t, y, theta]), &[15.0, v]);
}

#[test]
fn heat_stencil_matches_hand_computation() {
    let n = 7;
    let m = lower_one(&heat(n));
    let dx = 1.0 / (n as f64 + 1.0);
    let y0 = call(&m, "y0", &[Tensor::vector(vec![0.1])]);
    let expected_y0: Vec<f64> = (0..n)
        .map(|i| (std::f64::consts::PI * dx * (i as f64 + 1.0)).sin())
        .collect();
    close(&y0, &expected_y0);
    let u: Vec<f64> = (0..n)
        .map(|i| (i as f64 * 0.37).cos() + 0.1 * i as f64)
        .collect();
    let theta = Tensor::vector(vec![0.1]);
    let du = call(
        &m,
        "rhs",
        &[
            Tensor::scalar(0.0),
            Tensor::vector(u.clone()),
            theta.clone(),
        ],
    );
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
    close(&du, &expected);
    close(
        &call(
            &m,
            "outputs",
            &[Tensor::scalar(0.0), Tensor::vector(u.clone()), theta],
        ),
        &[u[n / 2]],
    );
}

#[test]
fn heat_is_a_tabulate_with_fill() {
    let m = lower_one(&heat(200));
    let text = print_module(&m);
    assert!(text.contains("tabulate"), "{text}");
    // O(1) code size in n: the rhs has a handful of values, not hundreds.
    let rhs = &m.functions[m.function("rhs").unwrap()];
    assert!(rhs.op_count() < 40, "{text}");
    insta::assert_snapshot!("heat_n200", text);
}

#[test]
fn pendulum_keeps_units_and_evaluates() {
    let m = lower_one(&pendulum());
    let text = print_module(&m);
    assert!(text.contains("[m]"), "{text}");
    let theta = Tensor::vector(m.params.defaults());
    let y = Tensor::vector(vec![0.3, 0.5]);
    let rhs = call(&m, "rhs", &[Tensor::scalar(0.0), y.clone(), theta.clone()]);
    close(&rhs, &[0.5, -9.81 * 0.3f64.sin() - 0.1 * 0.5]);
    let h = 1.0 - 0.3f64.cos();
    close(
        &call(&m, "outputs", &[Tensor::scalar(0.0), y, theta]),
        &[h, 0.5 * 0.25 + 9.81 * h],
    );
    insta::assert_snapshot!("pendulum", text);
}

// ---------------------------------------------------------------- networks and losses

/// A UDE: LV with the interaction replaced by a 2→3→2 network, fitted to data.
fn ude(activation: Activation) -> ModelHir {
    let mut m = empty_model("UDE");
    add_param(&mut m, "alpha", vec![], vec![1.3], None);
    add_param(&mut m, "gamma", vec![], vec![0.8], None);
    m.nets.push(NetHir {
        name: "h".to_string(),
        inputs: vec!["prey".to_string(), "pred".to_string()],
        hidden: vec![3],
        outputs: 2,
        activation,
        seed: 42,
        init: Init::Glorot,
        operator: None,
        span: sp(),
    });
    let h = || {
        ex(
            HExprKind::Net {
                net: NetId(0),
                args: vec![state(0), state(1)],
            },
            arr(2),
        )
    };
    add_state(
        &mut m,
        "prey",
        vec![],
        None,
        scalar_defn(num(0.44)),
        scalar_defn(add(mul(param(0), state(0)), index(h(), int(0), None))),
    );
    add_state(
        &mut m,
        "pred",
        vec![],
        None,
        scalar_defn(num(4.6)),
        scalar_defn(add(
            mul(unary(Unary::Neg, param(1)), state(1)),
            index(h(), int(1), None),
        )),
    );
    m.data.push(DataHir {
        name: "obs".to_string(),
        path: "data/lv_obs.csv".to_string(),
        columns: vec![
            ("t".to_string(), None),
            ("prey".to_string(), None),
            ("pred".to_string(), None),
        ],
        shapes: Vec::new(),
        paths: Vec::new(),
        test: 0,
        span: sp(),
    });
    let batch = Some(BatchKind::Data(DataId(0)));
    let pt = |kind: HExprKind| ex(kind, Ty { batch, ..real() });
    let term = |s: u32, col: usize| {
        let d = ex(
            HExprKind::Binary(
                Binary::Sub,
                Box::new(pt(HExprKind::StateAt {
                    state: StateId(s),
                    data: DataId(0),
                    column: 0,
                })),
                Box::new(pt(HExprKind::DataColumn {
                    data: DataId(0),
                    column: col,
                })),
            ),
            Ty { batch, ..real() },
        );
        ex(HExprKind::Powi(Box::new(d), 2), Ty { batch, ..real() })
    };
    let body = ex(
        HExprKind::Binary(Binary::Add, Box::new(term(0, 1)), Box::new(term(1, 2))),
        Ty { batch, ..real() },
    );
    m.loss = Some(ex(
        HExprKind::ReduceBatch(Reduction::Mean, Box::new(body)),
        real(),
    ));
    m
}

/// The network `h` evaluated by hand from the default θ of `m`.
fn mlp_by_hand(m: &Module, act: fn(f64) -> f64, x: &[f64]) -> Vec<f64> {
    let slot = |name: &str| {
        m.params
            .slot(name)
            .unwrap_or_else(|| panic!("no slot {name}"))
    };
    let theta = m.params.defaults();
    let mut h = x.to_vec();
    let mut k = 0;
    while let Some(w) = m.params.slot(&format!("h.w{k}")) {
        let b = slot(&format!("h.b{k}"));
        let (rows, cols) = (w.shape[0], w.shape[1]);
        let last = m.params.slot(&format!("h.w{}", k + 1)).is_none();
        h = (0..rows)
            .map(|r| {
                let z: f64 = (0..cols)
                    .map(|c| theta[w.offset + r * cols + c] * h[c])
                    .sum::<f64>()
                    + theta[b.offset + r];
                if last { z } else { act(z) }
            })
            .collect();
        k += 1;
    }
    h
}

fn relu(x: f64) -> f64 {
    x.max(0.0)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn ude_layout_has_glorot_weights_and_zero_biases() {
    let m = lower_one(&ude(Activation::Tanh));
    let names: Vec<_> = m
        .params
        .slots
        .iter()
        .map(|s| (s.name.as_str(), s.offset, s.shape.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("alpha", 0, vec![]),
            ("gamma", 1, vec![]),
            ("h.w0", 2, vec![3, 2]),
            ("h.b0", 8, vec![3]),
            ("h.w1", 11, vec![2, 3]),
            ("h.b1", 17, vec![2]),
        ]
    );
    assert_eq!(m.params.len, 19);
    let d = m.params.defaults();
    let limit0 = (6.0f64 / 5.0).sqrt();
    assert!(
        d[2..8].iter().all(|w| w.abs() <= limit0 && *w != 0.0),
        "{d:?}"
    );
    assert!(d[8..11].iter().all(|b| *b == 0.0));
    // Deterministic: the same seed gives the same weights, another seed others.
    assert_eq!(lower_one(&ude(Activation::Tanh)).params.defaults(), d);
    let mut other = ude(Activation::Tanh);
    other.nets[0].seed = 7;
    assert_ne!(lower_one(&other).params.defaults(), d);
    assert_eq!(
        signatures(&m),
        [
            "net.h(θ: f64[19], prey: f64, pred: f64) -> f64[2]",
            "rhs(t: f64, y: f64[2], θ: f64[19]) -> f64[2]",
            "y0(θ: f64[19]) -> f64[2]",
            "loss(θ: f64[19], obs: batch f64[3], obs.traj: batch f64[2]) -> f64",
        ]
    );
    insta::assert_snapshot!("ude", print_module(&m));
}

#[test]
fn splitmix64_matches_the_reference_sequence() {
    // First outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
    let mut g = SplitMix64::new(0);
    assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
    assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    let mut g = SplitMix64::new(1);
    for _ in 0..1000 {
        let u = g.next_unit();
        assert!((0.0..1.0).contains(&u));
    }
}

#[test]
fn ude_rhs_calls_the_network_once() {
    let m = lower_one(&ude(Activation::Tanh));
    let rhs = &m.functions[m.function("rhs").unwrap()];
    let calls = rhs
        .values
        .iter()
        .filter(|(_, v)| matches!(v.op, Op::Call { .. }))
        .count();
    assert_eq!(calls, 1, "h(prey, pred) is computed once and indexed twice");
    let theta = Tensor::vector(m.params.defaults());
    let y = [0.7, 2.5];
    let h = mlp_by_hand(&m, f64::tanh, &y);
    let got = call(
        &m,
        "rhs",
        &[Tensor::scalar(0.0), Tensor::vector(y.to_vec()), theta],
    );
    close(&got, &[1.3 * 0.7 + h[0], -0.8 * 2.5 + h[1]]);
}

#[test]
fn network_activations_match_hand_computation() {
    let gelu = |x: f64| 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2));
    let cases: [(Activation, Scalar1); 6] = [
        (Activation::Tanh, f64::tanh),
        (Activation::Relu, relu),
        (Activation::Sigmoid, sigmoid),
        (Activation::Sin, f64::sin),
        (Activation::Softplus, |x| x.exp().ln_1p()),
        (Activation::Rbf, |x| (-(x * x)).exp()),
    ];
    for (act, f) in cases {
        let m = lower_one(&ude(act));
        let x = [0.3, -1.2];
        let theta = Tensor::vector(m.params.defaults());
        let got = call(
            &m,
            "net.h",
            &[theta, Tensor::scalar(x[0]), Tensor::scalar(x[1])],
        );
        close(&got, &mlp_by_hand(&m, f, &x));
    }
    let m = lower_one(&ude(Activation::Gelu));
    let theta = Tensor::vector(m.params.defaults());
    let got = call(
        &m,
        "net.h",
        &[theta, Tensor::scalar(0.3), Tensor::scalar(-1.2)],
    );
    let want = mlp_by_hand(&m, gelu, &[0.3, -1.2]);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-7, "{got:?} vs {want:?}");
    }
}

/// A scalar function, the hand-computed activation.
type Scalar1 = fn(f64) -> f64;

/// erf by its Maclaurin series (enough terms for |x| < 3 to 1e-12).
fn erf(x: f64) -> f64 {
    let mut sum = 0.0;
    let mut term = x;
    for n in 0..80 {
        sum += term / (2 * n + 1) as f64;
        term *= -x * x / (n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[test]
fn ude_loss_reads_data_and_trajectories() {
    let model = ude(Activation::Tanh);
    assert_eq!(
        loss_inputs(&model),
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
    let m = lower_one(&model);
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
    let theta = Tensor::vector(m.params.defaults());
    let got = call(&m, "loss", &[theta, rows, traj]);
    // Row 0: (1.5-1)² + (2-2)² = 0.25; row 1: (2-3)² + (4-1)² = 10.
    close(&got, &[(0.25 + 10.0) / 2.0]);
}

/// A Burgers-like PINN: u(t, x) with hidden [20, 20, 20], three residuals.
fn burgers() -> ModelHir {
    let mut m = empty_model("BurgersPINN");
    m.domains.push(DomainHir {
        name: "omega".to_string(),
        coords: vec![
            CoordHir {
                name: "t".to_string(),
                lo: 0.0,
                hi: 1.0,
                unit: None,
            },
            CoordHir {
                name: "x".to_string(),
                lo: -1.0,
                hi: 1.0,
                unit: None,
            },
        ],
        span: sp(),
    });
    m.nets.push(NetHir {
        name: "u".to_string(),
        inputs: vec!["t".to_string(), "x".to_string()],
        hidden: vec![20, 20, 20],
        outputs: 1,
        activation: Activation::Tanh,
        seed: 0,
        init: Init::Glorot,
        operator: None,
        span: sp(),
    });
    for (k, name) in ["pde", "initial", "boundary"].into_iter().enumerate() {
        let r = ResidualId(k as u32);
        let batch = Some(BatchKind::Residual(r));
        let pty = Ty { batch, ..real() };
        let coord = |c: usize| ex(HExprKind::Coord(c), pty.clone());
        let u = ex(
            HExprKind::Net {
                net: NetId(0),
                args: vec![coord(0), coord(1)],
            },
            pty.clone(),
        );
        let d = |wrt: Vec<DiffVar>| {
            ex(
                HExprKind::Deriv {
                    of: Box::new(u.clone()),
                    wrt,
                },
                pty.clone(),
            )
        };
        let nu = 0.01 / std::f64::consts::PI;
        let b = |op, a: HExpr, c: HExpr| {
            ex(HExprKind::Binary(op, Box::new(a), Box::new(c)), pty.clone())
        };
        let (value, fixed) = match name {
            "pde" => (
                b(
                    Binary::Sub,
                    b(
                        Binary::Add,
                        d(vec![DiffVar::Coord(0)]),
                        b(Binary::Mul, u.clone(), d(vec![DiffVar::Coord(1)])),
                    ),
                    b(
                        Binary::Mul,
                        num(nu),
                        d(vec![DiffVar::Coord(1), DiffVar::Coord(1)]),
                    ),
                ),
                vec![],
            ),
            "initial" => (
                b(
                    Binary::Add,
                    u.clone(),
                    ex(
                        HExprKind::Unary(
                            Unary::Sin,
                            Box::new(b(Binary::Mul, num(std::f64::consts::PI), coord(1))),
                        ),
                        pty.clone(),
                    ),
                ),
                vec![FixedCoord {
                    alternatives: vec![(0, 0.0)],
                }],
            ),
            _ => (
                u.clone(),
                vec![FixedCoord {
                    alternatives: vec![(1, -1.0), (1, 1.0)],
                }],
            ),
        };
        m.residuals.push(ResidualHir {
            name: name.to_string(),
            domain: DomainId(0),
            fixed,
            points: if k == 0 { 2048 } else { 256 },
            weight: 1.0,
            sampling: Sampling::Uniform,
            value,
            span: sp(),
        });
    }
    let mean_sq = |k: u32| {
        let pty = Ty {
            batch: Some(BatchKind::Residual(ResidualId(k))),
            ..real()
        };
        let r = ex(HExprKind::Residual(ResidualId(k)), pty.clone());
        ex(
            HExprKind::ReduceBatch(
                Reduction::Mean,
                Box::new(ex(HExprKind::Powi(Box::new(r), 2), pty)),
            ),
            real(),
        )
    };
    m.loss = Some(add(add(mean_sq(0), mean_sq(1)), mean_sq(2)));
    m
}

#[test]
fn burgers_layout_inputs_and_structure() {
    let model = burgers();
    let m = lower_one(&model);
    // (2·20 + 20) + (20·20 + 20) + (20·20 + 20) + (20·1 + 1) = 60 + 420 + 420 + 21.
    assert_eq!(
        m.params.len,
        2 * 20 + 20 + 20 * 20 + 20 + 20 * 20 + 20 + 20 + 1
    );
    assert_eq!(m.params.len, 921);
    let names: Vec<String> = loss_inputs(&model).iter().map(LossInput::name).collect();
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
    assert_eq!(
        signatures(&m),
        [
            "net.u(θ: f64[921], t: f64, x: f64) -> f64",
            "residual.pde(θ: f64[921], t: batch f64, x: batch f64) -> batch f64",
            "residual.initial(θ: f64[921], t: batch f64, x: batch f64) -> batch f64",
            "residual.boundary(θ: f64[921], t: batch f64, x: batch f64) -> batch f64",
            "loss(θ: f64[921], pde.t: batch f64, pde.x: batch f64, initial.t: batch f64, initial.x: batch f64, boundary.t: batch f64, boundary.x: batch f64) -> f64",
            "loss_term.pde(θ: f64[921], pde.t: batch f64, pde.x: batch f64, initial.t: batch f64, initial.x: batch f64, boundary.t: batch f64, boundary.x: batch f64) -> f64",
            "loss_term.initial(θ: f64[921], pde.t: batch f64, pde.x: batch f64, initial.t: batch f64, initial.x: batch f64, boundary.t: batch f64, boundary.x: batch f64) -> f64",
            "loss_term.boundary(θ: f64[921], pde.t: batch f64, pde.x: batch f64, initial.t: batch f64, initial.x: batch f64, boundary.t: batch f64, boundary.x: batch f64) -> f64",
        ]
    );
    // One function per additive term of the loss, with the loss's input roles.
    let loss_fn = &m.functions[m.function("loss").unwrap()];
    for term in ["pde", "initial", "boundary"] {
        let f = &m.functions[m.function(&format!("loss_term.{term}")).unwrap()];
        assert_eq!(f.role, sci_ir::Role::LossTerm(term.to_string()));
        assert_eq!(f.input_roles, loss_fn.input_roles);
    }
    let loss = &m.functions[m.function("loss").unwrap()];
    let count = |pred: fn(&Op) -> bool| loss.values.iter().filter(|(_, v)| pred(&v.op)).count();
    assert_eq!(count(|op| matches!(op, Op::Map { .. })), 3);
    assert_eq!(count(|op| matches!(op, Op::ReduceBatch(..))), 3);
    assert_eq!(count(|op| matches!(op, Op::Deriv { .. })), 3);
    insta::assert_snapshot!("burgers", print_module(&m));
}

#[test]
fn residual_without_derivatives_evaluates_and_weights_scale_the_loss() {
    let mut model = burgers();
    let m = lower_one(&model);
    let points = |v: Vec<f64>| Tensor {
        shape: vec![],
        batch: Some(v.len()),
        data: v,
    };
    let (ts, xs) = (vec![0.0, 0.0, 0.0], vec![-0.5, 0.25, 0.9]);
    let got = call(
        &m,
        "residual.initial",
        &[
            Tensor::vector(m.params.defaults()),
            points(ts.clone()),
            points(xs.clone()),
        ],
    );
    let want: Vec<f64> = xs
        .iter()
        .map(|&x| {
            let u = call(
                &m,
                "net.u",
                &[
                    Tensor::vector(m.params.defaults()),
                    Tensor::scalar(0.0),
                    Tensor::scalar(x),
                ],
            )[0];
            u + (std::f64::consts::PI * x).sin()
        })
        .collect();
    close(&got, &want);

    // Drop the pde residual from the loss and weight the initial one by 3: the loss is
    // mean((3·initial)²) + mean(boundary²).
    model.residuals[1].weight = 3.0;
    let mean_sq = |k: u32| {
        let pty = Ty {
            batch: Some(BatchKind::Residual(ResidualId(k))),
            ..real()
        };
        let r = ex(HExprKind::Residual(ResidualId(k)), pty.clone());
        ex(
            HExprKind::ReduceBatch(
                Reduction::Mean,
                Box::new(ex(HExprKind::Powi(Box::new(r), 2), pty)),
            ),
            real(),
        )
    };
    model.loss = Some(add(mean_sq(1), mean_sq(2)));
    let m = lower_one(&model);
    let theta = Tensor::vector(m.params.defaults());
    let (bt, bx) = (vec![0.1, 0.7], vec![-1.0, 1.0]);
    let boundary = call(
        &m,
        "residual.boundary",
        &[theta.clone(), points(bt.clone()), points(bx.clone())],
    );
    let loss = call(
        &m,
        "loss",
        &[
            theta,
            points(vec![9.0]),
            points(vec![9.0]),
            points(ts),
            points(xs),
            points(bt),
            points(bx),
        ],
    );
    let initial_ms = want.iter().map(|r| (3.0 * r).powi(2)).sum::<f64>() / 3.0;
    let boundary_ms = boundary.iter().map(|r| r * r).sum::<f64>() / 2.0;
    close(&loss, &[initial_ms + boundary_ms]);
}

// ---------------------------------------------------------------- fn instances

/// `rosenbrock[n](x: real[n]) = sum(i in 0..n-1: 100 (x[i+1] − x[i]²)² + (1 − x[i])²)`.
fn rosenbrock(n: usize) -> FnHir {
    let x = ex(HExprKind::Local(0), arr(n));
    let i = || ivar(0);
    let xi = || index(x.clone(), i(), None);
    let xi1 = index(x.clone(), add(i(), int(1)), None);
    let body = add(
        mul(num(100.0), powi(sub(xi1, powi(xi(), 2)), 2)),
        powi(sub(num(1.0), xi()), 2),
    );
    FnHir {
        name: "rosenbrock".to_string(),
        symbol: format!("rosenbrock[{n}]"),
        model: None,
        params: vec![FnParamHir {
            name: "x".to_string(),
            ty: arr(n),
            span: sp(),
        }],
        body: ex(
            HExprKind::Reduce {
                op: Reduction::Sum,
                binders: vec![binder(0, "i", 0, n as i64 - 1)],
                body: Box::new(body),
            },
            real(),
        ),
        span: sp(),
    }
}

/// `rosenbrock_grad[n](x) = grad(rosenbrock[n](x), x)`, calling instance `callee`.
fn rosenbrock_grad(n: usize, callee: u32) -> FnHir {
    let x = ex(HExprKind::Local(0), arr(n));
    let of = ex(
        HExprKind::Call {
            func: FnInstanceId(callee),
            args: vec![x],
        },
        real(),
    );
    FnHir {
        name: "rosenbrock_grad".to_string(),
        symbol: format!("rosenbrock_grad[{n}]"),
        model: None,
        params: vec![FnParamHir {
            name: "x".to_string(),
            ty: arr(n),
            span: sp(),
        }],
        body: ex(
            HExprKind::Deriv {
                of: Box::new(of),
                wrt: vec![DiffVar::Local(0)],
            },
            arr(n),
        ),
        span: sp(),
    }
}

fn scalar_fn(name: &str, body: HExpr) -> FnHir {
    FnHir {
        name: name.to_string(),
        symbol: name.to_string(),
        model: None,
        params: vec![FnParamHir {
            name: "x".to_string(),
            ty: real(),
            span: sp(),
        }],
        body,
        span: sp(),
    }
}

fn local(k: usize) -> HExpr {
    ex(HExprKind::Local(k), real())
}

fn call_fn(k: u32, args: Vec<HExpr>) -> HExpr {
    ex(
        HExprKind::Call {
            func: FnInstanceId(k),
            args,
        },
        real(),
    )
}

#[test]
fn functions_module_orders_callees_first_and_evaluates() {
    // The grad instance comes first in the program but calls the instance after it.
    let program = Program {
        models: Vec::new(),
        functions: vec![rosenbrock_grad(2, 1), rosenbrock(2), rosenbrock(4)],
        consts: Vec::new(),
    };
    let m = lower_functions(&program).expect("lowers");
    validate_module(&m).expect("valid");
    assert_eq!(m.name, "functions");
    assert_eq!(
        signatures(&m),
        [
            "rosenbrock[2](x: f64[2]) -> f64",
            "rosenbrock_grad[2](x: f64[2]) -> f64[2]",
            "rosenbrock[4](x: f64[4]) -> f64",
        ]
    );
    close(
        &call(&m, "rosenbrock[4]", &[Tensor::vector(vec![1.0; 4])]),
        &[0.0],
    );
    close(
        &call(&m, "rosenbrock[2]", &[Tensor::vector(vec![0.0, 0.0])]),
        &[1.0],
    );
    close(
        &call(&m, "rosenbrock[2]", &[Tensor::vector(vec![0.5, 2.0])]),
        &[100.0 * 1.75f64.powi(2) + 0.25],
    );
    insta::assert_snapshot!("rosenbrock_functions", print_module(&m));
}

#[test]
fn models_carry_copies_of_the_functions_they_call() {
    // softsign(x) = x / (1 + abs(x)); der(x) = -softsign(x), with an unused fn beside it.
    let softsign = scalar_fn(
        "softsign",
        div(local(0), add(num(1.0), unary(Unary::Abs, local(0)))),
    );
    let twice = scalar_fn("twice", mul(num(2.0), call_fn(0, vec![local(0)])));
    let unused = scalar_fn("unused", local(0));
    let mut model = empty_model("Decay");
    add_state(
        &mut model,
        "x",
        vec![],
        None,
        scalar_defn(num(2.0)),
        scalar_defn(unary(Unary::Neg, call_fn(1, vec![state(0)]))),
    );
    let program = Program {
        models: vec![model],
        functions: vec![softsign, twice, unused],
        consts: Vec::new(),
    };
    let modules = lower_program(&program).expect("lowers");
    assert_eq!(modules.len(), 2);
    let m = &modules[0];
    validate_module(m).expect("valid");
    assert_eq!(
        signatures(m),
        [
            "softsign(x: f64) -> f64",
            "twice(x: f64) -> f64",
            "rhs(t: f64, y: f64[1], θ: f64[0]) -> f64[1]",
            "y0(θ: f64[0]) -> f64[1]",
        ]
    );
    let got = call(
        m,
        "rhs",
        &[
            Tensor::scalar(0.0),
            Tensor::vector(vec![3.0]),
            Tensor::vector(vec![]),
        ],
    );
    close(&got, &[-2.0 * 3.0 / 4.0]);
    assert_eq!(modules[1].name, "functions");
    assert_eq!(modules[1].functions.len(), 3);
}

// ---------------------------------------------------------------- broken HIR

fn codes(r: Result<Module, Vec<sci_diag::Diagnostic>>) -> Vec<&'static str> {
    match r {
        Ok(m) => panic!("expected an error, got\n{}", print_module(&m)),
        Err(d) => d.iter().map(|d| d.code).collect(),
    }
}

#[test]
fn recursion_between_functions_is_reported() {
    let a = scalar_fn("ping", call_fn(1, vec![local(0)]));
    let b = scalar_fn("pong", call_fn(0, vec![local(0)]));
    let program = Program {
        models: Vec::new(),
        functions: vec![a, b],
        consts: Vec::new(),
    };
    let err = lower_functions(&program).expect_err("recursive");
    assert_eq!(err[0].code, "E0502");
    assert!(
        err[0].message.contains("`ping` → `pong` → `ping`"),
        "{}",
        err[0].message
    );
}

#[test]
fn dangling_ids_are_diagnostics_not_panics() {
    let mut m = lotka_volterra();
    m.states[0].rhs = Some(scalar_defn(param(9)));
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0501"]);
    let mut m = lotka_volterra();
    m.states[1].rhs = None;
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0501"]);
    let mut m = lotka_volterra();
    m.params[0].default = vec![];
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0501"]);
    let mut m = lotka_volterra();
    m.lets.push(LetHir {
        name: "loop".to_string(),
        shape: vec![],
        unit: None,
        defn: scalar_defn(ex(HExprKind::Let(LetId(0)), real())),
        span: sp(),
    });
    m.outputs[0].defn = scalar_defn(ex(HExprKind::Let(LetId(0)), real()));
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0501"]);
}

#[test]
fn values_used_where_they_do_not_exist_are_reported() {
    let mut m = lotka_volterra();
    m.states[0].init = scalar_defn(ex(HExprKind::Time, real()));
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0504"]);
    let mut m = lotka_volterra();
    m.states[0].init = scalar_defn(state(1));
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0504"]);
    let mut m = lotka_volterra();
    m.outputs[0].defn = scalar_defn(ex(HExprKind::Coord(0), real()));
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0504"]);
}

#[test]
fn deep_nesting_is_limited_without_overflowing_the_stack() {
    let nested = |depth: usize| {
        let mut e = state(0);
        for _ in 0..depth {
            e = add(e, num(1.0));
        }
        e
    };
    let mut m = lotka_volterra();
    m.states[0].rhs = Some(scalar_defn(nested(150)));
    let module = lower_one(&m);
    let theta = Tensor::vector(module.params.defaults());
    let got = call(
        &module,
        "rhs",
        &[Tensor::scalar(0.0), Tensor::vector(vec![1.0, 1.0]), theta],
    );
    close(&got[..1], &[151.0]);
    m.states[0].rhs = Some(scalar_defn(nested(1000)));
    assert_eq!(codes(lower_model(&program_of(m.clone()), &m)), ["E0503"]);
}
