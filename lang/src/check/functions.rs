//! Functions: signatures, generic checking and instantiation per call signature.
//!
//! A parameter annotated `real[n]` where `n` is not a constant makes `n` a shape variable
//! and the function generic. A generic function is checked once with distinct probe sizes
//! standing for its shape variables (so `sci check` reports its errors even if nothing
//! calls it), and instantiated with concrete sizes at every call signature. Parameters
//! without a unit annotation take the unit of the argument (functions are unit-polymorphic);
//! in a model without units everything is unit-free. Each distinct signature becomes one
//! [`FnHir`] with a unique symbol (`rosenbrock[4]`).

use super::DefKind;
use super::env::{
    Checker, Ctx, Dim, FnRef, FnSig, Local, MAX_INSTANCE_DEPTH, PRELUDE_KEY, ParamSig, Scope, Val,
};
use super::ops::to_real;
use crate::ast::{Arg, ExprKind, Ident, TypeAnn};
use crate::hir::{FnHir, FnInstanceId, FnParamHir, HExprKind, Scalar, Ty};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;

/// Sizes standing for shape variables while checking a generic function: large, prime and
/// distinct, so that mismatched variables are caught and messages can name them.
const PROBE_SIZES: [usize; 8] = [
    1_000_003, 1_000_033, 1_000_037, 1_000_039, 1_000_081, 1_000_099, 1_000_117, 1_000_121,
];

/// The argument types an instance is made for: shapes and (in unit mode) units.
pub type ArgTys = Vec<(Vec<usize>, Option<Unit>)>;

/// The cache key of an instance.
pub fn instance_key(
    model: Option<&str>,
    name: &str,
    args: &[(Vec<usize>, Option<Unit>)],
) -> String {
    let mut key = format!("{}::{name}(", model.unwrap_or(""));
    for (shape, unit) in args {
        key.push_str(&format!("{shape:?}"));
        if let Some(u) = unit {
            let dims: Vec<String> = u
                .dims
                .iter()
                .map(|d| format!("{}/{}", d.num, d.den))
                .collect();
            key.push_str(&format!("@{}*{:e}", dims.join(","), u.scale));
        }
        key.push(';');
    }
    key.push(')');
    key
}

impl<'f> Checker<'f> {
    /// Takes over existing instances (for `instantiate` after `check`).
    pub fn adopt_functions(&mut self, functions: Vec<FnHir>) {
        for (i, f) in functions.iter().enumerate() {
            let args: ArgTys = f
                .params
                .iter()
                .map(|p| (p.ty.shape.clone(), p.ty.unit))
                .collect();
            let owner = if crate::prelude::is_prelude(f.span.file) {
                Some(PRELUDE_KEY)
            } else {
                f.model.as_deref()
            };
            let key = instance_key(owner, &f.name, &args);
            self.fn_cache.insert(key, Some(FnInstanceId(i as u32)));
            self.symbols.insert(f.symbol.clone());
        }
        self.functions = functions;
    }

    /// Computes a function's signature, reporting problems in its annotations.
    fn signature(&mut self, r: &FnRef) -> Option<FnSig> {
        let decl = self.fn_entry(r)?.decl;
        let mut scope = Scope::new(Ctx::Const, false, matches!(r, FnRef::Model(_)));
        scope.prelude = matches!(r, FnRef::Prelude(_));
        let saved = std::mem::replace(&mut self.scope, scope);
        let mut ok = true;
        let mut shape_vars: Vec<(String, Span)> = Vec::new();
        let mut has_units = false;
        let mut params = Vec::new();
        for p in &decl.params {
            if let Some(prev) = params.iter().find(|q: &&ParamSig| q.name == p.name.name) {
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!("The parameter `{}` is declared twice.", p.name.name),
                    )
                    .with_primary(p.name.span, "declared again here")
                    .with_secondary(prev.span, "first declared here"),
                );
                ok = false;
            }
            self.define(&p.name.name, DefKind::FnParam, p.name.span, None);
            let (dims, unit) = match &p.ty {
                Some(ann) => match self.annotation(ann, &mut shape_vars, true) {
                    Some(x) => x,
                    None => {
                        ok = false;
                        (Vec::new(), None)
                    }
                },
                None => (Vec::new(), None),
            };
            has_units |= unit.is_some();
            params.push(ParamSig {
                name: p.name.name.clone(),
                span: p.name.span,
                dims,
                unit,
            });
        }
        let (result_dims, result_unit) = match &decl.result {
            Some(ann) => match self.annotation(ann, &mut shape_vars, false) {
                Some((dims, unit)) => (ann.tensor.as_ref().map(|_| dims), unit),
                None => {
                    ok = false;
                    (None, None)
                }
            },
            None => (None, None),
        };
        has_units |= result_unit.is_some();
        self.scope = saved;
        ok.then_some(FnSig {
            params,
            result_dims,
            result_unit,
            shape_vars,
            has_units,
        })
    }

    /// The shape and unit of a type annotation; names that are not constants become shape
    /// variables (only in parameters: a result may only use the parameters' variables).
    fn annotation(
        &mut self,
        ann: &TypeAnn,
        vars: &mut Vec<(String, Span)>,
        new_vars: bool,
    ) -> Option<(Vec<Dim>, Option<Unit>)> {
        let mut dims = Vec::new();
        let mut ok = true;
        for d in ann.tensor.iter().flatten() {
            if let ExprKind::Name(id) = &d.kind
                && self.lookup_const(&id.name).is_none()
            {
                if let Some(k) = vars.iter().position(|(v, _)| *v == id.name) {
                    self.reference(id.span, vars[k].1);
                    dims.push(Dim::Var(k));
                } else if new_vars {
                    self.define(&id.name, DefKind::ShapeVar, id.span, Some(Ty::int()));
                    vars.push((id.name.clone(), id.span));
                    dims.push(Dim::Var(vars.len() - 1));
                } else {
                    self.report(
                        Diagnostic::error("E0201", format!("The size `{}` is neither a constant nor a size of a parameter.", id.name))
                            .with_primary(id.span, "unknown size")
                            .with_help("result sizes can use the shape variables of the parameters, such as `n` of `x: real[n]`"),
                    );
                    ok = false;
                }
                continue;
            }
            match self.const_int(d, "An array size") {
                Some(n) if n >= 1 => dims.push(Dim::Fixed(n as usize)),
                Some(n) => {
                    self.report(
                        Diagnostic::error(
                            "E0309",
                            format!("An array size must be at least 1, but this is {n}."),
                        )
                        .with_primary(d.span, format!("= {n}")),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        let unit = match &ann.unit {
            Some(u) => match crate::units::resolve(u) {
                Ok(u) => Some(u),
                Err(ds) => {
                    self.diags.extend(ds);
                    ok = false;
                    None
                }
            },
            None => None,
        };
        ok.then_some((dims, unit))
    }

    /// Computes the signature of a prelude function on its first use. Prelude functions
    /// are not checked up front (the prelude's tests check them), so a program that calls
    /// none gets no instance of any. Returns false if the signature is broken.
    pub fn prepare_prelude_fn(&mut self, r: &FnRef) -> bool {
        let Some(entry) = self.fn_entry(r) else {
            return false;
        };
        if entry.broken {
            return false;
        }
        if entry.sig.is_some() || !matches!(r, FnRef::Prelude(_)) {
            return true;
        }
        let sig = self.signature(r);
        let ok = sig.is_some();
        if let Some(e) = self.fn_entry_mut(r) {
            e.sig = sig;
            e.broken = !ok;
        }
        ok
    }

    /// Checks a function at its place in the dependency order: generically (with probe
    /// sizes) or, if it is not generic, as its one canonical instance.
    pub fn check_fn(&mut self, r: &FnRef) {
        let Some(entry) = self.fn_entry(r) else {
            return;
        };
        let name_span = entry.decl.name.span;
        let name = entry.decl.name.name.clone();
        if entry.broken {
            return;
        }
        self.define(&name, DefKind::Fn, name_span, None);
        let Some(sig) = self.signature(r) else {
            if let Some(e) = self.fn_entry_mut(r) {
                e.broken = true;
            }
            return;
        };
        if let Some(e) = self.fn_entry_mut(r) {
            e.sig = Some(sig.clone());
        }
        let units_on = sig.has_units;
        let unit_of = |p: &ParamSig| {
            if units_on {
                Some(p.unit.unwrap_or(Unit::DIMENSIONLESS))
            } else {
                None
            }
        };
        let args: ArgTys = sig
            .params
            .iter()
            .map(|p| {
                let shape = p
                    .dims
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => *n,
                        Dim::Var(k) => PROBE_SIZES.get(*k).copied().unwrap_or(1_000_003 + 2 * k),
                    })
                    .collect();
                (shape, unit_of(p))
            })
            .collect();
        let ok = if sig.is_generic() {
            self.probe_instance(r, args, units_on, name_span)
        } else {
            self.instance(r, args, units_on, name_span, true).is_some()
        };
        if !ok && let Some(e) = self.fn_entry_mut(r) {
            e.broken = true;
        }
    }

    /// Checks a generic function with probe sizes and throws the instances away.
    fn probe_instance(&mut self, r: &FnRef, args: ArgTys, units_on: bool, span: Span) -> bool {
        let n_functions = self.functions.len();
        let cache_before: std::collections::HashSet<String> =
            self.fn_cache.keys().cloned().collect();
        let symbols_before = self.symbols.clone();
        let errors = self.error_count();
        let was_probe = self.scope.probe;
        self.scope.probe = true;
        let id = self.instance(r, args, units_on, span, true);
        self.scope.probe = was_probe;
        self.functions.truncate(n_functions);
        self.fn_cache.retain(|k, _| cache_before.contains(k));
        self.symbols = symbols_before;
        id.is_some() && self.error_count() == errors
    }

    /// `f(args)` of a user function.
    pub fn user_call(&mut self, r: FnRef, callee: &Ident, args: &[Arg], span: Span) -> Option<Val> {
        let vals = self.positional(callee, args)?;
        if !self.prepare_prelude_fn(&r) {
            return None;
        }
        let entry = self.fn_entry(&r)?;
        if entry.broken {
            return None;
        }
        let sig = entry.sig.clone()?;
        let decl = entry.decl;
        if vals.len() != sig.params.len() {
            let names: Vec<&str> = decl.params.iter().map(|p| p.name.name.as_str()).collect();
            let n = sig.params.len();
            let expected = format!("{n} argument{}", if n == 1 { "" } else { "s" });
            self.arity(
                callee,
                vals.len(),
                &expected,
                &format!("{}({})", callee.name, names.join(", ")),
                span,
            );
            return None;
        }
        let units_on = self.scope.units_on;
        let mut arg_tys = Vec::new();
        let mut hs = Vec::new();
        let mut batch = None;
        for (p, mut v) in sig.params.iter().zip(vals) {
            if !self.numeric(
                &v,
                &format!("The argument `{}` of `{}`", p.name, callee.name),
            ) {
                return None;
            }
            let unit = if units_on {
                match (p.unit, v.ty().unit) {
                    (Some(want), got) => {
                        if v.flex {
                            self.adapt_literal(&mut v, Some(want));
                        } else if let Some(got) = got
                            && got != want
                        {
                            let (pw, pg) = (crate::units::Pretty(want), crate::units::Pretty(got));
                            let d = self.conversion_to(
                                format!("The argument `{}` of `{}` must be in {pw}, but this is in {pg}.", p.name, callee.name),
                                (v.h.span, got),
                                (p.span, format!("this is in {pw}")),
                                want,
                            );
                            self.report(d);
                            return None;
                        }
                        Some(want)
                    }
                    (None, got) => Some(got.unwrap_or(Unit::DIMENSIONLESS)),
                }
            } else {
                None
            };
            batch = self.join_batch(batch, v.ty().batch, v.h.span, span)?;
            arg_tys.push((v.ty().shape.clone(), unit));
            hs.push(to_real(v.h));
        }
        let id = self.instance(&r, arg_tys, units_on, span, false)?;
        let body_ty = self.functions.get(id.index())?.body.ty.clone();
        let ty = Ty { batch, ..body_ty };
        Some(Val::fixed(Self::mk(
            HExprKind::Call { func: id, args: hs },
            ty,
            span,
        )))
    }

    /// The instance of function `r` for the given argument types, checking its body if
    /// this signature is new. Errors are reported at `span` (the call).
    pub fn instance(
        &mut self,
        r: &FnRef,
        args: ArgTys,
        units_on: bool,
        span: Span,
        canonical: bool,
    ) -> Option<FnInstanceId> {
        let entry = self.fn_entry(r)?;
        let decl = entry.decl;
        let model = entry.model.clone();
        let sig = entry.sig.clone()?;
        let name = decl.name.name.clone();
        // Bind the shape variables from the argument shapes.
        let mut sizes: Vec<Option<usize>> = vec![None; sig.shape_vars.len()];
        for (p, (shape, _)) in sig.params.iter().zip(&args) {
            if p.dims.len() != shape.len() {
                let want = self.dims_desc(&p.dims, &sig);
                let got = self.shape_desc(shape);
                self.report(
                    Diagnostic::error("E0310", format!("The parameter `{}` of `{name}` has shape {want}, but the argument has shape {got}.", p.name))
                        .with_primary(span, format!("argument of shape {got}"))
                        .with_secondary(p.span, format!("declared with shape {want}")),
                );
                return None;
            }
            for (d, &n) in p.dims.iter().zip(shape) {
                match d {
                    Dim::Fixed(k) if *k != n => {
                        let want = self.dims_desc(&p.dims, &sig);
                        let got = self.shape_desc(shape);
                        self.report(
                            Diagnostic::error("E0310", format!("The parameter `{}` of `{name}` has shape {want}, but the argument has shape {got}.", p.name))
                                .with_primary(span, format!("argument of shape {got}"))
                                .with_secondary(p.span, format!("declared with shape {want}")),
                        );
                        return None;
                    }
                    Dim::Var(k) => match sizes.get(*k).copied().flatten() {
                        Some(m) if m != n => {
                            let var = sig
                                .shape_vars
                                .get(*k)
                                .map(|v| v.0.clone())
                                .unwrap_or_default();
                            self.report(
                                Diagnostic::error("E0310", format!("The size `{var}` of `{name}` is {m} from one argument but {n} from `{}`.", p.name))
                                    .with_primary(span, "arguments of inconsistent sizes")
                                    .with_secondary(p.span, format!("`{}` has size `{var}` here", p.name)),
                            );
                            return None;
                        }
                        _ => {
                            if let Some(s) = sizes.get_mut(*k) {
                                *s = Some(n);
                            }
                        }
                    },
                    _ => {}
                }
            }
        }
        let sizes: Vec<usize> = sizes.into_iter().map(|s| s.unwrap_or(0)).collect();
        let prelude = matches!(r, FnRef::Prelude(_));
        let owner = if prelude {
            Some(PRELUDE_KEY)
        } else {
            model.as_deref()
        };
        let key = instance_key(owner, &name, &args);
        if let Some(cached) = self.fn_cache.get(&key).copied() {
            // The whole chain counts: this call's depth plus the chain below the instance.
            let below = self.chain_depth.get(&key).copied().unwrap_or(1);
            if self.inst_depth + below > MAX_INSTANCE_DEPTH {
                self.report(too_deep_calls(span));
                return None;
            }
            self.note_callee_depth(below);
            return cached;
        }
        if self.inst_depth >= MAX_INSTANCE_DEPTH {
            self.report(too_deep_calls(span));
            return None;
        }
        // Check the body in a fresh scope.
        let probe = self.scope.probe;
        let mut scope = Scope::new(Ctx::FnBody, units_on, model.is_some());
        scope.probe = probe;
        scope.prelude = prelude;
        if probe {
            scope.shape_names = sig
                .shape_vars
                .iter()
                .zip(&sizes)
                .map(|((v, _), &n)| (n, v.clone()))
                .collect();
        }
        for ((v, vspan), &n) in sig.shape_vars.iter().zip(&sizes) {
            scope.locals.push(Local::ShapeVar {
                name: v.clone(),
                value: n,
                span: *vspan,
            });
        }
        let mut params = Vec::new();
        for (i, (p, (shape, unit))) in sig.params.iter().zip(&args).enumerate() {
            let ty = Ty {
                shape: shape.clone(),
                ..Ty::real(if units_on { *unit } else { None })
            };
            scope.locals.push(Local::Param {
                name: p.name.clone(),
                index: i,
                ty: ty.clone(),
                span: p.span,
            });
            params.push(FnParamHir {
                name: p.name.clone(),
                ty,
                span: p.span,
            });
        }
        let saved = std::mem::replace(&mut self.scope, scope);
        for p in &params {
            self.set_def_ty(p.span, &p.ty);
        }
        self.inst_depth += 1;
        self.callee_depth.push(0);
        let errors = self.error_count();
        let first_new = self.diags.len();
        let body = self.expr(&decl.body);
        let body = body.and_then(|b| self.fn_result(b, &sig, &sizes, decl.body.span, &name));
        self.inst_depth -= 1;
        let chain = self.callee_depth.pop().unwrap_or(0) + 1;
        self.chain_depth.insert(key.clone(), chain);
        self.note_callee_depth(chain);
        self.scope = saved;
        let failed = body.is_none() || self.error_count() > errors;
        if failed {
            // Say which instance failed when it is not the function's own check.
            if !canonical && !probe {
                let sig_desc: Vec<String> = params
                    .iter()
                    .map(|p| format!("{}: {}", p.name, self.ty_desc(&p.ty)))
                    .collect();
                for d in self.diags.iter_mut().skip(first_new) {
                    d.notes.push(format!(
                        "while checking `{name}` for the arguments ({})",
                        sig_desc.join(", ")
                    ));
                    d.labels.push(sci_diag::Label {
                        span,
                        message: "called here".into(),
                        primary: false,
                    });
                }
            }
            self.fn_cache.insert(key, None);
            return None;
        }
        let body = body?;
        let mut symbol = match &model {
            Some(m) => format!("{m}.{name}"),
            None => name.clone(),
        };
        if sig.is_generic() {
            let vals: Vec<String> = sizes.iter().map(|n| n.to_string()).collect();
            symbol.push_str(&format!("[{}]", vals.join(",")));
        }
        if self.symbols.contains(&symbol) {
            let mut k = 2;
            while self.symbols.contains(&format!("{symbol}${k}")) {
                k += 1;
            }
            symbol = format!("{symbol}${k}");
        }
        self.symbols.insert(symbol.clone());
        let id = FnInstanceId(self.functions.len() as u32);
        self.functions.push(FnHir {
            name,
            symbol,
            model,
            params,
            span: decl.name.span.to(decl.body.span),
            body: body.h,
        });
        self.fn_cache.insert(key, Some(id));
        Some(id)
    }

    /// Records a call, from the instance being checked, of a chain `depth` long.
    fn note_callee_depth(&mut self, depth: u32) {
        if let Some(top) = self.callee_depth.last_mut() {
            *top = (*top).max(depth);
        }
    }

    /// Checks a function body against the declared result type.
    fn fn_result(
        &mut self,
        mut body: Val,
        sig: &FnSig,
        sizes: &[usize],
        span: Span,
        name: &str,
    ) -> Option<Val> {
        if body.ty().scalar == Scalar::Bool {
            self.report(
                Diagnostic::error("E0301", format!("The function `{name}` must return a number, but its body is a true/false value."))
                    .with_primary(span, "a boolean result")
                    .with_help("use `if cond then 1 else 0` to return a number"),
            );
            return None;
        }
        if let Some(dims) = &sig.result_dims {
            let want: Vec<usize> = dims
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => *n,
                    Dim::Var(k) => sizes.get(*k).copied().unwrap_or(0),
                })
                .collect();
            if want != body.ty().shape {
                let (w, g) = (self.dims_desc(dims, sig), self.shape_desc(&body.ty().shape));
                self.report(
                    Diagnostic::error("E0302", format!("The function `{name}` is declared to return shape {w}, but its body has shape {g}."))
                        .with_primary(span, format!("shape {g}")),
                );
                return None;
            }
        }
        if self.scope.units_on
            && let Some(want) = sig.result_unit
        {
            if body.flex {
                self.adapt_literal(&mut body, Some(want));
            } else if let Some(got) = body.ty().unit
                && got != want
            {
                let (pw, pg) = (crate::units::Pretty(want), crate::units::Pretty(got));
                let d = self.conversion_to(
                    format!(
                        "The function `{name}` is declared to return {pw}, but its body is in {pg}."
                    ),
                    (span, got),
                    (span, format!("declared to return {pw}")),
                    want,
                );
                self.report(d);
                return None;
            }
        }
        body.h = to_real(body.h);
        Some(body)
    }

    /// A declared shape for messages: `[n, 3]`.
    fn dims_desc(&self, dims: &[Dim], sig: &FnSig) -> String {
        if dims.is_empty() {
            return "scalar".into();
        }
        let parts: Vec<String> = dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => n.to_string(),
                Dim::Var(k) => sig
                    .shape_vars
                    .get(*k)
                    .map(|v| v.0.clone())
                    .unwrap_or_default(),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }

    /// Instantiates a file-level function (or, if the file has none of that name, a
    /// prelude function) for `sci eval` with unit-free arguments.
    pub fn instantiate_by_name(
        &mut self,
        name: &str,
        shapes: &[Vec<usize>],
    ) -> Option<FnInstanceId> {
        let mut r = FnRef::File(name.to_string());
        if !self.file_fns.contains_key(name) && self.prelude_fns.contains_key(name) {
            r = FnRef::Prelude(name.to_string());
            self.prepare_prelude_fn(&r);
        }
        let Some(entry) = self.fn_entry(&r) else {
            let mut names: Vec<&String> = self.file_fns.keys().collect();
            names.sort();
            let list: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            let mut d = Diagnostic::error(
                "E0201",
                format!("There is no function called `{name}` in this file."),
            );
            d = if list.is_empty() {
                d.with_note("the file defines no functions")
            } else {
                d.with_note(format!("its functions are: {}", list.join(", ")))
            };
            if let Some(s) = super::suggest::did_you_mean(name, list.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.report(d);
            return None;
        };
        let span = entry.decl.name.span;
        if entry.broken {
            self.report(
                Diagnostic::error(
                    "E0310",
                    format!("The function `{name}` has errors, so it cannot be evaluated."),
                )
                .with_primary(span, "this function has errors")
                .with_help("run `sci check` to see them"),
            );
            return None;
        }
        let sig = entry.sig.clone()?;
        if shapes.len() != sig.params.len() {
            self.report(
                Diagnostic::error(
                    "E0305",
                    format!(
                        "`{name}` takes {} arguments, but {} shapes were given.",
                        sig.params.len(),
                        shapes.len()
                    ),
                )
                .with_primary(span, "defined here"),
            );
            return None;
        }
        let args: ArgTys = shapes.iter().map(|s| (s.clone(), None)).collect();
        self.scope = Scope::new(Ctx::Const, false, false);
        self.instance(&r, args, false, span, false)
    }
}

/// E0223 for a chain of calls past [`MAX_INSTANCE_DEPTH`].
fn too_deep_calls(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0223",
        format!("Calls of functions are nested more than {MAX_INSTANCE_DEPTH} deep here."),
    )
    .with_primary(span, "while calling this function")
    .with_help("call the inner functions from fewer levels, or write some of them inline")
}
