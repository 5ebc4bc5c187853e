//! Observables: real-weighted sums of Pauli strings, so Hermitian by construction; their
//! expectation `⟨ψ|H|ψ⟩` and their action `H|ψ⟩`, computed from bit masks without building
//! a matrix.
//!
//! A Pauli string `P` maps a basis state to one basis state times a phase:
//! `P|i⟩ = i^{n_Y} · (−1)^{popcount(i & m_YZ)} · |i ⊕ m_XY⟩`, where `m_XY` marks the qubits
//! with an X or Y and `m_YZ` those with a Y or Z. So `⟨ψ|P|ψ⟩ = Σ_i conj(ψ_{i⊕m_XY}) ·
//! phase(i) · ψ_i` is one pass over the amplitudes with no second vector. Terms that flip the
//! same bits (all the diagonal ZZ…Z terms, for instance) share that pass: their phases are
//! added into one coefficient per index.

use num_complex::Complex64 as C;
use rayon::prelude::*;

use super::circuit::validate_qubit_count;
use super::layout::{PARALLEL_MIN, unit_len};
use super::reduce::{interleaved_sum, sum_over};
use crate::Error;

const ZERO: C = C::new(0.0, 0.0);

/// A Pauli matrix on one qubit (the identity is the qubit's absence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pauli {
    X,
    Y,
    Z,
}

/// `weight · ⊗ paulis`, each Pauli on a distinct qubit; an empty list is the identity.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub weight: f64,
    pub paulis: Vec<(Pauli, usize)>,
}

/// `Σ_k weight_k · P_k`: a Hermitian operator because the weights are real.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observable {
    pub terms: Vec<Term>,
}

impl Observable {
    /// The observable with no terms (zero).
    pub fn new() -> Observable {
        Observable::default()
    }

    /// The observable `Σ weight · ⊗ paulis` over `terms`, e.g.
    /// `[(-1.0, vec![(Pauli::Z, 0), (Pauli::Z, 1)]), (-1.0, vec![(Pauli::X, 0)])]`.
    pub fn from_terms(terms: impl IntoIterator<Item = (f64, Vec<(Pauli, usize)>)>) -> Observable {
        Observable {
            terms: terms
                .into_iter()
                .map(|(weight, paulis)| Term { weight, paulis })
                .collect(),
        }
    }

    /// Adds the term `weight · ⊗ paulis`.
    pub fn add(&mut self, weight: f64, paulis: &[(Pauli, usize)]) -> &mut Observable {
        self.terms.push(Term {
            weight,
            paulis: paulis.to_vec(),
        });
        self
    }

    /// Checks that every weight is finite and every term acts on distinct qubits below
    /// `n_qubits`.
    pub fn validate(&self, n_qubits: usize) -> Result<(), Error> {
        validate_qubit_count(n_qubits)?;
        for (k, term) in self.terms.iter().enumerate() {
            if !term.weight.is_finite() {
                return Err(Error::input(format!(
                    "Term {k} of the observable has weight {}; weights must be finite.",
                    term.weight
                )));
            }
            let mut seen = 0usize;
            for &(pauli, q) in &term.paulis {
                if q >= n_qubits {
                    return Err(Error::input(format!(
                        "Term {k} of the observable has {pauli:?} on qubit {q}, but the \
                         circuit has only {n_qubits} qubits (0 to {}).",
                        n_qubits.saturating_sub(1)
                    ))
                    .with_help("qubits are numbered from 0"));
                }
                if seen & (1 << q) != 0 {
                    return Err(Error::input(format!(
                        "Term {k} of the observable has two Paulis on qubit {q}."
                    ))
                    .with_help("multiply them out: a term has at most one Pauli per qubit"));
                }
                seen |= 1 << q;
            }
        }
        Ok(())
    }
}

/// One term as masks: the bits it flips, the bits whose value gives a sign, and its weight
/// times `i^{n_Y}`.
#[derive(Clone, Copy, Debug)]
struct MaskedTerm {
    flips: usize,
    signs: usize,
    coefficient: C,
    /// The term's position in the observable: ties in the grouping sort are broken by it,
    /// so the summation order is fixed by the observable alone.
    position: usize,
}

/// The terms `start..end` (in the sorted list) that flip the bits `flips`.
#[derive(Clone, Copy, Debug)]
struct Group {
    flips: usize,
    start: usize,
    end: usize,
}

/// An observable as bit masks, grouped by the bits its terms flip. Rebuilt in place for
/// each call, so its buffers are reused.
#[derive(Clone, Debug, Default)]
pub struct MaskedObservable {
    terms: Vec<MaskedTerm>,
    groups: Vec<Group>,
}

impl MaskedObservable {
    /// Validates `observable` for `n_qubits` qubits and stores it as masks.
    pub fn build(&mut self, observable: &Observable, n_qubits: usize) -> Result<(), Error> {
        observable.validate(n_qubits)?;
        self.terms.clear();
        for (position, term) in observable.terms.iter().enumerate() {
            let (mut flips, mut signs, mut n_y) = (0usize, 0usize, 0usize);
            for &(pauli, q) in &term.paulis {
                match pauli {
                    Pauli::X => flips |= 1 << q,
                    Pauli::Y => {
                        flips |= 1 << q;
                        signs |= 1 << q;
                        n_y += 1;
                    }
                    Pauli::Z => signs |= 1 << q,
                }
            }
            let phase = [
                C::new(1.0, 0.0),
                C::new(0.0, 1.0),
                C::new(-1.0, 0.0),
                C::new(0.0, -1.0),
            ][n_y % 4];
            self.terms.push(MaskedTerm {
                flips,
                signs,
                coefficient: phase * term.weight,
                position,
            });
        }
        // Unstable sorting allocates nothing; the position makes the order total.
        self.terms.sort_unstable_by_key(|t| (t.flips, t.position));
        self.groups.clear();
        let mut start = 0;
        while start < self.terms.len() {
            let flips = self.terms[start].flips;
            let end = start
                + self.terms[start..]
                    .iter()
                    .take_while(|t| t.flips == flips)
                    .count();
            self.groups.push(Group { flips, start, end });
            start = end;
        }
        Ok(())
    }

    /// `⟨ψ|H|ψ⟩`.
    pub fn expectation(&self, psi: &[C]) -> f64 {
        let mut total = 0.0;
        for group in &self.groups {
            let terms = &self.terms[group.start..group.end];
            let flips = group.flips;
            let value = sum_over(psi.len(), &|g0, g1| {
                let chunk = &psi[g0..g1];
                if flips == 0 {
                    interleaved_sum(chunk.len(), |k| {
                        C::new(coefficient(terms, g0 + k).re * chunk[k].norm_sqr(), 0.0)
                    })
                } else {
                    interleaved_sum(chunk.len(), |k| {
                        let i = g0 + k;
                        psi[i ^ flips].conj() * coefficient(terms, i) * chunk[k]
                    })
                }
            });
            // The imaginary part cancels between `i` and `i ⊕ flips` (H is Hermitian).
            total += value.re;
        }
        total
    }

    /// `out = H|ψ⟩`: `out_j = Σ_groups c_g(j ⊕ flips_g) · ψ_{j ⊕ flips_g}`, one write pass.
    pub fn apply(&self, psi: &[C], out: &mut [C]) {
        let unit = unit_len(psi.len());
        let fill = |(u, chunk): (usize, &mut [C])| {
            let start = u * unit;
            for (k, o) in chunk.iter_mut().enumerate() {
                let j = start + k;
                let mut acc = ZERO;
                for group in &self.groups {
                    let i = j ^ group.flips;
                    acc += coefficient(&self.terms[group.start..group.end], i) * psi[i];
                }
                *o = acc;
            }
        };
        if psi.len() < PARALLEL_MIN {
            out.chunks_mut(unit).enumerate().for_each(fill);
        } else {
            out.par_chunks_mut(unit).enumerate().for_each(fill);
        }
    }
}

/// `Σ_terms coefficient · (−1)^{popcount(i & signs)}`: the group's phase at basis state `i`.
#[inline(always)]
fn coefficient(terms: &[MaskedTerm], i: usize) -> C {
    let mut c = ZERO;
    for t in terms {
        let sign = 1.0 - 2.0 * f64::from((i & t.signs).count_ones() & 1);
        c += t.coefficient * sign;
    }
    c
}
