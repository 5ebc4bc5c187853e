//! The ODE solvers on bad input and failing models: every failure is an `Error` of the
//! right kind with a sentence, never a panic.

use sci_stdlib::ErrorKind;
use sci_stdlib::ode::{JacobianKind, Method, OdeSystem, SolveOptions, Sparsity, solve};

/// y' = rate(t) · y with y0 = 1 and θ = (k): the rate is −k, except where a failure mode
/// makes it NaN or the growth blows up.
struct Decay {
    mode: Mode,
    pattern: Option<Sparsity>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    /// The right-hand side is NaN from t = 0.5 on.
    NanAfterHalf,
    /// NaN everywhere, so already at the start.
    NanAtStart,
    /// y' = y², which blows up at t = 1.
    BlowUp,
}

fn decay(mode: Mode) -> Decay {
    Decay {
        mode,
        pattern: None,
    }
}

impl OdeSystem for Decay {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        1
    }
    fn rhs(&self, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = match self.mode {
            Mode::Plain => -p[0] * y[0],
            Mode::NanAfterHalf if t >= 0.5 => f64::NAN,
            Mode::NanAfterHalf => -p[0] * y[0],
            Mode::NanAtStart => f64::NAN,
            Mode::BlowUp => y[0] * y[0],
        };
    }
    fn jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = match self.mode {
            Mode::BlowUp => 2.0 * y[0] * v[0],
            Mode::NanAfterHalf if t >= 0.5 => f64::NAN,
            _ => -p[0] * v[0],
        };
    }
    fn param_jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -y[0] * v[0];
    }
    fn sparsity(&self) -> Option<&Sparsity> {
        self.pattern.as_ref()
    }
    fn jacobian_values(&self, _t: f64, _y: &[f64], p: &[f64], values: &mut [f64]) {
        values.fill(-p[0]);
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 1.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
}

const ALL_METHODS: [Method; 5] = [
    Method::Auto,
    Method::Tsit5,
    Method::Bdf,
    Method::Esdirk34,
    Method::TrBdf2,
];

fn try_solve(system: &dyn OdeSystem, p: &[f64], options: SolveOptions) -> sci_stdlib::Error {
    match solve(system, p, &options, &mut |_| {}) {
        Ok(sol) => panic!("expected an error, got a solution with {:?}", sol.stats),
        Err(e) => e,
    }
}

/// Checks the kind and that the message says what it should.
fn expect(e: sci_stdlib::Error, kind: ErrorKind, words: &[&str]) {
    assert_eq!(e.kind, kind, "wrong kind for: {e}");
    for w in words {
        assert!(
            e.message.contains(w),
            "`{}` does not mention `{w}`",
            e.message
        );
    }
    // A full sentence.
    assert!(e.message.ends_with('.'), "not a sentence: {}", e.message);
    assert!(
        e.message.starts_with(|c: char| c.is_uppercase()),
        "not a sentence: {}",
        e.message
    );
}

/// The numbers after each `t = ` in a message.
fn times_named(message: &str) -> Vec<f64> {
    message
        .split("t = ")
        .skip(1)
        .filter_map(|rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || "+-.e".contains(c)))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches('.').parse().ok()
        })
        .collect()
}

fn base() -> SolveOptions {
    SolveOptions {
        span: Some((0.0, 1.0)),
        ..SolveOptions::default()
    }
}

#[test]
fn bad_tolerances_are_input_errors() {
    let sys = decay(Mode::Plain);
    for rtol in [-1e-6, 0.0, f64::NAN, f64::INFINITY] {
        let e = try_solve(&sys, &[1.0], SolveOptions { rtol, ..base() });
        expect(
            e.clone(),
            ErrorKind::Input,
            &["relative tolerance", "positive"],
        );
        assert!(e.help.is_some());
    }
    let e = try_solve(
        &sys,
        &[1.0],
        SolveOptions {
            atol: -1.0,
            ..base()
        },
    );
    expect(e, ErrorKind::Input, &["absolute tolerance", "-1"]);
}

#[test]
fn bad_intervals_and_times_are_input_errors() {
    let sys = decay(Mode::Plain);
    let p = [1.0];
    let e = try_solve(
        &sys,
        &p,
        SolveOptions {
            span: Some((2.0, 1.0)),
            ..base()
        },
    );
    expect(
        e,
        ErrorKind::Input,
        &["t_end = 1", "after the start time t0 = 2"],
    );
    let e = try_solve(
        &sys,
        &p,
        SolveOptions {
            span: Some((1.0, 1.0)),
            ..base()
        },
    );
    expect(e, ErrorKind::Input, &["after the start time"]);
    let e = try_solve(
        &sys,
        &p,
        SolveOptions {
            span: Some((0.0, f64::INFINITY)),
            ..base()
        },
    );
    expect(e, ErrorKind::Input, &["finite"]);

    let with_times = |times: Vec<f64>| SolveOptions {
        times: Some(times),
        ..base()
    };
    let e = try_solve(&sys, &p, with_times(vec![0.0, 0.6, 0.3]));
    expect(e, ErrorKind::Input, &["sorted", "#3"]);
    let e = try_solve(&sys, &p, with_times(vec![0.0, 1.5]));
    expect(
        e,
        ErrorKind::Input,
        &["outside the integration interval", "1.5"],
    );
    let e = try_solve(&sys, &p, with_times(vec![-0.1]));
    expect(e, ErrorKind::Input, &["outside"]);
    let e = try_solve(&sys, &p, with_times(vec![0.5, f64::NAN]));
    expect(e, ErrorKind::Input, &["finite"]);
    let e = try_solve(&sys, &p, with_times(vec![]));
    expect(e, ErrorKind::Input, &["No output times"]);
    let e = try_solve(
        &sys,
        &p,
        SolveOptions {
            max_steps: 0,
            ..base()
        },
    );
    expect(e, ErrorKind::Input, &["max_steps"]);
}

#[test]
fn wrong_parameters_are_input_errors() {
    let sys = decay(Mode::Plain);
    let e = try_solve(&sys, &[1.0, 2.0], base());
    expect(
        e,
        ErrorKind::Input,
        &["1 parameter but 2 values were given"],
    );
    let e = try_solve(&sys, &[], base());
    expect(
        e,
        ErrorKind::Input,
        &["1 parameter but 0 values were given"],
    );
    let e = try_solve(&sys, &[f64::NAN], base());
    expect(e, ErrorKind::Input, &["Parameter 0", "finite"]);
}

#[test]
fn method_names_parse_and_unknown_ones_are_input_errors() {
    for (name, method) in Method::ALL {
        assert_eq!(name.parse::<Method>().unwrap(), *method);
        assert_eq!(name.to_uppercase().parse::<Method>().unwrap(), *method);
        assert_eq!(method.name(), *name);
    }
    let e = "rk45".parse::<Method>().unwrap_err();
    expect(e.clone(), ErrorKind::Input, &["`rk45`"]);
    let help = e.help.expect("lists the solvers");
    assert!(help.contains("tsit5") && help.contains("bdf") && help.contains("trbdf2"));
}

#[test]
fn sparse_jacobian_needs_a_well_formed_pattern() {
    let options = SolveOptions {
        method: Method::Bdf,
        jacobian: JacobianKind::Sparse,
        ..base()
    };
    let e = try_solve(&decay(Mode::Plain), &[1.0], options.clone());
    expect(
        e.clone(),
        ErrorKind::Input,
        &["sparse Jacobian", "sparsity pattern"],
    );
    assert!(e.help.is_some());
    let malformed = [
        (
            Sparsity {
                n: 2,
                row_ptr: vec![0, 1],
                col_idx: vec![0],
            },
            "states",
        ),
        (
            Sparsity {
                n: 1,
                row_ptr: vec![0],
                col_idx: vec![],
            },
            "row pointers",
        ),
        (
            Sparsity {
                n: 1,
                row_ptr: vec![0, 2],
                col_idx: vec![0],
            },
            "span",
        ),
        (
            Sparsity {
                n: 1,
                row_ptr: vec![0, 1],
                col_idx: vec![3],
            },
            "column 3",
        ),
        (
            Sparsity {
                n: 1,
                row_ptr: vec![0, 2],
                col_idx: vec![0, 0],
            },
            "sorted",
        ),
    ];
    for (pattern, word) in malformed {
        let sys = Decay {
            mode: Mode::Plain,
            pattern: Some(pattern),
        };
        // Checked whatever Jacobian is asked for: the dense path reads the pattern too.
        for jacobian in [JacobianKind::Sparse, JacobianKind::Dense] {
            let o = SolveOptions {
                jacobian,
                ..options.clone()
            };
            let e = try_solve(&sys, &[1.0], o);
            expect(e, ErrorKind::Input, &["malformed", word]);
        }
    }
    // A 1 × 1 pattern works on the sparse path.
    let sys = Decay {
        mode: Mode::Plain,
        pattern: Some(Sparsity {
            n: 1,
            row_ptr: vec![0, 1],
            col_idx: vec![0],
        }),
    };
    let sol = solve(&sys, &[2.0], &options, &mut |_| {}).unwrap();
    assert!(sol.stats.sparse);
    let end = sol.y.last().unwrap()[0];
    assert!((end - (-2.0f64).exp()).abs() < 1e-5, "y(1) = {end}");
}

#[test]
fn nan_in_the_model_is_a_numerical_error_naming_the_time() {
    for method in ALL_METHODS {
        let options = SolveOptions { method, ..base() };
        let e = try_solve(&decay(Mode::NanAfterHalf), &[1.0], options.clone());
        expect(e.clone(), ErrorKind::Numerical, &["NaN", "t = "]);
        // The message names where the trouble began: the implicit solvers cannot pass
        // t = 0.5; Tsit5 may first evaluate the model at a stage time past it.
        let near = times_named(&e.message)
            .into_iter()
            .any(|t| (0.45..0.7).contains(&t));
        assert!(near, "{method:?}: no time near 0.5 in {e}");
        assert!(e.help.is_some(), "{method:?}: no help in {e}");

        let e = try_solve(&decay(Mode::NanAtStart), &[1.0], options);
        expect(e, ErrorKind::Numerical, &["at the start", "t = 0", "NaN"]);
    }
}

#[test]
fn blow_up_is_a_numerical_error() {
    // y' = y², y(0) = 1: y = 1 / (1 − t) is infinite at t = 1.
    for method in ALL_METHODS {
        let options = SolveOptions {
            method,
            span: Some((0.0, 2.0)),
            ..base()
        };
        let e = try_solve(&decay(Mode::BlowUp), &[1.0], options);
        expect(
            e.clone(),
            ErrorKind::Numerical,
            &["could not continue past t = "],
        );
        // The time named is at the singularity (an implicit method may step just past it).
        let t = times_named(&e.message)[0];
        assert!((0.99..1.01).contains(&t), "{method:?}: {e}");
        assert!(e.help.is_some());
    }
}

#[test]
fn the_step_limit_is_respected() {
    for method in [Method::Tsit5, Method::Bdf, Method::Esdirk34, Method::TrBdf2] {
        let options = SolveOptions {
            method,
            span: Some((0.0, 100.0)),
            rtol: 1e-10,
            atol: 1e-12,
            max_steps: 10,
            ..base()
        };
        let mut last = 0.0;
        let e = solve(&decay(Mode::Plain), &[1.0], &options, &mut |t| last = t).unwrap_err();
        expect(e, ErrorKind::Numerical, &["maximum of 10 steps"]);
        assert!(last > 0.0 && last < 100.0);
    }
    // Auto gives Tsit5 the whole (small) limit, then BDF: its error is BDF's.
    let options = SolveOptions {
        method: Method::Auto,
        span: Some((0.0, 100.0)),
        max_steps: 10,
        rtol: 1e-10,
        atol: 1e-12,
        ..base()
    };
    let e = try_solve(&decay(Mode::Plain), &[1.0], options);
    expect(e, ErrorKind::Numerical, &["BDF", "maximum of 10 steps"]);
}

#[test]
fn sensitivities_without_parameters_are_empty() {
    struct Constant;
    impl OdeSystem for Constant {
        fn n_states(&self) -> usize {
            2
        }
        fn n_params(&self) -> usize {
            0
        }
        fn rhs(&self, _t: f64, _y: &[f64], _p: &[f64], dy: &mut [f64]) {
            dy.fill(1.0);
        }
        fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
            out.fill(0.0);
        }
        fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
            out.fill(0.0);
        }
        fn y0(&self, _p: &[f64], y0: &mut [f64]) {
            y0.fill(0.0);
        }
        fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
            out.fill(0.0);
        }
    }
    for method in ALL_METHODS {
        let options = SolveOptions {
            method,
            sensitivities: true,
            times: Some(vec![0.0, 1.0]),
            ..base()
        };
        let sol = solve(&Constant, &[], &options, &mut |_| {}).unwrap();
        assert_eq!(sol.sens, Some(vec![Vec::new(), Vec::new()]));
        assert!((sol.y[1][0] - 1.0).abs() < 1e-12 && (sol.y[1][1] - 1.0).abs() < 1e-12);
    }
}

#[test]
fn a_system_without_states_is_an_input_error() {
    struct Empty;
    impl OdeSystem for Empty {
        fn n_states(&self) -> usize {
            0
        }
        fn n_params(&self) -> usize {
            0
        }
        fn rhs(&self, _t: f64, _y: &[f64], _p: &[f64], _dy: &mut [f64]) {}
        fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], _out: &mut [f64]) {}
        fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], _out: &mut [f64]) {}
        fn y0(&self, _p: &[f64], _y0: &mut [f64]) {}
        fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], _out: &mut [f64]) {}
    }
    let e = try_solve(&Empty, &[], base());
    expect(e, ErrorKind::Input, &["no states"]);
}

#[test]
fn a_panic_during_integration_becomes_a_numerical_error() {
    // diffsol panics on a few numerical paths; the solve catches panics during the
    // integration and reports them. A model that panics stands in for those here (its
    // panic message on stderr is expected).
    struct Panics;
    impl OdeSystem for Panics {
        fn n_states(&self) -> usize {
            1
        }
        fn n_params(&self) -> usize {
            0
        }
        fn rhs(&self, t: f64, y: &[f64], _p: &[f64], dy: &mut [f64]) {
            assert!(t < 0.5, "deliberate panic in the model");
            dy[0] = -y[0];
        }
        fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
            out[0] = -v[0];
        }
        fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], _out: &mut [f64]) {}
        fn y0(&self, _p: &[f64], y0: &mut [f64]) {
            y0[0] = 1.0;
        }
        fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], _out: &mut [f64]) {}
    }
    for method in [Method::Tsit5, Method::Bdf] {
        let e = try_solve(&Panics, &[], SolveOptions { method, ..base() });
        expect(
            e.clone(),
            ErrorKind::Numerical,
            &["internal failure", "could not continue"],
        );
        let t = times_named(&e.message)[0];
        assert!((0.0..0.5).contains(&t), "{method:?}: {e}");
    }
}
