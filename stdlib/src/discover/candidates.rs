//! Candidate models for a selection the regression cannot make by itself.
//!
//! AICc over STLSQ's sweep ([`mod@super::select`]) judges a model by how well it fits the
//! regression's targets. When those targets are a trained network's outputs along one
//! orbit, that is the wrong judge: the network is only as good as the noisy data it was
//! trained on (its error along the orbit is several percent, largest where the data say
//! least), the library's columns are nearly collinear along a curve, and every extra term
//! fits a little more of the network's error. The judge that knows what the data support is
//! the data themselves: refit each candidate's coefficients against the measurements and
//! compare those fits (sci's CLI does that; this module only proposes the candidates).
//!
//! # Which candidates
//!
//! Per output, the sparse supports that explain the targets best:
//!
//! - the empty model (an output the data do not need);
//! - for each size `1 ..= max_terms`, the `per_size` best supports of that size found by a
//!   beam search (best single terms, then each kept support extended by every other term,
//!   keeping the best `BEAM_FACTOR · per_size` of each size). Exhaustive search is out of
//!   reach beyond a few terms (`C(56, 3)` = 27,720 fits per output for a degree-5 library in
//!   three variables), and STLSQ's path is not enough: along a collinear library its
//!   survivors jump between unrelated terms as the threshold moves;
//! - the supports of the models the caller passes (the one AICc chose, say).
//!
//! Joint candidates combine one support per output, sparsest first (by total terms, then
//! by the summed relative residual), at most `max_candidates` of them, the caller's models
//! always included.

use super::stlsq::{Fit, Regression};
use crate::Error;

/// How wide the beam search is, as a multiple of the supports kept per size.
const BEAM_FACTOR: usize = 4;

/// The most joint combinations enumerated before the sparsest `max_candidates` are kept:
/// with many outputs each output's list is cut to keep the product below this.
const MAX_COMBINATIONS: usize = 100_000;

/// How many candidates to propose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CandidateOptions {
    /// The largest support per output.
    pub max_terms: usize,
    /// The best supports kept per size and output.
    pub per_size: usize,
    /// The most joint candidates returned (besides the caller's models).
    pub max_candidates: usize,
}

impl Default for CandidateOptions {
    /// Up to 3 terms per output, the 3 best supports of each size, 64 candidates.
    fn default() -> CandidateOptions {
        CandidateOptions {
            max_terms: 3,
            per_size: 3,
            max_candidates: 64,
        }
    }
}

/// One output's support with its relative residual.
#[derive(Clone, Debug)]
struct Ranked {
    support: Vec<usize>,
    relative_rss: f64,
}

/// The joint candidates (see the module header): `include` first, then the sparsest
/// combinations of each output's best supports, each refitted by plain least squares.
///
/// Errors: options asking for nothing (`per_size` or `max_candidates` zero), and the
/// errors of [`Regression::fit_supports`] for `include`.
pub fn candidates(
    regression: &Regression,
    include: &[Fit],
    options: &CandidateOptions,
) -> Result<Vec<Fit>, Error> {
    if options.per_size == 0 || options.max_candidates == 0 {
        return Err(Error::input(
            "The candidate search must keep at least one support per size and one candidate.",
        )
        .with_help("the defaults keep 3 supports per size and 64 candidates"));
    }
    let mut lists: Vec<Vec<Ranked>> = (0..regression.outputs())
        .map(|i| best_supports(regression, i, options))
        .collect();
    // The product of the lists stays enumerable: cut every list to the same length.
    let outputs = lists.len().max(1) as u32;
    let longest = (1..).take_while(|m: &usize| m.saturating_pow(outputs) <= MAX_COMBINATIONS);
    let keep = longest.last().unwrap_or(1);
    for list in &mut lists {
        list.truncate(keep);
    }

    let mut joint: Vec<(usize, f64, Vec<Vec<usize>>)> = Vec::new();
    let mut index = vec![0usize; lists.len()];
    'combinations: loop {
        let chosen: Vec<&Ranked> = lists.iter().zip(&index).map(|(l, &k)| &l[k]).collect();
        let terms = chosen.iter().map(|r| r.support.len()).sum();
        let rss = chosen.iter().map(|r| r.relative_rss).sum();
        joint.push((
            terms,
            rss,
            chosen.iter().map(|r| r.support.clone()).collect(),
        ));
        // The next combination (an odometer over the lists).
        for (digit, list) in index.iter_mut().zip(&lists) {
            *digit += 1;
            if *digit < list.len() {
                continue 'combinations;
            }
            *digit = 0;
        }
        break;
    }
    joint.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));

    let mut out: Vec<Fit> = include.to_vec();
    let mut seen: Vec<Vec<bool>> = out.iter().map(Fit::support).collect();
    let mut added = 0;
    for (_, _, supports) in joint {
        if added == options.max_candidates {
            break;
        }
        // A support whose fit is singular (collinear terms) is no candidate.
        let Ok(fit) = regression.fit_supports(&supports) else {
            continue;
        };
        if !seen.contains(&fit.support()) {
            seen.push(fit.support());
            out.push(fit);
            added += 1;
        }
    }
    Ok(out)
}

/// Output `i`'s candidate supports: empty, then the `per_size` best of each size.
fn best_supports(regression: &Regression, i: usize, options: &CandidateOptions) -> Vec<Ranked> {
    let fit = |support: Vec<usize>| {
        (regression.fit_output(i, &support).ok()).map(|(_, relative_rss)| Ranked {
            support,
            relative_rss,
        })
    };
    let mut out: Vec<Ranked> = fit(Vec::new()).into_iter().collect();
    let beam = BEAM_FACTOR * options.per_size;
    let mut level: Vec<Ranked> = out.clone();
    for _ in 0..options.max_terms.min(regression.terms()) {
        let mut next: Vec<Ranked> = Vec::new();
        for base in &level {
            for j in 0..regression.terms() {
                if base.support.contains(&j) {
                    continue;
                }
                let mut support = base.support.clone();
                support.push(j);
                support.sort_unstable();
                if next.iter().any(|r| r.support == support) {
                    continue;
                }
                next.extend(fit(support));
            }
        }
        next.sort_by(|a, b| a.relative_rss.total_cmp(&b.relative_rss));
        next.truncate(beam);
        out.extend(next.iter().take(options.per_size).cloned());
        level = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::discover::tests::noise;

    /// Two outputs over 8 random terms: output 0 is term 2 plus noise, output 1 terms 1
    /// and 5.
    fn regression() -> Regression {
        let (rows, k) = (200, 8);
        let mut state = 5;
        let theta: Vec<f64> = (0..rows * k).map(|_| noise(&mut state)).collect();
        let targets: Vec<f64> = theta
            .chunks_exact(k)
            .flat_map(|row| [2.0 * row[2], row[1] - 0.5 * row[5]])
            .map(|y| y + 0.01 * noise(&mut state))
            .collect();
        Regression::new(&theta, rows, &targets, 1e-12).unwrap()
    }

    #[test]
    fn the_true_supports_are_proposed_sparsest_first() {
        let regression = regression();
        let found = candidates(&regression, &[], &CandidateOptions::default()).unwrap();
        assert!(found.len() <= 64);
        // Sparsest first: the empty model leads.
        assert_eq!(found[0].nonzero(), 0);
        for pair in found.windows(2) {
            assert!(pair[0].nonzero() <= pair[1].nonzero());
        }
        let truth = found
            .iter()
            .find(|f| {
                let s = f.support();
                (0..16).all(|j| s[j] == [2, 9, 13].contains(&j))
            })
            .expect("the true supports are a candidate");
        assert!((truth.coefficients[0][2] - 2.0).abs() < 1e-2);
        assert!((truth.coefficients[1][5] + 0.5).abs() < 1e-2);
        // Every candidate is the plain least-squares fit on its support.
        for fit in &found {
            let supports: Vec<Vec<usize>> = (fit.coefficients.iter())
                .map(|c| (0..8).filter(|&j| c[j] != 0.0).collect())
                .collect();
            assert_eq!(&regression.fit_supports(&supports).unwrap(), fit);
        }
    }

    #[test]
    fn included_models_come_first_and_are_not_repeated() {
        let regression = regression();
        let dense = regression.least_squares().unwrap();
        let options = CandidateOptions {
            max_candidates: 5,
            ..CandidateOptions::default()
        };
        let found = candidates(&regression, std::slice::from_ref(&dense), &options).unwrap();
        assert_eq!(found[0], dense);
        assert_eq!(found.len(), 6);
        for (a, fa) in found.iter().enumerate() {
            for fb in &found[a + 1..] {
                assert_ne!(fa.support(), fb.support());
            }
        }
    }

    #[test]
    fn asking_for_nothing_is_an_input_error() {
        let options = CandidateOptions {
            per_size: 0,
            ..CandidateOptions::default()
        };
        let err = candidates(&regression(), &[], &options).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Input);
    }
}
