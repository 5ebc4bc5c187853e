//! A model's networks as its compiled module describes them: the function of each (role
//! `net(NAME)`), its argument names (input roles `arg(NAME)`) and output count, for the
//! commands that evaluate trained networks (`sci predict`, `sci discover`).

use sci_ir::{InputRole, Module, Role};
use sci_stdlib::Error;

use super::Trajectory;
use crate::Model;

/// A network of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Its name in the model (`u`).
    pub name: String,
    /// The module's function that evaluates it (θ, then one scalar per argument).
    pub function: String,
    /// Its arguments' names, in order (`t`, `x`, a state's name).
    pub args: Vec<String>,
    /// How many numbers it returns.
    pub outputs: usize,
}

impl Network {
    /// The names of its outputs: `u`, or `uvp[0]`, `uvp[1]`, ….
    pub fn columns(&self) -> Vec<String> {
        if self.outputs == 1 {
            vec![self.name.clone()]
        } else {
            (0..self.outputs)
                .map(|k| format!("{}[{k}]", self.name))
                .collect()
        }
    }
}

/// The networks of `module`, in its function order.
pub fn networks(module: &Module) -> Vec<Network> {
    module
        .functions
        .iter()
        .filter_map(|(_, f)| {
            let Role::Net(name) = &f.role else {
                return None;
            };
            let args = f
                .input_roles
                .iter()
                .filter_map(|r| match r {
                    InputRole::Argument(a) => Some(a.clone()),
                    _ => None,
                })
                .collect();
            let outputs = f.result_type().and_then(|t| t.element_count()).unwrap_or(1);
            Some(Network {
                name: name.clone(),
                function: f.name.clone(),
                args,
                outputs,
            })
        })
        .collect()
}

/// A network's arguments and outputs at the times of a solution.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    pub rows: usize,
    /// `rows × args`, row-major: the arguments' values (a state, or the time).
    pub args: Vec<f64>,
    /// `rows × outputs`, row-major.
    pub outputs: Vec<f64>,
}

/// `net` of `model` with parameters `p` evaluated at every time of `solution` (a solution of
/// `model`), its arguments taken from the states of the same names or the time: what
/// `sci discover` expresses in terms of the arguments.
///
/// Errors: an argument that is neither a state nor `t`, and the network's evaluation.
pub fn along_solution(
    model: &Model<'_>,
    p: &[f64],
    net: &Network,
    solution: &Trajectory,
) -> Result<Samples, Error> {
    let columns: Vec<Option<usize>> = (net.args.iter())
        .map(|a| match a.as_str() {
            "t" => Ok(None),
            _ => (solution.state_names.iter().position(|s| s == a))
                .map(Some)
                .ok_or_else(|| {
                    Error::input(format!(
                        "The network `{}` takes `{a}`, which is neither a state nor the time.",
                        net.name
                    ))
                }),
        })
        .collect::<Result<_, _>>()?;
    let function = model.function(&net.function)?;
    let rows = solution.t.len();
    let mut args = Vec::with_capacity(rows * columns.len());
    let mut outputs = Vec::with_capacity(rows * net.outputs);
    for (t, y) in solution.t.iter().zip(&solution.states) {
        let values: Vec<[f64; 1]> = (columns.iter()).map(|c| [c.map_or(*t, |i| y[i])]).collect();
        args.extend(values.iter().map(|v| v[0]));
        let mut call: Vec<&[f64]> = vec![p];
        call.extend(values.iter().map(|v| v.as_slice()));
        let out = function.call(&call)?;
        outputs.extend(out.iter().take(net.outputs));
    }
    Ok(Samples {
        rows,
        args,
        outputs,
    })
}
