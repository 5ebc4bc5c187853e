//! Measuring a state in the computational basis: the outcome probabilities `|ψ_i|²`, and
//! seeded samples of outcomes.
//!
//! Reproducibility: samples come from ChaCha8 keyed by the seed (and a tag that keeps them
//! apart from the collocation points that [`crate::sample`] draws from the same seed),
//! turned into floats by code here from the generator's 64-bit words, as `sample.rs` does,
//! not by `rand`'s distributions whose output may change between versions. Each draw is
//! located in the cumulative distribution, summed in index order, so the same seed gives
//! the same outcomes on every platform and build.

use num_complex::Complex64 as C;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use super::circuit::validate_qubit_count;
use crate::Error;

/// The probability of each basis state, `|ψ_i|²` (index `i`'s bit `q` is qubit `q`).
pub fn probabilities(state: &[C]) -> Vec<f64> {
    state.iter().map(|a| a.norm_sqr()).collect()
}

/// `shots` outcomes of measuring every qubit of `state`, each a basis-state index (bit `q`
/// is qubit `q`'s result), drawn with probabilities `|ψ_i|²` normalised by the state's
/// norm. The same `(state, shots, seed)` gives the same outcomes everywhere.
pub fn sample(state: &[C], shots: usize, seed: u64) -> Result<Vec<usize>, Error> {
    let n = state.len().trailing_zeros() as usize;
    if !state.len().is_power_of_two() || n == 0 {
        return Err(Error::input(format!(
            "A state of {} amplitudes cannot be measured: a state of n qubits has 2^n \
             amplitudes, n ≥ 1.",
            state.len()
        )));
    }
    validate_qubit_count(n)?;
    let mut cumulative = Vec::new();
    cumulative.try_reserve_exact(state.len()).map_err(|_| {
        Error::input(format!(
            "There is not enough memory for the distribution of {} outcomes.",
            state.len()
        ))
        .with_help("measure a state of fewer qubits")
    })?;
    let mut total = 0.0;
    for a in state {
        total += a.norm_sqr();
        cumulative.push(total);
    }
    if !total.is_finite() || total <= 0.0 {
        return Err(Error::input(format!(
            "The state's squared norm is {total}; only a finite, nonzero state can be \
             measured."
        )));
    }
    // A draw that rounds up to the total must not land on trailing zero-probability states.
    let last = state.iter().rposition(|a| a.norm_sqr() > 0.0).unwrap_or(0);
    let mut rng = chacha(seed);
    Ok((0..shots)
        .map(|_| {
            let x = unit(&mut rng) * total;
            cumulative.partition_point(|&c| c <= x).min(last)
        })
        .collect())
}

/// The generator for `seed`: the seed and a tag in the 256-bit ChaCha key.
fn chacha(seed: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[24..].copy_from_slice(b"quantum\0");
    ChaCha8Rng::from_seed(key)
}

/// A uniform float in [0, 1) from the top 53 bits of one draw.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}
