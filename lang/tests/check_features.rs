//! Valid programs exercising each feature of the checker; each must check without errors
//! and its checked program (HIR summary) is snapshotted.

use sci_diag::FileId;
use sci_lang::check::{check, dump_program, instantiate};
use sci_lang::parser::parse;

const CASES: &[(&str, &str)] = &[
    (
        "generic_instances",
        "fn sq_norm(x: real[n]) = sum(i in 0..n: x[i]^2)
fn scaled(x: real[n], k) = k * sq_norm(x) / n
model M {
    param w[i in 0..3] = 0.5 * i
    param v: real[5] = 1.0
    state s = 0.0
    der(s) = scaled(w, 2) + scaled(v, 1) + sq_norm(w)
}
",
    ),
    (
        "units_everywhere",
        "const g: m/s^2 = 9.81
fn kinetic(m: kg, v: m/s) -> J = 0.5 * m * v^2
model Ball {
    param mass: kg = 0.2
    param drag: 1/s = 0.1
    state h: m = 10.0
    state v: m/s = 0.0
    der(h) = v
    der(v) = -g - drag * v
    let speed = abs(v)
    output fast = 2 * speed
    output energy: J = kinetic(mass, v) + mass * g * h
    output falling = if v < 0 then 1 else 0
    output root = sqrt(h * g)
    output accel = der(v)
    output now = t
}
",
    ),
    (
        "literal_units_adapt",
        "model M {
    param L: m = 2.0
    param k: 1/s = 3.0
    state x: m = 0.0
    der(x) = if x > 1 then 0 else 0.1 * L / 1.0 * max(1, 2) / L * L * k
    output clipped = min(x, 1.5)
    output shifted = x + 1
}
",
    ),
    (
        "derivatives_in_functions",
        "fn f(x: real[n]) = sum(i in 0..n: x[i]^3)
fn g(x: real[n]) = grad(f(x), x)
fn h(x: real[n]) = hessian(f(x), x)
fn lap(x: real[n]) = laplacian(f(x), x)
fn vec(x: real[n]) = [x[0]^2, x[0] * x[1]]
fn jac(x: real[2]) = jacobian(vec(x), x)
fn partial(a, b) = d(a * b^2, b, b)
model M {
    param p: real[2] = [1.0, 2.0]
    state s = 0.0
    der(s) = sum(g(p)) + sum(h(p)) + lap(p) + sum(jac(p)) + partial(p[0], p[1])
}
",
    ),
    (
        "pinn_options",
        "use nn.{mlp}
model Heat {
    const kappa = 0.1
    domain box: t in [0, 1], x in [0, 2], y in [0, 2]
    net u(t, x, y) = mlp(hidden: [16], activation: softplus, seed: 3)
    net v(x) = mlp(hidden: [4, 4], activation: gelu, outputs: 2)
    residual pde on box, points 500, weight 2.5, sampling sobol: d(u, t) - kappa * laplacian(u)
    residual pair on box where t == 0 and (x == 0 or y == 2), points 64, sampling lhs: u - v(x)[1] + laplacian(u, x)
    loss = mean(pde^2) + 0.5 * mean(pair^2) + sum(v(1.0))
}
",
    ),
    (
        "ude_with_units",
        "use nn.{mlp}
model Growth {
    param r: 1/s = 0.5
    const tau: s = 1.0
    net h(x) = mlp(hidden: [8], activation: tanh)
    state x = 1.0
    der(x) = r * x * (1 + h(x))
    data obs(t: s, x) = csv(\"obs.csv\")
    loss = mean((x(obs.t) - obs.x)^2) + 0.01 * (r * tau)^2
}
",
    ),
    (
        "csv_columns_by_header",
        "model Decay {
    param k = 0.3
    state y = 1.0
    der(y) = -k * y
    data obs = csv(\"decay.csv\")
    loss = mean((y(obs.time) - obs.value)^2)
}
",
    ),
    (
        "arrays_and_linalg",
        "const A = [[2.0, 0.0], [1.0, 3.0]]
const b = [1.0, 1.0]
const c[i in 0..4] = i^2
fn quad(x: real[2]) = dot(x, matmul(A, x)) + norm(x) + sum(transpose(A)) + prod(x) + mean(x)
model M {
    param x0: real[2] = b
    state x[i in 0..2] = x0[i] + c[i + 1]
    der(x[i]) = -matmul(A, x)[i] + quad(x) * 0 + log10(1 + x[i]^2)
    output top = max(x) + min(x[0], x[1]) + c[3]
}
",
    ),
    (
        "lets_in_order",
        "model M {
    output total = a + b
    let b = 2 * a
    let a = x + 1
    state x = 1.0
    der(x) = -b
}
",
    ),
    (
        "stencil_2d",
        "model Grid {
    const n = 3
    state u[i in 0..n, j in 0..n] = 1.0
    der(u[i, j]) = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4 * u[i, j]
    output corner = u[0, 0]
    output row = u[1]
}
",
    ),
];

#[test]
fn features_check_cleanly() {
    for (name, src) in CASES {
        let parsed = parse(FileId(0), src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{name} does not parse: {:#?}",
            parsed.diagnostics
        );
        let checked = check(&parsed.file);
        let messages: Vec<String> = checked.diagnostics.iter().map(|d| format!("{d}")).collect();
        assert!(checked.diagnostics.is_empty(), "{name}: {messages:#?}");
        insta::assert_snapshot!(
            *name,
            format!("{src}\n----- hir -----\n{}", dump_program(&checked.program))
        );
    }
}

#[test]
fn eval_instantiates_generic_functions() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/rosenbrock.sci"
    ))
    .unwrap();
    let parsed = parse(FileId(0), &src);
    let mut checked = check(&parsed.file);
    let before = checked.program.functions.len();
    let hess = instantiate(&parsed.file, &mut checked, "rosenbrock_hessian", &[vec![4]]).unwrap();
    let again = instantiate(&parsed.file, &mut checked, "rosenbrock_hessian", &[vec![4]]).unwrap();
    assert_eq!(hess, again, "the same signature is instantiated once");
    let f = &checked.program.functions[hess.index()];
    assert_eq!(f.symbol, "rosenbrock_hessian[4]");
    assert_eq!(f.body.ty.shape, vec![4, 4]);
    assert!(checked.program.functions.len() > before);
    let relu = instantiate(&parsed.file, &mut checked, "relu", &[vec![]]).unwrap();
    assert_eq!(checked.program.functions[relu.index()].symbol, "relu");
    let errors = instantiate(&parsed.file, &mut checked, "rosenbrok", &[vec![3]]).unwrap_err();
    assert_eq!(errors[0].code, "E0201");
    assert_eq!(
        errors[0].help.as_deref(),
        Some("did you mean `rosenbrock`?")
    );
    let errors = instantiate(&parsed.file, &mut checked, "rosenbrock", &[vec![3, 3]]).unwrap_err();
    assert_eq!(errors[0].code, "E0310");
    insta::assert_snapshot!(dump_program(&checked.program));
}

#[test]
fn semantic_info_links_uses_to_definitions() {
    let src = "model M {\n  param k = 2.0\n  state x = 1.0\n  der(x) = -k * x\n}\n";
    let parsed = parse(FileId(0), src);
    let checked = check(&parsed.file);
    let def_k = checked
        .info
        .definitions
        .iter()
        .find(|d| d.name == "k")
        .unwrap();
    assert_eq!(def_k.kind, sci_lang::check::DefKind::Param);
    assert_eq!(&src[def_k.span.range()], "k");
    assert_eq!(def_k.ty.as_ref().unwrap().shape, Vec::<usize>::new());
    let uses: Vec<&str> = checked
        .info
        .references
        .iter()
        .filter(|(_, d)| *d == def_k.span)
        .map(|(u, _)| &src[u.range()])
        .collect();
    assert_eq!(uses, vec!["k"]);
    let x_uses = checked
        .info
        .references
        .iter()
        .filter(|(_, d)| &src[d.range()] == "x")
        .count();
    assert_eq!(x_uses, 2, "der(x) target and the use on the right");
    // Every expression has a type.
    let mut count = 0;
    for item in &parsed.file.items {
        if let sci_lang::ast::ItemKind::Model(m) = &item.kind {
            for member in &m.members {
                if let sci_lang::ast::MemberKind::Der(eq) = &member.kind {
                    eq.value.walk(&mut |e| {
                        assert!(
                            checked.info.types.contains_key(&e.id),
                            "{:?} has no type",
                            e.kind
                        );
                        count += 1;
                    });
                }
            }
        }
    }
    assert_eq!(count, 4);
}
