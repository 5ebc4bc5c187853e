//! The sci side of `bench/quantum.sh`: value and adjoint gradient of the periodic
//! transverse-field Ising energy `⟨H⟩`, `H = −Σ Z_i Z_{i+1} − Σ X_i`, for the circuit of
//! `bench/peers/quantum_pennylane.py` (N qubits, L layers of RY on every qubit then a CZ
//! ring), at θ_k = 0.1 + 0.01 k. One JSON line per N: the best of `--repeat` warm calls,
//! the value, the gradient, and how many state vectors the simulator holds.
//!
//! `cargo bench --bench quantum -- --qubits 20 24 --layers 10 --repeat 3`

use std::time::Instant;

use sci::stdlib::quantum::{Angle, Circuit, Gate, Observable, Pauli, Simulator};

fn circuit(n: usize, layers: usize) -> Circuit {
    let mut c = Circuit::new(n);
    let mut k = 0;
    for _ in 0..layers {
        for q in 0..n {
            c.push(Gate::Ry(Angle::param(k)), &[q]);
            k += 1;
        }
        for q in 0..n {
            c.push(Gate::Cz, &[q, (q + 1) % n]);
        }
    }
    c
}

fn ising(n: usize) -> Observable {
    let mut h = Observable::new();
    for i in 0..n {
        h.add(-1.0, &[(Pauli::Z, i), (Pauli::Z, (i + 1) % n)]);
    }
    for i in 0..n {
        h.add(-1.0, &[(Pauli::X, i)]);
    }
    h
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut qubits = Vec::new();
    let (mut layers, mut repeat) = (10, 3);
    let mut k = 0;
    while k < args.len() {
        match args[k].as_str() {
            "--qubits" => {
                while let Some(n) = args.get(k + 1).and_then(|a| a.parse().ok()) {
                    qubits.push(n);
                    k += 1;
                }
            }
            "--layers" => {
                layers = args
                    .get(k + 1)
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(layers);
                k += 1;
            }
            "--repeat" => {
                repeat = args
                    .get(k + 1)
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(repeat);
                k += 1;
            }
            _ => {} // `cargo bench` passes `--bench`.
        }
        k += 1;
    }
    if qubits.is_empty() {
        qubits.push(20);
    }
    for n in qubits {
        let c = circuit(n, layers);
        let h = ising(n);
        let theta: Vec<f64> = (0..n * layers).map(|k| 0.1 + 0.01 * k as f64).collect();
        let mut grad = vec![0.0; theta.len()];
        let mut sim = Simulator::new();
        let mut value = sim.expval_and_grad(&c, &theta, &h, &mut grad).unwrap(); // warm-up
        let mut best = f64::INFINITY;
        for _ in 0..repeat {
            let start = Instant::now();
            value = sim.expval_and_grad(&c, &theta, &h, &mut grad).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
        }
        let line = serde_json::json!({
            "qubits": n,
            "layers": layers,
            "seconds": best,
            "value": value,
            "grad": grad,
            "state_vectors": sim.state_vectors_held(),
            "threads": rayon::current_num_threads(),
        });
        println!("{line}");
    }
}
