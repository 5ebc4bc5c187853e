//! The prelude (`stdlib/prelude/*.sci`, functions written in sci): its sources are
//! canonical and check; every function evaluates, through check → lower → the reference
//! interpreter, to its formula computed in Rust; calls resolve by the documented rules
//! (math in scope, nn behind `use`, user functions shadow, prelude bodies are hygienic);
//! programs get only the prelude functions they call; `mlp(init: he)` draws He weights.

use sci_diag::{Diagnostic, FileId};
use sci_ir::Module;
use sci_ir::interp::{Interpreter, Tensor};
use sci_ir::validate::validate_module;
use sci_lang::lower::{SplitMix64, lower_functions};
use sci_lang::{check, fmt, parser, prelude};

// ---------------------------------------------------------------- helpers

fn analyze(src: &str) -> sci_lang::FrontEnd {
    sci_lang::analyze(FileId(0), src)
}

fn errors(src: &str) -> Vec<Diagnostic> {
    analyze(src)
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .collect()
}

/// The modules of a source that must compile without errors.
fn modules(src: &str) -> Vec<Module> {
    let front = analyze(src);
    let errs: Vec<String> = front
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errs.is_empty(), "{errs:#?}");
    for m in &front.modules {
        validate_module(m).unwrap_or_else(|e| panic!("{e:?}"));
    }
    front.modules
}

fn module<'a>(ms: &'a [Module], name: &str) -> &'a Module {
    ms.iter().find(|m| m.name == name).unwrap()
}

fn call(m: &Module, f: &str, args: &[Tensor]) -> Vec<f64> {
    Interpreter::new(m)
        .unwrap()
        .call_named(f, args)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .data
}

/// A prelude function instantiated for the argument shapes (as `sci eval` does), lowered
/// and evaluated by the interpreter.
fn eval_prelude(name: &str, args: &[Tensor]) -> Vec<f64> {
    let parsed = parser::parse(FileId(0), "");
    let mut checked = check::check(&parsed.file);
    let shapes: Vec<Vec<usize>> = args.iter().map(|a| a.shape.clone()).collect();
    let id = check::instantiate(&parsed.file, &mut checked, name, &shapes)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let symbol = checked.program.functions[id.index()].symbol.clone();
    let m = lower_functions(&checked.program).unwrap();
    validate_module(&m).unwrap_or_else(|e| panic!("{e:?}"));
    call(&m, &symbol, args)
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        let tol = 1e-14 * w.abs().max(f64::MIN_POSITIVE);
        assert!((g - w).abs() <= tol, "{what}: got {g:e}, want {w:e}");
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn elu(x: f64, alpha: f64) -> f64 {
    if x > 0.0 { x } else { alpha * (x.exp() - 1.0) }
}

fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

// ---------------------------------------------------------------- the sources

#[test]
fn prelude_sources_parse_check_and_are_formatted() {
    assert!(
        prelude::diagnostics().is_empty(),
        "{:?}",
        prelude::diagnostics()
    );
    for file in prelude::FILES {
        let text = prelude::source(file).unwrap();
        let name = prelude::name(file).unwrap();
        assert_eq!(
            fmt::format_source(FileId(0), text).unwrap(),
            text,
            "{name} is not formatted (run `sci fmt` on it)"
        );
        // Checked as an ordinary file (what `sci check stdlib/prelude/…` does).
        let front = analyze(text);
        assert!(
            front.diagnostics.is_empty(),
            "{name}: {:#?}",
            front.diagnostics
        );
    }
    let names: Vec<&str> = prelude::functions()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "clamp",
            "mod",
            "lerp",
            "smoothstep",
            "sinc",
            "logit",
            "hypot",
            "huber",
            "logsumexp",
            "silu",
            "swish",
            "elu",
            "selu",
            "leaky_relu",
            "mish",
            "softsign",
            "softmax",
            "dense",
            "glorot_scale",
            "he_scale"
        ]
    );
}

// ---------------------------------------------------------------- values

type Formula = fn(&[f64]) -> f64;

/// Scalar prelude functions, their Rust formulas and the inputs they are tried on.
fn scalar_cases() -> Vec<(&'static str, Formula, Vec<Vec<f64>>)> {
    let xs = |v: &[f64]| v.iter().map(|&x| vec![x]).collect::<Vec<_>>();
    let wide = [-30.0, -3.5, -1.0, -0.25, 0.0, 1e-3, 0.7, 2.0, 12.5, 40.0];
    vec![
        (
            "clamp",
            |a| clamp(a[0], a[1], a[2]),
            vec![
                vec![-2.0, -1.0, 1.0],
                vec![0.3, -1.0, 1.0],
                vec![5.0, -1.0, 1.0],
            ],
        ),
        (
            "mod",
            |a| a[0].rem_euclid(a[1]),
            vec![
                vec![7.0, 3.0],
                vec![-1.0, 3.0],
                vec![8.0, 8.0],
                vec![0.0, 5.0],
                vec![5.5, 2.0],
            ],
        ),
        (
            "lerp",
            |a| a[0] + a[2] * (a[1] - a[0]),
            vec![
                vec![1.0, 3.0, 0.0],
                vec![1.0, 3.0, 1.0],
                vec![-2.0, 7.0, 0.3],
                vec![1.5, -4.0, 1.7],
            ],
        ),
        (
            "smoothstep",
            |a| {
                let s = clamp((a[2] - a[0]) / (a[1] - a[0]), 0.0, 1.0);
                s * s * (3.0 - 2.0 * s)
            },
            vec![
                vec![1.0, 3.0, 0.0],
                vec![1.0, 3.0, 1.7],
                vec![1.0, 3.0, 2.5],
                vec![1.0, 3.0, 9.0],
            ],
        ),
        (
            "sinc",
            |a| if a[0] == 0.0 { 1.0 } else { a[0].sin() / a[0] },
            xs(&[
                -7.0, -1.0, -0.009, -1e-5, 0.0, 1e-8, 0.004, 0.0099, 0.01, 0.5, 3.0, 100.0,
            ]),
        ),
        (
            "logit",
            |a| (a[0] / (1.0 - a[0])).ln(),
            xs(&[1e-9, 0.01, 0.2, 0.75, 0.999]),
        ),
        (
            "hypot",
            |a| (a[0] * a[0] + a[1] * a[1]).sqrt(),
            vec![
                vec![3.0, 4.0],
                vec![-1.5, 0.2],
                vec![0.0, -2.0],
                vec![1e100, 1e100],
            ],
        ),
        (
            "huber",
            |a| {
                let (r, d) = (a[0], a[1]);
                if r.abs() <= d {
                    0.5 * r * r
                } else {
                    d * (r.abs() - 0.5 * d)
                }
            },
            vec![
                vec![0.3, 1.0],
                vec![-0.9, 1.0],
                vec![2.5, 1.0],
                vec![-7.0, 0.5],
            ],
        ),
        ("silu", |a| a[0] * sigmoid(a[0]), xs(&wide)),
        (
            "swish",
            |a| a[0] * sigmoid(a[1] * a[0]),
            vec![vec![-2.0, 0.5], vec![1.5, 1.0], vec![3.0, 2.0]],
        ),
        (
            "elu",
            |a| elu(a[0], a[1]),
            vec![
                vec![-3.0, 1.0],
                vec![-0.5, 0.3],
                vec![0.0, 1.0],
                vec![2.0, 1.0],
                vec![800.0, 1.0],
            ],
        ),
        (
            "selu",
            |a| 1.0507009873554805 * elu(a[0], 1.6732632423543772),
            xs(&wide),
        ),
        (
            "leaky_relu",
            |a| if a[0] > 0.0 { a[0] } else { a[1] * a[0] },
            vec![vec![-3.0, 0.01], vec![2.0, 0.01], vec![-1.0, 0.2]],
        ),
        ("mish", |a| a[0] * softplus(a[0]).tanh(), xs(&wide)),
        ("softsign", |a| a[0] / (1.0 + a[0].abs()), xs(&wide)),
        (
            "glorot_scale",
            |a| (6.0 / (a[0] + a[1])).sqrt(),
            vec![vec![2.0, 20.0], vec![400.0, 400.0]],
        ),
        ("he_scale", |a| (6.0 / a[0]).sqrt(), xs(&[2.0, 20.0, 400.0])),
    ]
}

#[test]
fn every_scalar_function_evaluates_to_its_formula() {
    for (name, formula, inputs) in scalar_cases() {
        for args in inputs {
            let tensors: Vec<Tensor> = args.iter().map(|&x| Tensor::scalar(x)).collect();
            let got = eval_prelude(name, &tensors);
            assert_close(&got, &[formula(&args)], &format!("{name}{args:?}"));
        }
    }
}

#[test]
fn vector_functions_evaluate_to_their_formulas() {
    for x in [
        vec![1.0, 2.0, 3.0],
        vec![-500.0, 0.0, 800.0, 801.5],
        vec![0.25],
    ] {
        let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = x.iter().map(|v| (v - max).exp()).sum();
        let t = Tensor::vector(x.clone());
        assert_close(
            &eval_prelude("logsumexp", std::slice::from_ref(&t)),
            &[max + sum.ln()],
            &format!("logsumexp{x:?}"),
        );
        let want: Vec<f64> = x.iter().map(|v| (v - max).exp() / sum).collect();
        assert_close(
            &eval_prelude("softmax", &[t]),
            &want,
            &format!("softmax{x:?}"),
        );
    }
    // dense(W, b, x) = W·x + b with W [3, 2].
    let w = [1.0, -2.0, 0.5, 4.0, -3.0, 0.25];
    let b = [0.1, 0.2, -0.3];
    let x = [2.0, -1.5];
    let want: Vec<f64> = (0..3)
        .map(|i| w[2 * i] * x[0] + w[2 * i + 1] * x[1] + b[i])
        .collect();
    let got = eval_prelude(
        "dense",
        &[
            Tensor::new(vec![3, 2], w.to_vec()).unwrap(),
            Tensor::vector(b.to_vec()),
            Tensor::vector(x.to_vec()),
        ],
    );
    assert_close(&got, &want, "dense");
}

#[test]
fn every_prelude_function_is_tested() {
    let mut tested: Vec<&str> = scalar_cases().iter().map(|c| c.0).collect();
    tested.extend(["logsumexp", "softmax", "dense"]);
    for f in prelude::functions() {
        assert!(tested.contains(&f.name.as_str()), "{} has no test", f.name);
    }
}

// ---------------------------------------------------------------- resolution

/// The symbols of the program's function instances.
fn instances(src: &str) -> Vec<String> {
    let front = analyze(src);
    assert!(
        !sci_diag::has_errors(&front.diagnostics),
        "{:#?}",
        front.diagnostics
    );
    front
        .checked
        .program
        .functions
        .iter()
        .map(|f| f.symbol.clone())
        .collect()
}

#[test]
fn calls_in_models_use_the_prelude_and_only_what_they_call() {
    let src = "use nn.{selu, dense}
        model M {
            param a = 0.3
            param W: real[2, 2] = [[1, 2], [3, 4]]
            state x = 1.5
            state v[i in 0..2] = 0.0
            der(x) = lerp(x, 2 * x, a) - selu(x)
            der(v[i]) = dense(W, [0.5, -1], [x, a])[i]
        }";
    let ms = modules(src);
    let m = module(&ms, "M");
    let names: Vec<&str> = m.functions.iter().map(|(_, f)| f.name.as_str()).collect();
    // selu calls elu (transitively pulled in); nothing else of the prelude is there.
    assert_eq!(names, ["lerp", "elu", "selu", "dense[2,2]", "rhs", "y0"]);
    let (x, a) = (1.5, 0.3);
    let rhs = call(
        m,
        "rhs",
        &[
            Tensor::scalar(0.0),
            Tensor::vector(vec![x, 0.0, 0.0]),
            Tensor::vector(m.params.defaults()),
        ],
    );
    let selu = 1.0507009873554805 * elu(x, 1.6732632423543772);
    let want = [
        x + a * (2.0 * x - x) - selu,
        x + 2.0 * a + 0.5,
        3.0 * x + 4.0 * a - 1.0,
    ];
    assert_close(&rhs, &want, "rhs");
}

#[test]
fn programs_that_call_no_prelude_function_get_none() {
    // Names of prelude functions used as variables do not pull anything in.
    let src = "model M {
        param clamp = 2.0
        state x = 1.0
        der(x) = -clamp * x
    }";
    assert!(instances(src).is_empty());
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sci") {
            let text = std::fs::read_to_string(&path).unwrap();
            // Only the examples that call no prelude function (`mod(i + 1, n)` in a
            // circuit's ring is one that does).
            let calls_prelude = prelude::functions()
                .iter()
                .any(|f| text.contains(&format!("{}(", f.name)));
            if calls_prelude {
                continue;
            }
            let front = analyze(&text);
            for f in &front.checked.program.functions {
                assert!(
                    !prelude::is_prelude(f.span.file),
                    "{}: {} comes from the prelude",
                    path.display(),
                    f.symbol
                );
            }
        }
    }
}

#[test]
fn nn_functions_need_a_use_and_misspellings_get_a_suggestion() {
    let src = "model M { state x = 1.0\n der(x) = -silu(x) }";
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].code, "E0209");
    assert!(
        errs[0]
            .message
            .contains("`silu` comes from the module `nn`")
    );
    assert_eq!(
        errs[0].help.as_deref(),
        Some("add `use nn.{silu}` at the top of the file")
    );

    let errs = errors("use nn.{silux}\nmodel M { state x = 1.0\n der(x) = -x }");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].code, "E0208");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `silu`?"));

    // Accepted forms: a list, a path, the whole module, and a model-level `use`.
    for head in ["use nn.{silu}", "use nn.silu", "use nn"] {
        let src = format!("{head}\nmodel M {{ state x = 1.0\n der(x) = -silu(x) }}");
        assert_eq!(instances(&src), ["silu"], "{head}");
    }
    let src = "model M { use nn.{mish}\n state x = 1.0\n der(x) = -mish(x) }";
    assert_eq!(instances(src), ["mish"]);
    // math functions are in scope without a use, and may be named in one.
    assert_eq!(instances("fn f(x) = sinc(x)"), ["sinc", "f"]);
    assert_eq!(
        instances("use math.{sinc}\nfn f(x) = sinc(x)"),
        ["sinc", "f"]
    );
    // A misspelt call gets the closest prelude name.
    let errs = errors("fn f(x) = lerb(x, 1, 0.5)");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `lerp`?"));
}

#[test]
fn user_functions_shadow_the_prelude_silently_unless_imported() {
    // A file-level fn replaces the prelude's (no diagnostic at all).
    let src = "use nn.{selu}
        fn silu(x) = 2 * x
        fn elu(x, a) = 100 * x
        fn g(x) = silu(x) + selu(x)";
    let front = analyze(src);
    assert!(front.diagnostics.is_empty(), "{:#?}", front.diagnostics);
    let m = module(&front.modules, "functions");
    // The prelude's selu still calls the prelude's elu (its body does not see user names).
    let x = -0.7;
    let selu = 1.0507009873554805 * elu(x, 1.6732632423543772);
    assert_close(&call(m, "g", &[Tensor::scalar(x)]), &[2.0 * x + selu], "g");
    let symbols: Vec<&str> = m.functions.iter().map(|(_, f)| f.name.as_str()).collect();
    assert!(
        symbols.contains(&"elu") && symbols.contains(&"elu$2"),
        "{symbols:?}"
    );

    // A model-level fn shadows too.
    let src = "model M { fn lerp(a, b, t) = a\n state x = 1.0\n der(x) = lerp(x, 5, 0.5) }";
    let ms = modules(src);
    let rhs = call(
        module(&ms, "M"),
        "rhs",
        &[
            Tensor::scalar(0.0),
            Tensor::vector(vec![3.0]),
            Tensor::vector(vec![]),
        ],
    );
    assert_eq!(rhs, [3.0]);

    // Imported by name and defined: which one was meant is unclear.
    for src in [
        "use nn.{silu}\nfn silu(x) = 2 * x",
        "use math.{lerp}\nfn lerp(a, b, t) = a",
        "use nn.{silu}\nmodel M { fn silu(x) = x\n state x = 1.0\n der(x) = silu(x) }",
        "model M { use nn.{silu}\n fn silu(x) = x\n state x = 1.0\n der(x) = silu(x) }",
    ] {
        let errs = errors(src);
        assert_eq!(errs.len(), 1, "{src}: {errs:#?}");
        assert_eq!(errs[0].code, "E0202", "{src}");
        assert!(errs[0].message.contains("is imported from"), "{src}");
        assert_eq!(errs[0].labels.len(), 2, "{src}");
    }
    // `use nn` (everything) is not an explicit import of one name: no error.
    assert!(errors("use nn\nfn silu(x) = 2 * x").is_empty());

    // A user constant of the same name hides the prelude function.
    let errs = errors("const lerp = 2.0\nfn f(x) = lerp(x, 1, 0.5)");
    assert_eq!(errs[0].code, "E0205", "{errs:#?}");
}

#[test]
fn prelude_bodies_do_not_see_user_names() {
    // `n` is a user constant, `sigmoid` a user fn: neither leaks into softmax or silu.
    let src = "use nn.{softmax, silu}
        const n = 7
        fn sigmoid(x) = 0 * x
        fn f(v: real[3]) = softmax(v)[0] + silu(v[1])";
    let front = analyze(src);
    assert!(front.diagnostics.is_empty(), "{:#?}", front.diagnostics);
    let m = module(&front.modules, "functions");
    let v = [0.5, -1.0, 2.0];
    let sum: f64 = v.iter().map(|x| (x - 2.0f64).exp()).sum();
    // silu(-1) = -1 · sigmoid(-1).
    let want = (0.5f64 - 2.0).exp() / sum - sigmoid(-1.0);
    assert_close(&call(m, "f", &[Tensor::vector(v.to_vec())]), &[want], "f");
}

#[test]
fn prelude_functions_are_unit_polymorphic() {
    let src = "model M {
        param a: m = 3.0
        param b: m = 4.0
        param r: m = 2.0
        param d: m = 0.5
        output h = hypot(a, b)
        output loss_r = huber(r, d)
        output mid = lerp(a, b, 0.25)
        output c = clamp(a, d, b)
        state x = 0.0
        der(x) = 0
    }";
    let ms = modules(src);
    let m = module(&ms, "M");
    let units: Vec<String> = m
        .outputs
        .slots
        .iter()
        .map(|s| s.unit.map(|u| u.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(units, ["m", "m^2", "m", "m"]);
    // A unit error inside a prelude body is reported with the user's call site.
    let errs = errors(
        "use nn.{silu}\nmodel M { param L: m = 1.0\n output y = silu(L)\n state x = 0.0\n der(x) = 0 }",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let d = &errs[0];
    assert_eq!(d.primary_span().unwrap().file, prelude::NN_FILE);
    assert!(
        d.labels
            .iter()
            .any(|l| l.span.file == FileId(0) && l.message == "called here")
    );
    assert!(
        d.notes.iter().any(|n| n.contains("while checking `silu`")),
        "{d:?}"
    );
}

#[test]
fn nothing_of_the_prelude_reaches_the_language_server_tables() {
    let src = "use nn.{softmax}\nfn f(v: real[3]) = softmax(v)[0] + lerp(1, 2, v[0])";
    let front = analyze(src);
    assert!(front.diagnostics.is_empty(), "{:#?}", front.diagnostics);
    let info = &front.checked.info;
    assert!(info.definitions.iter().all(|d| d.span.file == FileId(0)));
    assert!(
        info.references
            .iter()
            .all(|(u, d)| u.file == FileId(0) && d.file == FileId(0))
    );
    // Every recorded expression type belongs to the user's file: its ids are 0..count.
    let count = sci_lang::ast::number_exprs(&mut front.ast.clone());
    assert!(!info.types.is_empty());
    assert!(info.types.keys().all(|id| id.0 < count));
}

// ---------------------------------------------------------------- mlp(init: …)

fn net_weights(init: &str) -> (Module, Vec<f64>, Vec<f64>) {
    let src = format!(
        "use nn.{{mlp}}
        model P {{
            domain box: x in [0, 1], y in [0, 1]
            net u(x, y) = mlp(hidden: [400, 400], seed: 7{init})
            residual r on box, points 4: u - x
            loss = mean(r^2)
        }}"
    );
    let ms = modules(&src);
    let m = module(&ms, "P").clone();
    let theta = m.params.defaults();
    let slot = |name: &str| {
        let s = m.params.slots.iter().find(|s| s.name == name).unwrap();
        let len: usize = s.shape.iter().product();
        theta[s.offset..s.offset + len].to_vec()
    };
    let (w0, w1) = (slot("u.w0"), slot("u.w1"));
    (m, w0, w1)
}

#[test]
fn mlp_init_he_draws_with_variance_two_over_fan_in() {
    let (_, w0, w1) = net_weights(", init: he");
    // Exactly the documented stream: L = sqrt(6 / fan_in), L·(2u − 1), w0 then w1.
    let mut rng = SplitMix64::new(7);
    let l0 = (6.0f64 / 2.0).sqrt();
    for w in &w0 {
        assert_eq!(*w, rng.uniform_in(l0));
    }
    let l1 = (6.0f64 / 400.0).sqrt();
    for w in &w1 {
        assert_eq!(*w, rng.uniform_in(l1));
    }
    // And statistically: 160,000 weights of the second layer have variance 2/400.
    let n = w1.len() as f64;
    let mean = w1.iter().sum::<f64>() / n;
    let var = w1.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / n;
    assert!((var / (2.0 / 400.0) - 1.0).abs() < 0.02, "variance {var}");
    assert!(w1.iter().all(|w| w.abs() < l1));

    // The default (and `init: glorot`) is Glorot: variance 2 / (fan_in + fan_out).
    let (_, _, g1) = net_weights("");
    let (_, _, g1_explicit) = net_weights(", init: glorot");
    assert_eq!(g1, g1_explicit);
    let var = g1.iter().map(|w| w * w).sum::<f64>() / n;
    assert!((var / (2.0 / 800.0) - 1.0).abs() < 0.02, "variance {var}");
}

#[test]
fn mlp_init_rejects_unknown_initialisations() {
    let src = "use nn.{mlp}
        model P {
            domain box: x in [0, 1]
            net u(x) = mlp(hidden: [4], init: hee)
            residual r on box, points 4: u - x
            loss = mean(r^2)
        }";
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].code, "E0224");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `he`?"));
    assert_eq!(errs[0].notes, ["the initialisations are: glorot, he"]);
}
