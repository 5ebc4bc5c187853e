//! Components: `component pump = Pump(rate: 2.0)` puts another model's members into this
//! one, before checking, under the component's name (`pump.flow`, `pump.rate`).
//!
//! Why flatten rather than check components separately and link them: the equations of
//! a model and its components form one system (one `rhs`, one Jacobian, one θ), and every
//! later stage — units, shapes, events, algebraic equations, derivatives, code generation —
//! then works on it unchanged. The component's model is still checked on its own as well,
//! so a mistake inside it is reported once, in its own terms; the copies only add what is
//! new in context (a binding's unit, say), and every name they produce carries the
//! component path (`upper.h`), so a diagnostic says which instance it is about.
//!
//! - Members of the component's model become members of the host, renamed `name.member`
//!   (a nested component gives `name.inner.member`); references among them follow.
//! - A binding `rate: value` gives a parameter (or constant) of the component a value
//!   computed in the host: the parameter becomes a `let` (a constant stays a constant), so
//!   connections are expressions: `component lower = Tank(inflow: upper.outflow)`.
//!   Unbound parameters stay parameters (`--param upper.area=2`).
//! - In the host, `name.member` reads a member of the component.
//! - The component's time span is the host's; other domains, networks, residuals, losses,
//!   data sets, functions and `use`s cannot be in a component's model (E0233).

use std::collections::{HashMap, HashSet};

use crate::ast::{
    Arg, Decl, Expr, ExprKind, Ident, ItemKind, Member, MemberKind, Model, SourceFile,
    member_exprs_mut,
};
use crate::check::suggest::did_you_mean;
use sci_diag::{Diagnostic, Span};

/// Components nested deeper than this are refused (a chain of models, each using the
/// next, is bounded by the file; this keeps the expansion small on any input).
const MAX_DEPTH: usize = 16;

/// The file with every component expanded, and the problems found. Models without
/// components are unchanged.
pub fn flatten(file: &SourceFile) -> (SourceFile, Vec<Diagnostic>) {
    let models = models_by_name(file);
    let mut out = file.clone();
    let mut diags = Vec::new();
    for item in &mut out.items {
        if let ItemKind::Model(m) = &mut item.kind
            && has_components(m)
        {
            let mut stack = vec![m.name.name.clone()];
            m.members = expand_model(m, &models, &mut stack, &mut diags);
        }
    }
    (out, diags)
}

/// The models that model `host` of `file` uses as components, directly or not.
pub fn component_models(file: &SourceFile, host: &str) -> Vec<String> {
    let models = models_by_name(file);
    let mut out: Vec<String> = Vec::new();
    let mut work = vec![host.to_string()];
    while let Some(name) = work.pop() {
        let Some(m) = models.get(name.as_str()) else {
            continue;
        };
        for member in &m.members {
            if let MemberKind::Component(c) = &member.kind
                && !out.contains(&c.model.name)
                && c.model.name != host
                && out.len() < MAX_DEPTH * 16
            {
                out.push(c.model.name.clone());
                work.push(c.model.name.clone());
            }
        }
    }
    out
}

/// The file's models by name.
fn models_by_name(file: &SourceFile) -> HashMap<&str, &Model> {
    (file.items.iter())
        .filter_map(|i| match &i.kind {
            ItemKind::Model(m) => Some((m.name.name.as_str(), m)),
            _ => None,
        })
        .collect()
}

/// Whether a model has a component.
pub fn has_components(m: &Model) -> bool {
    m.members
        .iter()
        .any(|mem| matches!(mem.kind, MemberKind::Component(_)))
}

/// The members of `m` with its components expanded (recursively), and its references to
/// `component.member` turned into the expanded names.
fn expand_model(
    m: &Model,
    models: &HashMap<&str, &Model>,
    stack: &mut Vec<String>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Member> {
    let mut out = Vec::new();
    // Component name → the member names it brought in (unprefixed), for `c.x` in the host.
    let mut components: HashMap<String, (String, HashSet<String>)> = HashMap::new();
    for member in &m.members {
        let MemberKind::Component(c) = &member.kind else {
            out.push(member.clone());
            continue;
        };
        let Some(model) = component_model(c, models, stack, diags) else {
            continue;
        };
        stack.push(model.name.name.clone());
        let inner = if has_components(model) {
            expand_model(model, models, stack, diags)
        } else {
            model.members.clone()
        };
        stack.pop();
        let (members, names) = instantiate(c, model, inner, member.span, diags);
        components.insert(c.name.name.clone(), (model.name.name.clone(), names));
        out.extend(members);
    }
    for member in &mut out {
        let mut roots = Vec::new();
        member_exprs_mut(&mut member.kind, &mut roots);
        for root in roots {
            root.walk_mut(&mut |e| host_reference(e, &components, diags));
        }
    }
    out
}

/// The model a component instantiates: it exists and is not the host itself (directly or
/// through other components).
fn component_model<'m>(
    c: &crate::ast::Component,
    models: &HashMap<&str, &'m Model>,
    stack: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Option<&'m Model> {
    let Some(model) = models.get(c.model.name.as_str()).copied() else {
        let mut d = Diagnostic::error(
            "E0233",
            format!(
                "There is no model called `{}` to use as a component.",
                c.model.name
            ),
        )
        .with_primary(c.model.span, "unknown model");
        if let Some(s) = did_you_mean(&c.model.name, models.keys().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        diags.push(d);
        return None;
    };
    if stack.contains(&model.name.name) {
        let mut chain = stack.to_vec();
        chain.push(model.name.name.clone());
        diags.push(
            Diagnostic::error(
                "E0233",
                format!(
                    "Models cannot contain themselves: {}.",
                    chain
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(" contains ")
                ),
            )
            .with_primary(c.model.span, "a component of its own model"),
        );
        return None;
    }
    if stack.len() >= MAX_DEPTH {
        diags.push(
            Diagnostic::error(
                "E0233",
                format!("Components are nested more than {MAX_DEPTH} deep."),
            )
            .with_primary(c.model.span, "too deep"),
        );
        return None;
    }
    Some(model)
}

/// The members of component `c` of model `model` (already expanded), renamed, with the
/// bindings applied; and the names it defines.
fn instantiate(
    c: &crate::ast::Component,
    model: &Model,
    members: Vec<Member>,
    span: Span,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Member>, HashSet<String>) {
    let prefix = &c.name.name;
    let names: HashSet<String> = members.iter().filter_map(defined_name).collect();
    let rename: HashMap<String, String> = (names.iter())
        .map(|n| (n.clone(), format!("{prefix}.{n}")))
        .collect();
    let bindings = check_bindings(c, model, &members, diags);
    let mut out = Vec::new();
    for member in members {
        let kind = match member.kind {
            MemberKind::Domain(d) if crate::check::is_time_span(&d) => continue,
            // A bound parameter is computed in the host: a `let` (its value is the host's
            // expression, so it is not renamed); a bound constant stays a constant.
            MemberKind::Param(d) if bindings.contains_key(&d.name.name) => {
                bound(MemberKind::Let(d), &bindings, &rename)
            }
            MemberKind::Const(d) if bindings.contains_key(&d.name.name) => {
                bound(MemberKind::Const(d), &bindings, &rename)
            }
            kind @ (MemberKind::Const(_)
            | MemberKind::Param(_)
            | MemberKind::State(_)
            | MemberKind::Let(_)
            | MemberKind::Output(_)
            | MemberKind::Der(_)
            | MemberKind::When(_)
            | MemberKind::Algebraic(_)) => rename_kind(kind, &rename),
            other => {
                diags.push(
                    Diagnostic::error(
                        "E0233",
                        format!(
                            "`{}` cannot be used as a component: it has {}.",
                            model.name.name,
                            what(&other)
                        ),
                    )
                    .with_primary(member.span, "not allowed in a component's model")
                    .with_secondary(span, format!("`{prefix}` is used here"))
                    .with_help(
                        "a component's model holds constants, parameters, states, lets, \
                         outputs, equations and events (and its time span, which the host's \
                         replaces)",
                    ),
                );
                continue;
            }
        };
        out.push(Member {
            kind,
            span: member.span,
        });
    }
    (out, names)
}

/// A bound declaration: renamed, with the host's value (its type annotation, and so its
/// unit, kept: the binding is checked against it).
fn bound(
    kind: MemberKind,
    bindings: &HashMap<String, Expr>,
    rename: &HashMap<String, String>,
) -> MemberKind {
    let mut kind = rename_kind(kind, rename);
    if let MemberKind::Let(decl) | MemberKind::Const(decl) = &mut kind {
        // The host's name of the original declaration is `prefix.name`; look the binding
        // up by the name before renaming.
        let original = rename
            .iter()
            .find(|(_, v)| **v == decl.name.name)
            .map(|(k, _)| k.clone());
        if let Some(v) = original.and_then(|o| bindings.get(&o)) {
            decl.value = v.clone();
        }
        decl.fixed = None;
    }
    kind
}

/// The bindings of `c`, by name: each names a parameter or constant of the model, once.
fn check_bindings(
    c: &crate::ast::Component,
    model: &Model,
    members: &[Member],
    diags: &mut Vec<Diagnostic>,
) -> HashMap<String, Expr> {
    let bindable: Vec<&str> = (members.iter())
        .filter_map(|m| match &m.kind {
            MemberKind::Param(d) | MemberKind::Const(d) => Some(d.name.name.as_str()),
            _ => None,
        })
        .collect();
    let mut out: HashMap<String, Expr> = HashMap::new();
    for Arg { name, value } in &c.bindings {
        let Some(name) = name else { continue };
        if !bindable.contains(&name.name.as_str()) {
            let mut d = Diagnostic::error(
                "E0233",
                format!(
                    "`{}` has no parameter or constant `{}` to bind.",
                    model.name.name, name.name
                ),
            )
            .with_primary(name.span, "not a parameter of the component's model");
            d = match did_you_mean(&name.name, bindable.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_note(format!(
                    "its parameters and constants are: {}",
                    bindable.join(", ")
                )),
            };
            diags.push(d);
            continue;
        }
        if out.insert(name.name.clone(), value.clone()).is_some() {
            diags.push(
                Diagnostic::error("E0202", format!("`{}` is bound twice.", name.name))
                    .with_primary(name.span, "bound again here"),
            );
        }
    }
    out
}

/// The name a member defines, if any.
fn defined_name(m: &Member) -> Option<String> {
    match &m.kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => Some(d.name.name.clone()),
        _ => None,
    }
}

/// What a member is, for messages ("a loss").
fn what(kind: &MemberKind) -> &'static str {
    match kind {
        MemberKind::Domain(_) => "a domain other than its time span",
        MemberKind::Net(_) => "a network",
        MemberKind::Residual(_) => "a residual",
        MemberKind::Loss(_) => "a loss",
        MemberKind::Data(_) => "a data set",
        MemberKind::Fn(_) => "a function",
        MemberKind::Use(_) => "a `use`",
        MemberKind::Circuit(_) => "a circuit",
        MemberKind::Observable(_) => "an observable",
        _ => "a member of another kind",
    }
}

fn renamed_ident(id: &Ident, rename: &HashMap<String, String>) -> Ident {
    Ident {
        name: rename
            .get(&id.name)
            .cloned()
            .unwrap_or_else(|| id.name.clone()),
        span: id.span,
    }
}

fn renamed_decl(mut d: Decl, rename: &HashMap<String, String>) -> Decl {
    d.name = renamed_ident(&d.name, rename);
    d
}

/// A member with its defined name and every reference to the component's own members
/// renamed.
fn rename_kind(kind: MemberKind, rename: &HashMap<String, String>) -> MemberKind {
    let mut kind = match kind {
        MemberKind::Const(d) => MemberKind::Const(renamed_decl(d, rename)),
        MemberKind::Param(d) => MemberKind::Param(renamed_decl(d, rename)),
        MemberKind::State(d) => MemberKind::State(renamed_decl(d, rename)),
        MemberKind::Let(d) => MemberKind::Let(renamed_decl(d, rename)),
        MemberKind::Output(d) => MemberKind::Output(renamed_decl(d, rename)),
        MemberKind::Der(mut eq) => {
            eq.target = renamed_ident(&eq.target, rename);
            MemberKind::Der(eq)
        }
        other => other,
    };
    let mut roots = Vec::new();
    member_exprs_mut(&mut kind, &mut roots);
    for root in roots {
        root.walk_mut(&mut |e| {
            if let ExprKind::Name(id) = &mut e.kind
                && let Some(new) = rename.get(&id.name)
            {
                id.name = new.clone();
            }
        });
    }
    kind
}

/// `c.x` in the host, for a component `c`: the expanded name `c.x` (E0233 when the
/// component has no `x`).
fn host_reference(
    e: &mut Expr,
    components: &HashMap<String, (String, HashSet<String>)>,
    diags: &mut Vec<Diagnostic>,
) {
    let ExprKind::Field { base, field } = &e.kind else {
        return;
    };
    let ExprKind::Name(c) = &base.kind else {
        return;
    };
    let Some((model, names)) = components.get(&c.name) else {
        return;
    };
    if !names.contains(&field.name) {
        let mut d = Diagnostic::error(
            "E0233",
            format!(
                "The component `{}` (a `{model}`) has no `{}`.",
                c.name, field.name
            ),
        )
        .with_primary(field.span, "not a member of the component");
        if let Some(s) = did_you_mean(&field.name, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{}.{s}`?", c.name));
        }
        diags.push(d);
        // Reported: a placeholder, so the checker adds nothing about it.
        e.kind = ExprKind::Error;
        return;
    }
    let name = format!("{}.{}", c.name, field.name);
    e.kind = ExprKind::Name(Ident { name, span: e.span });
}
