//! The real Fourier transforms from the language: `rfft(x, modes)` and `irfft(X, n)` check
//! (shapes, counts known at compile time, the number of modes), fold as constants, lower,
//! compile with Cranelift to what the interpreter computes, and differentiate (a loss's
//! gradient against central differences).

mod common;

/// A spectral filter of 8 samples: keep 3 frequencies, scale them, transform back.
const FILTER: &str = "
model SpectralFilter {
    param a = [0.3, -1.2, 0.5, 2.0, 0.1, -0.4, 0.9, 1.1]
    param w = [[1.0, 0.5, -0.25], [0.0, 0.75, 0.5]]
    const lowpass = irfft(rfft([1.0, 2.0, 0.0, -1.0], 2), 4)

    loss = sum((irfft(rfft(a, 3) * w, 8) - a)^2) + sum(lowpass)
}
";

fn compile(backend: sci::BackendKind, source: &str) -> Result<sci::Compiled, String> {
    sci::Compiler::new()
        .backend(backend)
        .compile_source("filter.sci", source)
        .map_err(|e| e.to_string())
}

/// Compiles `source` on the interpreter and Cranelift: model `name`'s loss gradient (of
/// `params` numbers) against central differences on each, and the two back ends agreeing
/// to 1e-12.
fn check_filter(source: &str, name: &str, params: usize) {
    let mut values = Vec::new();
    for backend in [sci::BackendKind::Interpreter, sci::BackendKind::Cranelift] {
        let c = compile(backend, source).unwrap();
        let m = c.model(name).unwrap();
        let p = m.params();
        let batch = sci::Batch::new();
        let (loss, grad) = m.loss_and_grad(&p, &batch).unwrap();
        assert_eq!(grad.len(), params);
        let label = format!("{backend:?}");
        common::assert_loss_gradient_matches_central_differences(
            &m,
            &p,
            &batch,
            &grad,
            0..grad.len(),
            &label,
        );
        values.push((loss, grad));
    }
    let ((a, ga), (b, gb)) = (&values[0], &values[1]);
    assert!((a - b).abs() <= 1e-12 * a.abs(), "{a} vs {b}");
    for (x, y) in ga.iter().zip(gb) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()), "{ga:?} vs {gb:?}");
    }
}

#[test]
fn a_spectral_filter_compiles_and_differentiates() {
    check_filter(FILTER, "SpectralFilter", 14);
    // `lowpass` is folded: numpy.fft.irfft(numpy.fft.rfft([1, 2, 0, -1])[:2], 4) sums to
    // 4 × its mean, the zero frequency / 4 · 4 = 2.
    let no_filter = FILTER.replace(
        "sum((irfft(rfft(a, 3) * w, 8) - a)^2) + ",
        "0 * sum(a) + 0 * sum(w) + ",
    );
    let c = compile(sci::BackendKind::Interpreter, &no_filter).unwrap();
    let m = c.model("SpectralFilter").unwrap();
    let loss = m.loss(&m.params(), &sci::Batch::new()).unwrap();
    assert!((loss - 2.0).abs() < 1e-14, "{loss}");
}

#[test]
fn bad_transforms_are_diagnosed() {
    for (call, says) in [
        ("rfft(a, 6)", "frequencies 0 to 4"),
        ("rfft(a, 0)", "positive whole number"),
        ("rfft(a, 2.5)", "positive whole number"),
        ("irfft(a, 8)", "a spectrum [2, ..., modes]"),
        ("irfft(rfft(a, 5), 6)", "frequencies 0 to 3"),
        ("rfft(a)", "two arguments"),
        ("rfft(a, a[0])", "known when the model is compiled"),
    ] {
        let source = format!(
            "model Bad {{\n    param a = [0.3, -1.2, 0.5, 2.0, 0.1, -0.4, 0.9, 1.1]\n    \
             loss = sum({call})\n}}\n"
        );
        let err = compile(sci::BackendKind::Interpreter, &source).unwrap_err();
        assert!(err.contains(says), "{call}: {err}");
    }
}

/// A 2-D spectral filter on a 4 × 6 field: keep one row of frequencies at each end and two
/// columns, scale them, transform back; the folded constant is numpy's
/// `irfft2(rfft2(c) truncated, (4, 4))`.
const FILTER_2D: &str = "
model SpectralFilter2D {
    param a = [[0.3, -1.2, 0.5, 2.0, 0.1, -0.4], [0.9, 1.1, -0.7, 0.2, 0.4, -1.5],
               [1.3, 0.6, -0.2, -0.9, 0.8, 0.05], [-0.3, 0.7, 1.9, -1.1, 0.25, 0.5]]
    param w = [[[1.0, 0.5], [0.25, -0.5]], [[0.0, 0.75], [0.5, 1.25]]]
    const lowpass = irfft2(rfft2([[1.0, 2.0, 0.0, -1.0], [0.5, 0.0, 1.0, 3.0], [2.0, -2.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]], 1, 2), 4, 4)

    loss = sum((irfft2(rfft2(a, 1, 2) * w, 4, 6) - a)^2) + lowpass[0, 0]
}
";

#[test]
fn a_two_dimensional_filter_compiles_and_differentiates() {
    check_filter(FILTER_2D, "SpectralFilter2D", 32);
    // numpy: Y = rfft2(c); Z = zeros((4, 3)); Z[[0, 3], :2] = Y[[0, 3], :2];
    // irfft2(Z, (4, 4))[0, 0] = 0.40625.
    let no_filter = FILTER_2D.replace(
        "sum((irfft2(rfft2(a, 1, 2) * w, 4, 6) - a)^2) + ",
        "0 * sum(a) + 0 * sum(w) + ",
    );
    let c = compile(sci::BackendKind::Interpreter, &no_filter).unwrap();
    let m = c.model("SpectralFilter2D").unwrap();
    let loss = m.loss(&m.params(), &sci::Batch::new()).unwrap();
    assert!((loss - LOWPASS_2D_00).abs() < 1e-14, "{loss}");
}

/// See `a_two_dimensional_filter_compiles_and_differentiates`.
const LOWPASS_2D_00: f64 = 0.40625;

#[test]
fn bad_two_dimensional_transforms_are_diagnosed() {
    for (call, says) in [
        ("rfft2(a, 3, 2)", "room for 2 at each end"),
        ("rfft2(a, 1, 5)", "frequencies 0 to 3"),
        ("rfft2(a, 0, 2)", "positive whole number"),
        ("rfft2(a[0], 1, 2)", "signals over two axes"),
        ("irfft2(a, 4, 6)", "a spectrum [2, ..., rows, modes]"),
        ("irfft2(rfft2(a, 2, 2), 3, 6)", "room for 1 at each end"),
        ("rfft2(a, 1)", "three arguments"),
    ] {
        let source = format!(
            "model Bad {{\n    param a = [[0.3, -1.2, 0.5, 2.0, 0.1, -0.4], [0.9, 1.1, -0.7, 0.2, 0.4, -1.5], [1.3, 0.6, -0.2, -0.9, 0.8, 0.05], [-0.3, 0.7, 1.9, -1.1, 0.25, 0.5]]\n    \
             loss = sum({call})\n}}\n"
        );
        let err = compile(sci::BackendKind::Interpreter, &source).unwrap_err();
        assert!(err.contains(says), "{call}: {err}");
    }
}
