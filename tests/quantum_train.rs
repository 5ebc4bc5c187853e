//! Training variational quantum circuits from the IR alone: `.sir` modules whose manifest
//! holds a circuit and observables and whose loss reads expectation values
//! (`expval(C, O)` inputs), compiled with `Compiler::compile_ir` and trained by the
//! runtime's `Trainer` and by `sci train`. The values are checked against the simulator
//! called directly, the gradients against its adjoint gradient and finite differences,
//! and VQE against the exact ground energy of the critical Ising ring.

mod common;

use common::tfim_ground_energy as ground_energy;
use sci::runtime::fit::Shard;
use sci::runtime::{LossKind, TrainSetup, Trainer};
use sci::stdlib::optim::{Control, Objective, train};
use sci::stdlib::quantum::{Angle, Circuit, Gate, Observable, Pauli, Simulator};

const N: usize = 4;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn compile(name: &str) -> sci::Compiled {
    sci::Compiler::new()
        .compile_ir(name, &fixture(name))
        .unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

/// The circuit of `tfim_vqe.sir` (the Hamiltonian variational ansatz on the ring of `N`).
fn hva(layers: usize) -> Circuit {
    common::hva(N, layers)
}

/// `−Σ Z_i Z_{i+1} − Σ X_i` on the ring of `N`.
fn tfim() -> Observable {
    common::tfim_ring(N)
}

/// `Σ X_i`.
fn magnetisation() -> Observable {
    let mut m = Observable::new();
    for i in 0..N {
        m.add(1.0, &[(Pauli::X, i)]);
    }
    m
}

/// The central difference of the loss along each element of θ.
fn finite_differences(trainer: &mut Trainer<'_>, p: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    (0..p.len())
        .map(|k| {
            let (mut up, mut down) = (p.to_vec(), p.to_vec());
            up[k] += h;
            down[k] -= h;
            (trainer.loss(&up).unwrap() - trainer.loss(&down).unwrap()) / (2.0 * h)
        })
        .collect()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "{what}[{k}]: {x} vs {y} (tol {tol})");
    }
}

#[test]
fn the_loss_and_its_gradient_are_the_simulators() {
    let compiled = compile("tfim_vqe.sir");
    let mut trainer = Trainer::new(&compiled, "TfimVqe", TrainSetup::default()).unwrap();
    assert_eq!(trainer.kind(), LossKind::Variational);
    let (c, h) = (hva(2), tfim());
    let mut sim = Simulator::new();
    for p in [
        vec![0.05, 0.15, 0.25, 0.35],
        vec![-0.7, 1.3, 0.4, -2.1],
        vec![0.0; 4],
    ] {
        let expected = sim.expval(&c, &p, &h).unwrap();
        let loss = trainer.loss(&p).unwrap();
        assert!((loss - expected).abs() <= 1e-12, "{loss} vs {expected}");
        assert_eq!(trainer.expvals(&p).unwrap(), vec![("e".to_string(), loss)]);

        let mut grad = vec![0.0; 4];
        let value = trainer.loss_and_grad(&p, &mut grad).unwrap();
        let mut sim_grad = vec![0.0; 4];
        let sim_value = sim.expval_and_grad(&c, &p, &h, &mut sim_grad).unwrap();
        assert!((value - sim_value).abs() <= 1e-12);
        assert_close(&grad, &sim_grad, 1e-10, "gradient vs the simulator's");
        let fd = finite_differences(&mut trainer, &p);
        assert_close(&grad, &fd, 1e-7, "gradient vs finite differences");
    }
    // The expectation value is filled at every evaluation, not kept as an input.
    assert!(trainer.inputs().is_empty());
}

#[test]
fn vqe_reaches_the_ground_energy_of_the_ising_ring_with_the_default_schedule() {
    let compiled = compile("tfim_vqe.sir");
    let mut trainer = Trainer::new(&compiled, "TfimVqe", TrainSetup::default()).unwrap();
    let options = trainer.kind().schedule();
    let mut p = trainer.model().params();
    assert_eq!(p, [0.05, 0.15, 0.25, 0.35]);
    let report = train(&mut trainer, &mut p, &options, &mut |_| Control::Continue).unwrap();
    let e0 = ground_energy(N);
    assert!((e0 - -5.226251859505506).abs() < 1e-14);
    assert!(
        (report.final_loss - e0).abs() <= 1e-6,
        "{} vs {e0} after {} steps",
        report.final_loss,
        report.steps
    );
    // The trained parameters give that energy in the simulator too.
    let e = Simulator::new().expval(&hva(2), &p, &tfim()).unwrap();
    assert!((e - e0).abs() <= 1e-6, "{e} vs {e0}");
}

/// `L = E1 + 0.5·E2² + 0.3·E3 + 0.01·|θ|²` with two observables on one circuit and a
/// third on another: each expectation value is filled, and the gradient chains each
/// `∂L/∂E` with its circuit's gradient on top of the loss's own `∂L/∂θ`.
#[test]
fn several_expectation_values_chain_into_the_gradient() {
    let compiled = compile("vqe_chain.sir");
    let module = &compiled.modules[0];
    let phi = sci::runtime::quantum::circuit(&module.manifest.circuits[1]).unwrap();
    let zs = sci::runtime::quantum::observable(&module.manifest.observables[2]);
    assert_eq!(zs.terms.len(), 5);
    let mut trainer = Trainer::new(&compiled, "VqeChain", TrainSetup::default()).unwrap();
    let mut sim = Simulator::new();
    for p in [vec![0.05, 0.15, 0.25, 0.35], vec![0.9, -0.4, 1.7, -1.1]] {
        let mut g1 = vec![0.0; 4];
        let mut g2 = vec![0.0; 4];
        let mut g3 = vec![0.0; 4];
        let e1 = sim.expval_and_grad(&hva(2), &p, &tfim(), &mut g1).unwrap();
        let e2 = sim
            .expval_and_grad(&hva(2), &p, &magnetisation(), &mut g2)
            .unwrap();
        let e3 = sim.expval_and_grad(&phi, &p, &zs, &mut g3).unwrap();
        let norm: f64 = p.iter().map(|x| x * x).sum();
        let expected = e1 + 0.5 * e2 * e2 + 0.3 * e3 + 0.01 * norm;
        // (A value alone and a value with its gradient may differ in the last bit.)
        let values = trainer.expvals(&p).unwrap();
        let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["e1", "e2", "e3"]);
        let values: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        assert_close(&values, &[e1, e2, e3], 1e-12, "expectation values");
        let mut grad = vec![0.0; 4];
        let loss = trainer.loss_and_grad(&p, &mut grad).unwrap();
        assert!((loss - expected).abs() <= 1e-12, "{loss} vs {expected}");
        let chained: Vec<f64> = (0..4)
            .map(|k| g1[k] + e2 * g2[k] + 0.3 * g3[k] + 0.02 * p[k])
            .collect();
        assert_close(&grad, &chained, 1e-10, "gradient vs the chain rule");
        let fd = finite_differences(&mut trainer, &p);
        assert_close(&grad, &fd, 1e-7, "gradient vs finite differences");
        // The objective the optimisers see is the same.
        let mut objective_grad = vec![0.0; 4];
        let value = trainer.value_and_grad(&p, &mut objective_grad).unwrap();
        assert_eq!((value, objective_grad), (loss, grad));
    }
}

/// The second circuit, converted from the manifest, against the one built gate by gate
/// with the simulator's API.
#[test]
fn manifest_circuits_become_the_simulators_circuits() {
    let compiled = compile("vqe_chain.sir");
    let module = &compiled.modules[0];
    let psi = sci::runtime::quantum::circuit(&module.manifest.circuits[0]).unwrap();
    assert_eq!(psi, hva(2));
    let h = sci::runtime::quantum::observable(&module.manifest.observables[0]);
    // The file writes the bond (3, 0) as `Z0 Z3`, as `tfim` does.
    assert_eq!(h, tfim());
    let phi = sci::runtime::quantum::circuit(&module.manifest.circuits[1]).unwrap();
    assert_eq!(phi.ops[1].gate, Gate::Ry(Angle::affine(1, 2.0, 0.3)));
    assert_eq!(
        phi.ops[3].gate,
        Gate::U([
            Angle::param(2),
            Angle::constant(0.4),
            Angle::affine(3, -0.7, 0.1)
        ])
    );
    assert_eq!(phi.ops[6].gate, Gate::Crx(Angle::affine(1, 1.0, -0.2)));
    assert_eq!(phi.ops[6].qubits, [3, 0]);
}

#[test]
fn an_invalid_circuit_is_refused_with_a_clear_error() {
    let Err(e) = sci::Compiler::new().compile_ir("bad_circuit.sir", &fixture("bad_circuit.sir"))
    else {
        panic!("an invalid circuit is compiled");
    };
    let text = e.to_string();
    assert!(
        text.contains(
            "Gate 1 (`rx`) of the circuit `psi` acts on qubit 2, but the circuit has 2 qubit(s)"
        ),
        "{text}"
    );
}

#[test]
fn expectation_values_are_not_split_over_ranks() {
    let compiled = compile("tfim_vqe.sir");
    let setup = TrainSetup {
        shard: Shard { rank: 1, ranks: 2 },
        ..TrainSetup::default()
    };
    let Err(e) = Trainer::new(&compiled, "TfimVqe", setup) else {
        panic!("a loss over expectation values is split over ranks");
    };
    assert_eq!(e.kind, sci::stdlib::ErrorKind::Input);
    assert!(
        e.to_string()
            .contains("expectation values of quantum circuits"),
        "{e}"
    );
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sci train` on the `.sir` file alone: L-BFGS by default, down to the ground energy.
#[test]
fn sci_train_finds_the_ground_energy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = common::sci_in(root, &["train", "tests/fixtures/tfim_vqe.sir"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("the default for a loss over expectation values of quantum circuits"),
        "{text}"
    );
    // `TfimVqe: loss -4.0e0 → -5.226252e0 in 12 steps (…)`.
    let last = text
        .lines()
        .find_map(|l| l.strip_prefix("TfimVqe: loss "))
        .and_then(|l| l.split(" → ").nth(1))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no final loss in:\n{text}"));
    let loss: f64 = last.parse().unwrap();
    assert!((loss - ground_energy(N)).abs() <= 1e-6, "{loss}\n{text}");
}

/// An invalid circuit makes `sci train` fail with the validator's message, not a panic.
#[test]
fn sci_train_refuses_an_invalid_circuit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = common::sci_in(root, &["train", "tests/fixtures/bad_circuit.sir"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("acts on qubit 2"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
