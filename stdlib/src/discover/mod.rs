//! Equation discovery: finding sparse right-hand sides `ẋ = Θ(x)·Ξ` for sampled states by
//! sparse regression over a library of candidate terms (SINDy: Brunton, Proctor & Kutz,
//! "Discovering governing equations from data by sparse identification of nonlinear
//! dynamical systems", PNAS 2016), done as PySINDy does it.
//!
//! - [`library`]: the candidate terms (monomials in graded order, unary functions) and Θ;
//! - [`mod@stlsq`]: sequentially thresholded least squares on scaled columns;
//! - [`mod@select`]: the threshold chosen by AICc over a sweep, with the Pareto front;
//! - [`mod@candidates`]: sparse models for a caller to judge by another criterion (a
//!   refit against measured data, when the targets are a trained network's outputs);
//! - [`derivatives`]: time derivatives from the samples (finite differences,
//!   Savitzky–Golay) for discovery from data alone.
//!
//! [`discover`] ties them together: data and derivatives in, equations out.

pub mod candidates;
pub mod derivatives;
pub mod library;
pub mod select;
pub mod stlsq;

use std::fmt;

pub use candidates::{CandidateOptions, candidates};
pub use derivatives::{finite_difference, savitzky_golay};
pub use library::{Function, Library, LibrarySpec, MAX_TERMS, Term, TermKind};
pub use select::{FrontPoint, SelectOptions, Selection, aicc, bic, extended_bic, select};
pub use stlsq::{DEFAULT_ALPHA, Fit, Regression, stlsq};

use crate::Error;

/// How STLSQ's threshold is set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// This threshold, on the scaled coefficients (see [`mod@stlsq`]'s module header: the
    /// share of a derivative's norm a term carries).
    Fixed(f64),
    /// Chosen by AICc over a sweep ([`select()`]).
    Select(SelectOptions),
}

/// How to discover.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    pub threshold: Threshold,
    /// The ridge weight `α`, relative to unit-norm columns ([`DEFAULT_ALPHA`]).
    pub alpha: f64,
}

impl Default for Options {
    /// The threshold chosen by AICc over 50 values, the default ridge.
    fn default() -> Options {
        Options {
            threshold: Threshold::Select(SelectOptions::default()),
            alpha: DEFAULT_ALPHA,
        }
    }
}

/// One discovered equation: `d(variable)/dt = Σ coefficient · term`.
#[derive(Clone, Debug, PartialEq)]
pub struct Equation {
    pub variable: String,
    /// The terms with nonzero coefficients, in library order.
    pub terms: Vec<(Term, f64)>,
}

/// The discovered equations.
#[derive(Clone, Debug, PartialEq)]
pub struct Discovered {
    /// The candidate library the equations were chosen from.
    pub library: Library,
    /// One equation per variable, in the variables' order.
    pub equations: Vec<Equation>,
    /// `coefficients[i][j]`: term `j`'s coefficient in variable `i`'s equation (zeros
    /// included), as `Ξ` in `ẋ = Θ(x)·Ξ`, transposed.
    pub coefficients: Vec<Vec<f64>>,
    /// The threshold that gave these equations.
    pub threshold: f64,
    /// The Pareto front of the sweep (one point with a fixed threshold).
    pub front: Vec<FrontPoint>,
    /// The index of these equations' model in `front`.
    pub chosen: usize,
}

/// Discovers `d(variable)/dt` for every variable.
///
/// `data` holds the states (`rows × variables.len()`, row-major), `derivatives` their time
/// derivatives in the same layout (measured, or estimated with [`finite_difference`] or
/// [`savitzky_golay`]); `library` says which candidate terms to regress on.
///
/// Errors (all [`crate::ErrorKind::Input`] but a singular fit): no data, lengths that do
/// not match, NaN or infinite values (named by row and column), a bad library or option,
/// and more library terms than rows.
pub fn discover<S: AsRef<str>>(
    data: &[f64],
    derivatives: &[f64],
    variables: &[S],
    library: &LibrarySpec,
    options: &Options,
) -> Result<Discovered, Error> {
    regress(data, derivatives, variables, library, options).map(|(found, ..)| found)
}

/// [`discover`], also returning the prepared regression and the chosen model's fit (for
/// [`discover_candidates`], which proposes more models on the same regression).
fn regress<S: AsRef<str>>(
    data: &[f64],
    derivatives: &[f64],
    variables: &[S],
    library: &LibrarySpec,
    options: &Options,
) -> Result<(Discovered, Regression, Fit), Error> {
    let library = Library::new(variables, library)?;
    let names = library.variables();
    let m = names.len();
    if data.is_empty() {
        return Err(Error::input("There is no data to discover equations from.")
            .with_help("give at least one row of states and their derivatives"));
    }
    if !data.len().is_multiple_of(m) {
        return Err(Error::input(format!(
            "The data has {} values, not a whole number of rows of {m} variables.",
            data.len()
        ))
        .with_help("give one value per variable in every row"));
    }
    let rows = data.len() / m;
    if derivatives.len() != data.len() {
        return Err(Error::input(format!(
            "The derivatives have {} values but the data {} ({rows} rows of {m} variables).",
            derivatives.len(),
            data.len()
        ))
        .with_help("give one derivative per variable in every row of the data"));
    }
    check_finite(data, names, "The data holds", str::to_string)?;
    check_finite(derivatives, names, "The derivatives hold", |v| {
        format!("d{v}/dt")
    })?;
    if library.len() > rows {
        return Err(stlsq::underdetermined(library.len(), rows));
    }
    let theta = library.evaluate(data, rows)?;
    let regression = Regression::new(&theta, rows, derivatives, options.alpha)?;
    let (fit, threshold, front, chosen) = match options.threshold {
        Threshold::Fixed(threshold) => {
            let fit = regression.stlsq(threshold)?;
            let relative_rss: f64 = fit.relative_rss.iter().sum();
            let point = FrontPoint {
                threshold,
                terms: fit.nonzero(),
                rss: fit.rss.iter().sum(),
                relative_rss,
                // The bare criterion: with a fixed threshold there is no floor to apply.
                aicc: aicc(rows * m, fit.nonzero(), relative_rss),
            };
            (fit, threshold, vec![point], 0)
        }
        Threshold::Select(select_options) => {
            let selection = select(&regression, &select_options)?;
            let threshold = selection.front[selection.chosen].threshold;
            (selection.fit, threshold, selection.front, selection.chosen)
        }
    };
    let found = Discovered {
        equations: equations(&library, &fit.coefficients),
        library,
        coefficients: fit.coefficients.clone(),
        threshold,
        front,
        chosen,
    };
    Ok((found, regression, fit))
}

/// [`discover`]'s model, and the sparse candidates of [`candidates()`] (that model first) as
/// equations over the same library, for a caller that judges them by another criterion.
/// Each candidate keeps the sweep's threshold and front.
///
/// Errors: those of [`discover`] and [`candidates()`].
pub fn discover_candidates<S: AsRef<str>>(
    data: &[f64],
    derivatives: &[f64],
    variables: &[S],
    library: &LibrarySpec,
    options: &Options,
    candidate_options: &CandidateOptions,
) -> Result<(Discovered, Vec<Discovered>), Error> {
    let (found, regression, chosen) = regress(data, derivatives, variables, library, options)?;
    let fits = candidates(&regression, &[chosen], candidate_options)?;
    let models = fits.iter().map(|fit| found.with_fit(fit)).collect();
    Ok((found, models))
}

/// One equation per variable of `library` from `coefficients` (`[variable][term]`).
fn equations(library: &Library, coefficients: &[Vec<f64>]) -> Vec<Equation> {
    (library.variables().iter())
        .zip(coefficients)
        .map(|(variable, coefficients)| Equation {
            variable: variable.clone(),
            terms: library
                .terms()
                .iter()
                .zip(coefficients)
                .filter(|(_, c)| **c != 0.0)
                .map(|(term, &c)| (term.clone(), c))
                .collect(),
        })
        .collect()
}

impl Discovered {
    /// These equations' library, threshold and front with `fit`'s coefficients.
    pub fn with_fit(&self, fit: &Fit) -> Discovered {
        Discovered {
            library: self.library.clone(),
            equations: equations(&self.library, &fit.coefficients),
            coefficients: fit.coefficients.clone(),
            threshold: self.threshold,
            front: self.front.clone(),
            chosen: self.chosen,
        }
    }

    /// The number of nonzero coefficients over all equations.
    pub fn terms(&self) -> usize {
        self.equations.iter().map(|e| e.terms.len()).sum()
    }
}

/// The first NaN or infinity in `values` (`rows × names`), named by row and column
/// (`column(name)` writes the column's name).
fn check_finite(
    values: &[f64],
    names: &[String],
    what: &str,
    column: impl Fn(&str) -> String,
) -> Result<(), Error> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::input(format!(
            "{what} {} at row {}, column `{}` (rows counted from 0).",
            values[i],
            i / names.len(),
            column(&names[i % names.len()])
        ))
        .with_help("remove or fill in the bad samples before discovering equations")),
    }
}

impl Equation {
    /// The right-hand side as printed: `-10.00 x + 10.00 y`, four significant digits, `0`
    /// for no terms.
    pub fn right_hand_side(&self) -> String {
        if self.terms.is_empty() {
            return "0".to_string();
        }
        let mut out = String::new();
        for (k, (term, c)) in self.terms.iter().enumerate() {
            let sign = match (k, *c < 0.0) {
                (0, false) => "",
                (0, true) => "-",
                (_, false) => " + ",
                (_, true) => " - ",
            };
            out.push_str(sign);
            out.push_str(&significant(c.abs()));
            if !term.is_constant() {
                out.push_str(&format!(" {term}"));
            }
        }
        out
    }
}

impl fmt::Display for Equation {
    /// `dx/dt = -10.00 x + 10.00 y` (see [`Equation::right_hand_side`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "d{}/dt = {}", self.variable, self.right_hand_side())
    }
}

impl fmt::Display for Discovered {
    /// One equation per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, equation) in self.equations.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{equation}")?;
        }
        Ok(())
    }
}

/// `x` (non-negative) to four significant digits: fixed-point from 1e-3 to 1e5, scientific
/// outside.
fn significant(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    // The exponent of the value as rounded, so that 9.99996 prints as 10.00, not 10.000.
    let rounded: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    let exponent = rounded.log10().floor();
    if (-3.0..5.0).contains(&exponent) {
        let decimals = (3.0 - exponent).max(0.0) as usize;
        format!("{rounded:.decimals$}")
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests;
