//! Members of loss models: domains, networks, data sets, residuals and the loss.
//!
//! A residual's `where` clause is normalised to [`FixedCoord`]s: a conjunction (`and`) of
//! disjunctions (`or`) of `coordinate == constant`; each disjunction is one `FixedCoord`
//! whose alternatives may fix different coordinates (`x == 0 or y == 1`).

use super::DefKind;
use super::env::{Checker, Ctx, Local, MemberRef, Scope};
use super::expr::fmt_value;
use super::ops::to_real;
use super::suggest::did_you_mean;
use crate::ast::{self, BinaryOp, Expr, ExprKind};
use crate::builtins::{self, BuiltinKind};
use crate::hir::{
    Activation, BatchKind, CoordHir, DataHir, DeepOnetHir, DomainHir, FixedCoord, FnoHir, NetHir,
    OperatorHir, ResidualHir, ResidualId, Sampling, Scalar, Ty,
};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;

/// Deepest `and`/`or` nesting followed in a `where` clause.
const MAX_WHERE_DEPTH: u32 = 64;

impl<'f> Checker<'f> {
    /// A scope for a member of the current model.
    pub fn member_scope(&mut self, ctx: Ctx) {
        let units_on = self.model.as_ref().is_some_and(|m| m.units_on);
        let next = self.model.as_ref().map_or(0, |m| m.next_binder);
        self.scope = Scope::new(ctx, units_on, true);
        self.scope.next_binder = next;
    }

    /// Ends a member scope, keeping the binder counter.
    pub fn end_member_scope(&mut self) {
        let next = self.scope.next_binder;
        if let Some(m) = self.model.as_mut() {
            m.next_binder = next;
        }
    }

    /// Checks a constant real value (`domain` bounds, options).
    fn const_real(&mut self, e: &Expr, what: &str) -> Option<(f64, super::env::Val)> {
        let v = self.expr(e)?;
        if !self.numeric(&v, what) {
            return None;
        }
        let t = self.fold_val(&v, what)?;
        if !t.shape.is_empty() {
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!(
                        "{what} must be a single number, but it is {}.",
                        fmt_value(&t)
                    ),
                )
                .with_primary(e.span, "not a scalar"),
            );
            return None;
        }
        Some((t.first(), v))
    }

    /// `domain omega: t in [0, 1], x in [-1, 1]`.
    pub fn check_domain(&mut self, id: crate::hir::DomainId, dom: &ast::Domain, span: Span) {
        self.member_scope(Ctx::Const);
        let mut coords: Vec<CoordHir> = Vec::new();
        let mut ok = true;
        for dim in &dom.dims {
            if let Some(prev) = dom
                .dims
                .iter()
                .take_while(|d| !std::ptr::eq(*d, dim))
                .find(|d| d.var.name == dim.var.name)
            {
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!(
                            "The coordinate `{}` appears twice in the domain `{}`.",
                            dim.var.name, dom.name.name
                        ),
                    )
                    .with_primary(dim.var.span, "again here")
                    .with_secondary(prev.var.span, "first here"),
                );
                ok = false;
                continue;
            }
            if let Some(u) = &dim.unit
                && !super::model::is_time_span(dom)
            {
                self.report(
                    Diagnostic::error(
                        "E0408",
                        "A unit after an interval declares the model's time unit, so it belongs \
                         on the time span only (`domain time: t in [0, 160] day`).",
                    )
                    .with_primary(u.span(), "not on a time span")
                    .with_help("remove the unit; the coordinates of a domain are plain numbers"),
                );
                ok = false;
                continue;
            }
            let lo = self.const_real(&dim.lo, "A domain bound");
            let hi = self.const_real(&dim.hi, "A domain bound");
            let (Some((lo, mut vlo)), Some((hi, mut vhi))) = (lo, hi) else {
                ok = false;
                continue;
            };
            if !self.same_units("use as the bounds of one coordinate", &mut vlo, &mut vhi) {
                ok = false;
                continue;
            }
            if lo >= hi || lo.is_nan() || hi.is_nan() {
                self.report(
                    Diagnostic::error(
                        "E0309",
                        format!("The interval [{lo}, {hi}] of `{}` is empty.", dim.var.name),
                    )
                    .with_primary(dim.span, "empty interval")
                    .with_help("write the lower bound first: `x in [lo, hi]` with lo < hi"),
                );
                ok = false;
                continue;
            }
            let unit = if vlo.flex {
                vhi.ty().unit
            } else {
                vlo.ty().unit
            };
            let unit = self.adapt_unit(unit);
            self.define(
                &dim.var.name,
                DefKind::Coord,
                dim.var.span,
                Some(Ty::real(unit)),
            );
            coords.push(CoordHir {
                name: dim.var.name.clone(),
                lo,
                hi,
                unit,
            });
        }
        self.end_member_scope();
        if dom.dims.is_empty() {
            self.report(
                Diagnostic::error(
                    "E0309",
                    format!("The domain `{}` has no coordinates.", dom.name.name),
                )
                .with_primary(dom.name.span, "empty domain")
                .with_help("write `domain omega: x in [0, 1]`"),
            );
            ok = false;
        }
        if ok
            && let Some(slot) = self
                .model
                .as_mut()
                .and_then(|m| m.domains.get_mut(id.index()))
        {
            *slot = Some(DomainHir {
                name: dom.name.name.clone(),
                coords,
                span,
            });
        }
    }

    /// `net u(t, x) = mlp(hidden: [20, 20], activation: tanh, outputs: 1, seed: 0, init: he)`.
    pub fn check_net(&mut self, id: crate::hir::NetId, net: &ast::Net, span: Span) {
        self.member_scope(Ctx::Const);
        let hir = self.net_arch(net, span);
        self.end_member_scope();
        if let Some(h) = hir
            && let Some(slot) = self.model.as_mut().and_then(|m| m.nets.get_mut(id.index()))
        {
            *slot = Some(h);
        }
    }

    fn net_arch(&mut self, net: &ast::Net, span: Span) -> Option<NetHir> {
        let mut ok = true;
        for (k, a) in net.args.iter().enumerate() {
            if let Some(prev) = net
                .args
                .get(..k)
                .and_then(|p| p.iter().find(|b| b.name == a.name))
            {
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!(
                            "The input `{}` of the network `{}` is declared twice.",
                            a.name, net.name.name
                        ),
                    )
                    .with_primary(a.span, "again here")
                    .with_secondary(prev.span, "first here"),
                );
                ok = false;
            }
        }
        if net.args.is_empty() {
            self.report(
                Diagnostic::error(
                    "E0224",
                    format!("The network `{}` has no inputs.", net.name.name),
                )
                .with_primary(net.name.span, "no inputs")
                .with_help(format!(
                    "name its inputs: `net {}(x) = mlp(…)`",
                    net.name.name
                )),
            );
            ok = false;
        }
        let ExprKind::Call { callee, args } = &net.arch.kind else {
            self.report(
                Diagnostic::error("E0224", "A network is defined by a constructor call such as `mlp(hidden: [20, 20], activation: tanh)`.")
                    .with_primary(net.arch.span, "not a network constructor"),
            );
            return None;
        };
        let plain = callee.name.strip_prefix("nn.").unwrap_or(&callee.name);
        let Some(b) = builtins::lookup(plain).filter(|b| {
            matches!(
                b.kind,
                BuiltinKind::Mlp | BuiltinKind::Fno | BuiltinKind::DeepOnet
            )
        }) else {
            self.report(
                Diagnostic::error(
                    "E0224",
                    format!("`{}` is not a network constructor.", callee.name),
                )
                .with_primary(callee.span, "unknown network kind")
                .with_help("the network constructors are: mlp and fno (from `use nn.{mlp, fno}`)"),
            );
            return None;
        };
        if !callee.name.starts_with("nn.") && !self.is_imported(b.name) {
            self.missing_import(b, callee.span);
            ok = false;
        }
        if matches!(b.kind, BuiltinKind::Fno | BuiltinKind::DeepOnet) {
            let operator = if b.kind == BuiltinKind::Fno {
                self.fno_options(net, args)
                    .map(|(f, seed)| (OperatorHir::Fno(f), seed))
            } else {
                self.deeponet_options(net, args)
                    .map(|(d, seed)| (OperatorHir::DeepOnet(d), seed))
            };
            return (ok && operator.is_some()).then(|| NetHir {
                name: net.name.name.clone(),
                inputs: net.args.iter().map(|a| a.name.clone()).collect(),
                hidden: Vec::new(),
                outputs: 1,
                activation: Activation::Gelu,
                seed: operator.as_ref().map_or(0, |o| o.1),
                init: crate::hir::Init::Glorot,
                operator: operator.map(|o| o.0),
                span,
            });
        }
        let mut hidden = None;
        let mut activation = Activation::Tanh;
        let mut outputs = 1usize;
        let mut seed = 0u64;
        let mut init = crate::hir::Init::Glorot;
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for a in args {
            let Some(key) = &a.name else {
                self.report(
                    Diagnostic::error("E0305", "The options of `mlp` are named: `mlp(hidden: [20, 20], activation: tanh)`.")
                        .with_primary(a.value.span, "unnamed argument"),
                );
                ok = false;
                continue;
            };
            if let Some((_, prev)) = seen.iter().find(|(n, _)| *n == key.name) {
                self.report(
                    Diagnostic::error(
                        "E0219",
                        format!("The option `{}` is given twice.", key.name),
                    )
                    .with_primary(key.span, "again here")
                    .with_secondary(*prev, "first here"),
                );
                ok = false;
                continue;
            }
            seen.push((key.name.as_str(), key.span));
            match key.name.as_str() {
                "hidden" => hidden = self.hidden_sizes(&a.value),
                "activation" => match &a.value.kind {
                    ExprKind::Name(id) if builtins::activation(&id.name).is_some() => {
                        activation = builtins::activation(&id.name).unwrap_or(Activation::Tanh);
                    }
                    _ => {
                        let names: Vec<&str> =
                            builtins::ACTIVATIONS.iter().map(|(n, _)| *n).collect();
                        let mut d = Diagnostic::error("E0224", "Unknown activation function.")
                            .with_primary(a.value.span, "not an activation")
                            .with_note(format!("the activations are: {}", names.join(", ")));
                        if let ExprKind::Name(id) = &a.value.kind
                            && let Some(s) = did_you_mean(&id.name, names.iter().copied())
                        {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        self.report(d);
                        ok = false;
                    }
                },
                "outputs" => match self.const_int(&a.value, "The number of outputs") {
                    Some(n) if n >= 1 => outputs = n as usize,
                    Some(n) => {
                        self.report(
                            Diagnostic::error(
                                "E0224",
                                format!("A network needs at least one output, not {n}."),
                            )
                            .with_primary(a.value.span, format!("= {n}")),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "seed" => match self.const_int(&a.value, "The seed") {
                    Some(n) if n >= 0 => seed = n as u64,
                    Some(n) => {
                        self.report(
                            Diagnostic::error(
                                "E0224",
                                format!("The seed must be a whole number ≥ 0, not {n}."),
                            )
                            .with_primary(a.value.span, format!("= {n}")),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "init" => match &a.value.kind {
                    ExprKind::Name(id) if builtins::init(&id.name).is_some() => {
                        init = builtins::init(&id.name).unwrap_or_default();
                    }
                    _ => {
                        let names: Vec<&str> = builtins::INITS.iter().map(|(n, _)| *n).collect();
                        let mut d = Diagnostic::error("E0224", "Unknown weight initialisation.")
                            .with_primary(a.value.span, "not an initialisation")
                            .with_note(format!("the initialisations are: {}", names.join(", ")));
                        if let ExprKind::Name(id) = &a.value.kind
                            && let Some(s) = did_you_mean(&id.name, names.iter().copied())
                        {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        self.report(d);
                        ok = false;
                    }
                },
                other => {
                    let mut d =
                        Diagnostic::error("E0219", format!("`mlp` has no option `{other}`."))
                            .with_primary(key.span, "unknown option")
                            .with_note(format!(
                                "its options are: {}",
                                builtins::MLP_OPTIONS.join(", ")
                            ));
                    if let Some(s) = did_you_mean(other, builtins::MLP_OPTIONS.iter().copied()) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.report(d);
                    ok = false;
                }
            }
        }
        if !seen.iter().any(|(n, _)| *n == "hidden") {
            self.report(
                Diagnostic::error("E0224", "`mlp` needs the sizes of its hidden layers.")
                    .with_primary(net.arch.span, "no `hidden` option")
                    .with_help("add `hidden: [20, 20]`"),
            );
            ok = false;
        }
        let hidden = hidden?;
        ok.then(|| NetHir {
            name: net.name.name.clone(),
            inputs: net.args.iter().map(|a| a.name.clone()).collect(),
            hidden,
            outputs,
            activation,
            seed,
            init,
            operator: None,
            span,
        })
    }

    /// The options of `deeponet(branch: [128, 128], trunk: [128, 128], features: 128,
    /// activation: tanh, seed: 0)` and its seed; one input, the function on the grid.
    fn deeponet_options(
        &mut self,
        net: &ast::Net,
        args: &[ast::Arg],
    ) -> Option<(DeepOnetHir, u64)> {
        let mut ok = self.one_operator_input(net);
        let mut d = DeepOnetHir {
            branch: vec![128, 128],
            trunk: vec![128, 128],
            features: 128,
            activation: Activation::Tanh,
            grids: Vec::new(),
        };
        let mut seed = 0u64;
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for a in args {
            let Some(key) = &a.name else {
                self.report(
                    Diagnostic::error("E0305", "The options of `deeponet` are named: `deeponet(branch: [128, 128], trunk: [128, 128])`.")
                        .with_primary(a.value.span, "unnamed argument"),
                );
                ok = false;
                continue;
            };
            if let Some((_, prev)) = seen.iter().find(|(n, _)| *n == key.name) {
                self.report(
                    Diagnostic::error(
                        "E0219",
                        format!("The option `{}` is given twice.", key.name),
                    )
                    .with_primary(key.span, "again here")
                    .with_secondary(*prev, "first here"),
                );
                ok = false;
                continue;
            }
            seen.push((key.name.as_str(), key.span));
            match key.name.as_str() {
                "branch" => match self.hidden_sizes(&a.value) {
                    Some(sizes) => d.branch = sizes,
                    None => ok = false,
                },
                "trunk" => match self.hidden_sizes(&a.value) {
                    Some(sizes) => d.trunk = sizes,
                    None => ok = false,
                },
                "features" => match self.const_int(&a.value, "The number of features") {
                    Some(n) if (1..=100_000).contains(&n) => d.features = n as usize,
                    Some(n) => {
                        self.report(
                            Diagnostic::error(
                                "E0224",
                                format!("The number of features must be a whole number from 1 to 100000, not {n}."),
                            )
                            .with_primary(a.value.span, format!("= {n}")),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "activation" => match &a.value.kind {
                    ExprKind::Name(id) if builtins::activation(&id.name).is_some() => {
                        d.activation = builtins::activation(&id.name).unwrap_or(Activation::Tanh);
                    }
                    _ => {
                        let names: Vec<&str> =
                            builtins::ACTIVATIONS.iter().map(|(n, _)| *n).collect();
                        self.report(
                            Diagnostic::error("E0224", "Unknown activation function.")
                                .with_primary(a.value.span, "not an activation")
                                .with_note(format!("the activations are: {}", names.join(", "))),
                        );
                        ok = false;
                    }
                },
                "seed" => match self.const_int(&a.value, "The seed") {
                    Some(n) if n >= 0 => seed = n as u64,
                    Some(n) => {
                        self.report(
                            Diagnostic::error(
                                "E0224",
                                format!("The seed must be a whole number ≥ 0, not {n}."),
                            )
                            .with_primary(a.value.span, format!("= {n}")),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                other => {
                    let mut diag =
                        Diagnostic::error("E0219", format!("`deeponet` has no option `{other}`."))
                            .with_primary(key.span, "unknown option")
                            .with_note(format!(
                                "its options are: {}",
                                builtins::DEEPONET_OPTIONS.join(", ")
                            ));
                    if let Some(s) = did_you_mean(other, builtins::DEEPONET_OPTIONS.iter().copied())
                    {
                        diag = diag.with_help(format!("did you mean `{s}`?"));
                    }
                    self.report(diag);
                    ok = false;
                }
            }
        }
        ok.then_some((d, seed))
    }

    /// An operator declares one input, the function on the grid; reports otherwise.
    fn one_operator_input(&mut self, net: &ast::Net) -> bool {
        if net.args.len() <= 1 {
            return true;
        }
        self.report(
            Diagnostic::error(
                "E0224",
                format!(
                    "A neural operator takes one input, a function on a grid, but `{}` declares {}.",
                    net.name.name,
                    net.args.len()
                ),
            )
            .with_primary(net.name.span, "several inputs")
            .with_help(format!(
                "declare one: `net {}(a) = …`, called as `{}(data.a)`",
                net.name.name, net.name.name
            )),
        );
        false
    }

    /// The options of `fno(modes: 16, width: 64, layers: 4, projection: 128, seed: 0)` and
    /// its seed; the operator takes one input, the function on the grid.
    fn fno_options(&mut self, net: &ast::Net, args: &[ast::Arg]) -> Option<(FnoHir, u64)> {
        let mut ok = self.one_operator_input(net);
        let mut fno = FnoHir {
            modes: 16,
            width: 64,
            layers: 4,
            projection: 128,
            grids: Vec::new(),
        };
        let mut seed = 0u64;
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for a in args {
            let Some(key) = &a.name else {
                self.report(
                    Diagnostic::error(
                        "E0305",
                        "The options of `fno` are named: `fno(modes: 16, width: 64, layers: 4)`.",
                    )
                    .with_primary(a.value.span, "unnamed argument"),
                );
                ok = false;
                continue;
            };
            if let Some((_, prev)) = seen.iter().find(|(n, _)| *n == key.name) {
                self.report(
                    Diagnostic::error(
                        "E0219",
                        format!("The option `{}` is given twice.", key.name),
                    )
                    .with_primary(key.span, "again here")
                    .with_secondary(*prev, "first here"),
                );
                ok = false;
                continue;
            }
            seen.push((key.name.as_str(), key.span));
            let (what, slot) = match key.name.as_str() {
                "modes" => ("The number of modes", &mut fno.modes),
                "width" => ("The width", &mut fno.width),
                "layers" => ("The number of layers", &mut fno.layers),
                "projection" => ("The projection's width", &mut fno.projection),
                "seed" => {
                    match self.const_int(&a.value, "The seed") {
                        Some(n) if n >= 0 => seed = n as u64,
                        Some(n) => {
                            self.report(
                                Diagnostic::error(
                                    "E0224",
                                    format!("The seed must be a whole number ≥ 0, not {n}."),
                                )
                                .with_primary(a.value.span, format!("= {n}")),
                            );
                            ok = false;
                        }
                        None => ok = false,
                    }
                    continue;
                }
                other => {
                    let mut d =
                        Diagnostic::error("E0219", format!("`fno` has no option `{other}`."))
                            .with_primary(key.span, "unknown option")
                            .with_note(format!(
                                "its options are: {}",
                                builtins::FNO_OPTIONS.join(", ")
                            ));
                    if let Some(s) = did_you_mean(other, builtins::FNO_OPTIONS.iter().copied()) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.report(d);
                    ok = false;
                    continue;
                }
            };
            match self.const_int(&a.value, what) {
                Some(n) if (1..=100_000).contains(&n) => *slot = n as usize,
                Some(n) => {
                    self.report(
                        Diagnostic::error(
                            "E0224",
                            format!("{what} must be a whole number from 1 to 100000, not {n}."),
                        )
                        .with_primary(a.value.span, format!("= {n}")),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        ok.then_some((fno, seed))
    }

    /// `hidden: [20, 20]`: positive whole numbers.
    fn hidden_sizes(&mut self, e: &Expr) -> Option<Vec<usize>> {
        let v = self.expr(e)?;
        let t = self.fold_val(&v, "The hidden layer sizes")?;
        let ok_shape =
            t.shape.len() == 1 || (t.shape.is_empty() && matches!(e.kind, ExprKind::Array(_)));
        if !ok_shape
            || t.data
                .iter()
                .any(|x| x.fract() != 0.0 || *x < 1.0 || *x > 1e7)
        {
            self.report(
                Diagnostic::error("E0224", "The hidden layer sizes must be a list of whole numbers ≥ 1, such as `[20, 20]`.")
                    .with_primary(e.span, "invalid layer sizes"),
            );
            return None;
        }
        Some(t.data.iter().map(|x| *x as usize).collect())
    }

    /// `data obs(t: s, prey, pred) = csv("file.csv")`.
    pub fn check_data(&mut self, id: crate::hir::DataId, data: &ast::Data, span: Span) {
        self.member_scope(Ctx::Const);
        let mut ok = true;
        let mut columns: Vec<(String, Option<Unit>)> = Vec::new();
        let mut shapes: Vec<Vec<usize>> = Vec::new();
        for (k, c) in data.columns.iter().enumerate() {
            if let Some(prev) = data
                .columns
                .get(..k)
                .and_then(|p| p.iter().find(|d| d.name.name == c.name.name))
            {
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!("The column `{}` is declared twice.", c.name.name),
                    )
                    .with_primary(c.name.span, "again here")
                    .with_secondary(prev.name.span, "first here"),
                );
                ok = false;
                continue;
            }
            let mut unit = None;
            let mut shape = Vec::new();
            if let Some(ann) = &c.ty {
                for e in ann.tensor.iter().flatten() {
                    match self.const_int(e, "A column's size") {
                        Some(n) if n >= 1 => shape.push(n as usize),
                        Some(n) => {
                            self.report(
                                Diagnostic::error(
                                    "E0309",
                                    format!("A column's size must be at least 1, but this is {n}."),
                                )
                                .with_primary(e.span, format!("= {n}")),
                            );
                            ok = false;
                        }
                        None => ok = false,
                    }
                }
                if let Some(u) = &ann.unit {
                    match crate::units::resolve(u) {
                        Ok(u) => unit = Some(u),
                        Err(ds) => {
                            self.diags.extend(ds);
                            ok = false;
                        }
                    }
                }
            }
            let unit = self.adapt_unit(unit);
            self.define(
                &c.name.name,
                DefKind::Column,
                c.name.span,
                Some(Ty {
                    shape: shape.clone(),
                    ..Ty::real(unit)
                }),
            );
            columns.push((c.name.name.clone(), unit));
            shapes.push(shape);
        }
        let mut format = None;
        let mut paths = Vec::new();
        let mut test = 0usize;
        let mut source_ok = false;
        if let ExprKind::Call { callee, args } = &data.source.kind
            && matches!(
                builtins::lookup(&callee.name).map(|b| b.kind),
                Some(BuiltinKind::Data(_))
            )
        {
            format = builtins::lookup(&callee.name).map(|b| b.kind);
            source_ok = true;
            for a in args {
                match (&a.name, &a.value.kind) {
                    (None, ExprKind::Str(s)) => paths.push(s.clone()),
                    (Some(key), _) if key.name == "test" => {
                        match self.const_int(&a.value, "The number of test rows") {
                            Some(n) if n >= 1 => test = n as usize,
                            Some(n) => {
                                self.report(
                                    Diagnostic::error(
                                        "E0222",
                                        format!("The test set needs at least one row, not {n}."),
                                    )
                                    .with_primary(a.value.span, format!("= {n}")),
                                );
                                ok = false;
                            }
                            None => ok = false,
                        }
                    }
                    (Some(key), _) => {
                        self.report(
                            Diagnostic::error(
                                "E0219",
                                format!("`{}` has no option `{}`.", callee.name, key.name),
                            )
                            .with_primary(key.span, "unknown option")
                            .with_note("its only option is `test: N`, the last N rows held out as a test set"),
                        );
                        ok = false;
                    }
                    _ => source_ok = false,
                }
            }
        }
        self.end_member_scope();
        let path = (source_ok && !paths.is_empty()).then(|| paths[0].clone());
        let shaped = shapes.iter().any(|s| !s.is_empty());
        if paths.len() > 1 || shaped {
            let npy = format == Some(BuiltinKind::Data(builtins::DataFormat::Npy));
            if !npy || paths.len() != data.columns.len() {
                let names: Vec<String> = data
                    .columns
                    .iter()
                    .map(|c| format!("\"{}.npy\"", c.name.name))
                    .collect();
                let (what, label) = if shaped && paths.len() == 1 {
                    (
                        format!(
                            "The data set `{}` has columns with a shape, which are read one file per column.",
                            data.name.name
                        ),
                        "one file for all columns",
                    )
                } else {
                    (
                        format!(
                            "The data set `{}` has {} column(s) but {} file(s): with several files, each column is read from its own .npy file.",
                            data.name.name,
                            data.columns.len(),
                            paths.len()
                        ),
                        "files and columns do not match",
                    )
                };
                self.report(
                    Diagnostic::error("E0222", what)
                        .with_primary(data.source.span, label)
                        .with_note(
                            "file k holds column k of every row: `[rows]` or `[rows, shape…]`",
                        )
                        .with_help(format!("write `npy({})`", names.join(", "))),
                );
                return;
            }
        }
        let Some(path) = path else {
            self.report(
                Diagnostic::error(
                    "E0222",
                    "A data set is read from a file: `csv(\"file.csv\")` or `npy(\"file.npy\")`.",
                )
                .with_primary(data.source.span, "not a data source"),
            );
            return;
        };
        if data.columns.is_empty() {
            if format == Some(BuiltinKind::Data(builtins::DataFormat::Npy)) {
                self.report(
                    Diagnostic::error(
                        "E0222",
                        format!(
                            "The data set `{}` does not name its columns.",
                            data.name.name
                        ),
                    )
                    .with_primary(data.name.span, "no columns")
                    .with_note(
                        "a .npy file has no header, so the columns must be declared in file order",
                    )
                    .with_help(format!(
                        "list them: `data {}(t, y) = npy(…)`",
                        data.name.name
                    )),
                );
                return;
            }
            // A CSV file has a header: the columns are the fields the model uses.
            if let Some(m) = self.model.as_mut() {
                m.open_data.insert(id);
            }
        }
        if ok && let Some(slot) = self.model.as_mut().and_then(|m| m.data.get_mut(id.index())) {
            *slot = Some(DataHir {
                name: data.name.name.clone(),
                path,
                columns,
                shapes,
                paths: if paths.len() > 1 { paths } else { Vec::new() },
                test,
                span,
            });
        }
    }

    /// `residual name on domain where cond, points 256: value`.
    pub fn check_residual(&mut self, rid: ResidualId, r: &ast::Residual, span: Span) {
        let found = self
            .model
            .as_ref()
            .and_then(|m| m.names.get(&r.domain.name))
            .copied();
        let did = match found {
            Some((MemberRef::Domain(d), def)) => {
                self.reference(r.domain.span, def);
                d
            }
            _ => {
                let domains: Vec<String> = self
                    .model
                    .as_ref()
                    .map(|m| {
                        m.names
                            .iter()
                            .filter(|(_, v)| matches!(v.0, MemberRef::Domain(_)))
                            .map(|(n, _)| n.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let mut d = Diagnostic::error(
                    "E0215",
                    format!(
                        "There is no domain called `{}` in this model.",
                        r.domain.name
                    ),
                )
                .with_primary(r.domain.span, "unknown domain");
                d = match did_you_mean(&r.domain.name, domains.iter().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None if domains.is_empty() => {
                        d.with_help("declare one: `domain omega: x in [0, 1]`")
                    }
                    None => d.with_note(format!("the domains are: {}", domains.join(", "))),
                };
                self.report(d);
                return;
            }
        };
        let Some(domain) = self
            .model
            .as_ref()
            .and_then(|m| m.domains.get(did.index()))
            .cloned()
            .flatten()
        else {
            return;
        };
        let coord_spans = self.domain_coord_spans(&r.domain.name);
        self.member_scope(Ctx::Residual(rid));
        for (i, c) in domain.coords.iter().enumerate() {
            self.scope.locals.push(Local::Coord {
                name: c.name.clone(),
                index: i,
                unit: c.unit,
                batch: BatchKind::Residual(rid),
                span: coord_spans.get(i).copied().unwrap_or(span),
            });
        }
        let fixed = match &r.condition {
            Some(c) => self.where_clause(c, &domain),
            None => Some(Vec::new()),
        };
        let options = self.residual_options(r);
        let value = self.expr(&r.value);
        self.end_member_scope();
        let (Some(fixed), Some((points, weight, sampling)), Some(value)) = (fixed, options, value)
        else {
            return;
        };
        if !self.numeric(&value, "A residual") {
            return;
        }
        let value = to_real(value.h);
        if let Some(slot) = self
            .model
            .as_mut()
            .and_then(|m| m.residuals.get_mut(rid.index()))
        {
            *slot = Some(ResidualHir {
                name: r.name.name.clone(),
                domain: did,
                fixed,
                points,
                weight,
                sampling,
                value,
                span,
            });
        }
    }

    /// The name spans of a domain's coordinates, in order.
    fn domain_coord_spans(&self, domain: &str) -> Vec<Span> {
        self.model_members()
            .iter()
            .find_map(|m| match &m.kind {
                ast::MemberKind::Domain(d) if d.name.name == domain => {
                    Some(d.dims.iter().map(|x| x.var.span).collect())
                }
                _ => None,
            })
            .unwrap_or_default()
    }

    fn residual_options(&mut self, r: &ast::Residual) -> Option<(usize, f64, Sampling)> {
        let mut points = builtins::DEFAULT_POINTS;
        let mut weight = 1.0;
        let mut sampling = Sampling::Uniform;
        let mut ok = true;
        let saved_ctx = self.scope.ctx;
        self.scope.ctx = Ctx::Const;
        for (k, o) in r.options.iter().enumerate() {
            if let Some(prev) = r
                .options
                .get(..k)
                .and_then(|p| p.iter().find(|q| q.key.name == o.key.name))
            {
                self.report(
                    Diagnostic::error(
                        "E0219",
                        format!("The option `{}` is given twice.", o.key.name),
                    )
                    .with_primary(o.key.span, "again here")
                    .with_secondary(prev.key.span, "first here"),
                );
                ok = false;
                continue;
            }
            match o.key.name.as_str() {
                "points" => match self.const_int(&o.value, "The number of points") {
                    Some(n) if n >= 1 && n as usize <= super::ops::MAX_ELEMENTS => {
                        points = n as usize
                    }
                    Some(n) => {
                        self.report(
                            Diagnostic::error(
                                "E0312",
                                format!(
                                    "A residual needs between 1 and {} points, not {n}.",
                                    super::ops::MAX_ELEMENTS
                                ),
                            )
                            .with_primary(o.value.span, format!("= {n}")),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "weight" => match self.const_real(&o.value, "The weight") {
                    Some((w, _)) if w.is_finite() && w >= 0.0 => weight = w,
                    Some((w, _)) => {
                        self.report(
                            Diagnostic::error(
                                "E0312",
                                format!(
                                    "A residual's weight must be a finite number ≥ 0, not {w}."
                                ),
                            )
                            .with_primary(o.value.span, format!("= {w}")),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "sampling" => {
                    let chosen = match &o.value.kind {
                        ExprKind::Name(id) => builtins::SAMPLINGS
                            .iter()
                            .find(|(n, _)| *n == id.name)
                            .map(|(_, s)| *s),
                        _ => None,
                    };
                    match chosen {
                        Some(s) => sampling = s,
                        None => {
                            let names: Vec<&str> =
                                builtins::SAMPLINGS.iter().map(|(n, _)| *n).collect();
                            self.report(
                                Diagnostic::error("E0312", "Unknown sampling scheme.")
                                    .with_primary(o.value.span, "not a sampling scheme")
                                    .with_note(format!("the schemes are: {}", names.join(", "))),
                            );
                            ok = false;
                        }
                    }
                }
                other => {
                    let mut d =
                        Diagnostic::error("E0219", format!("Residuals have no option `{other}`."))
                            .with_primary(o.key.span, "unknown option")
                            .with_note(format!(
                                "the options are: {}",
                                builtins::RESIDUAL_OPTIONS.join(", ")
                            ));
                    if let Some(s) = did_you_mean(other, builtins::RESIDUAL_OPTIONS.iter().copied())
                    {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.report(d);
                    ok = false;
                }
            }
        }
        self.scope.ctx = saved_ctx;
        ok.then_some((points, weight, sampling))
    }

    /// Normalises a `where` clause.
    fn where_clause(&mut self, cond: &Expr, domain: &DomainHir) -> Option<Vec<FixedCoord>> {
        let mut conjuncts = Vec::new();
        split(cond, BinaryOp::And, &mut conjuncts, 0);
        let mut out: Vec<FixedCoord> = Vec::new();
        let mut ok = true;
        for c in conjuncts {
            let mut alts = Vec::new();
            split(c, BinaryOp::Or, &mut alts, 0);
            let mut fixed = FixedCoord {
                alternatives: Vec::new(),
            };
            for a in alts {
                match self.fixing(a, domain) {
                    Some(f) => fixed.alternatives.push(f),
                    None => ok = false,
                }
            }
            if ok
                && let [(coord, _)] = fixed.alternatives[..]
                && let Some((prev, _)) = out.iter().find_map(|f| match f.alternatives[..] {
                    [(c2, v)] if c2 == coord => Some((c2, v)),
                    _ => None,
                })
            {
                let name = domain
                    .coords
                    .get(prev)
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                self.report(
                    Diagnostic::error(
                        "E0217",
                        format!("The coordinate `{name}` is fixed twice in this `where` clause."),
                    )
                    .with_primary(c.span, "fixed again here")
                    .with_help("use `or` for alternatives: `x == 0 or x == 1`"),
                );
                ok = false;
            }
            out.push(fixed);
        }
        ok.then_some(out)
    }

    /// One `coordinate == constant` alternative.
    fn fixing(&mut self, e: &Expr, domain: &DomainHir) -> Option<(usize, f64)> {
        let unsupported = |this: &mut Self| {
            this.report(
                Diagnostic::error("E0217", "This `where` condition is not of a supported form.")
                    .with_primary(e.span, "unsupported condition")
                    .with_note("a `where` clause fixes coordinates on the domain's boundary: `coordinate == constant`, combined with `or` (alternatives) and `and` (several coordinates), e.g. `where t == 0` or `where x == -1 or x == 1`")
                    .with_help("to restrict to a region, use a smaller domain"),
            );
            None
        };
        let ExprKind::Binary(BinaryOp::Eq, a, b) = &e.kind else {
            return unsupported(self);
        };
        let coord_of = |x: &Expr| match &x.kind {
            ExprKind::Name(id) => domain.coords.iter().position(|c| c.name == id.name),
            _ => None,
        };
        let (coord_expr, value_expr, index) = match (coord_of(a), coord_of(b)) {
            (Some(i), None) => (a, b, i),
            (None, Some(i)) => (b, a, i),
            _ => return unsupported(self),
        };
        let coord = self.expr(coord_expr)?;
        let saved = self.scope.ctx;
        self.scope.ctx = Ctx::Const;
        let value = self.const_real(value_expr, "The value of a fixed coordinate");
        self.scope.ctx = saved;
        let (x, mut vv) = value?;
        let mut cv = coord;
        if !self.same_units("compare", &mut cv, &mut vv) {
            return None;
        }
        self.record_type(
            e.id,
            &Ty {
                scalar: Scalar::Bool,
                ..Ty::boolean()
            },
        );
        let c = domain.coords.get(index)?;
        if x < c.lo || x > c.hi {
            self.report(
                Diagnostic::error(
                    "E0217",
                    format!(
                        "`{} == {x}` lies outside the domain, where {} is in [{}, {}].",
                        c.name, c.name, c.lo, c.hi
                    ),
                )
                .with_primary(value_expr.span, format!("= {x}"))
                .with_help(
                    "fix the coordinate to a value inside the domain, usually one of its bounds",
                ),
            );
            return None;
        }
        Some((index, x))
    }

    /// `loss = value`.
    pub fn check_loss(&mut self, loss: &ast::Loss, span: Span) {
        if let Some(prev) = self.model.as_ref().and_then(|m| m.loss_span) {
            self.report(
                Diagnostic::error("E0218", "A model has one loss, but this is a second one.")
                    .with_primary(span, "second loss")
                    .with_secondary(prev, "first loss")
                    .with_help("add the terms into one loss: `loss = a + b`"),
            );
            return;
        }
        if let Some(m) = self.model.as_mut() {
            m.loss_span = Some(span);
        }
        self.member_scope(Ctx::Loss);
        let v = self.expr(&loss.value);
        self.end_member_scope();
        let Some(v) = v else {
            return;
        };
        if !self.numeric(&v, "The loss") {
            return;
        }
        if let Some(b) = v.ty().batch {
            let what = self.batch_desc(b);
            self.report(
                Diagnostic::error(
                    "E0308",
                    format!(
                        "The loss must be one number, but this has one value for each of {what}."
                    ),
                )
                .with_primary(v.h.span, "a batched value")
                .with_help("reduce it over the batch, e.g. `mean(r^2)`"),
            );
            return;
        }
        if !v.ty().shape.is_empty() {
            let s = self.shape_desc(&v.ty().shape);
            self.report(
                Diagnostic::error(
                    "E0308",
                    format!("The loss must be one number, but it has shape {s}."),
                )
                .with_primary(v.h.span, format!("shape {s}"))
                .with_help("sum its elements: `sum(…)`"),
            );
            return;
        }
        let h = to_real(v.h);
        if let Some(m) = self.model.as_mut() {
            m.loss = Some(h);
        }
    }
}

/// Splits `a op b op c` into its operands.
fn split<'e>(e: &'e Expr, op: BinaryOp, out: &mut Vec<&'e Expr>, depth: u32) {
    match &e.kind {
        ExprKind::Binary(o, a, b) if *o == op && depth < MAX_WHERE_DEPTH => {
            split(a, op, out, depth + 1);
            split(b, op, out, depth + 1);
        }
        _ => out.push(e),
    }
}
