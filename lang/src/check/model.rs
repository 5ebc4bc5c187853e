//! Models: collecting members, ordering them, checking each, and the model-level rules
//! (every state has exactly one `der`, residuals need a loss).

use super::DefKind;
use super::deps::{Graph, NameRef, free_names};
use super::env::{Checker, ConstEntry, FnEntry, FnRef, MemberRef, ModelEnv};
use crate::ast::{self, Decl, Expr, ExprKind, Member, MemberKind};
use crate::hir::{
    CircuitId, DataId, DomainId, HExpr, HExprKind, LetId, ModelHir, NetId, ObservableId, OutputId,
    ParamId, ResidualId, StateId,
};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;
use std::collections::HashMap;

/// The name a member defines, if any.
fn member_name(m: &Member) -> Option<&ast::Ident> {
    match &m.kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => Some(&d.name),
        MemberKind::Domain(d) => Some(&d.name),
        MemberKind::Net(n) => Some(&n.name),
        MemberKind::Residual(r) => Some(&r.name),
        MemberKind::Data(d) => Some(&d.name),
        MemberKind::Circuit(c) => Some(&c.name),
        MemberKind::Observable(o) => Some(&o.name),
        MemberKind::Fn(f) => Some(&f.name),
        MemberKind::Der(_)
        | MemberKind::Component(_)
        | MemberKind::When(_)
        | MemberKind::Algebraic(_)
        | MemberKind::Loss(_)
        | MemberKind::Use(_) => None,
    }
}

/// True if a type annotation carries a unit.
fn has_unit(ty: &Option<ast::TypeAnn>) -> bool {
    ty.as_ref().is_some_and(|t| t.unit.is_some())
}

impl<'f> Checker<'f> {
    /// Checks one model and, if it has no errors, adds its HIR to the program.
    pub fn check_model(&mut self, model: &'f ast::Model, span: Span) {
        let errors = self.error_count();
        self.define(&model.name.name, DefKind::Model, model.name.span, None);
        let mut env = ModelEnv {
            name: model.name.name.clone(),
            members: &model.members,
            ..ModelEnv::default()
        };
        env.is_ode = model
            .members
            .iter()
            .any(|m| matches!(m.kind, MemberKind::State(_)));
        env.units_on = self.file_units
            || model.members.iter().any(|m| match &m.kind {
                MemberKind::Const(d)
                | MemberKind::Param(d)
                | MemberKind::State(d)
                | MemberKind::Let(d)
                | MemberKind::Output(d) => has_unit(&d.ty),
                MemberKind::Data(d) => d.columns.iter().any(|c| has_unit(&c.ty)),
                MemberKind::Fn(f) => {
                    has_unit(&f.result) || f.params.iter().any(|p| has_unit(&p.ty))
                }
                _ => false,
            });
        // `domain time: t in [0, 160] day` declares the model's time unit (and turns units
        // on); otherwise time is in seconds when the model uses units.
        let declared = model.members.iter().find_map(|m| match &m.kind {
            MemberKind::Domain(d) if is_time_span(d) => d.dims.first()?.unit.as_ref(),
            _ => None,
        });
        env.time_unit = match declared {
            Some(u) => {
                env.units_on = true;
                self.declared_time_unit(u)
            }
            None => env.units_on.then(|| Unit::base(2)),
        };
        self.model = Some(env);
        let member_of = self.collect_members(model);
        let (order, lets_outputs) = self.order_members(model, &member_of);
        self.assign_let_output_ids(model, &lets_outputs);
        for idx in order {
            if let Some(m) = model.members.get(idx) {
                self.check_member(m);
            }
        }
        self.model_rules(model);
        if self.error_count() == errors {
            self.warn_unused(model);
        }
        let env = self.model.take();
        if self.error_count() == errors
            && let Some(env) = env
            && let Some(hir) = build(env, span)
        {
            self.models.push(hir);
        }
    }

    /// The unit of `domain time: t in [t0, t1] UNIT`: a unit of time (E0408 otherwise; the
    /// rates are then left unchecked rather than reported against a unit never meant).
    fn declared_time_unit(&mut self, expr: &ast::UnitExpr) -> Option<Unit> {
        let unit = match crate::units::resolve(expr) {
            Ok(u) => u,
            Err(diags) => {
                diags.into_iter().for_each(|d| self.report(d));
                return None;
            }
        };
        if unit.dims != Unit::base(2).dims {
            self.report(
                Diagnostic::error(
                    "E0408",
                    format!(
                        "The time unit must be a unit of time, but `{}` is not.",
                        crate::units::Pretty(unit)
                    ),
                )
                .with_primary(expr.span(), "not a unit of time")
                .with_help("write `s`, `min`, `h`, `day` or a prefixed second such as `ms`"),
            );
            return None;
        }
        Some(unit)
    }

    /// Builds the model's name tables; returns name → member index.
    fn collect_members(&mut self, model: &'f ast::Model) -> HashMap<String, usize> {
        let mut member_of: HashMap<String, usize> = HashMap::new();
        for (idx, m) in model.members.iter().enumerate() {
            if let MemberKind::Use(u) = &m.kind {
                let mut imports = self
                    .model
                    .as_ref()
                    .map(|e| e.imports.clone())
                    .unwrap_or_default();
                self.process_use(u, &mut imports);
                if let Some(e) = self.model.as_mut() {
                    e.imports = imports;
                }
                continue;
            }
            let Some(name) = member_name(m) else {
                continue;
            };
            if let Some(&prev) = member_of.get(&name.name) {
                let prev_span = model
                    .members
                    .get(prev)
                    .and_then(member_name)
                    .map(|n| n.span);
                let mut d = Diagnostic::error(
                    "E0202",
                    format!(
                        "`{}` is defined twice in the model `{}`.",
                        name.name, model.name.name
                    ),
                )
                .with_primary(name.span, "defined again here");
                if let Some(p) = prev_span {
                    d = d.with_secondary(p, "first defined here");
                }
                self.report(d.with_help("every name is defined once; rename one of them"));
                continue;
            }
            if let Some(c) = self.file_consts.get(&name.name) {
                let prev = c.decl.name.span;
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!("`{}` is already defined at file level.", name.name),
                    )
                    .with_primary(name.span, "defined again here")
                    .with_secondary(prev, "file-level definition")
                    .with_help("every name is defined once; rename one of them"),
                );
                continue;
            }
            member_of.insert(name.name.clone(), idx);
            let Some(env) = self.model.as_mut() else {
                continue;
            };
            let (what, kind) = match &m.kind {
                MemberKind::Const(d) => {
                    env.consts.insert(
                        d.name.name.clone(),
                        ConstEntry {
                            decl: d,
                            value: None,
                        },
                    );
                    (MemberRef::Const, DefKind::Const)
                }
                MemberKind::Param(_) => {
                    env.params.push(None);
                    (
                        MemberRef::Param(ParamId(env.params.len() as u32 - 1)),
                        DefKind::Param,
                    )
                }
                MemberKind::State(_) => {
                    env.states.push(None);
                    env.der_seen.push(None);
                    (
                        MemberRef::State(StateId(env.states.len() as u32 - 1)),
                        DefKind::State,
                    )
                }
                // Ids of lets and outputs follow the dependency order (assigned later).
                MemberKind::Let(_) => (MemberRef::Let(LetId(u32::MAX)), DefKind::Let),
                MemberKind::Output(_) => (MemberRef::Output(OutputId(u32::MAX)), DefKind::Output),
                MemberKind::Domain(_) => {
                    env.domains.push(None);
                    (
                        MemberRef::Domain(DomainId(env.domains.len() as u32 - 1)),
                        DefKind::Domain,
                    )
                }
                MemberKind::Net(_) => {
                    env.nets.push(None);
                    (
                        MemberRef::Net(NetId(env.nets.len() as u32 - 1)),
                        DefKind::Net,
                    )
                }
                MemberKind::Residual(_) => {
                    env.residuals.push(None);
                    (
                        MemberRef::Residual(ResidualId(env.residuals.len() as u32 - 1)),
                        DefKind::Residual,
                    )
                }
                MemberKind::Data(_) => {
                    env.data.push(None);
                    (
                        MemberRef::Data(DataId(env.data.len() as u32 - 1)),
                        DefKind::Data,
                    )
                }
                MemberKind::Circuit(_) => {
                    env.circuits.push(None);
                    (
                        MemberRef::Circuit(CircuitId(env.circuits.len() as u32 - 1)),
                        DefKind::Circuit,
                    )
                }
                MemberKind::Observable(_) => {
                    env.observables.push(None);
                    (
                        MemberRef::Observable(ObservableId(env.observables.len() as u32 - 1)),
                        DefKind::Observable,
                    )
                }
                MemberKind::Fn(f) => {
                    env.fns.insert(
                        f.name.name.clone(),
                        FnEntry {
                            decl: f,
                            model: Some(model.name.name.clone()),
                            sig: None,
                            broken: false,
                        },
                    );
                    (MemberRef::Fn, DefKind::Fn)
                }
                _ => continue,
            };
            env.names.insert(name.name.clone(), (what, name.span));
            self.define(&name.name, kind, name.span, None);
        }
        member_of
    }

    /// Sorts the members by their dependencies, reporting cycles. Also returns the let and
    /// output members in that order.
    fn order_members(
        &mut self,
        model: &'f ast::Model,
        member_of: &HashMap<String, usize>,
    ) -> (Vec<usize>, Vec<usize>) {
        let members = &model.members;
        let mut graph = Graph::new(members.len());
        let mut der_of: HashMap<&str, usize> = HashMap::new();
        for (idx, m) in members.iter().enumerate() {
            if let MemberKind::Der(eq) = &m.kind {
                der_of.entry(eq.target.name.as_str()).or_insert(idx);
            }
        }
        for (idx, m) in members.iter().enumerate() {
            let refs = member_refs(m, members);
            for r in refs {
                let target = if r.der {
                    der_of.get(r.name.as_str()).copied()
                } else {
                    member_of.get(&r.name).copied()
                };
                if let Some(t) = target {
                    graph.add(idx, t, r.span);
                }
            }
        }
        let (order, cycles) = graph.order();
        for cycle in cycles {
            self.report_cycle(&cycle, |i| {
                members
                    .get(i)
                    .and_then(member_name)
                    .map(|n| (n.name.clone(), n.span))
                    .or_else(|| {
                        members.get(i).and_then(|m| match &m.kind {
                            MemberKind::Der(eq) => {
                                Some((format!("der({})", eq.target.name), eq.target.span))
                            }
                            _ => None,
                        })
                    })
            });
            for (i, _) in &cycle {
                if let Some(MemberKind::Fn(f)) = members.get(*i).map(|m| &m.kind)
                    && let Some(e) = self
                        .model
                        .as_mut()
                        .and_then(|e| e.fns.get_mut(&f.name.name))
                {
                    e.broken = true;
                }
            }
        }
        let lets_outputs = order
            .iter()
            .copied()
            .filter(|&i| {
                matches!(
                    members.get(i).map(|m| &m.kind),
                    Some(MemberKind::Let(_) | MemberKind::Output(_))
                )
            })
            .collect();
        (order, lets_outputs)
    }

    /// Reports one dependency cycle.
    pub fn report_cycle(
        &mut self,
        cycle: &[(usize, Span)],
        name: impl Fn(usize) -> Option<(String, Span)>,
    ) {
        let names: Vec<(String, Span)> = cycle.iter().filter_map(|(i, _)| name(*i)).collect();
        let Some((first, first_span)) = names.first().cloned() else {
            return;
        };
        let mut chain: Vec<String> = names.iter().map(|(n, _)| format!("`{n}`")).collect();
        chain.push(format!("`{first}`"));
        let message = if names.len() == 1 {
            format!("`{first}` is defined in terms of itself.")
        } else {
            format!(
                "These definitions depend on each other in a cycle: {}.",
                chain.join(" → ")
            )
        };
        let mut d = Diagnostic::error("E0203", message)
            .with_primary(first_span, format!("`{first}` is defined here"));
        for (k, (_, use_span)) in cycle.iter().enumerate() {
            let user = names.get(k).map(|n| n.0.clone()).unwrap_or_default();
            let used = names
                .get((k + 1) % names.len())
                .map(|n| n.0.clone())
                .unwrap_or_default();
            d = d.with_secondary(*use_span, format!("`{user}` uses `{used}` here"));
        }
        self.report(d.with_help(
            "definitions cannot depend on themselves; break the cycle by writing one of them out",
        ));
    }

    fn assign_let_output_ids(&mut self, model: &ast::Model, order: &[usize]) {
        let Some(env) = self.model.as_mut() else {
            return;
        };
        for &i in order {
            let Some(m) = model.members.get(i) else {
                continue;
            };
            let (name, is_let) = match &m.kind {
                MemberKind::Let(d) => (&d.name.name, true),
                MemberKind::Output(d) => (&d.name.name, false),
                _ => continue,
            };
            let Some(entry) = env.names.get_mut(name) else {
                continue;
            };
            if entry.1 != member_name(m).map_or(entry.1, |n| n.span) {
                continue;
            }
            if is_let {
                entry.0 = MemberRef::Let(LetId(env.lets.len() as u32));
                env.lets.push(None);
            } else {
                entry.0 = MemberRef::Output(OutputId(env.outputs.len() as u32));
                env.outputs.push(None);
            }
        }
    }

    /// The id a member was given (`None` for duplicates, which were reported).
    fn member_ref(&self, name: &ast::Ident) -> Option<MemberRef> {
        let (what, span) = *self.model.as_ref()?.names.get(&name.name)?;
        (span == name.span).then_some(what)
    }

    fn check_member(&mut self, m: &'f Member) {
        match &m.kind {
            MemberKind::Const(d) => {
                if self.member_ref(&d.name).is_some() {
                    self.check_const(d, true);
                }
            }
            MemberKind::Param(d) => {
                if let Some(MemberRef::Param(id)) = self.member_ref(&d.name) {
                    self.check_param(id, d);
                }
            }
            MemberKind::State(d) => {
                if let Some(MemberRef::State(id)) = self.member_ref(&d.name) {
                    self.check_state(id, d);
                }
            }
            MemberKind::Let(d) => {
                if let Some(MemberRef::Let(id)) = self.member_ref(&d.name) {
                    self.check_let(id, d);
                }
            }
            MemberKind::Output(d) => {
                if let Some(MemberRef::Output(id)) = self.member_ref(&d.name) {
                    self.check_output(id, d);
                }
            }
            MemberKind::Der(eq) => self.check_der(eq, m.span),
            MemberKind::When(w) => self.check_when(w, m.span),
            MemberKind::Algebraic(e) => self.check_algebraic(e, m.span),
            // Expanded by `crate::flatten` before checking.
            MemberKind::Component(_) => {}
            MemberKind::Domain(dom) => {
                if let Some(MemberRef::Domain(id)) = self.member_ref(&dom.name) {
                    self.check_domain(id, dom, m.span);
                }
            }
            MemberKind::Net(n) => {
                if let Some(MemberRef::Net(id)) = self.member_ref(&n.name) {
                    self.check_net(id, n, m.span);
                }
            }
            MemberKind::Residual(r) => {
                if let Some(MemberRef::Residual(id)) = self.member_ref(&r.name) {
                    self.check_residual(id, r, m.span);
                }
            }
            MemberKind::Data(d) => {
                if let Some(MemberRef::Data(id)) = self.member_ref(&d.name) {
                    self.check_data(id, d, m.span);
                }
            }
            MemberKind::Loss(l) => self.check_loss(l, m.span),
            MemberKind::Circuit(c) => {
                if let Some(MemberRef::Circuit(id)) = self.member_ref(&c.name) {
                    self.check_circuit(id, c, m.span);
                }
            }
            MemberKind::Observable(o) => {
                if let Some(MemberRef::Observable(id)) = self.member_ref(&o.name) {
                    self.check_observable(id, o, m.span);
                }
            }
            MemberKind::Fn(f) => {
                if self.member_ref(&f.name).is_some() {
                    self.check_fn(&FnRef::Model(f.name.name.clone()));
                }
            }
            MemberKind::Use(_) => {}
        }
    }

    /// Warns about parameters, constants, `let`s, networks, domains and data sets that
    /// nothing uses (only for models without errors, where every use was recorded).
    fn warn_unused(&mut self, model: &ast::Model) {
        let used: std::collections::HashSet<Span> =
            self.info.references.iter().map(|(_, d)| *d).collect();
        for m in &model.members {
            let (what, name) = match &m.kind {
                MemberKind::Param(d) => ("parameter", &d.name),
                MemberKind::Const(d) => ("constant", &d.name),
                MemberKind::Let(d) => ("`let`", &d.name),
                MemberKind::Net(n) => ("network", &n.name),
                // A domain over time alone is the span `sci run` integrates over.
                MemberKind::Domain(d) if is_time_span(d) => continue,
                MemberKind::Domain(d) => ("domain", &d.name),
                MemberKind::Data(d) => ("data set", &d.name),
                _ => continue,
            };
            if used.contains(&name.span) || name.name.starts_with('_') {
                continue;
            }
            self.report(
                Diagnostic::warning(
                    "W0201",
                    format!("The {what} `{}` is never used.", name.name),
                )
                .with_primary(name.span, "defined here but not used")
                .with_help("remove it, or start its name with `_` if it is meant to be unused"),
            );
        }
    }

    /// Rules about the model as a whole.
    fn model_rules(&mut self, model: &ast::Model) {
        let Some(env) = self.model.as_ref() else {
            return;
        };
        let mut missing = Vec::new();
        for (i, seen) in env.der_seen.iter().enumerate() {
            if seen.is_none()
                && let Some(Some(st)) = env.states.get(i)
            {
                let idx = if st.shape.is_empty() {
                    String::new()
                } else {
                    let vars: Vec<&str> = ["i", "j", "k", "l"]
                        .iter()
                        .take(st.shape.len())
                        .copied()
                        .collect();
                    format!("[{}]", vars.join(", "))
                };
                missing.push((st.name.clone(), st.span, idx));
            }
        }
        let residual = model
            .members
            .iter()
            .find(|m| matches!(m.kind, MemberKind::Residual(_)))
            .map(|m| m.span);
        let has_loss = env.loss_span.is_some();
        // With algebraic equations, the states without `der` are the algebraic ones.
        if !env.algebraic.is_empty() {
            self.algebraic_rules();
            missing.clear();
        }
        for (name, span, idx) in missing {
            self.report(
                Diagnostic::error(
                    "E0211",
                    format!("The state `{name}` has no `der` equation."),
                )
                .with_primary(span, "state without a time derivative")
                .with_help(format!(
                    "add `der({name}{idx}) = …`, or make it a `let` if it is not integrated in \
                     time (or an algebraic state, determined by an equation `0 = …`)"
                )),
            );
        }
        if let Some(span) = residual
            && !has_loss
        {
            self.report(
                Diagnostic::error(
                    "E0218",
                    format!("The model `{}` has residuals but no loss.", model.name.name),
                )
                .with_primary(span, "residual here")
                .with_help("add a loss combining the residuals, e.g. `loss = mean(r^2)`"),
            );
        }
    }
}

/// Calls `f` on each direct child of `h`.
pub fn visit_children(h: &HExpr, f: &mut dyn FnMut(&HExpr)) {
    match &h.kind {
        HExprKind::Array(items) => items.iter().for_each(&mut *f),
        HExprKind::Unary(_, a)
        | HExprKind::Powi(a, _)
        | HExprKind::ToReal(a)
        | HExprKind::ReduceAll(_, a)
        | HExprKind::ReduceBatch(_, a)
        | HExprKind::Transpose(a)
        | HExprKind::Rfft(a, _)
        | HExprKind::Irfft(a, _)
        | HExprKind::Rfft2(a, _)
        | HExprKind::Irfft2(a, _) => f(a),
        HExprKind::Binary(_, a, b)
        | HExprKind::Compare(_, a, b)
        | HExprKind::Dot(a, b)
        | HExprKind::MatVec(a, b)
        | HExprKind::MatMul(a, b) => {
            f(a);
            f(b);
        }
        HExprKind::Select(c, a, b) => {
            f(c);
            f(a);
            f(b);
        }
        HExprKind::Index { base, indices, .. } => {
            f(base);
            indices.iter().for_each(&mut *f);
        }
        HExprKind::Reduce { body, .. } => f(body),
        HExprKind::Call { args, .. } | HExprKind::Net { args, .. } => args.iter().for_each(&mut *f),
        HExprKind::Deriv { of, .. } => f(of),
        _ => {}
    }
}

/// The free names of a member's expressions, with what each binds.
fn member_refs(m: &Member, members: &[Member]) -> Vec<NameRef> {
    let mut out = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    let decl_refs = |d: &Decl, out: &mut Vec<NameRef>| {
        let mut bound = Vec::new();
        for b in &d.index {
            free_names(&b.start, &mut bound, out);
            free_names(&b.end, &mut bound, out);
        }
        if let Some(ann) = &d.ty {
            for e in ann.tensor.iter().flatten() {
                free_names(e, &mut bound, out);
            }
        }
        bound.extend(d.index.iter().map(|b| b.var.name.clone()));
        free_names(&d.value, &mut bound, out);
    };
    match &m.kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => decl_refs(d, &mut out),
        MemberKind::Der(eq) => {
            out.push(NameRef {
                name: eq.target.name.clone(),
                span: eq.target.span,
                der: false,
            });
            bound.extend(eq.indices.iter().map(|i| i.name.clone()));
            free_names(&eq.value, &mut bound, &mut out);
        }
        MemberKind::Algebraic(e) => free_names(e, &mut bound, &mut out),
        MemberKind::Component(c) => {
            for b in &c.bindings {
                free_names(&b.value, &mut bound, &mut out);
            }
        }
        MemberKind::When(w) => {
            free_names(&w.condition, &mut bound, &mut out);
            for a in &w.actions {
                free_names(a, &mut bound, &mut out);
            }
        }
        MemberKind::Domain(d) => {
            for dim in &d.dims {
                free_names(&dim.lo, &mut bound, &mut out);
                free_names(&dim.hi, &mut bound, &mut out);
            }
        }
        MemberKind::Net(n) => {
            if let ExprKind::Call { args, .. } = &n.arch.kind {
                for a in args {
                    // `activation: tanh` names a function, not a definition.
                    if a.name.as_ref().is_some_and(|k| k.name == "activation") {
                        continue;
                    }
                    free_names(&a.value, &mut bound, &mut out);
                }
            }
        }
        MemberKind::Residual(r) => {
            out.push(NameRef {
                name: r.domain.name.clone(),
                span: r.domain.span,
                der: false,
            });
            for mem in members {
                if let MemberKind::Domain(d) = &mem.kind
                    && d.name.name == r.domain.name
                {
                    bound.extend(d.dims.iter().map(|x| x.var.name.clone()));
                    break;
                }
            }
            if let Some(c) = &r.condition {
                free_names(c, &mut bound, &mut out);
            }
            for o in &r.options {
                if o.key.name != "sampling" {
                    free_names(&o.value, &mut bound, &mut out);
                }
            }
            free_names(&r.value, &mut bound, &mut out);
        }
        MemberKind::Loss(l) => free_names(&l.value, &mut bound, &mut out),
        MemberKind::Circuit(c) => {
            for o in &c.options {
                free_names(&o.value, &mut bound, &mut out);
            }
            for stmt in &c.body {
                circuit_refs(stmt, &mut bound, &mut out);
            }
        }
        MemberKind::Observable(o) => free_names(&o.value, &mut bound, &mut out),
        MemberKind::Data(_) | MemberKind::Use(_) => {}
        MemberKind::Fn(f) => fn_refs(f, &mut out),
    }
    out
}

/// The free names of a circuit statement (a loop binds its index in its body).
fn circuit_refs(stmt: &ast::CircuitStmt, bound: &mut Vec<String>, out: &mut Vec<NameRef>) {
    match stmt {
        ast::CircuitStmt::Gate(e) => free_names(e, bound, out),
        ast::CircuitStmt::For { binder, body, .. } => {
            free_names(&binder.start, bound, out);
            free_names(&binder.end, bound, out);
            bound.push(binder.var.name.clone());
            for s in body {
                circuit_refs(s, bound, out);
            }
            bound.pop();
        }
    }
}

/// The free names of a function (its parameters and shape variables are bound).
pub fn fn_refs(f: &ast::FnDecl, out: &mut Vec<NameRef>) {
    let mut bound: Vec<String> = f.params.iter().map(|p| p.name.name.clone()).collect();
    let mut dims: Vec<&Expr> = Vec::new();
    for p in &f.params {
        if let Some(ann) = &p.ty {
            dims.extend(ann.tensor.iter().flatten());
        }
    }
    if let Some(ann) = &f.result {
        dims.extend(ann.tensor.iter().flatten());
    }
    for e in dims {
        free_names(e, &mut Vec::new(), out);
        if let ExprKind::Name(id) = &e.kind {
            bound.push(id.name.clone());
        }
    }
    free_names(&f.body, &mut bound, out);
}

/// The model's HIR, if every part checked.
fn build(env: ModelEnv<'_>, span: Span) -> Option<ModelHir> {
    let params = env.params.into_iter().collect::<Option<Vec<_>>>()?;
    let states = env.states.into_iter().collect::<Option<Vec<_>>>()?;
    let algebraic_states = env.algebraic_states;
    if (states.iter().enumerate())
        .any(|(i, s)| s.rhs.is_none() && !algebraic_states.iter().any(|a| a.index() == i))
    {
        return None;
    }
    let lets = env
        .lets
        .into_iter()
        .map(|l| l.map(|s| s.hir))
        .collect::<Option<Vec<_>>>()?;
    let outputs = env.outputs.into_iter().collect::<Option<Vec<_>>>()?;
    let domains = env.domains.into_iter().collect::<Option<Vec<_>>>()?;
    let nets = env.nets.into_iter().collect::<Option<Vec<_>>>()?;
    let residuals = env.residuals.into_iter().collect::<Option<Vec<_>>>()?;
    let data = env.data.into_iter().collect::<Option<Vec<_>>>()?;
    let circuits = env.circuits.into_iter().collect::<Option<Vec<_>>>()?;
    let observables = env.observables.into_iter().collect::<Option<Vec<_>>>()?;
    if !residuals.is_empty() && env.loss.is_none() {
        return None;
    }
    Some(ModelHir {
        name: env.name,
        span,
        consts: env.const_list,
        params,
        states,
        lets,
        outputs,
        domains,
        nets,
        residuals,
        data,
        loss: env.loss,
        time_unit: env.time_unit,
        events: env.events,
        inputs: env.inputs,
        unloaded_inputs: env.unloaded_inputs,
        algebraic: env.algebraic.into_iter().map(|(h, _)| h).collect(),
        algebraic_states,
        components: Vec::new(),
        circuits,
        observables,
    })
}

/// True for a domain with the one coordinate `t`: an ODE model's time span
/// (`domain time: t in [0, 40]`), which the runtime reads.
pub(crate) fn is_time_span(d: &ast::Domain) -> bool {
    matches!(d.dims.as_slice(), [dim] if dim.var.name == "t")
}
