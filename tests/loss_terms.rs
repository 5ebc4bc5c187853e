//! A loss's additive terms as their own functions (`loss_term.NAME`): named by what they
//! read, signs kept, and summing to the loss on every back end.

use sci::{BackendKind, Batch, Compiler};

const MODEL: &str = "\
model Terms {
    domain line: x in [0, 1]
    param a = 1.5
    residual r on line, points 8: a * x - 1
    residual s on line where x == 0, points 2: a - x
    data obs(x, y) = csv(\"obs.csv\")
    loss = mean(r^2) - 2 * mean(s^2) + mean(r^2) / 4 + mean((a * obs.x - obs.y)^2) + a^2
}
";

#[test]
fn the_terms_are_named_signed_and_sum_to_the_loss() {
    let x: Vec<f64> = (0..8).map(|k| f64::from(k) / 7.0).collect();
    let x0 = [0.0, 0.0];
    let rows = [0.5, 1.0, 1.0, 1.2, 2.0, 3.5];
    let batch = Batch::new()
        .with("r.x", &x)
        .with("s.x", &x0)
        .with("obs", &rows);
    let a: f64 = 1.5;
    let mean_r2 = x.iter().map(|x| (a * x - 1.0).powi(2)).sum::<f64>() / 8.0;
    let mean_fit = rows
        .chunks(2)
        .map(|r| (a * r[0] - r[1]).powi(2))
        .sum::<f64>()
        / 3.0;
    let want = [mean_r2, -2.0 * a * a, mean_r2 / 4.0, mean_fit, a * a];
    for backend in [BackendKind::Interpreter, BackendKind::Cranelift] {
        let compiled = Compiler::new()
            .backend(backend)
            .loss_terms(true)
            .compile_source("terms.sci", MODEL)
            .unwrap();
        let m = compiled.model("Terms").unwrap();
        assert_eq!(m.loss_term_names(), ["r", "s", "r_2", "obs", "term5"]);
        let p = m.params();
        let terms = m.loss_terms(&p, &batch).unwrap();
        for (got, want) in terms.iter().zip(want) {
            assert!((got - want).abs() <= 1e-14, "{backend:?}: {terms:?}");
        }
        let loss = m.loss(&p, &batch).unwrap();
        let sum: f64 = terms.iter().sum();
        assert!((sum - loss).abs() <= 1e-14 * loss.abs(), "{sum} vs {loss}");
    }
}

#[test]
fn the_terms_are_compiled_only_on_request() {
    let compiled = Compiler::new().compile_source("terms.sci", MODEL).unwrap();
    let m = compiled.model("Terms").unwrap();
    assert!(m.loss_term_names().is_empty());
    assert!(m.function("loss_term.r").is_err());
    // The IR has them: a `.sir` file describes the whole model.
    let ir = sci_ir::print_module(compiled.module("Terms").unwrap());
    assert!(ir.contains("role loss_term(r)"), "{ir}");
    assert!(m.function("loss").is_ok());
}

#[test]
fn a_loss_of_one_term_has_no_term_functions() {
    let source = MODEL.replace(
        "loss = mean(r^2) - 2 * mean(s^2) + mean(r^2) / 4 + mean((a * obs.x - obs.y)^2) + a^2",
        "loss = mean(r^2) * 3",
    );
    let compiled = Compiler::new()
        .loss_terms(true)
        .compile_source("one.sci", &source)
        .unwrap();
    let m = compiled.model("Terms").unwrap();
    assert!(m.loss_term_names().is_empty());
    let x = [0.5; 8];
    let batch = Batch::new()
        .with("r.x", &x)
        .with("s.x", &[0.0, 0.0])
        .with("obs", &[0.0, 0.0]);
    assert!(m.loss_terms(&m.params(), &batch).unwrap().is_empty());
}
