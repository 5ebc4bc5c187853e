//! A model's observations as time series: the data sets its loss compares with ODE
//! solutions (`prey(obs.t)`), read from their files, for plotting a fit over its data.

use std::path::Path;

use sci_ir::{InputRole, Role};
use sci_stdlib::Error;

use super::fit::read_columns;
use crate::jit::Model;

/// One data set observed over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The data set's name (`obs`).
    pub data: String,
    /// Its time column's values, one per row.
    pub t: Vec<f64>,
    /// Its other declared columns by name (`prey`, `pred`), one value per row.
    pub columns: Vec<(String, Vec<f64>)>,
}

/// The data sets whose rows the model's loss compares with its solution at their times,
/// read relative to `data_dir` (the model file's directory); a model without such a loss
/// has none.
pub fn observations(model: &Model<'_>, data_dir: &Path) -> Result<Vec<Observed>, Error> {
    let ir = model.ir();
    let Some(loss) = ir
        .function_with_role(&Role::Loss)
        .and_then(|f| ir.functions.get(f))
    else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Observed> = Vec::new();
    for role in &loss.input_roles {
        let InputRole::Trajectory { data, time_column } = *role else {
            continue;
        };
        let Some(source) = ir.manifest.data.get(data) else {
            continue;
        };
        if out.iter().any(|o| o.data == source.name) {
            continue;
        }
        let mut columns = read_columns(source, data_dir)?;
        if time_column >= columns.len() {
            continue;
        }
        let t = columns.remove(time_column);
        let names = (source.columns.iter().enumerate())
            .filter(|&(c, _)| c != time_column)
            .map(|(_, name)| name.clone());
        out.push(Observed {
            data: source.name.clone(),
            t,
            columns: names.zip(columns).collect(),
        });
    }
    Ok(out)
}
