//! Quantum circuits from the language: `circuit`, `observable` and `expval` in `.sci`
//! source, compiled by the Rust API and trained by the runtime and by `sci train`. The
//! unrolled circuits are checked gate by gate against ones built with the simulator's API,
//! the losses and gradients against the simulator and finite differences, and the examples
//! against their exact answers: the ground energy of the critical Ising ring
//! `E₀ = −2 / sin(π / 2n)` for n = 8 and 10 (to 1e-6), the 6-spin ring with a
//! hardware-efficient ansatz, and QAOA's expected cut.

mod common;

use common::{
    hva, sci_in, scratch, stdout, tfim_ground_energy as ground_energy, tfim_ring as tfim,
};
use sci::ir::quantum::GateKind;
use sci::runtime::{LossKind, TrainSetup, Trainer};
use sci::stdlib::optim::{Control, train};
use sci::stdlib::quantum::Simulator;
use std::f64::consts::PI;

fn example(name: &str) -> String {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn compile(name: &str, text: &str) -> sci::Compiled {
    sci::Compiler::new()
        .compile_source(name, text)
        .unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

/// Trains `model` of `text` with the default schedule; returns the final loss and θ.
fn train_default(name: &str, text: &str, model: &str) -> (f64, Vec<f64>) {
    let compiled = compile(name, text);
    let mut trainer = Trainer::new(&compiled, model, TrainSetup::default()).unwrap();
    assert_eq!(trainer.kind(), LossKind::Variational);
    let options = trainer.kind().schedule();
    let mut p = trainer.model().params();
    let report = train(&mut trainer, &mut p, &options, &mut |_| Control::Continue).unwrap();
    (report.final_loss, p)
}

/// The circuit and observable the compiler unrolls from `tfim_vqe.sci` are the ones built
/// with the simulator's API, and its loss is their expectation value.
#[test]
fn the_tfim_example_unrolls_to_the_hamiltonian_variational_ansatz() {
    let compiled = compile("tfim_vqe.sci", &example("tfim_vqe.sci"));
    let module = &compiled.modules[0];
    assert_eq!(module.manifest.circuits.len(), 1);
    let psi = sci::runtime::quantum::circuit(&module.manifest.circuits[0]).unwrap();
    assert_eq!(psi, hva(8, 4));
    let h = sci::runtime::quantum::observable(&module.manifest.observables[0]);
    assert_eq!(h, tfim(8));
    let mut trainer = Trainer::new(&compiled, "TfimVqe", TrainSetup::default()).unwrap();
    let p: Vec<f64> = (0..8).map(|k| 0.3 * (k as f64) - 0.8).collect();
    let expected = Simulator::new().expval(&hva(8, 4), &p, &tfim(8)).unwrap();
    let loss = trainer.loss(&p).unwrap();
    assert!((loss - expected).abs() <= 1e-12, "{loss} vs {expected}");
}

#[test]
fn vqe_reaches_the_exact_ground_energy_of_the_critical_ising_ring_of_8_and_10() {
    for n in [8, 10] {
        let text = example("tfim_vqe.sci").replace("const n = 8", &format!("const n = {n}"));
        assert!(text.contains(&format!("const n = {n}")));
        let (e, _) = train_default("tfim.sci", &text, "TfimVqe");
        let e0 = ground_energy(n);
        assert!((e - e0).abs() <= 1e-6, "n = {n}: E = {e}, E0 = {e0}");
    }
}

#[test]
fn a_hardware_efficient_ansatz_finds_the_ground_state_of_the_ring_of_6() {
    let (e, _) = train_default(
        "hardware_efficient.sci",
        &example("hardware_efficient.sci"),
        "HardwareEfficient",
    );
    let e0 = ground_energy(6);
    assert!((e - e0).abs() <= 1e-5, "E = {e}, E0 = {e0}");
}

/// QAOA with p = 3 on the bipartite 3-regular graph of 6 vertices: the expected cut is
/// near the maximum of 9, and the most probable bitstrings are the two best cuts.
#[test]
fn qaoa_finds_the_maximum_cut() {
    let text = example("qaoa_maxcut.sci");
    let (loss, p) = train_default("qaoa_maxcut.sci", &text, "QaoaMaxCut");
    let cut = -loss;
    assert!((8.8..=9.0).contains(&cut), "expected cut {cut}");
    let compiled = compile("qaoa_maxcut.sci", &text);
    let circuit =
        sci::runtime::quantum::circuit(&compiled.modules[0].manifest.circuits[0]).unwrap();
    let mut sim = Simulator::new();
    let probabilities = sci::stdlib::quantum::probabilities(sim.run(&circuit, &p).unwrap());
    let mut best: Vec<(usize, f64)> = probabilities.iter().copied().enumerate().collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1));
    // Even vertices on one side, odd ones on the other: 0b101010 and 0b010101.
    let top: Vec<usize> = best.iter().take(2).map(|b| b.0).collect();
    assert!(
        top.contains(&0b101010) && top.contains(&0b010101),
        "{best:?}"
    );
}

/// Angles are affine in one parameter element, which may sit anywhere in θ (after other
/// parameters, inside a matrix), with scales, offsets and units folded in.
#[test]
fn angles_are_positions_in_theta_with_their_scales_and_offsets() {
    let text = "model Angles {
        param a = 0.5
        param w[i in 0..2, j in 0..3] = 0.1 * (i + j)
        param g = 0.3
        circuit c(qubits: 3) {
            for i in 0..2 {
                for j in 0..3 { ry(2 * w[i, j] - π / 2, j) }
            }
            crz(-g / 4 + 1, 2, 0)
            u(a, 0.25, π / 2, 1)
            rxx(0.75, 0, 2)
        }
        observable H = 2 * X(0) * Z(2) - Y(1) + 0.5 * I() + 0.25 * X(0) * Z(2)
        loss = expval(c, H)
    }";
    let compiled = compile("angles.sci", text);
    let m = &compiled.modules[0];
    let c = &m.manifest.circuits[0];
    assert_eq!(c.gates.len(), 9);
    for (k, gate) in c.gates.iter().take(6).enumerate() {
        assert_eq!(gate.kind, GateKind::Ry);
        assert_eq!(gate.qubits, [k % 3]);
        let angle = gate.angles[0];
        // θ = [a, w00, w01, w02, w10, w11, w12, g].
        assert_eq!(angle.param, Some(1 + k));
        assert_eq!((angle.scale, angle.offset), (2.0, -PI / 2.0));
    }
    let crz = &c.gates[6];
    assert_eq!(
        (crz.kind, crz.qubits.as_slice()),
        (GateKind::Crz, &[2, 0][..])
    );
    assert_eq!(crz.angles[0].param, Some(7));
    assert_eq!((crz.angles[0].scale, crz.angles[0].offset), (-0.25, 1.0));
    let u = &c.gates[7];
    assert_eq!(u.angles[0].param, Some(0));
    assert_eq!(u.angles[1].param, None);
    assert_eq!(u.angles[1].offset, 0.25);
    assert!((u.angles[2].offset - PI / 2.0).abs() < 1e-15);
    assert_eq!(c.gates[8].angles[0].param, None);
    // Like terms combined: 2.25 X0 Z2 − Y1 + 0.5.
    let h = &m.manifest.observables[0];
    assert_eq!(h.qubits, 3);
    let terms: Vec<(f64, usize)> = h.terms.iter().map(|t| (t.coeff, t.factors.len())).collect();
    assert_eq!(terms, [(2.25, 2), (-1.0, 1), (0.5, 0)]);
}

/// A loss that combines expectation values with other terms of the parameters: the
/// gradient chains each `∂L/∂E` with the circuit's adjoint gradient.
#[test]
fn the_gradient_of_a_composite_loss_matches_finite_differences() {
    let text = "model Composite {
        const n = 4
        param theta[k in 0..2 * n] = 0.2 * sin(k + 1.0)
        param lam = 0.7
        circuit psi(qubits: n) {
            for q in 0..n { ry(theta[q], q) }
            for q in 0..n - 1 { cz(q, q + 1) }
            for q in 0..n { rx(0.5 * theta[n + q] + 0.1, q) }
        }
        circuit phi(qubits: 2) { h(0); crx(lam, 0, 1) }
        observable H = sum(i in 0..n - 1: Z(i) * Z(i + 1)) + 0.3 * sum(i in 0..n: X(i))
        observable M = Z(0) + Z(1)
        loss = expval(psi, H) + 0.5 * expval(psi, M)^2 + lam * expval(phi, M) + 0.01 * sum(k in 0..2 * n: theta[k]^2)
    }";
    let compiled = compile("composite.sci", text);
    let mut trainer = Trainer::new(&compiled, "Composite", TrainSetup::default()).unwrap();
    let p0 = trainer.model().params();
    assert_eq!(p0.len(), 9);
    for p in [
        p0.clone(),
        p0.iter().map(|x| 3.0 * x - 0.4).collect::<Vec<_>>(),
    ] {
        let mut grad = vec![0.0; p.len()];
        let loss = trainer.loss_and_grad(&p, &mut grad).unwrap();
        assert!((loss - trainer.loss(&p).unwrap()).abs() <= 1e-12);
        let h = 1e-6;
        for k in 0..p.len() {
            let (mut up, mut down) = (p.clone(), p.clone());
            up[k] += h;
            down[k] -= h;
            let fd = (trainer.loss(&up).unwrap() - trainer.loss(&down).unwrap()) / (2.0 * h);
            assert!(
                (grad[k] - fd).abs() <= 1e-7,
                "∂L/∂θ[{k}]: {} vs {fd}",
                grad[k]
            );
        }
    }
    let names: Vec<String> = trainer
        .expvals(&p0)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(names, ["expval.psi.H", "expval.psi.M", "expval.phi.M"]);
}

/// `sci train` on the example from the command line reaches the ground energy and says
/// what kind of loss it trained.
#[test]
fn sci_train_trains_the_vqe_example() {
    let dir = scratch("quantum_cli");
    let model = format!("{}/examples/tfim_vqe.sci", env!("CARGO_MANIFEST_DIR"));
    let out = sci_in(&dir, &["train", &model, "--out", "trained.json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("expectation values of quantum circuits"),
        "{text}"
    );
    let summary = text.lines().find(|l| l.contains('→')).unwrap();
    let after = summary.split('→').nth(1).unwrap().trim();
    let e: f64 = after.split_whitespace().next().unwrap().parse().unwrap();
    assert!((e - ground_energy(8)).abs() <= 1e-5, "{summary}");
    // The summary gives the expectation value to ten digits, and the circuit's likeliest
    // outcomes.
    let line = text
        .lines()
        .find(|l| l.contains("expval(psi, H) = "))
        .unwrap();
    let e: f64 = line.split(" = ").nth(1).unwrap().trim().parse().unwrap();
    assert!((e - ground_energy(8)).abs() <= 1e-6, "{line}");
    assert!(
        text.contains("psi: most likely outcomes (qubit 0 first): "),
        "{text}"
    );
    // The outputs at the trained θ: the energy again, and the ring's correlation.
    let line = text
        .lines()
        .find(|l| l.contains("output energy = "))
        .unwrap();
    let e: f64 = line.split(" = ").nth(1).unwrap().trim().parse().unwrap();
    assert!((e - ground_energy(8)).abs() <= 1e-6, "{line}");
    assert!(text.contains("output correlation = "), "{text}");
    assert!(dir.join("trained.json").exists());
}

/// The QAOA example's summary names the two best cuts as the likeliest outcomes.
#[test]
fn sci_train_prints_the_likeliest_cuts_of_qaoa() {
    let dir = scratch("quantum_cli_qaoa");
    let model = format!("{}/examples/qaoa_maxcut.sci", env!("CARGO_MANIFEST_DIR"));
    let out = sci_in(&dir, &["train", &model]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("most likely outcomes"))
        .unwrap();
    let outcomes: Vec<&str> = line.split(": ").nth(2).unwrap().split(", ").collect();
    let best: Vec<&str> = outcomes.iter().take(2).map(|o| &o[..6]).collect();
    assert!(
        best.contains(&"101010") && best.contains(&"010101"),
        "{line}"
    );
}

/// `output energy = expval(psi, H)` and `output correlation = expval(psi, ZZ)` of the
/// example are the simulator's expectation values at any θ, through the `outputs(θ,
/// expvals…)` function the compiler lowers for a circuit model.
#[test]
fn outputs_of_a_circuit_model_are_expectation_values_at_theta() {
    use sci::stdlib::quantum::{Observable, Pauli};
    let compiled = compile("tfim_vqe.sci", &example("tfim_vqe.sci"));
    let module = &compiled.modules[0];
    let names: Vec<&str> = module
        .outputs
        .slots
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["energy", "correlation"]);
    let mut zz = Observable::new();
    for i in 0..8 {
        let (a, b) = (i.min((i + 1) % 8), i.max((i + 1) % 8));
        zz.add(1.0 / 8.0, &[(Pauli::Z, a), (Pauli::Z, b)]);
    }
    let mut sim = Simulator::new();
    for shift in [0.0, 0.37, -1.2] {
        let p: Vec<f64> = (0..8).map(|k| 0.3 * (k as f64) - 0.8 + shift).collect();
        let outputs = sci::runtime::quantum::outputs(module, &p).unwrap();
        let energy = sim.expval(&hva(8, 4), &p, &tfim(8)).unwrap();
        let correlation = sim.expval(&hva(8, 4), &p, &zz).unwrap();
        assert_eq!(outputs[0].0, "energy");
        assert!(
            (outputs[0].1[0] - energy).abs() <= 1e-12,
            "{outputs:?} vs {energy}"
        );
        assert!(
            (outputs[1].1[0] - correlation).abs() <= 1e-12,
            "{outputs:?} vs {correlation}"
        );
    }
}

/// `sci run` on a circuit model prints its outputs at the declared θ; `--shots` measures
/// it reproducibly (the same seed, the same counts; another seed, other counts); options
/// of ODE runs are refused with a clear message, and `--shots` on an ODE model too.
#[test]
fn sci_run_evaluates_and_samples_a_circuit_model() {
    let dir = scratch("quantum_run");
    let model = format!("{}/examples/tfim_vqe.sci", env!("CARGO_MANIFEST_DIR"));
    let out = sci_in(&dir, &["run", &model]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    let compiled = compile("tfim_vqe.sci", &example("tfim_vqe.sci"));
    let module = &compiled.modules[0];
    let p = compiled.model("TfimVqe").unwrap().params();
    let energy = Simulator::new().expval(&hva(8, 4), &p, &tfim(8)).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("output energy = "))
        .unwrap();
    let shown: f64 = line.split(" = ").nth(1).unwrap().trim().parse().unwrap();
    assert!(
        (shown - energy).abs() <= 1e-9 * energy.abs(),
        "{line} vs {energy}"
    );
    assert_eq!(module.manifest.circuits.len(), 1);

    let shots = |seed: &str| {
        let out = sci_in(&dir, &["run", &model, "--shots", "2000", "--seed", seed]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        stdout(&out)
            .lines()
            .find(|l| l.contains("2000 shots"))
            .map(str::to_string)
            .unwrap()
    };
    let (a, b, c) = (shots("7"), shots("7"), shots("8"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains("(seed 7), most frequent"), "{a}");

    let refused = sci_in(&dir, &["run", &model, "--out", "x.csv"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(common::stderr(&refused).contains("applies to models with states"));
    let robertson = format!("{}/examples/robertson.sci", env!("CARGO_MANIFEST_DIR"));
    let refused = sci_in(&dir, &["run", &robertson, "--shots", "10"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(common::stderr(&refused).contains("`--shots` measures the circuits"));
}
