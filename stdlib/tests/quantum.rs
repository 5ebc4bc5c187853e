//! The quantum-circuit simulator against independent references: every gate against its
//! explicit matrix (dense Kronecker products on 1–3 qubits, a naive index loop on 15
//! qubits where the parallel kernels run), observables against dense matrices, adjoint
//! gradients against the parameter-shift rule and finite differences, sampling against
//! the probabilities, bit-identical results on one thread and many, and a VQE that finds
//! the exact ground energy of the critical transverse-field Ising ring.

use std::f64::consts::PI;

use num_complex::Complex64 as C;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use sci_stdlib::ErrorKind;
use sci_stdlib::optim::{Control, Optimizer, TrainOptions, train};
use sci_stdlib::quantum::{
    Angle, Circuit, ExpvalObjective, Gate, GradientMethod, Observable, Pauli, Simulator,
    apply_circuit, expval, expval_and_grad, expval_and_grad_with, probabilities, sample, simulate,
};

type M2 = [[C; 2]; 2];

const ZERO: C = C::new(0.0, 0.0);
const ONE: C = C::new(1.0, 0.0);
const I: C = C::new(0.0, 1.0);

// ---------------------------------------------------------------------------------------
// Random numbers, states, circuits and observables (seeded).

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

fn random_state(n: usize, rng: &mut ChaCha8Rng) -> Vec<C> {
    let v: Vec<C> = (0..1usize << n)
        .map(|_| C::new(uniform(rng, -1.0, 1.0), uniform(rng, -1.0, 1.0)))
        .collect();
    let norm = v.iter().map(|a| a.norm_sqr()).sum::<f64>().sqrt();
    v.into_iter().map(|a| a / norm).collect()
}

/// Two distinct qubits below `n`, in a random order.
fn two_qubits(rng: &mut ChaCha8Rng, n: usize) -> [usize; 2] {
    let a = below(rng, n);
    let mut b = below(rng, n - 1);
    if b >= a {
        b += 1;
    }
    [a, b]
}

/// The number of gate kinds [`gate_of_kind`] knows.
const KINDS: usize = 22;

/// Gate kind `kind` with angles from `angle`.
fn gate_of_kind(kind: usize, mut angle: impl FnMut() -> Angle) -> Gate {
    match kind {
        0 => Gate::H,
        1 => Gate::X,
        2 => Gate::Y,
        3 => Gate::Z,
        4 => Gate::S,
        5 => Gate::Sdg,
        6 => Gate::T,
        7 => Gate::Tdg,
        8 => Gate::Rx(angle()),
        9 => Gate::Ry(angle()),
        10 => Gate::Rz(angle()),
        11 => Gate::Phase(angle()),
        12 => Gate::U([angle(), angle(), angle()]),
        13 => Gate::Cnot,
        14 => Gate::Cz,
        15 => Gate::Swap,
        16 => Gate::Crx(angle()),
        17 => Gate::Cry(angle()),
        18 => Gate::Crz(angle()),
        19 => Gate::Rxx(angle()),
        20 => Gate::Ryy(angle()),
        _ => Gate::Rzz(angle()),
    }
}

/// A constant (one time in four) or `scale·θ[k] + offset` with `k` among `n_params`, so
/// parameters are shared.
fn random_angle(rng: &mut ChaCha8Rng, n_params: usize) -> Angle {
    if below(rng, 4) == 0 {
        Angle::constant(uniform(rng, -PI, PI))
    } else {
        let index = below(rng, n_params);
        let scale = uniform(rng, 0.5, 2.0) * if below(rng, 2) == 0 { 1.0 } else { -1.0 };
        Angle::affine(index, scale, uniform(rng, -1.0, 1.0))
    }
}

/// Every gate kind once (in a random order) on random qubits, then `extra` random gates.
fn random_circuit(n: usize, n_params: usize, extra: usize, rng: &mut ChaCha8Rng) -> Circuit {
    let mut kinds: Vec<usize> = (0..KINDS).collect();
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, below(rng, i + 1));
    }
    kinds.extend((0..extra).map(|_| below(rng, KINDS)));
    let mut circuit = Circuit::new(n);
    for kind in kinds {
        let gate = gate_of_kind(kind, || random_angle(rng, n_params));
        let qubits = if gate.arity() == 1 {
            vec![below(rng, n)]
        } else {
            two_qubits(rng, n).to_vec()
        };
        circuit.push(gate, &qubits);
    }
    circuit
}

/// `terms` random Pauli strings with weights in [−1, 1], plus a constant.
fn random_observable(n: usize, terms: usize, rng: &mut ChaCha8Rng) -> Observable {
    let mut obs = Observable::new();
    obs.add(uniform(rng, -1.0, 1.0), &[]);
    for _ in 0..terms {
        let mut paulis = Vec::new();
        for q in 0..n {
            if below(rng, 5) < 2 {
                paulis.push(([Pauli::X, Pauli::Y, Pauli::Z][below(rng, 3)], q));
            }
        }
        if paulis.is_empty() {
            paulis.push((Pauli::Y, below(rng, n)));
        }
        obs.add(uniform(rng, -1.0, 1.0), &paulis);
    }
    obs
}

fn max_diff(a: &[C], b: &[C]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f64::max)
}

// ---------------------------------------------------------------------------------------
// Dense references: textbook matrices, Kronecker products, qubit 0 least significant.

/// A square matrix, row-major.
#[derive(Clone, Debug)]
struct Dense {
    dim: usize,
    a: Vec<C>,
}

impl Dense {
    fn zeros(dim: usize) -> Dense {
        Dense {
            dim,
            a: vec![ZERO; dim * dim],
        }
    }
    fn identity(dim: usize) -> Dense {
        let mut m = Dense::zeros(dim);
        for i in 0..dim {
            m.a[i * dim + i] = ONE;
        }
        m
    }
    fn from2(m: &M2) -> Dense {
        Dense {
            dim: 2,
            a: vec![m[0][0], m[0][1], m[1][0], m[1][1]],
        }
    }
    /// `self ⊗ other`: `self` on the more significant index bits.
    fn kron(&self, other: &Dense) -> Dense {
        let dim = self.dim * other.dim;
        let mut m = Dense::zeros(dim);
        for i1 in 0..self.dim {
            for j1 in 0..self.dim {
                for i2 in 0..other.dim {
                    for j2 in 0..other.dim {
                        m.a[(i1 * other.dim + i2) * dim + j1 * other.dim + j2] =
                            self.a[i1 * self.dim + j1] * other.a[i2 * other.dim + j2];
                    }
                }
            }
        }
        m
    }
    fn plus(&self, other: &Dense, weight: C) -> Dense {
        Dense {
            dim: self.dim,
            a: self
                .a
                .iter()
                .zip(&other.a)
                .map(|(x, y)| x + weight * y)
                .collect(),
        }
    }
    fn scaled(&self, weight: C) -> Dense {
        Dense {
            dim: self.dim,
            a: self.a.iter().map(|x| weight * x).collect(),
        }
    }
    fn apply(&self, v: &[C]) -> Vec<C> {
        (0..self.dim)
            .map(|r| (0..self.dim).map(|c| self.a[r * self.dim + c] * v[c]).sum())
            .collect()
    }
}

/// `⊗_q factor_q` on `n` qubits (the identity where no factor is given).
fn embed(n: usize, factors: &[(usize, M2)]) -> Dense {
    let mut m = Dense::identity(1);
    for q in (0..n).rev() {
        let f = factors
            .iter()
            .find(|(fq, _)| *fq == q)
            .map_or(Dense::identity(2), |(_, u)| Dense::from2(u));
        m = m.kron(&f);
    }
    m
}

const X: M2 = [[ZERO, ONE], [ONE, ZERO]];
const Y: M2 = [[ZERO, C::new(0.0, -1.0)], [I, ZERO]];
const Z: M2 = [[ONE, ZERO], [ZERO, C::new(-1.0, 0.0)]];
const P0: M2 = [[ONE, ZERO], [ZERO, ZERO]];
const P1: M2 = [[ZERO, ZERO], [ZERO, ONE]];

fn rx(t: f64) -> M2 {
    let (c, s) = ((t / 2.0).cos(), (t / 2.0).sin());
    [
        [C::new(c, 0.0), C::new(0.0, -s)],
        [C::new(0.0, -s), C::new(c, 0.0)],
    ]
}
fn ry(t: f64) -> M2 {
    let (c, s) = ((t / 2.0).cos(), (t / 2.0).sin());
    [
        [C::new(c, 0.0), C::new(-s, 0.0)],
        [C::new(s, 0.0), C::new(c, 0.0)],
    ]
}
fn rz(t: f64) -> M2 {
    [[C::cis(-t / 2.0), ZERO], [ZERO, C::cis(t / 2.0)]]
}
fn phase(t: f64) -> M2 {
    [[ONE, ZERO], [ZERO, C::cis(t)]]
}

/// The dense matrix of `gate` with angle values `v` on `qubits` of `n`.
fn reference(gate: &Gate, v: &[f64], qubits: &[usize], n: usize) -> Dense {
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let one = |u: M2| embed(n, &[(qubits[0], u)]);
    let controlled = |u: M2| {
        embed(n, &[(qubits[0], P0)]).plus(&embed(n, &[(qubits[0], P1), (qubits[1], u)]), ONE)
    };
    // cos(t/2)·I − i·sin(t/2)·P_a P_b
    let rpp = |t: f64, p: M2| {
        Dense::identity(1 << n)
            .scaled(C::new((t / 2.0).cos(), 0.0))
            .plus(
                &embed(n, &[(qubits[0], p), (qubits[1], p)]),
                -I * (t / 2.0).sin(),
            )
    };
    match gate {
        Gate::H => one([
            [C::new(h, 0.0), C::new(h, 0.0)],
            [C::new(h, 0.0), C::new(-h, 0.0)],
        ]),
        Gate::X => one(X),
        Gate::Y => one(Y),
        Gate::Z => one(Z),
        Gate::S => one(phase(PI / 2.0)),
        Gate::Sdg => one(phase(-PI / 2.0)),
        Gate::T => one(phase(PI / 4.0)),
        Gate::Tdg => one(phase(-PI / 4.0)),
        Gate::Rx(_) => one(rx(v[0])),
        Gate::Ry(_) => one(ry(v[0])),
        Gate::Rz(_) => one(rz(v[0])),
        Gate::Phase(_) => one(phase(v[0])),
        // U(θ, φ, λ) = phase(φ)·RY(θ)·phase(λ).
        Gate::U(_) => embed(n, &[(qubits[0], phase(v[1]))])
            .mul(&embed(n, &[(qubits[0], ry(v[0]))]))
            .mul(&embed(n, &[(qubits[0], phase(v[2]))])),
        Gate::Cnot => controlled(X),
        Gate::Cz => controlled(Z),
        Gate::Swap => {
            // (I + XX + YY + ZZ) / 2
            let mut m = Dense::identity(1 << n);
            for p in [X, Y, Z] {
                m = m.plus(&embed(n, &[(qubits[0], p), (qubits[1], p)]), ONE);
            }
            m.scaled(C::new(0.5, 0.0))
        }
        Gate::Crx(_) => controlled(rx(v[0])),
        Gate::Cry(_) => controlled(ry(v[0])),
        Gate::Crz(_) => controlled(rz(v[0])),
        Gate::Rxx(_) => rpp(v[0], X),
        Gate::Ryy(_) => rpp(v[0], Y),
        Gate::Rzz(_) => rpp(v[0], Z),
    }
}

impl Dense {
    fn mul(&self, other: &Dense) -> Dense {
        let d = self.dim;
        let mut m = Dense::zeros(d);
        for r in 0..d {
            for k in 0..d {
                let x = self.a[r * d + k];
                for c in 0..d {
                    m.a[r * d + c] += x * other.a[k * d + c];
                }
            }
        }
        m
    }
}

/// Applies a gate given by its dense matrix on `k` qubits (`local`, indexed with
/// `qubits[0]` most significant) to `state` by a plain loop over every basis index.
fn naive_apply(state: &[C], local: &Dense, qubits: &[usize]) -> Vec<C> {
    let k = qubits.len();
    let mask: usize = qubits.iter().map(|q| 1usize << q).sum();
    let spread = |base: usize, l: usize| {
        let mut i = base;
        for (pos, q) in qubits.iter().enumerate() {
            if l >> (k - 1 - pos) & 1 == 1 {
                i |= 1 << q;
            }
        }
        i
    };
    let mut out = vec![ZERO; state.len()];
    for base in (0..state.len()).filter(|i| i & mask == 0) {
        for r in 0..local.dim {
            out[spread(base, r)] = (0..local.dim)
                .map(|c| local.a[r * local.dim + c] * state[spread(base, c)])
                .sum();
        }
    }
    out
}

/// A gate's angle values when every angle is `θ[0]·scale + offset` with distinct offsets.
fn angled(kind: usize, scale: f64) -> (Gate, Vec<f64>, Vec<f64>) {
    let theta = vec![0.37];
    let mut slot = 0;
    let mut values = Vec::new();
    let gate = gate_of_kind(kind, || {
        let offset = 0.9 * slot as f64 - 0.4;
        slot += 1;
        values.push(scale * theta[0] + offset);
        Angle::affine(0, scale, offset)
    });
    (gate, theta, values)
}

// ---------------------------------------------------------------------------------------
// Gates.

/// Every gate on every placement on 1–3 qubits (all ordered pairs, adjacent or not)
/// against its dense matrix built from Kronecker products, on random states.
#[test]
fn every_gate_matches_its_explicit_matrix() {
    let mut r = rng(1);
    for kind in 0..KINDS {
        let (gate, theta, values) = angled(kind, 1.7);
        for n in 1..=3 {
            let placements: Vec<Vec<usize>> = if gate.arity() == 1 {
                (0..n).map(|q| vec![q]).collect()
            } else {
                (0..n)
                    .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| vec![a, b]))
                    .collect()
            };
            for qubits in placements {
                let mut circuit = Circuit::new(n);
                circuit.push(gate, &qubits);
                let dense = reference(&gate, &values, &qubits, n);
                for _ in 0..3 {
                    let psi = random_state(n, &mut r);
                    let want = dense.apply(&psi);
                    let mut got = psi.clone();
                    apply_circuit(&circuit, &theta, &mut got).unwrap();
                    let err = max_diff(&got, &want);
                    assert!(
                        err <= 1e-14,
                        "{} on {qubits:?} of {n}: {err:e}",
                        gate.name()
                    );
                }
            }
        }
    }
}

/// The kernels' parallel paths (states of 2^15 amplitudes, qubits low and high, both in
/// one unit and spanning units) against a naive loop over the basis indices.
#[test]
fn every_gate_matches_a_naive_loop_on_large_states() {
    let n = 15;
    let mut r = rng(2);
    let psi = random_state(n, &mut r);
    for kind in 0..KINDS {
        let (gate, theta, values) = angled(kind, -0.8);
        let placements: Vec<Vec<usize>> = if gate.arity() == 1 {
            [0, 1, 7, 11, 12, 13, 14].iter().map(|&q| vec![q]).collect()
        } else {
            [
                [0, 1],
                [1, 0],
                [0, 14],
                [14, 0],
                [2, 9],
                [13, 14],
                [14, 12],
                [11, 3],
                [12, 13],
            ]
            .iter()
            .map(|p| p.to_vec())
            .collect()
        };
        for qubits in placements {
            // The gate's dense matrix on its own qubits, `qubits[0]` most significant.
            let local_qubits: Vec<usize> = (0..qubits.len()).rev().collect();
            let local = reference(&gate, &values, &local_qubits, qubits.len());
            let want = naive_apply(&psi, &local, &qubits);
            let mut circuit = Circuit::new(n);
            circuit.push(gate, &qubits);
            let mut got = psi.clone();
            apply_circuit(&circuit, &theta, &mut got).unwrap();
            let err = max_diff(&got, &want);
            assert!(err <= 1e-14, "{} on {qubits:?}: {err:e}", gate.name());
        }
    }
}

/// Fused and unfused forward passes agree with the product of the gates' dense matrices.
#[test]
fn fusion_does_not_change_the_state() {
    let mut r = rng(3);
    for n in 1..=4 {
        let n_params = 3;
        let mut circuit = Circuit::new(n);
        // Long runs of one-qubit gates, broken by the odd two-qubit gate.
        for _ in 0..40 {
            let kind = if n > 1 && below(&mut r, 6) == 0 {
                13 + below(&mut r, 9)
            } else {
                below(&mut r, 13)
            };
            let gate = gate_of_kind(kind, || random_angle(&mut r, n_params));
            let qubits = if gate.arity() == 1 {
                vec![below(&mut r, n)]
            } else {
                two_qubits(&mut r, n).to_vec()
            };
            circuit.push(gate, &qubits);
        }
        let theta: Vec<f64> = (0..n_params).map(|_| uniform(&mut r, -2.0, 2.0)).collect();
        let mut dense = Dense::identity(1 << n);
        for op in &circuit.ops {
            let values: Vec<f64> = op.gate.angles().iter().map(|a| a.value(&theta)).collect();
            dense = reference(&op.gate, &values, &op.qubits, n).mul(&dense);
        }
        let mut zero = vec![ZERO; 1 << n];
        zero[0] = ONE;
        let want = dense.apply(&zero);
        let fused = simulate(&circuit, &theta).unwrap();
        let mut sim = Simulator::new();
        sim.set_fusion(false);
        let unfused = sim.run(&circuit, &theta).unwrap().to_vec();
        assert!(max_diff(&fused, &want) <= 1e-13, "n = {n}");
        assert!(max_diff(&unfused, &want) <= 1e-13, "n = {n}");
    }
}

// ---------------------------------------------------------------------------------------
// Observables.

/// The dense matrix of an observable on `n` qubits.
fn dense_observable(obs: &Observable, n: usize) -> Dense {
    let mut m = Dense::zeros(1 << n);
    for term in &obs.terms {
        let factors: Vec<(usize, M2)> = term
            .paulis
            .iter()
            .map(|&(p, q)| {
                let u = match p {
                    Pauli::X => X,
                    Pauli::Y => Y,
                    Pauli::Z => Z,
                };
                (q, u)
            })
            .collect();
        m = m.plus(&embed(n, &factors), C::new(term.weight, 0.0));
    }
    m
}

/// `⟨ψ|H|ψ⟩` against the dense matrix on small states, and against Pauli strings applied
/// qubit by qubit with the naive loop on a state large enough for parallel reductions.
#[test]
fn expectation_values_match_dense_matrices() {
    let mut r = rng(4);
    for n in 1..=4 {
        let circuit = random_circuit(n.max(2), 4, 10, &mut r);
        let circuit = if n == 1 {
            let mut c = Circuit::new(1);
            c.push(
                Gate::U([Angle::param(0), Angle::param(1), Angle::param(2)]),
                &[0],
            );
            c
        } else {
            Circuit {
                n_qubits: n,
                ..circuit
            }
        };
        let theta: Vec<f64> = (0..4).map(|_| uniform(&mut r, -2.0, 2.0)).collect();
        let obs = random_observable(n, 6, &mut r);
        let psi = simulate(&circuit, &theta).unwrap();
        let h_psi = dense_observable(&obs, n).apply(&psi);
        let want: C = psi.iter().zip(&h_psi).map(|(a, b)| a.conj() * b).sum();
        let got = expval(&circuit, &theta, &obs).unwrap();
        assert!((got - want.re).abs() <= 1e-13, "n = {n}: {got} vs {want}");
        // The adjoint path computes the value as ⟨ψ|Hψ⟩.
        let (value, _) = expval_and_grad(&circuit, &theta, &obs).unwrap();
        assert!((value - want.re).abs() <= 1e-13);
    }

    // 2^15 amplitudes: the reductions run in parallel units.
    let n = 15;
    let circuit = random_circuit(n, 3, 0, &mut r);
    let theta = [0.3, -0.7, 1.1];
    let obs = random_observable(n, 8, &mut r);
    let psi = simulate(&circuit, &theta).unwrap();
    let want = naive_expectation(&psi, &obs);
    let got = expval(&circuit, &theta, &obs).unwrap();
    assert!((got - want).abs() <= 1e-12, "{got} vs {want}");
    let (value, _) = expval_and_grad(&circuit, &theta, &obs).unwrap();
    assert!((value - want).abs() <= 1e-12, "{value} vs {want}");
}

/// `⟨ψ|H|ψ⟩` with each Pauli string applied qubit by qubit by [`naive_apply`].
fn naive_expectation(psi: &[C], obs: &Observable) -> f64 {
    let mut total = 0.0;
    for term in &obs.terms {
        let mut p_psi = psi.to_vec();
        for &(p, q) in &term.paulis {
            let u = match p {
                Pauli::X => X,
                Pauli::Y => Y,
                Pauli::Z => Z,
            };
            p_psi = naive_apply(&p_psi, &Dense::from2(&u), &[q]);
        }
        let e: C = psi.iter().zip(&p_psi).map(|(a, b)| a.conj() * b).sum();
        total += term.weight * e.re;
    }
    total
}

// ---------------------------------------------------------------------------------------
// Gradients.

/// Adjoint gradients equal parameter-shift gradients on seeded random circuits of 2 to 12
/// qubits (and one of 15, where the sums run in parallel units) with every gate kind,
/// parameters shared between gates, scales and offsets.
#[test]
fn adjoint_gradients_equal_parameter_shift_gradients() {
    let mut r = rng(5);
    let mut sim = Simulator::new();
    let sizes: Vec<(usize, usize)> = (2..=12).map(|n| (n, 2 * n)).chain([(15, 0)]).collect();
    for (n, extra) in sizes {
        let n_params = 5;
        let circuit = random_circuit(n, n_params, extra, &mut r);
        let obs = random_observable(n, n + 2, &mut r);
        let theta: Vec<f64> = (0..n_params).map(|_| uniform(&mut r, -PI, PI)).collect();
        let mut adjoint = vec![0.0; n_params];
        let mut shift = vec![0.0; n_params];
        let v_adjoint = sim
            .expval_and_grad(&circuit, &theta, &obs, &mut adjoint)
            .unwrap();
        let v_shift = sim
            .expval_and_grad_with(
                GradientMethod::ParameterShift,
                &circuit,
                &theta,
                &obs,
                &mut shift,
            )
            .unwrap();
        assert!(
            (v_adjoint - v_shift).abs() <= 1e-12,
            "n = {n}: values {v_adjoint} {v_shift}"
        );
        for k in 0..n_params {
            let err = (adjoint[k] - shift[k]).abs();
            assert!(
                err <= 1e-12 * (1.0 + shift[k].abs()),
                "n = {n}, θ[{k}]: adjoint {} vs shift {} ({err:e})",
                adjoint[k],
                shift[k]
            );
        }
        // Not vacuous: the gradient is far from zero.
        assert!(shift.iter().any(|g| g.abs() > 1e-3), "n = {n}: {shift:?}");
    }
}

/// The adjoint gradient against central finite differences of the expectation.
#[test]
fn adjoint_gradient_matches_finite_differences() {
    let mut r = rng(6);
    let n = 3;
    let n_params = 4;
    let circuit = random_circuit(n, n_params, 6, &mut r);
    let obs = random_observable(n, 5, &mut r);
    let theta: Vec<f64> = (0..n_params).map(|_| uniform(&mut r, -PI, PI)).collect();
    let (_, grad) = expval_and_grad(&circuit, &theta, &obs).unwrap();
    let h = 1e-5;
    for k in 0..n_params {
        let (mut plus, mut minus) = (theta.clone(), theta.clone());
        plus[k] += h;
        minus[k] -= h;
        let fd = (expval(&circuit, &plus, &obs).unwrap() - expval(&circuit, &minus, &obs).unwrap())
            / (2.0 * h);
        assert!(
            (grad[k] - fd).abs() <= 1e-7,
            "θ[{k}]: adjoint {} vs fd {fd}",
            grad[k]
        );
    }
}

/// Each angle of `U` and each controlled rotation on its own, both gradient methods against
/// finite differences: a mistake in one gate's rule cannot hide behind the others.
#[test]
fn every_parametrised_gate_has_the_right_gradient() {
    let mut r = rng(7);
    let obs = random_observable(2, 6, &mut r);
    for kind in 8..KINDS {
        let mut slot = 0;
        let gate = gate_of_kind(kind, || {
            slot += 1;
            Angle::affine(slot - 1, 1.3, 0.2)
        });
        if gate.angles().is_empty() {
            continue;
        }
        let qubits: &[usize] = if gate.arity() == 1 { &[1] } else { &[1, 0] };
        // A generic state before the gate and a mixing layer after it.
        let mut circuit = Circuit::new(2);
        circuit
            .push(
                Gate::U([
                    Angle::constant(0.7),
                    Angle::constant(-0.3),
                    Angle::constant(1.9),
                ]),
                &[0],
            )
            .push(
                Gate::U([
                    Angle::constant(1.2),
                    Angle::constant(0.4),
                    Angle::constant(-0.8),
                ]),
                &[1],
            )
            .push(gate, qubits)
            .push(Gate::Cnot, &[0, 1])
            .push(Gate::Ry(Angle::constant(0.5)), &[0]);
        let theta: Vec<f64> = (0..slot).map(|_| uniform(&mut r, -PI, PI)).collect();
        let (_, adjoint) = expval_and_grad(&circuit, &theta, &obs).unwrap();
        let (_, shift) =
            expval_and_grad_with(GradientMethod::ParameterShift, &circuit, &theta, &obs).unwrap();
        let h = 1e-5;
        for k in 0..slot {
            let (mut plus, mut minus) = (theta.clone(), theta.clone());
            plus[k] += h;
            minus[k] -= h;
            let fd = (expval(&circuit, &plus, &obs).unwrap()
                - expval(&circuit, &minus, &obs).unwrap())
                / (2.0 * h);
            assert!(
                (adjoint[k] - fd).abs() <= 1e-7,
                "{} angle {k}: {} vs {fd}",
                gate.name(),
                adjoint[k]
            );
            assert!(
                (shift[k] - fd).abs() <= 1e-7,
                "{} angle {k}: {} vs {fd}",
                gate.name(),
                shift[k]
            );
            assert!(fd.abs() > 1e-4, "{} angle {k}: vacuous check", gate.name());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Probabilities and sampling.

#[test]
fn probabilities_sum_to_one_and_samples_follow_them() {
    let mut r = rng(8);
    let n = 4;
    let circuit = random_circuit(n, 3, 8, &mut r);
    let psi = simulate(&circuit, &[0.4, -1.2, 2.0]).unwrap();
    let p = probabilities(&psi);
    assert_eq!(p.len(), 1 << n);
    assert!((p.iter().sum::<f64>() - 1.0).abs() <= 1e-14);

    let shots = 200_000;
    let samples = sample(&psi, shots, 42).unwrap();
    assert_eq!(samples.len(), shots);
    let mut counts = vec![0usize; 1 << n];
    for &s in &samples {
        counts[s] += 1;
    }
    for (i, (&c, &pi)) in counts.iter().zip(&p).enumerate() {
        let freq = c as f64 / shots as f64;
        // Five standard deviations of a binomial frequency, plus a little slack.
        let bound = 5.0 * (pi * (1.0 - pi) / shots as f64).sqrt() + 1e-4;
        assert!((freq - pi).abs() <= bound, "outcome {i}: {freq} vs {pi}");
    }

    assert_eq!(sample(&psi, 1000, 42).unwrap(), samples[..1000].to_vec());
    assert_ne!(sample(&psi, 1000, 43).unwrap(), samples[..1000].to_vec());
    // A basis state is measured with certainty; outcomes index qubits little-endian.
    let mut c = Circuit::new(3);
    c.push(Gate::X, &[0]).push(Gate::X, &[2]);
    let basis = simulate(&c, &[]).unwrap();
    assert!(sample(&basis, 50, 1).unwrap().iter().all(|&s| s == 0b101));
}

/// The same seed gives these outcomes on every platform and build: the draws are made
/// from ChaCha8's words by the crate's own code.
#[test]
fn samples_are_reproducible_across_platforms() {
    let mut c = Circuit::new(2);
    c.push(Gate::H, &[0])
        .push(Gate::Ry(Angle::constant(1.0)), &[1]);
    let psi = simulate(&c, &[]).unwrap();
    let samples = sample(&psi, 16, 7).unwrap();
    assert_eq!(samples, PINNED_SAMPLES.to_vec());
}

const PINNED_SAMPLES: [usize; 16] = [3, 2, 0, 1, 0, 1, 2, 1, 0, 0, 3, 0, 1, 0, 0, 1];

#[test]
fn sampling_rejects_what_is_not_a_state() {
    let err = sample(&[ONE; 3], 1, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
    let err = sample(&[ZERO; 4], 1, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
    let err = sample(&[C::new(f64::NAN, 0.0), ONE], 1, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
}

// ---------------------------------------------------------------------------------------
// Threads and reuse.

/// The state, value and gradient at 16 qubits are the same bits on one thread and on
/// several.
#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let mut r = rng(9);
    let n = 16;
    let n_params = 6;
    let circuit = random_circuit(n, n_params, 40, &mut r);
    let obs = random_observable(n, 12, &mut r);
    let theta: Vec<f64> = (0..n_params).map(|_| uniform(&mut r, -PI, PI)).collect();
    let run = || {
        let state = simulate(&circuit, &theta).unwrap();
        let value = expval(&circuit, &theta, &obs).unwrap();
        let (v2, grad) = expval_and_grad(&circuit, &theta, &obs).unwrap();
        (state, value, v2, grad)
    };
    let bits = |(state, value, v2, grad): (Vec<C>, f64, f64, Vec<f64>)| {
        let mut b: Vec<u64> = state
            .iter()
            .flat_map(|a| [a.re.to_bits(), a.im.to_bits()])
            .collect();
        b.extend([value.to_bits(), v2.to_bits()]);
        b.extend(grad.iter().map(|g| g.to_bits()));
        b
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(run);
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap()
        .install(run);
    let default = run();
    assert!(bits(one.clone()) == bits(four), "1 thread vs 4 threads");
    assert!(bits(one) == bits(default), "1 thread vs the global pool");
}

/// A simulator reused across calls keeps its buffers (the state does not move) and gives
/// the same answers as a fresh one.
#[test]
fn a_reused_simulator_keeps_its_buffers() {
    let mut r = rng(10);
    let circuit = random_circuit(6, 4, 10, &mut r);
    let obs = random_observable(6, 5, &mut r);
    let mut sim = Simulator::new();
    let mut grad = vec![0.0; 4];
    let first = sim
        .expval_and_grad(&circuit, &[0.1, 0.2, 0.3, 0.4], &obs, &mut grad)
        .unwrap();
    let ptr = sim.state().as_ptr();
    for step in 0..5 {
        let theta = [0.1 * step as f64, 0.2, 0.3, 0.4];
        sim.expval_and_grad(&circuit, &theta, &obs, &mut grad)
            .unwrap();
        assert_eq!(sim.state().as_ptr(), ptr);
    }
    let again = sim
        .expval_and_grad(&circuit, &[0.1, 0.2, 0.3, 0.4], &obs, &mut grad)
        .unwrap();
    assert_eq!(first.to_bits(), again.to_bits());
    assert_eq!(sim.state_vectors_held(), 2);
}

// ---------------------------------------------------------------------------------------
// VQE: the critical transverse-field Ising ring.

/// `H = −Σ Z_i Z_{i+1} − Σ X_i` on a ring of `n` qubits.
fn tfim(n: usize) -> Observable {
    let mut h = Observable::new();
    for i in 0..n {
        h.add(-1.0, &[(Pauli::Z, i), (Pauli::Z, (i + 1) % n)]);
    }
    for i in 0..n {
        h.add(-1.0, &[(Pauli::X, i)]);
    }
    h
}

/// The Hamiltonian variational ansatz: `|+⟩^n`, then `layers` of RZZ(γ_l) on every bond
/// and RX(β_l) on every qubit, `θ = [γ_0, β_0, γ_1, β_1, …]`.
fn hva(n: usize, layers: usize) -> Circuit {
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

/// Minimises `⟨H_TFIM⟩` over the HVA with `n/2` layers by L-BFGS; returns the energy found.
fn vqe_tfim(n: usize, seed: u64) -> f64 {
    let layers = n / 2;
    let mut objective = ExpvalObjective::new(hva(n, layers), tfim(n), 2 * layers).unwrap();
    let mut r = rng(seed);
    let mut theta: Vec<f64> = (0..2 * layers)
        .map(|_| uniform(&mut r, -0.1, 0.1))
        .collect();
    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        steps: 500,
        grad_tol: 1e-10,
        ..Default::default()
    };
    let report = train(&mut objective, &mut theta, &options, &mut |_| {
        Control::Continue
    })
    .unwrap();
    report.final_loss
}

/// The exact ground energy of the periodic critical TFIM for even `n`.
fn tfim_ground_energy(n: usize) -> f64 {
    -2.0 / (PI / (2.0 * n as f64)).sin()
}

#[test]
fn vqe_finds_the_ground_energy_of_the_critical_ising_ring() {
    let n = 8;
    let e0 = tfim_ground_energy(n);
    let e = vqe_tfim(n, 11);
    assert!((e - e0).abs() <= 1e-6, "E = {e}, E0 = {e0}");
}

/// Ten qubits, five layers: still a fraction of a second (sci-stdlib is optimised even in
/// the test profile).
#[test]
fn vqe_finds_the_ground_energy_of_a_ring_of_ten() {
    let n = 10;
    let e0 = tfim_ground_energy(n);
    let e = vqe_tfim(n, 11);
    assert!((e - e0).abs() <= 1e-6, "E = {e}, E0 = {e0}");
}

// ---------------------------------------------------------------------------------------
// Errors.

fn input_error(result: Result<impl std::fmt::Debug, sci_stdlib::Error>, needle: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input, "{err}");
    assert!(
        err.message.contains(needle),
        "`{}` lacks `{needle}`",
        err.message
    );
}

#[test]
fn bad_circuits_are_input_errors() {
    let obs = tfim(2);
    let with = |n: usize, gate: Gate, qubits: &[usize]| {
        let mut c = Circuit::new(n);
        c.push(gate, qubits);
        c
    };
    input_error(simulate(&Circuit::new(0), &[]), "at least one qubit");
    input_error(simulate(&Circuit::new(31), &[]), "too large");
    input_error(simulate(&with(2, Gate::H, &[2]), &[]), "qubit 2");
    input_error(simulate(&with(2, Gate::Cnot, &[1, 1]), &[]), "twice");
    input_error(
        simulate(&with(2, Gate::Cnot, &[1]), &[]),
        "acts on 2 qubits",
    );
    input_error(simulate(&with(2, Gate::H, &[0, 1]), &[]), "acts on 1 qubit");
    input_error(
        simulate(&with(2, Gate::Rx(Angle::param(3)), &[0]), &[0.0; 2]),
        "parameter 3",
    );
    input_error(
        simulate(&with(2, Gate::Rx(Angle::constant(f64::NAN)), &[0]), &[]),
        "non-finite",
    );
    input_error(
        simulate(&with(2, Gate::Rx(Angle::param(0)), &[0]), &[f64::INFINITY]),
        "finite",
    );
    input_error(expval(&with(1, Gate::H, &[0]), &[], &obs), "qubit 1");
    let mut twice = Observable::new();
    twice.add(1.0, &[(Pauli::X, 0), (Pauli::Z, 0)]);
    input_error(expval(&with(2, Gate::H, &[0]), &[], &twice), "two Paulis");
    let mut nan = Observable::new();
    nan.add(f64::NAN, &[(Pauli::X, 0)]);
    input_error(expval(&with(2, Gate::H, &[0]), &[], &nan), "weight");
    let mut state = vec![ONE; 3];
    input_error(
        apply_circuit(&with(2, Gate::H, &[0]), &[], &mut state),
        "amplitudes",
    );
    let mut grad = vec![0.0; 1];
    input_error(
        Simulator::new().expval_and_grad(&with(2, Gate::H, &[0]), &[0.0, 1.0], &obs, &mut grad),
        "gradient buffer",
    );
    input_error(ExpvalObjective::new(hva(4, 2), tfim(4), 3), "parameter 3");
}
