//! A model's networks as its compiled module describes them: the function of each (role
//! `net(NAME)`), its argument names (input roles `arg(NAME)`) and output count, for the
//! commands that evaluate trained networks (`sci predict`, `sci discover`).

use sci_ir::{InputRole, Module, Role};

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
