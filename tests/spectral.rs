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

#[test]
fn a_spectral_filter_compiles_and_differentiates() {
    let mut values = Vec::new();
    for backend in [sci::BackendKind::Interpreter, sci::BackendKind::Cranelift] {
        let c = compile(backend, FILTER).unwrap();
        let m = c.model("SpectralFilter").unwrap();
        let p = m.params();
        let batch = sci::Batch::new();
        let (loss, grad) = m.loss_and_grad(&p, &batch).unwrap();
        assert_eq!(grad.len(), 14);
        // Central differences of the loss, element by element.
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
