//! Lowering: the checked program (HIR) to IR modules, one per model plus one for free
//! functions.
//!
//! The conventions below are the contract with the runtime and the back ends; they are
//! written out with examples in `docs/lowering.md`.
//!
//! - `Module::params` (θ): every `param` in declaration order, then per `net` and layer `k`
//!   the weights `NAME.w{k}` (`[out, in]`) and biases `NAME.b{k}` (`[out]`), Glorot-uniform
//!   from the net's seed ([`SplitMix64`]), biases zero. `Module::states`: one slot per state;
//!   `Module::outputs`: one slot per output.
//! - ODE models: `rhs(t, y, θ) -> f64[n]`, `y0(θ) -> f64[n]`, `outputs(t, y, θ) -> f64[k]`;
//!   with events, `events(t, y, θ) -> f64[m]` and `event_resets(t, y, θ) -> f64[m·n]`.
//! - Networks: `net.NAME(θ, in1, …) -> f64` (or `f64[k]`).
//! - Loss models: `residual.NAME(θ, coords…) -> batch f64` and `loss(θ, …) -> f64` with the
//!   inputs of [`loss_inputs`].
//! - Every `fn` instance: a function named by its symbol; a model module carries copies of
//!   the instances it calls, so modules are self-contained.
//!
//! Functions in a module come callees first: instances, networks, then the model's own.
//! Lowering never panics: where the HIR breaks an invariant it returns an E05xx diagnostic.

mod cx;
mod deeponet;
mod defs;
mod diag;
mod events;
mod expr;
mod fns;
mod loss;
mod manifest;
mod net;
mod ode;
mod operator;
mod params;
mod walk;

pub use loss::{LossInput, loss_inputs, loss_terms};
pub use params::SplitMix64;

use crate::hir::{ModelHir, OperatorHir, Program, ResidualId};
use cx::{Callees, Statics};
use params::OperatorSlots;
use sci_diag::{Diagnostic, Span};
use sci_ir::{InputRole, Layout, Module, Role};
use walk::PointDependence;

/// Result of lowering one piece: the first problem found.
type Res<T> = Result<T, diag::Diag>;

/// The number of elements of a shape, or an internal-error diagnostic on overflow.
fn ir_shape_len(shape: &[usize], span: Span) -> Res<usize> {
    sci_ir::types::element_count(shape)
        .ok_or_else(|| diag::internal(span, format!("the shape {shape:?} is too large")))
}

/// Lowers every model (one module each, in order) and, if the program has any function
/// instances, a module named `functions` holding all of them.
pub fn lower_program(program: &Program) -> Result<Vec<Module>, Vec<Diagnostic>> {
    let mut modules = Vec::new();
    let mut errors = Vec::new();
    for model in &program.models {
        match lower_model(program, model) {
            Ok(m) => modules.push(m),
            Err(e) => errors.extend(e),
        }
    }
    if !program.functions.is_empty() {
        match lower_functions(program) {
            Ok(m) => modules.push(m),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(modules)
    } else {
        Err(errors)
    }
}

/// Lowers one model to a self-contained module (see the crate docs for its functions).
pub fn lower_model(program: &Program, model: &ModelHir) -> Result<Module, Vec<Diagnostic>> {
    if let Some(&span) = model.unloaded_inputs.first() {
        return Err(vec![
            Diagnostic::error(
                "E0506",
                "This model interpolates a data set, whose values are compiled in, but it was \
                 checked without reading the data.",
            )
            .with_primary(span, "needs the data's values")
            .with_help("compile it with `sci` (which reads the file), not with the bare front end"),
        ]);
    }
    let theta = params::theta_layout(model).map_err(|d| vec![*d])?;
    let mut states = Layout::default();
    for s in &model.states {
        ir_shape_len(&s.shape, s.span).map_err(|d| vec![*d])?;
        states.push(s.name.clone(), s.shape.clone(), s.unit, Vec::new());
    }
    let mut outputs = Layout::default();
    for o in &model.outputs {
        ir_shape_len(&o.shape, o.span).map_err(|d| vec![*d])?;
        outputs.push(o.name.clone(), o.shape.clone(), o.unit, Vec::new());
    }
    let mut module = Module::new(model.name.clone());
    let mut errors = Vec::new();

    // Callees first: fn instances (in call order), then networks.
    let used = walk::called_instances(program, &walk::model_roots(model));
    let order = fns::callee_order(program, &used).map_err(|d| vec![*d])?;
    let mut callees = Callees::default();
    for id in order {
        let st = statics(program, None, &theta, &states, &callees, model.span);
        match fns::lower_instance(&st, id) {
            Ok(f) => {
                let fid = module.functions.push(f);
                callees.fns.insert(id, fid);
            }
            Err(d) => errors.push(*d),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    {
        let st = statics(program, Some(model), &theta, &states, &callees, model.span);
        let mut nets = Vec::new();
        let mut operators = std::collections::HashMap::new();
        for (k, net) in model.nets.iter().enumerate() {
            if let (Some(op), Some(Some(slots))) = (&net.operator, theta.operators.get(k)) {
                nets.push(None);
                for grid in op.grids() {
                    let lowered = match (op, slots, grid.as_slice()) {
                        (OperatorHir::Fno(fno), OperatorSlots::Fno(slots), _) => {
                            operator::lower_operator(&st, net, fno, slots, grid)
                        }
                        (OperatorHir::DeepOnet(d), OperatorSlots::DeepOnet(slots), &[s]) => {
                            deeponet::lower_deeponet(&st, net, d, slots, s)
                        }
                        _ => Err(diag::internal(
                            net.span,
                            "an operator's weights do not match it",
                        )),
                    };
                    match lowered {
                        Ok(f) => {
                            operators.insert((k, grid.clone()), module.functions.push(f));
                        }
                        Err(d) => errors.push(*d),
                    }
                }
                continue;
            }
            let layers = theta.nets.get(k).map(Vec::as_slice).unwrap_or_default();
            match net::lower_net(&st, net, layers) {
                Ok(f) => nets.push(Some(module.functions.push(f))),
                Err(d) => errors.push(*d),
            }
        }
        callees.nets = nets;
        callees.operators = operators;
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let st = statics(program, Some(model), &theta, &states, &callees, model.span);
    // Each conventional function with its role and the meaning of its inputs.
    let mut add = |r: Res<sci_ir::Function>, role: Role, input_roles: Vec<InputRole>| match r {
        Ok(mut f) => {
            f.role = role;
            f.input_roles = input_roles;
            module.functions.push(f);
        }
        Err(d) => errors.push(*d),
    };
    if !model.states.is_empty() {
        add(ode::lower_rhs(&st), Role::Rhs, manifest::ode_input_roles());
        add(
            ode::lower_y0(&st),
            Role::InitialState,
            vec![InputRole::Params],
        );
        if !model.outputs.is_empty() {
            add(
                ode::lower_outputs(&st, outputs.len),
                Role::Outputs,
                manifest::ode_input_roles(),
            );
        }
        if !model.events.is_empty() {
            add(
                events::lower_event_conditions(&st),
                Role::EventConditions,
                manifest::ode_input_roles(),
            );
            add(
                events::lower_event_resets(&st),
                Role::EventResets,
                manifest::ode_input_roles(),
            );
        }
    }
    // A circuit model's outputs are functions of θ and expectation values, reported after
    // training; other stateless models' outputs have no function (nothing feeds them).
    if model.states.is_empty() && !model.circuits.is_empty() && !model.outputs.is_empty() {
        add(
            ode::lower_circuit_outputs(&st, outputs.len),
            Role::Outputs,
            manifest::circuit_output_input_roles(model),
        );
    }
    for k in 0..model.residuals.len() {
        let id = ResidualId(k as u32);
        let (role, inputs) = manifest::residual_roles(model, id);
        add(loss::lower_residual(&st, id), role, inputs);
    }
    if let Some(l) = &model.loss {
        add(
            loss::lower_loss(&st, l),
            Role::Loss,
            manifest::loss_input_roles(model),
        );
        for (label, term) in loss::loss_terms(model, l) {
            add(
                loss::lower_loss_term(&st, &label, &term),
                Role::LossTerm(label),
                manifest::loss_input_roles(model),
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    module.params = theta.layout;
    module.states = states;
    module.outputs = outputs;
    module.manifest = manifest::of_model(model, &module.params);
    Ok(module)
}

/// Lowers every function instance of the program into one module named `functions`
/// (callees before callers; no parameters, states or outputs).
pub fn lower_functions(program: &Program) -> Result<Module, Vec<Diagnostic>> {
    let all = (0..program.functions.len())
        .map(|k| crate::hir::FnInstanceId(k as u32))
        .collect();
    let order = fns::callee_order(program, &all).map_err(|d| vec![*d])?;
    let theta = params::Theta::default();
    let states = Layout::default();
    let mut callees = Callees::default();
    let mut module = Module::new("functions");
    let mut errors = Vec::new();
    for id in order {
        let st = statics(program, None, &theta, &states, &callees, Span::default());
        match fns::lower_instance(&st, id) {
            Ok(f) => {
                let fid = module.functions.push(f);
                callees.fns.insert(id, fid);
            }
            Err(d) => errors.push(*d),
        }
    }
    if errors.is_empty() {
        Ok(module)
    } else {
        Err(errors)
    }
}

fn statics<'a>(
    program: &'a Program,
    model: Option<&'a ModelHir>,
    theta: &'a params::Theta,
    states: &'a Layout,
    callees: &'a Callees,
    span: Span,
) -> Statics<'a> {
    Statics {
        program,
        model,
        theta,
        states,
        callees,
        pd: model.map(PointDependence::of_model).unwrap_or_default(),
        span,
    }
}
