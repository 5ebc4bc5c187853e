//! What the root crate's test files share.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

/// Every example model (`examples/*.sci`), in name order.
pub fn example_paths() -> Vec<PathBuf> {
    files_with_extension("examples", "sci")
}

/// The files of directory `dir` (relative to the repository root) whose extension is
/// `ext`, in name order.
pub fn files_with_extension(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut paths: Vec<_> =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
    paths.sort();
    paths
}

/// A fresh, empty scratch directory for test `name` under Cargo's test temp directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the `sci` binary with `args` in directory `dir`.
pub fn sci_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The standard output of a run as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The standard error of a run as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that `grad`, the gradient of `model`'s loss at `p` on `batch`, equals central
/// differences (step 1e-6) to `1e-6 · (1 + |g|)` in each component `which` names;
/// `label` heads a failure.
pub fn assert_loss_gradient_matches_central_differences(
    model: &sci::Model<'_>,
    p: &[f64],
    batch: &sci::Batch<'_>,
    grad: &[f64],
    which: impl IntoIterator<Item = usize>,
    label: &str,
) {
    let h = 1e-6;
    for k in which {
        let mut q = p.to_vec();
        q[k] += h;
        let up = model.loss(&q, batch).unwrap();
        q[k] -= 2.0 * h;
        let down = model.loss(&q, batch).unwrap();
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - grad[k]).abs() <= 1e-6 * (1.0 + grad[k].abs()),
            "{label} θ[{k}]: {} vs {fd}",
            grad[k]
        );
    }
}

/// The parameter block `name` of θ (a network's weights, by their slot in the manifest).
pub fn param_block<'p>(m: &sci::Model<'_>, p: &'p [f64], name: &str) -> &'p [f64] {
    let slot = m
        .ir()
        .params
        .slots
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no parameter block {name}"));
    let len: usize = slot.shape.iter().product();
    &p[slot.offset..slot.offset + len]
}

/// GELU, `0.5·x·(1 + erf(x/√2))`, with erf by its Maclaurin series (|x| small in the
/// tests that use it): independent of the IR's erf, for reference implementations.
pub fn reference_gelu(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let (mut sum, mut term) = (0.0, z);
    for n in 0..60 {
        sum += term / (2 * n + 1) as f64;
        term *= -z * z / (n + 1) as f64;
    }
    0.5 * x * (1.0 + 2.0 / std::f64::consts::PI.sqrt() * sum)
}

/// `W·v + b` over channels `v[c][j]` (every channel the same number of points): the
/// operators' reference implementations' linear maps.
pub fn reference_linear(w: &[f64], b: &[f64], v: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let (cols, points) = (v.len(), v.first().map_or(0, Vec::len));
    (0..b.len())
        .map(|o| {
            (0..points)
                .map(|j| b[o] + (0..cols).map(|i| w[o * cols + i] * v[i][j]).sum::<f64>())
                .collect()
        })
        .collect()
}

/// [`reference_linear`] with network `G`'s layer `name` (`G.name.w`, `G.name.b`) of θ.
pub fn reference_layer(m: &sci::Model<'_>, p: &[f64], name: &str, v: &[Vec<f64>]) -> Vec<Vec<f64>> {
    reference_linear(
        param_block(m, p, &format!("G.{name}.w")),
        param_block(m, p, &format!("G.{name}.b")),
        v,
    )
}

/// A Fourier operator's last part, computed directly: `Q₂·gelu(Q₁ v + q₁) + q₂` (network
/// `G`'s `projection` and `output` layers), one output channel.
pub fn reference_projection(m: &sci::Model<'_>, p: &[f64], v: &[Vec<f64>]) -> Vec<f64> {
    let h: Vec<Vec<f64>> = reference_layer(m, p, "projection", v)
        .into_iter()
        .map(|row| row.into_iter().map(reference_gelu).collect())
        .collect();
    reference_layer(m, p, "output", &h).remove(0)
}

/// The loss `mean(norm(G(a) - u)^2)` over `rows` (each `[a; u]`, `points` values apiece)
/// with `G` computed directly by `reference`: what an operator test's loss must equal.
pub fn reference_squared_loss(
    rows: &[f64],
    points: usize,
    reference: impl Fn(&[f64]) -> Vec<f64>,
) -> f64 {
    let count = rows.len() / (2 * points);
    let total: f64 = rows
        .chunks(2 * points)
        .map(|row| {
            let g = reference(&row[..points]);
            g.iter()
                .zip(&row[points..])
                .map(|(g, u)| (g - u).powi(2))
                .sum::<f64>()
        })
        .sum();
    total / count as f64
}

/// The Burgers PINN example's network layers, and a network wide enough (two hidden layers
/// of 160: 26,401 weights) that its gradient's per-tile partials are added as the tiles
/// finish (`sci_codegen`'s `parallel::ordered`).
pub const PINN_HIDDEN: &str = "hidden: [20, 20, 20]";
pub const WIDE_HIDDEN: &str = "hidden: [160, 160]";

/// The path of `examples/burgers_pinn.sci` and its source with the network's layers
/// `hidden` (`PINN_HIDDEN` for the example itself).
pub fn burgers_pinn_with(hidden: &str) -> (&'static str, String) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/burgers_pinn.sci");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(PINN_HIDDEN), "the example's network changed");
    (path, text.replace(PINN_HIDDEN, hidden))
}

/// The Hamiltonian variational ansatz for the Ising ring of `n` qubits, built with the
/// simulator's API: `|+⟩^n`, then per layer `l` RZZ(θ[2l]) on every bond of the ring and
/// RX(θ[2l+1]) on every qubit.
pub fn hva(n: usize, layers: usize) -> sci::stdlib::quantum::Circuit {
    use sci::stdlib::quantum::{Angle, Circuit, Gate};
    let mut c = Circuit::new(n);
    for q in 0..n {
        c.push(Gate::H, &[q]);
    }
    for l in 0..layers {
        for i in 0..n {
            c.push(Gate::Rzz(Angle::param(2 * l)), &[i, (i + 1) % n]);
        }
        for q in 0..n {
            c.push(Gate::Rx(Angle::param(2 * l + 1)), &[q]);
        }
    }
    c
}

/// `−Σ Z_i Z_{i+1} − Σ X_i` on a ring of `n`, each Pauli string in increasing qubit order
/// as a manifest writes it (the bond (n−1, 0) is `Z0 Z(n−1)`).
pub fn tfim_ring(n: usize) -> sci::stdlib::quantum::Observable {
    use sci::stdlib::quantum::{Observable, Pauli};
    let mut h = Observable::new();
    for i in 0..n {
        let (a, b) = (i.min((i + 1) % n), i.max((i + 1) % n));
        h.add(-1.0, &[(Pauli::Z, a), (Pauli::Z, b)]);
    }
    for i in 0..n {
        h.add(-1.0, &[(Pauli::X, i)]);
    }
    h
}

/// The exact ground energy of the periodic critical transverse-field Ising ring of even
/// `n`: `−2 / sin(π / 2n)`.
pub fn tfim_ground_energy(n: usize) -> f64 {
    -2.0 / (std::f64::consts::PI / (2.0 * n as f64)).sin()
}
