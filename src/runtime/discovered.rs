//! Discovered equations (`sci_stdlib::discover`) written as a sci model: each term a
//! parameter (its coefficient) times the term's expression, the states started from the
//! data's first row, and the data with a loss over the trajectory, so the file checks,
//! solves with `sci run`, and refits its coefficients with `sci train`.

use sci_stdlib::discover::{Discovered, Term, TermKind};

/// What the model says besides the equations.
#[derive(Clone, Debug)]
pub struct DataModel<'a> {
    /// The model's name.
    pub name: &'a str,
    /// The data file as the model reads it (relative to the model file).
    pub data_path: &'a str,
    /// The data's time column and the discovered variables, as the file names them.
    pub time: &'a str,
    pub variables: &'a [String],
    /// The state at the data's first time, per variable.
    pub initial: &'a [f64],
    /// The data's first and last times.
    pub span: (f64, f64),
    /// How the equations were found, for the header comment.
    pub provenance: &'a str,
}

/// The name of the parameter holding `term`'s coefficient in `variable`'s equation:
/// `c_x_y` for `y` in `dx/dt`, `c_y_x_z` for `x*z`, `c_x_x2` for `x^2`, `c_x_sin_y`,
/// `c_x_1` for the constant.
pub fn coefficient_name(variable: &str, term: &Term) -> String {
    let term: String = term
        .name
        .chars()
        .filter_map(|c| match c {
            '*' | '(' => Some('_'),
            '^' | ')' => None,
            c => Some(c),
        })
        .collect();
    format!("c_{variable}_{term}")
}

/// `term` as a sci expression over `variables`: `x * y`, `x^2 * z`, `sin(x)`, `1`.
pub fn term_expression(term: &Term, variables: &[String]) -> String {
    match &term.kind {
        TermKind::Monomial { exponents } => {
            let factors: Vec<String> = (variables.iter().zip(exponents))
                .filter(|(_, e)| **e > 0)
                .map(|(v, e)| match e {
                    1 => v.clone(),
                    e => format!("{v}^{e}"),
                })
                .collect();
            if factors.is_empty() {
                "1".to_string()
            } else {
                factors.join(" * ")
            }
        }
        TermKind::Function { function, variable } => format!(
            "{}({})",
            function.name(),
            variables.get(*variable).map_or("?", String::as_str)
        ),
    }
}

/// The sum of `terms` as sci source, each coefficient the parameter
/// [`coefficient_name`]`(owner, term)` times the term over `variables` (variable names, or
/// any expressions standing for them): `c_x_x * x + c_x_y * y`, `0` with no terms.
pub fn sum_of_terms(owner: &str, terms: &[(Term, f64)], variables: &[String]) -> String {
    if terms.is_empty() {
        return "0".to_string();
    }
    terms
        .iter()
        .map(|(term, _)| {
            let c = coefficient_name(owner, term);
            match term_expression(term, variables).as_str() {
                "1" => c,
                e => format!("{c} * {e}"),
            }
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The model: a parameter per discovered coefficient (its value `coefficients` gives, in
/// the order of `discovered`'s terms; the discovered values when `None`), a state per
/// variable, `der(v) = …`, the data set and a least-squares loss over it.
pub fn data_model(
    discovered: &Discovered,
    model: &DataModel<'_>,
    coefficients: Option<&[f64]>,
) -> String {
    let mut values = coefficients.map(<[f64]>::iter);
    let mut out = String::new();
    for line in model.provenance.lines() {
        out.push_str(&format!("// {line}\n"));
    }
    out.push_str(&format!("model {} {{\n", model.name));
    for eq in &discovered.equations {
        for (term, c) in &eq.terms {
            let value = values.as_mut().and_then(Iterator::next).unwrap_or(c);
            out.push_str(&format!(
                "    param {} = {value:?}\n",
                coefficient_name(&eq.variable, term)
            ));
        }
    }
    out.push('\n');
    for (v, x0) in model.variables.iter().zip(model.initial) {
        out.push_str(&format!("    state {v} = {x0:?}\n"));
    }
    out.push('\n');
    for eq in &discovered.equations {
        out.push_str(&format!(
            "    der({}) = {}\n",
            eq.variable,
            sum_of_terms(&eq.variable, &eq.terms, model.variables)
        ));
    }
    let mut columns = vec![model.time.to_string()];
    columns.extend(model.variables.iter().cloned());
    out.push_str(&format!(
        "\n    data obs({}) = csv({:?})\n",
        columns.join(", "),
        model.data_path
    ));
    let residuals: Vec<String> = (model.variables.iter())
        .map(|v| format!("({v}(obs.{}) - obs.{v})^2", model.time))
        .collect();
    out.push_str(&format!("    loss = mean({})\n", residuals.join(" + ")));
    out.push_str(&format!(
        "\n    domain time: t in [{:?}, {:?}]\n}}\n",
        model.span.0, model.span.1
    ));
    out
}
