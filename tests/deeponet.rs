//! DeepONets from the language: `net G(a) = deeponet(branch: […], trunk: […], features: p)`
//! on a data set of functions on a grid. The oracle is a direct implementation (loops over
//! layers and points): the interpreter and Cranelift must compute its values, their
//! gradients must agree with each other and with central differences.

mod common;

const GRID: usize = 12;

fn model() -> String {
    format!(
        "use nn.{{deeponet}}

model Op {{
    data pairs(a: real[{GRID}], u: real[{GRID}]) = npy(\"a.npy\", \"u.npy\")
    net G(a) = deeponet(branch: [5], trunk: [4, 3], features: 6, activation: tanh, seed: 2)
    loss = mean(norm(G(pairs.a) - pairs.u)^2)
}}
"
    )
}

/// An MLP over `x`, tanh after every layer (`last_too`) or all but the last.
fn mlp(
    m: &sci::Model<'_>,
    p: &[f64],
    part: &str,
    layers: usize,
    x: &[f64],
    last_too: bool,
) -> Vec<f64> {
    let mut h = x.to_vec();
    for k in 0..layers {
        let w = common::param_block(m, p, &format!("G.{part}.w{k}"));
        let b = common::param_block(m, p, &format!("G.{part}.b{k}"));
        let cols = h.len();
        h = (0..b.len())
            .map(|r| {
                let y = b[r] + (0..cols).map(|c| w[r * cols + c] * h[c]).sum::<f64>();
                if k + 1 < layers || last_too {
                    y.tanh()
                } else {
                    y
                }
            })
            .collect();
    }
    h
}

fn reference(m: &sci::Model<'_>, p: &[f64], a: &[f64]) -> Vec<f64> {
    let b = mlp(m, p, "branch", 2, a, false);
    let bias = common::param_block(m, p, "G.bias")[0];
    (0..GRID)
        .map(|j| {
            let t = mlp(m, p, "trunk", 3, &[j as f64 / (GRID - 1) as f64], true);
            bias + t.iter().zip(&b).map(|(t, b)| t * b).sum::<f64>()
        })
        .collect()
}

#[test]
fn a_deeponet_computes_its_architecture_on_every_back_end() {
    let mut rows = Vec::new();
    for r in 0..3 {
        rows.extend((0..GRID).map(|j| ((j + r) as f64 * 0.7).sin()));
        rows.extend((0..GRID).map(|j| 0.1 * j as f64 - 0.3 * r as f64));
    }
    let mut results = Vec::new();
    for backend in [sci::BackendKind::Interpreter, sci::BackendKind::Cranelift] {
        let c = sci::Compiler::new()
            .backend(backend)
            .compile_source("op.sci", &model())
            .unwrap_or_else(|e| panic!("{e}"));
        let m = c.model("Op").unwrap();
        assert_eq!(
            m.n_params(),
            (12 * 5 + 5 + 5 * 6 + 6) + (4 + 4 + 4 * 3 + 3 + 3 * 6 + 6) + 1
        );
        let p: Vec<f64> = (m.params().iter().enumerate())
            .map(|(k, v)| v + 0.05 * ((k * 7919) % 11) as f64 / 11.0)
            .collect();
        let mut batch = sci::Batch::new();
        batch.set("pairs", &rows);
        let (loss, grad) = m.loss_and_grad(&p, &batch).unwrap();
        let expected: f64 = rows
            .chunks(2 * GRID)
            .map(|row| {
                let g = reference(&m, &p, &row[..GRID]);
                g.iter()
                    .zip(&row[GRID..])
                    .map(|(g, u)| (g - u).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / 3.0;
        assert!(
            (loss - expected).abs() <= 1e-12 * expected.abs(),
            "{backend:?}: {loss} vs {expected}"
        );
        let label = format!("{backend:?}");
        common::assert_loss_gradient_matches_central_differences(
            &m,
            &p,
            &batch,
            &grad,
            0..p.len(),
            &label,
        );
        results.push(grad);
    }
    for (a, b) in results[0].iter().zip(&results[1]) {
        assert!((a - b).abs() <= 1e-10 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn deeponets_are_checked() {
    for (source, says) in [
        (
            model()
                .replace(
                    "    net G",
                    "    data other(a: real[6]) = npy(\"b.npy\")\n    net G",
                )
                .replace("loss = ", "loss = mean(norm(G(other.a))) + "),
            "reads its input at 6 points (its branch network's sensors), but this has 12",
        ),
        (
            model().replace("features: 6", "feature: 6"),
            "did you mean `features`",
        ),
        (
            model().replace("branch: [5]", "branch: [0]"),
            "whole numbers ≥ 1",
        ),
        (
            model().replace("net G(a)", "net G(a, b)"),
            "takes one input",
        ),
    ] {
        let err = sci::Compiler::new()
            .backend(sci::BackendKind::Interpreter)
            .compile_source("op.sci", &source)
            .err()
            .unwrap_or_else(|| panic!("no error for:\n{source}"))
            .to_string();
        assert!(err.contains(says), "expected `{says}` in:\n{err}");
    }
}
