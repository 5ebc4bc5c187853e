//! Members of loss models: domains, data sets, residuals and the loss (networks:
//! `nets.rs`).
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
    BatchKind, CoordHir, DataHir, DomainHir, FixedCoord, ResidualHir, ResidualId, Sampling, Scalar,
    Ty,
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
