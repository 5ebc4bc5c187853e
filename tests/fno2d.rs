//! Fourier neural operators on 2-D grids: `net G(a) = fno(…)` applied to a column of
//! `real[s1, s2]` fields (Li et al.'s `fourier_2d.py`: the value and both coordinates
//! lifted, `rfft2` keeping `modes` rows at each end of the first axis and `modes` columns).
//!
//! The oracle is a direct implementation (the defining 2-D DFT sums, loops over channels):
//! the interpreter and Cranelift must compute its loss; their gradients must agree with
//! each other and with central differences; `sci train` must train it from NPY files.

mod common;

const S1: usize = 6;
const S2: usize = 8;
const POINTS: usize = S1 * S2;
const MODES: usize = 2;
const WIDTH: usize = 3;
const LAYERS: usize = 2;

fn model() -> String {
    format!(
        "use nn.{{fno}}

model Op2 {{
    data pairs(a: real[{S1}, {S2}], u: real[{S1}, {S2}]) = npy(\"a.npy\", \"u.npy\")
    net G(a) = fno(modes: {MODES}, width: {WIDTH}, layers: {LAYERS}, projection: 4, seed: 5)
    loss = mean(norm(G(pairs.a) - pairs.u)^2)
}}
"
    )
}

/// Two rows of `[a; u]`, each a field of `S1 × S2` values, row-major.
fn rows() -> Vec<f64> {
    let mut rows = Vec::new();
    for r in 0..2 {
        for p in 0..POINTS {
            let (i, j) = ((p / S2) as f64, (p % S2) as f64);
            rows.push((0.7 * i + 0.3 * (r as f64 + 1.0) * j).sin() + 0.1 * r as f64);
        }
        for p in 0..POINTS {
            rows.push(0.05 * p as f64 - 0.2 * r as f64);
        }
    }
    rows
}

/// The operator at `a`, computed directly.
fn reference(m: &sci::Model<'_>, p: &[f64], a: &[f64]) -> Vec<f64> {
    let x: Vec<f64> = (0..POINTS)
        .map(|q| (q / S2) as f64 / (S1 - 1) as f64)
        .collect();
    let y: Vec<f64> = (0..POINTS)
        .map(|q| (q % S2) as f64 / (S2 - 1) as f64)
        .collect();
    let mut v = common::reference_layer(m, p, "lift", &[a.to_vec(), x, y]);
    // The kept frequencies: rows 0..MODES and S1 − MODES..S1, columns 0..MODES.
    let kept: Vec<(usize, usize)> = (0..2 * MODES)
        .flat_map(|r| {
            let k1 = if r < MODES { r } else { S1 + r - 2 * MODES };
            (0..MODES).map(move |k2| (k1, k2))
        })
        .collect();
    let angle = |q: usize, (k1, k2): (usize, usize)| {
        let (j1, j2) = (q / S2, q % S2);
        2.0 * std::f64::consts::PI * ((j1 * k1) as f64 / S1 as f64 + (j2 * k2) as f64 / S2 as f64)
    };
    for l in 0..LAYERS {
        let r = common::param_block(m, p, &format!("G.spectral{l}"));
        let spectrum: Vec<Vec<(f64, f64)>> = (0..WIDTH)
            .map(|i| {
                (kept.iter())
                    .map(|&k| {
                        (0..POINTS).fold((0.0, 0.0), |(re, im), q| {
                            let t = angle(q, k);
                            (re + v[i][q] * t.cos(), im - v[i][q] * t.sin())
                        })
                    })
                    .collect()
            })
            .collect();
        // Stored [mode, part, input, output].
        let at = |part: usize, o: usize, mode: usize, i: usize| {
            r[((mode * 2 + part) * WIDTH + i) * WIDTH + o]
        };
        let w = common::reference_layer(m, p, &format!("layer{l}"), &v);
        let mut next = vec![vec![0.0; POINTS]; WIDTH];
        for o in 0..WIDTH {
            let mixed: Vec<(f64, f64)> = (0..kept.len())
                .map(|mode| {
                    (0..WIDTH).fold((0.0, 0.0), |(re, im), i| {
                        let (xr, xi) = spectrum[i][mode];
                        let (rr, ri) = (at(0, o, mode, i), at(1, o, mode, i));
                        (re + rr * xr - ri * xi, im + rr * xi + ri * xr)
                    })
                })
                .collect();
            for q in 0..POINTS {
                // numpy's irfft2: the last axis's frequencies 0 and S2/2 count once.
                let k_v: f64 = (kept.iter().zip(&mixed))
                    .map(|(&k, (yr, yi))| {
                        let c = if k.1 == 0 || 2 * k.1 == S2 { 1.0 } else { 2.0 };
                        c * (yr * angle(q, k).cos() - yi * angle(q, k).sin())
                    })
                    .sum();
                let z = k_v / POINTS as f64 + w[o][q];
                next[o][q] = if l + 1 < LAYERS {
                    common::reference_gelu(z)
                } else {
                    z
                };
            }
        }
        v = next;
    }
    common::reference_projection(m, p, &v)
}

#[test]
fn a_two_dimensional_operator_computes_its_architecture() {
    let rows = rows();
    let mut results = Vec::new();
    for backend in [sci::BackendKind::Interpreter, sci::BackendKind::Cranelift] {
        let c = sci::Compiler::new()
            .backend(backend)
            .compile_source("op2.sci", &model())
            .unwrap_or_else(|e| panic!("{e}"));
        let m = c.model("Op2").unwrap();
        // The lift reads the value and two coordinates; 2·2·2 modes mixed per layer.
        assert_eq!(
            common::param_block(&m, &m.params(), "G.lift.w").len(),
            WIDTH * 3
        );
        let p: Vec<f64> = (m.params().iter().enumerate())
            .map(|(k, v)| v + 0.01 * ((k * 7919) % 13) as f64 / 13.0)
            .collect();
        let mut batch = sci::Batch::new();
        batch.set("pairs", &rows);
        let (loss, grad) = m.loss_and_grad(&p, &batch).unwrap();
        let expected = common::reference_squared_loss(&rows, POINTS, |a| reference(&m, &p, a));
        assert!(
            (loss - expected).abs() <= 1e-12 * expected.abs(),
            "{backend:?}: {loss} vs the reference {expected}"
        );
        let label = format!("{backend:?}");
        common::assert_loss_gradient_matches_central_differences(
            &m,
            &p,
            &batch,
            &grad,
            (0..p.len()).step_by(5),
            &label,
        );
        results.push(grad);
    }
    for (k, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * (1.0 + a.abs()),
            "θ[{k}]: {a} vs {b}"
        );
    }
}

#[test]
fn two_dimensional_operators_are_checked() {
    for (from, to, says) in [
        // The first axis keeps MODES rows at each end: 2·2 > 3.
        (
            format!("real[{S1}, {S2}]"),
            "real[3, 8]".to_string(),
            "room for 1 at each end",
        ),
        // The last axis has S2/2 + 1 = 5 frequencies.
        (
            format!("modes: {MODES}"),
            "modes: 6".to_string(),
            "has only 5",
        ),
        (
            "G(pairs.a) - pairs.u".to_string(),
            "G(pairs.a) - pairs.u) + norm(G(pairs.a[0]) - pairs.u[0])".to_string(),
            "on a 1-D grid here, but on a 2-D grid elsewhere",
        ),
        (
            "fno(".to_string(),
            "deeponet(branch: [4], trunk: [4], features: 3, ".to_string(),
            "a function on a grid (a vector of values)",
        ),
    ] {
        let source = model().replace(&from, &to);
        let source = if to.starts_with("deeponet") {
            source
                .replace(
                    &format!("modes: {MODES}, width: {WIDTH}, layers: {LAYERS}, projection: 4, "),
                    "",
                )
                .replace("use nn.{fno}", "use nn.{deeponet}")
        } else {
            source
        };
        let err = sci::Compiler::new()
            .backend(sci::BackendKind::Interpreter)
            .compile_source("op2.sci", &source)
            .err()
            .unwrap_or_else(|| panic!("no error for:\n{source}"))
            .to_string();
        assert!(err.contains(says), "expected `{says}` in:\n{err}");
    }
}

/// `sci train` reads `[rows, S1, S2]` NPY files and lowers the held-out loss.
#[test]
fn the_command_line_trains_a_two_dimensional_operator() {
    let dir = tempfile::tempdir().unwrap();
    let count = 24;
    let (mut a, mut u) = (Vec::new(), Vec::new());
    for r in 0..count {
        let phase = 0.37 * r as f64;
        for p in 0..POINTS {
            let (i, j) = ((p / S2) as f64, (p % S2) as f64);
            let wave = (0.9 * i + phase).sin() * (0.6 * j - phase).cos();
            a.push(1.0 + wave);
            u.push(0.5 * wave);
        }
    }
    let shape = [count, S1, S2];
    let bytes = sci::stdlib::operator_data::npy_bytes(&shape, &a).unwrap();
    std::fs::write(dir.path().join("a.npy"), bytes).unwrap();
    let bytes = sci::stdlib::operator_data::npy_bytes(&shape, &u).unwrap();
    std::fs::write(dir.path().join("u.npy"), bytes).unwrap();
    let source = model()
        .replace(
            "npy(\"a.npy\", \"u.npy\")",
            "npy(\"a.npy\", \"u.npy\", test: 4)",
        )
        .replace(
            "mean(norm(G(pairs.a) - pairs.u)^2)",
            "mean(norm(G(pairs.a) - pairs.u) / norm(pairs.u))",
        );
    std::fs::write(dir.path().join("op2.sci"), source).unwrap();
    let args = [
        "train",
        "op2.sci",
        "--batch",
        "5",
        "--epochs",
        "8",
        "--lr",
        "0.01",
        "--out",
        "op2.json",
        "--losses",
        "losses.csv",
    ];
    let out = common::sci_in(dir.path(), &args);
    let text = common::stdout(&out) + &common::stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("20 training rows in batches of 5 (4 steps per epoch), 4 test rows"),
        "{text}"
    );
    let losses = std::fs::read_to_string(dir.path().join("losses.csv")).unwrap();
    let tests: Vec<f64> = (losses.lines().skip(1))
        .filter_map(|l| l.rsplit(',').next()?.parse().ok())
        .filter(|x: &f64| x.is_finite())
        .collect();
    assert_eq!(tests.len(), 9, "{losses}");
    assert!(
        tests[8] < 0.5 * tests[0],
        "the held-out error falls: {tests:?}"
    );
}
