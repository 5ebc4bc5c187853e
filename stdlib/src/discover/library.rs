//! The candidate library Θ of equation discovery: every monomial of the variables up to a
//! total degree, in graded order, and optionally unary functions of each variable, each
//! term with a display name and a structured description a caller can turn into code.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The most terms a library may have. A polynomial library grows like `C(m + d, d)`; past
/// a few thousand columns Θ no longer fits a reasonable memory budget for long series, and
/// sparse regression over that many candidates is not meaningful anyway.
pub const MAX_TERMS: usize = 5000;

/// A unary function a library may apply to every variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    Sin,
    Cos,
    Exp,
    Tanh,
}

impl Function {
    /// Every function with its name (as written in `sin(x)`).
    pub const ALL: &'static [(&'static str, Function)] = &[
        ("sin", Function::Sin),
        ("cos", Function::Cos),
        ("exp", Function::Exp),
        ("tanh", Function::Tanh),
    ];

    /// The name, as written in a term (`sin`).
    pub fn name(self) -> &'static str {
        match self {
            Function::Sin => "sin",
            Function::Cos => "cos",
            Function::Exp => "exp",
            Function::Tanh => "tanh",
        }
    }

    /// The function's value at `x`.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Function::Sin => x.sin(),
            Function::Cos => x.cos(),
            Function::Exp => x.exp(),
            Function::Tanh => x.tanh(),
        }
    }
}

impl FromStr for Function {
    type Err = Error;
    fn from_str(s: &str) -> Result<Function, Error> {
        Function::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = Function::ALL.iter().map(|(n, _)| *n).collect();
                Error::input(format!("There is no library function called `{s}`."))
                    .with_help(format!("the library functions are: {}", names.join(", ")))
            })
    }
}

/// What a library contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibrarySpec {
    /// The highest total degree of the monomials (0: the constant `1` only).
    pub degree: u32,
    /// Names of unary functions from [`Function::ALL`], each applied to every variable
    /// (`sin` over `x, y` adds `sin(x)`, `sin(y)`). Repeated names count once.
    pub functions: Vec<String>,
}

impl Default for LibrarySpec {
    /// Quadratic polynomials, no functions: the library of the Lorenz system.
    fn default() -> LibrarySpec {
        LibrarySpec {
            degree: 2,
            functions: Vec::new(),
        }
    }
}

/// What a term computes, for a caller that writes it as source code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TermKind {
    /// `∏ variable_i ^ exponents[i]` (all exponents zero: the constant `1`).
    Monomial { exponents: Vec<u32> },
    /// `function(variables[variable])`.
    Function { function: Function, variable: usize },
}

/// One column of Θ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// As printed in an equation: `1`, `x`, `x^2*z`, `sin(x)`.
    pub name: String,
    pub kind: TermKind,
}

impl Term {
    /// The term's value at one sample (`row` holds one value per variable).
    pub fn value(&self, row: &[f64]) -> f64 {
        match &self.kind {
            TermKind::Monomial { exponents } => exponents
                .iter()
                .zip(row)
                .filter(|(e, _)| **e > 0)
                .map(|(&e, &x)| power(x, e))
                .product(),
            TermKind::Function { function, variable } => {
                row.get(*variable).map_or(f64::NAN, |&x| function.apply(x))
            }
        }
    }

    /// Whether this is the constant `1`.
    pub fn is_constant(&self) -> bool {
        matches!(&self.kind, TermKind::Monomial { exponents } if exponents.iter().all(|&e| e == 0))
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `x^e` by repeated squaring for every exponent (`powi` takes an `i32`, which a `u32`
/// exponent need not fit).
fn power(x: f64, e: u32) -> f64 {
    match i32::try_from(e) {
        Ok(e) => x.powi(e),
        Err(_) => x.powf(f64::from(e)),
    }
}

/// A candidate library over named variables.
#[derive(Clone, Debug, PartialEq)]
pub struct Library {
    variables: Vec<String>,
    terms: Vec<Term>,
}

impl Library {
    /// The library of `spec` over `variables`: the monomials of total degree 0 to
    /// `spec.degree` in graded order (within one degree, the exponent of the first variable
    /// descending, then the second's, …: `1, x, y, z, x^2, x*y, x*z, y^2, y*z, z^2`), then
    /// each function applied to each variable (`sin(x), sin(y), cos(x), …`).
    ///
    /// Errors: no variables, an empty or repeated variable name, an unknown function, or
    /// more than [`MAX_TERMS`] terms.
    pub fn new<S: AsRef<str>>(variables: &[S], spec: &LibrarySpec) -> Result<Library, Error> {
        let variables: Vec<String> = variables.iter().map(|v| v.as_ref().to_string()).collect();
        check_variables(&variables)?;
        let mut functions: Vec<Function> = Vec::new();
        for name in &spec.functions {
            let function: Function = name.parse()?;
            if !functions.contains(&function) {
                functions.push(function);
            }
        }
        let m = variables.len();
        let count = monomial_count(m, spec.degree)
            .and_then(|n| n.checked_add(functions.len() * m))
            .filter(|&n| n <= MAX_TERMS)
            .ok_or_else(|| {
                Error::input(format!(
                    "A degree-{} library over {m} variables has more than {MAX_TERMS} terms.",
                    spec.degree
                ))
                .with_help("use a lower degree or fewer variables")
            })?;
        let mut terms = Vec::with_capacity(count);
        for degree in 0..=spec.degree {
            let mut exponents = vec![0; m];
            push_monomials(&variables, &mut exponents, 0, degree, &mut terms);
        }
        for &function in &functions {
            for (variable, name) in variables.iter().enumerate() {
                terms.push(Term {
                    name: format!("{}({name})", function.name()),
                    kind: TermKind::Function { function, variable },
                });
            }
        }
        Ok(Library { variables, terms })
    }

    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The number of terms (columns of Θ).
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Θ for `rows` samples: `data` is `rows × variables`, row-major; the result is
    /// `rows × terms`, row-major.
    ///
    /// Errors: `data` of the wrong length, and a term that is not finite at some sample
    /// (`exp(x)` overflowing, a value so large its square is infinite), named with its row.
    pub fn evaluate(&self, data: &[f64], rows: usize) -> Result<Vec<f64>, Error> {
        let m = self.variables.len();
        if rows.checked_mul(m) != Some(data.len()) {
            return Err(Error::input(format!(
                "The data has {} values, not {rows} rows of {m} variables.",
                data.len()
            ))
            .with_help("give one value per variable in every row"));
        }
        let k = self.terms.len();
        let mut theta = Vec::with_capacity(rows * k);
        for (r, row) in data.chunks_exact(m).enumerate() {
            for term in &self.terms {
                let v = term.value(row);
                if !v.is_finite() {
                    return Err(Error::input(format!(
                        "The library term `{term}` is {} at row {r} (rows counted from 0).",
                        if v.is_nan() { "NaN" } else { "infinite" }
                    ))
                    .with_help(
                        "rescale the data, or leave out the functions that overflow (`exp`)",
                    ));
                }
                theta.push(v);
            }
        }
        Ok(theta)
    }
}

/// Names must be present, non-empty and distinct: they name the terms and the equations.
fn check_variables(variables: &[String]) -> Result<(), Error> {
    if variables.is_empty() {
        return Err(
            Error::input("Equation discovery needs at least one variable.")
                .with_help("name the state variables whose equations to discover"),
        );
    }
    for (i, name) in variables.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(Error::input(format!("Variable {i} has an empty name."))
                .with_help("give every variable a name"));
        }
        if variables[..i].contains(name) {
            return Err(
                Error::input(format!("The variable `{name}` is named twice."))
                    .with_help("give every variable a different name"),
            );
        }
    }
    Ok(())
}

/// `C(m + d, d)`, the number of monomials of total degree at most `d` in `m` variables,
/// or `None` past [`MAX_TERMS`] (computed incrementally so that no degree overflows:
/// `C(m + i, i) = C(m + i − 1, i − 1)·(m + i)/i` is exact at every step).
fn monomial_count(m: usize, d: u32) -> Option<usize> {
    let mut count: u128 = 1;
    for i in 1..=u128::from(d) {
        count = count.checked_mul(m as u128 + i)? / i;
        if count > MAX_TERMS as u128 {
            return None;
        }
    }
    usize::try_from(count).ok()
}

/// Appends the monomials of total degree `left` in the variables from `from` on, with the
/// exponents before `from` as given, in descending lexicographic order of the exponents.
fn push_monomials(
    variables: &[String],
    exponents: &mut Vec<u32>,
    from: usize,
    left: u32,
    terms: &mut Vec<Term>,
) {
    if from + 1 == variables.len() || left == 0 {
        if let Some(last) = exponents.get_mut(from) {
            *last = left;
        }
        terms.push(Term {
            name: monomial_name(variables, exponents),
            kind: TermKind::Monomial {
                exponents: exponents.clone(),
            },
        });
        if let Some(last) = exponents.get_mut(from) {
            *last = 0;
        }
        return;
    }
    for e in (0..=left).rev() {
        exponents[from] = e;
        push_monomials(variables, exponents, from + 1, left - e, terms);
    }
    exponents[from] = 0;
}

/// `1`, `x`, `x^2*z`.
fn monomial_name(variables: &[String], exponents: &[u32]) -> String {
    let factors: Vec<String> = variables
        .iter()
        .zip(exponents)
        .filter(|(_, e)| **e > 0)
        .map(|(v, &e)| {
            if e == 1 {
                v.clone()
            } else {
                format!("{v}^{e}")
            }
        })
        .collect();
    if factors.is_empty() {
        "1".to_string()
    } else {
        factors.join("*")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn names(library: &Library) -> Vec<&str> {
        library.terms().iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn quadratic_in_three_variables_is_in_graded_order() {
        let library = Library::new(&["x", "y", "z"], &LibrarySpec::default()).unwrap();
        assert_eq!(
            names(&library),
            ["1", "x", "y", "z", "x^2", "x*y", "x*z", "y^2", "y*z", "z^2"]
        );
        assert!(library.terms()[0].is_constant());
        assert_eq!(
            library.terms()[6].kind,
            TermKind::Monomial {
                exponents: vec![1, 0, 1]
            }
        );
    }

    #[test]
    fn cubic_terms_and_functions_are_named_and_counted() {
        let spec = LibrarySpec {
            degree: 3,
            functions: vec!["sin".into(), "exp".into(), "sin".into()],
        };
        let library = Library::new(&["x", "y", "z"], &spec).unwrap();
        // C(3 + 3, 3) = 20 monomials, then sin and exp (once each) of three variables.
        assert_eq!(library.len(), 26);
        let names = names(&library);
        assert_eq!(
            &names[10..20],
            [
                "x^3", "x^2*y", "x^2*z", "x*y^2", "x*y*z", "x*z^2", "y^3", "y^2*z", "y*z^2", "z^3"
            ]
        );
        assert_eq!(
            &names[20..],
            ["sin(x)", "sin(y)", "sin(z)", "exp(x)", "exp(y)", "exp(z)"]
        );
        assert_eq!(
            library.terms()[24].kind,
            TermKind::Function {
                function: Function::Exp,
                variable: 1
            }
        );
    }

    #[test]
    fn one_variable_and_degree_zero() {
        let one = Library::new(
            &["u"],
            &LibrarySpec {
                degree: 4,
                functions: vec![],
            },
        )
        .unwrap();
        assert_eq!(names(&one), ["1", "u", "u^2", "u^3", "u^4"]);
        let constant = Library::new(
            &["a", "b"],
            &LibrarySpec {
                degree: 0,
                functions: vec!["tanh".into()],
            },
        )
        .unwrap();
        assert_eq!(names(&constant), ["1", "tanh(a)", "tanh(b)"]);
    }

    #[test]
    fn evaluate_gives_theta_row_major() {
        let spec = LibrarySpec {
            degree: 2,
            functions: vec!["cos".into()],
        };
        let library = Library::new(&["x", "y"], &spec).unwrap();
        let data = [2.0, 3.0, -1.0, 0.5];
        let theta = library.evaluate(&data, 2).unwrap();
        let k = library.len();
        assert_eq!(k, 8);
        // 1, x, y, x^2, x*y, y^2, cos(x), cos(y)
        let first = [1.0, 2.0, 3.0, 4.0, 6.0, 9.0, 2f64.cos(), 3f64.cos()];
        let second = [1.0, -1.0, 0.5, 1.0, -0.5, 0.25, 1f64.cos(), 0.5f64.cos()];
        assert_eq!(&theta[..k], first);
        assert_eq!(&theta[k..], second);
    }

    #[test]
    fn unknown_function_lists_the_known_ones() {
        let spec = LibrarySpec {
            degree: 1,
            functions: vec!["log".into()],
        };
        let err = Library::new(&["x"], &spec).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Input);
        assert!(err.message.contains("`log`"), "{err}");
        assert_eq!(
            err.help.as_deref(),
            Some("the library functions are: sin, cos, exp, tanh")
        );
    }

    #[test]
    fn bad_variables_and_huge_libraries_are_errors() {
        let spec = LibrarySpec::default();
        let none: [&str; 0] = [];
        assert!(Library::new(&none, &spec).is_err());
        assert!(Library::new(&["x", ""], &spec).is_err());
        let twice = Library::new(&["x", "x"], &spec).unwrap_err();
        assert!(twice.message.contains("`x` is named twice"), "{twice}");
        let huge = LibrarySpec {
            degree: u32::MAX,
            functions: vec![],
        };
        let err = Library::new(&["x", "y"], &huge).unwrap_err();
        assert!(err.message.contains("more than 5000 terms"), "{err}");
        assert_eq!(err.kind, ErrorKind::Input);
    }

    #[test]
    fn evaluate_rejects_bad_lengths_and_overflow() {
        let spec = LibrarySpec {
            degree: 1,
            functions: vec!["exp".into()],
        };
        let library = Library::new(&["x", "y"], &spec).unwrap();
        assert!(library.evaluate(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(library.evaluate(&[1.0, 2.0], usize::MAX).is_err());
        let err = library.evaluate(&[1.0, 2.0, 1.0, 800.0], 2).unwrap_err();
        assert_eq!(
            err.message,
            "The library term `exp(y)` is infinite at row 1 (rows counted from 0)."
        );
    }
}
