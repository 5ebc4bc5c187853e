//! One small wrong program per diagnostic code of the checker: each must produce its code,
//! and the full diagnostics are snapshotted (source + code, message, labels, notes, help).

use sci_diag::{FileId, render_plain};
use sci_lang::check::check;
use sci_lang::parser::parse;

/// (case name, expected code, source).
const CASES: &[(&str, &str, &str)] = &[
    (
        "unknown_name",
        "E0201",
        "model M {\n  param alpha = 1.0\n  state x = 1.0\n  der(x) = -alpah * x\n}\n",
    ),
    ("unknown_function", "E0201", "fn f(x) = sine(x)\n"),
    ("duplicate_file", "E0202", "const a = 1\nconst a = 2\n"),
    (
        "duplicate_vs_file",
        "E0202",
        "const k = 1\nmodel M {\n  param k = 2.0\n  state x = 1.0\n  der(x) = -x\n}\n",
    ),
    (
        "duplicate_index",
        "E0202",
        "fn f(x: real[n]) = sum(i in 0..n, i in 0..n: x[i])\n",
    ),
    (
        "cycle_self",
        "E0203",
        "model M {\n  state x = 1.0\n  let a = a + x\n  der(x) = -a\n}\n",
    ),
    (
        "cycle_consts",
        "E0203",
        "const a = b + 1\nconst b = 2 * a\n",
    ),
    (
        "state_in_default",
        "E0204",
        "model M {\n  state x = 1.0\n  param p = x\n  der(x) = -p * x\n}\n",
    ),
    (
        "state_in_loss",
        "E0204",
        "model M {\n  param k = 1.0\n  state x = 1.0\n  der(x) = -k * x\n  loss = x^2\n}\n",
    ),
    (
        "output_in_der",
        "E0204",
        "model M {\n  state x = 1.0\n  output y = 2 * x\n  der(x) = -y\n}\n",
    ),
    (
        "time_in_init",
        "E0204",
        "model M {\n  state x = t\n  der(x) = 1.0\n}\n",
    ),
    (
        "der_on_rhs",
        "E0204",
        "model M {\n  state x = 1.0\n  state y = 1.0\n  der(x) = -der(y)\n  der(y) = -y\n}\n",
    ),
    (
        "function_as_value",
        "E0205",
        "fn f(x) = x\nfn g(x) = f + x\n",
    ),
    (
        "not_callable",
        "E0205",
        "model M {\n  param k = 1.0\n  state x = 1.0\n  der(x) = k(x)\n}\n",
    ),
    ("unknown_module_item", "E0208", "use nn.{mpl}\n"),
    ("unknown_module", "E0207", "use numpy.{sin}\n"),
    (
        "missing_import",
        "E0209",
        "model M {\n  domain b: x in [0, 1]\n  net u(x) = mlp(hidden: [4])\n  residual r on b, points 8: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "der_of_param",
        "E0210",
        "model M {\n  param k = 1.0\n  state x = 1.0\n  der(x) = -x\n  der(k) = 1.0\n}\n",
    ),
    (
        "state_without_der",
        "E0211",
        "model M {\n  const n = 3\n  state u[i in 0..n] = 0.0\n}\n",
    ),
    (
        "two_ders",
        "E0212",
        "model M {\n  state x = 1.0\n  der(x) = -x\n  der(x) = x\n}\n",
    ),
    (
        "der_too_many_indices",
        "E0213",
        "model M {\n  state x = 1.0\n  der(x[i]) = -x\n}\n",
    ),
    (
        "unknown_column",
        "E0214",
        "model M {\n  param a = 1.0\n  state x = 1.0\n  der(x) = -a * x\n  data obs(t, y) = csv(\"d.csv\")\n  loss = mean((x(obs.t) - obs.z)^2)\n}\n",
    ),
    (
        "unknown_domain",
        "E0215",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4])\n  residual r on bx, points 8: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "net_input_not_coordinate",
        "E0216",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(t, x) = mlp(hidden: [4])\n  residual r on box, points 8: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "where_unsupported",
        "E0217",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4])\n  residual r on box where x > 0.5, points 8: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "where_outside",
        "E0217",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4])\n  residual r on box where x == 2, points 8: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "residual_without_loss",
        "E0218",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4])\n  residual r on box, points 8: u\n}\n",
    ),
    (
        "two_losses",
        "E0218",
        "model M {\n  param a = 1.0\n  loss = a^2\n  loss = (a - 1)^2\n}\n",
    ),
    (
        "unknown_option",
        "E0219",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4], activations: tanh)\n  residual r on box, pionts 8: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "range_not_constant",
        "E0221",
        "model M {\n  param k = 3.0\n  state u[i in 0..k] = 0.0\n  der(u[i]) = -u[i]\n}\n",
    ),
    (
        "data_without_columns",
        "E0222",
        "model M {\n  data obs = npy(\"d.npy\")\n}\n",
    ),
    (
        "data_not_a_source",
        "E0222",
        "model M {\n  data obs(t) = 3\n}\n",
    ),
    (
        "bad_activation",
        "E0224",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4], activation: tahn)\n  residual r on box, points 8: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "state_at_not_column",
        "E0226",
        "model M {\n  state x = 1.0\n  der(x) = -x\n  loss = x(1.0)^2\n}\n",
    ),
    (
        "event_equality",
        "E0228",
        "model M {\n  state h = 1.0\n  state v = 0.0\n  der(h) = v\n  der(v) = -9.81\n  when h == 0 { reinit(v, -v) }\n}\n",
    ),
    (
        "event_action",
        "E0228",
        "model M {\n  state h = 1.0\n  state v = 0.0\n  der(h) = v\n  der(v) = -9.81\n  when h < 0 { set(v, -v) }\n}\n",
    ),
    (
        "event_stop_and_reset",
        "E0229",
        "model M {\n  state h = 1.0\n  state v = 0.0\n  der(h) = v\n  der(v) = -9.81\n  when h < 0 { reinit(v, -v); stop }\n}\n",
    ),
    (
        "event_schedule_param",
        "E0221",
        "model M {\n  param period = 24.0\n  state c = 1.0\n  der(c) = -0.1 * c\n  when every(period) { reinit(c, c + 1) }\n}\n",
    ),
    (
        "time_unit_not_time",
        "E0408",
        "model M {\n  state x = 1.0\n  der(x) = -x\n  domain time: t in [0, 1] m\n}\n",
    ),
    (
        "der_per_day",
        "E0405",
        "model M {\n  param k: 1/day = 0.1\n  state x = 1.0\n  der(x) = -k * x\n  domain time: t in [0, 30]\n}\n",
    ),
    (
        "algebraic_count",
        "E0232",
        "model M {\n  state x = 1.0\n  state z = 0.0\n  state w = 0.0\n  der(x) = -x + z\n  0 = z - x^2\n}\n",
    ),
    (
        "bool_state",
        "E0301",
        "model M {\n  state x = 1.0 > 0\n  der(x) = 0.0\n}\n",
    ),
    (
        "shape_declared",
        "E0302",
        "model M {\n  param w: real[3] = [1.0, 2.0]\n}\n",
    ),
    (
        "matmul_shapes",
        "E0302",
        "fn f(a: real[2, 3], b: real[2]) = matmul(a, b)\n",
    ),
    (
        "real_index",
        "E0303",
        "model M {\n  const n = 4\n  state u[i in 0..n] = 0.0\n  der(u[i]) = -u[i]\n  output o = u[n / 3]\n}\n",
    ),
    (
        "huge_size",
        "E0303",
        "model M {\n  const n = 99999999999999999999\n  state u[i in 0..n] = 0.0\n  der(u[i]) = -u[i]\n}\n",
    ),
    (
        "index_out_of_range",
        "E0304",
        "fn f(x: real[n]) = sum(i in 0..n: x[i] * x[n - i])\n",
    ),
    ("arity", "E0305", "fn f(x, y) = atan2(x)\n"),
    ("index_scalar", "E0306", "fn f(x) = x[0]\n"),
    (
        "batch_in_param",
        "E0307",
        "model M {\n  param a = 1.0\n  state x = 1.0\n  der(x) = -a * x\n  data obs(t, y) = csv(\"d.csv\")\n  data more(t, y) = csv(\"e.csv\")\n  loss = mean(obs.y - more.y)\n}\n",
    ),
    (
        "batch_reduction_in_residual",
        "E0307",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4])\n  residual r on box, points 8: u - mean(u)\n  loss = mean(r^2)\n}\n",
    ),
    (
        "loss_vector",
        "E0308",
        "model M {\n  param w[i in 0..3] = 1.0\n  loss = w^2\n}\n",
    ),
    (
        "backwards_range",
        "E0309",
        "fn f(x: real[4]) = sum(i in 3..1: x[i])\n",
    ),
    (
        "instance_shape",
        "E0310",
        "fn f(x: real[n], y: real[n]) = dot(x, y)\nfn g(a: real[3], b: real[4]) = f(a, b)\n",
    ),
    (
        "deriv_outside",
        "E0311",
        "model M {\n  state x = 1.0\n  der(x) = d(x, t)\n}\n",
    ),
    (
        "bad_points",
        "E0312",
        "use nn.{mlp}\nmodel M {\n  domain box: x in [0, 1]\n  net u(x) = mlp(hidden: [4])\n  residual r on box, points 0: u\n  loss = mean(r^2)\n}\n",
    ),
    (
        "unknown_unit",
        "E0401",
        "model M {\n  param v: m/sek = 1.0\n}\n",
    ),
    (
        "declared_unit",
        "E0402",
        "model M {\n  const g: m/s^2 = 9.81\n  param L: m = g\n}\n",
    ),
    (
        "compare_units",
        "E0402",
        "model M {\n  param L: m = 1.0\n  state x: s = 0.0\n  der(x) = if L > x then 1.0 else 0.0\n}\n",
    ),
    (
        "log_of_length",
        "E0403",
        "model M {\n  param L: m = 1.0\n  state x: m = 1.0\n  der(x) = log(x) / L\n}\n",
    ),
    (
        "power_unit",
        "E0404",
        "model M {\n  param L: m = 1.0\n  param p = 2.5\n  output o = L^p\n  state x = 0.0\n  der(x) = 0.0\n}\n",
    ),
    (
        "der_unit",
        "E0405",
        "model M {\n  param k: 1/s = 1.0\n  state x: m = 1.0\n  der(x) = k\n}\n",
    ),
    (
        "affine_unit",
        "E0406",
        "model M {\n  param T: degC = 20.0\n}\n",
    ),
    (
        "unused_param",
        "W0201",
        "model M {\n  param k = 1.0\n  param _spare = 2.0\n  state x = 1.0\n  der(x) = -x\n}\n",
    ),
    (
        "read_past_a_shorter_array",
        "W0202",
        "model M {\n  param w: real[3] = [1, 2, 3]\n  state z[i in 0..4] = 0\n  der(z[i]) = w[i] - z[i]\n}\n",
    ),
    (
        "time_column_unit",
        "E0407",
        "model M {\n  param k: 1/s = 1.0\n  state x: m = 1.0\n  der(x) = -k * x\n  data obs(t: min, x: m) = csv(\"d.csv\")\n  loss = mean((x(obs.t) - obs.x)^2)\n}\n",
    ),
];

#[test]
fn every_code_has_a_case() {
    for (name, code, src) in CASES {
        let parsed = parse(FileId(0), src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{name} does not parse: {:?}",
            parsed.diagnostics
        );
        let checked = check(&parsed.file);
        assert!(
            checked.diagnostics.iter().any(|d| d.code == *code),
            "{name}: expected {code}, got:\n{}",
            render_plain(src, &checked.diagnostics)
        );
        assert!(
            checked.program.models.is_empty()
                || checked.diagnostics.iter().all(|d| !d.is_error())
                || !src.contains("model"),
            "{name}: a model with errors must not be in the program"
        );
        insta::assert_snapshot!(
            *name,
            format!(
                "{src}\n----- check -----\n{}",
                render_plain(src, &checked.diagnostics)
            )
        );
    }
}

/// Grid neighbours stepping past the edge by their offset are boundary reads, not size
/// mismatches: no W0202 (the heat equation's stencil).
#[test]
fn stencil_neighbours_read_the_boundary_without_a_warning() {
    let src = "model M {\n  param w: real[4] = [1, 2, 3, 4]\n  state u[i in 0..4] = 0\n  der(u[i]) = u[i - 1] - 2 * u[i] + u[i + 1] + w[i]\n}\n";
    let checked = check(&parse(FileId(0), src).file);
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        render_plain(src, &checked.diagnostics)
    );
}
