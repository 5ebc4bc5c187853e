//! Checking calls: built-in functions, user functions, networks and `state(data.t)`.

use super::env::{Checker, Ctx, FnRef, MemberRef, Val};
use super::ops::to_real;
use super::suggest::did_you_mean;
use crate::ast::{Arg, ExprKind, Ident};
use crate::builtins::{self, Builtin, BuiltinKind, Linalg, Module, UnitRule};
use crate::hir::{
    Activation, Binary, HExpr, HExprKind, NetId, Reduction, Scalar, StateId, Ty, Unary,
};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;
use sci_ir::unit::Rational;

impl<'f> Checker<'f> {
    /// Checks `callee(args)`.
    pub fn call(&mut self, callee: &Ident, args: &[Arg], span: Span) -> Option<Val> {
        let name = callee.name.as_str();
        // A local (parameter, index, coordinate) is never callable.
        if self.scope.locals.iter().any(|l| l.name() == name) {
            self.report(
                Diagnostic::error("E0205", format!("`{name}` is a variable, not a function."))
                    .with_primary(callee.span, "called here"),
            );
            return None;
        }
        if self.scope.model_visible
            && let Some((what, def)) = self.model.as_ref().and_then(|m| m.names.get(name)).copied()
            && (self.scope.ctx != Ctx::FnBody || matches!(what, MemberRef::Fn | MemberRef::Const))
        {
            self.reference(callee.span, def);
            return match what {
                MemberRef::State(s) => self.state_at(s, callee, args, span),
                MemberRef::Net(n) => self.net_call(n, callee, args, span),
                MemberRef::Fn => self.user_call(FnRef::Model(name.to_string()), callee, args, span),
                _ => {
                    self.report(
                        Diagnostic::error(
                            "E0205",
                            format!("`{name}` is not a function, so it cannot be called."),
                        )
                        .with_primary(callee.span, "not a function")
                        .with_secondary(def, "defined here"),
                    );
                    None
                }
            };
        }
        if let Some(f) = self.lookup_fn(name) {
            if let Some(def) = self.fn_entry(&f).map(|e| e.decl.name.span) {
                self.reference(callee.span, def);
            }
            // Prelude functions of `nn` need a `use`, like `mlp`.
            if let FnRef::Prelude(n) = &f
                && let Some(p) = crate::prelude::lookup(n)
                && p.module == Module::Nn
                && !self.is_imported(n)
            {
                self.missing_import_of(n, p.module, callee.span);
            }
            return self.user_call(f, callee, args, span);
        }
        if self.lookup_const(name).is_some() {
            self.report(
                Diagnostic::error(
                    "E0205",
                    format!("The constant `{name}` is not a function, so it cannot be called."),
                )
                .with_primary(callee.span, "not a function"),
            );
            return None;
        }
        if name == "expval" {
            return self.expval_call(callee, args, span);
        }
        let plain = name.strip_prefix("nn.").unwrap_or(name);
        if let Some(b) = builtins::lookup(plain) {
            return self.builtin_call(b, callee, args, span);
        }
        let mut names: Vec<String> = self.visible_names();
        names.retain(|n| {
            builtins::lookup(n).is_some_and(|b| !matches!(b.kind, BuiltinKind::Constant(_)))
                || self.lookup_fn(n).is_some()
        });
        let mut d = Diagnostic::error("E0201", format!("There is no function called `{name}`."))
            .with_primary(callee.span, "unknown function");
        if let Some(s) = did_you_mean(name, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.report(d);
        None
    }

    /// Checks the positional arguments of a call that takes no named ones.
    pub fn positional(&mut self, callee: &Ident, args: &[Arg]) -> Option<Vec<Val>> {
        if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
            self.report(
                Diagnostic::error(
                    "E0305",
                    format!("`{}` takes no named arguments.", callee.name),
                )
                .with_primary(named.span, "named argument")
                .with_help("pass the arguments by position"),
            );
            return None;
        }
        let mut out = Vec::new();
        for a in args {
            out.push(self.expr(&a.value));
        }
        out.into_iter().collect()
    }

    /// Reports a wrong number of arguments.
    pub fn arity(
        &mut self,
        callee: &Ident,
        got: usize,
        expected: &str,
        signature: &str,
        span: Span,
    ) {
        self.report(
            Diagnostic::error(
                "E0305",
                format!(
                    "`{}` takes {expected}, but {got} {} given.",
                    callee.name,
                    if got == 1 { "was" } else { "were" }
                ),
            )
            .with_primary(
                span,
                format!("{got} argument{}", if got == 1 { "" } else { "s" }),
            )
            .with_help(format!("write `{signature}`")),
        );
    }

    fn builtin_call(
        &mut self,
        b: &'static Builtin,
        callee: &Ident,
        args: &[Arg],
        span: Span,
    ) -> Option<Val> {
        match b.kind {
            BuiltinKind::Constant(_) => {
                self.report(
                    Diagnostic::error(
                        "E0205",
                        format!("`{}` is a number, not a function.", callee.name),
                    )
                    .with_primary(callee.span, "not a function")
                    .with_help(format!("to multiply, write `{} * (…)`", callee.name)),
                );
                None
            }
            BuiltinKind::Deriv(op) => self.deriv(op, callee, args, span),
            BuiltinKind::Interp => self.interp(callee, args, span),
            BuiltinKind::Mlp | BuiltinKind::Fno | BuiltinKind::DeepOnet => {
                self.report(
                    Diagnostic::error("E0204", format!("`{}(…)` defines a network; it can only be the right side of a `net` declaration.", callee.name))
                        .with_primary(span, "network constructor used as a value")
                        .with_help("write `net u(x) = mlp(hidden: [20, 20], activation: tanh)` and then call `u(x)`"),
                );
                None
            }
            BuiltinKind::Data(_) => {
                self.report(
                    Diagnostic::error("E0204", format!("`{}(…)` reads a data set; it can only be the right side of a `data` declaration.", callee.name))
                        .with_primary(span, "data source used as a value")
                        .with_help("write `data obs(t, y) = csv(\"file.csv\")` and use `obs.t`, `obs.y`"),
                );
                None
            }
            _ => {
                if b.module == Module::Nn && !self.is_imported(b.name) {
                    self.missing_import(b, callee.span);
                }
                let vals = self.positional(callee, args)?;
                self.elementwise_builtin(b, callee, vals, span)
            }
        }
    }

    /// Reports a library name used without its `use`.
    pub fn missing_import(&mut self, b: &Builtin, span: Span) {
        self.missing_import_of(b.name, b.module, span);
    }

    /// Reports the library name `name` of `module` used without its `use`.
    pub fn missing_import_of(&mut self, name: &str, module: Module, span: Span) {
        self.report(
            Diagnostic::error(
                "E0209",
                format!(
                    "`{name}` comes from the module `{}`, which is not imported.",
                    module.name()
                ),
            )
            .with_primary(span, "not imported")
            .with_help(format!(
                "add `use {}.{{{name}}}` at the top of the file",
                module.name()
            )),
        );
    }

    fn elementwise_builtin(
        &mut self,
        b: &'static Builtin,
        callee: &Ident,
        vals: Vec<Val>,
        span: Span,
    ) -> Option<Val> {
        let n = vals.len();
        match b.kind {
            BuiltinKind::Unary(op, rule) => {
                let [v] = take::<1>(vals).or_else(|| {
                    self.arity(callee, n, "one argument", b.signature, span);
                    None
                })?;
                self.unary_builtin(op, rule, callee, v, span)
            }
            BuiltinKind::Log10 => {
                let [v] = take::<1>(vals).or_else(|| {
                    self.arity(callee, n, "one argument", b.signature, span);
                    None
                })?;
                let log =
                    self.unary_builtin(Unary::Log, UnitRule::Dimensionless, callee, v, span)?;
                let ty = log.ty().clone();
                let ln10 = Self::mk(
                    HExprKind::Const(std::f64::consts::LN_10),
                    Ty::real(ty.unit),
                    span,
                );
                Some(Val {
                    h: Self::mk(
                        HExprKind::Binary(Binary::Div, Box::new(log.h), Box::new(ln10)),
                        ty,
                        span,
                    ),
                    flex: log.flex,
                })
            }
            BuiltinKind::Activation(act) => {
                let [v] = take::<1>(vals).or_else(|| {
                    self.arity(callee, n, "one argument", b.signature, span);
                    None
                })?;
                self.activation_builtin(act, callee, v, span)
            }
            BuiltinKind::Binary(op) => {
                let [a, c] = take::<2>(vals).or_else(|| {
                    self.arity(callee, n, "two arguments", b.signature, span);
                    None
                })?;
                let what = format!("`{}`", callee.name);
                let (ha, hc, ty, _) =
                    self.same_unit_pair(&what, &format!("pass to `{}`", callee.name), a, c, false)?;
                let ty = Ty {
                    unit: self.dimensionless(),
                    ..ty
                };
                Some(Val::fixed(Self::mk(
                    HExprKind::Binary(op, Box::new(ha), Box::new(hc)),
                    ty,
                    span,
                )))
            }
            BuiltinKind::MinMax(op, red) => match n {
                1 => {
                    let [v] = take::<1>(vals)?;
                    self.reduce_call(red, callee, v, span)
                }
                2 => {
                    let [a, c] = take::<2>(vals)?;
                    let what = format!("`{}`", callee.name);
                    let verb = format!("take the {} of", callee.name);
                    let (ha, hc, ty, flex) = self.same_unit_pair(&what, &verb, a, c, true)?;
                    Some(Val {
                        h: Self::mk(HExprKind::Binary(op, Box::new(ha), Box::new(hc)), ty, span),
                        flex,
                    })
                }
                _ => {
                    self.arity(callee, n, "one or two arguments", b.signature, span);
                    None
                }
            },
            BuiltinKind::Reduction(red) => {
                let [v] = take::<1>(vals).or_else(|| {
                    self.arity(callee, n, "one argument", b.signature, span);
                    None
                })?;
                self.reduce_call(red, callee, v, span)
            }
            BuiltinKind::Linalg(op) => self.linalg(op, b, callee, vals, span),
            _ => None,
        }
    }

    fn unary_builtin(
        &mut self,
        op: Unary,
        rule: UnitRule,
        callee: &Ident,
        v: Val,
        span: Span,
    ) -> Option<Val> {
        if !self.numeric(&v, &format!("`{}`", callee.name)) {
            return None;
        }
        let unit = match (rule, v.ty().unit) {
            (_, None) => None,
            (UnitRule::Same, u) => u,
            (UnitRule::Sqrt, Some(u)) => {
                Some(self.pow_unit(u, Rational::new(1, 2).unwrap_or_default(), span)?)
            }
            (UnitRule::Dimensionless, Some(u)) => {
                let plain = u.is_dimensionless() && u.scale == 1.0;
                if !(v.flex || plain) {
                    self.needs_dimensionless(callee, &v, u);
                    return None;
                }
                Some(Unit::DIMENSIONLESS)
            }
        };
        let ty = Ty {
            scalar: Scalar::Real,
            unit,
            ..v.ty().clone()
        };
        let flex = v.flex;
        Some(Val {
            h: Self::mk(HExprKind::Unary(op, Box::new(to_real(v.h))), ty, span),
            flex,
        })
    }

    fn needs_dimensionless(&mut self, callee: &Ident, v: &Val, unit: Unit) {
        let u = crate::units::Pretty(unit);
        let mut d = Diagnostic::error(
            "E0403",
            format!(
                "`{}` needs a dimensionless argument, but this is in {u}.",
                callee.name
            ),
        )
        .with_primary(v.h.span, format!("this is in {u}"));
        d = if unit.is_dimensionless() {
            d.with_note(format!(
                "the argument is a pure number scaled by {}",
                unit.scale
            ))
            .with_help("multiply by the scale to get a plain number first")
        } else {
            d.with_help(format!("divide by a reference value in {u} to make it dimensionless, e.g. `x / x0` with `const x0: {u} = 1`"))
        };
        self.report(d);
    }

    fn activation_builtin(
        &mut self,
        act: Activation,
        callee: &Ident,
        v: Val,
        span: Span,
    ) -> Option<Val> {
        if !self.numeric(&v, &format!("`{}`", callee.name)) {
            return None;
        }
        let x = to_real(v.h);
        let ty = Ty {
            scalar: Scalar::Real,
            ..x.ty.clone()
        };
        let scalar = |c: f64, unit| Self::mk(HExprKind::Const(c), Ty::real(unit), span);
        match act {
            Activation::Gelu => {
                if let Some(u) = ty.unit
                    && !v.flex
                    && !u.is_dimensionless()
                {
                    self.needs_dimensionless(callee, &Val::fixed(x), u);
                    return None;
                }
                // gelu(x) = x · (1 + erf(x / √2)) / 2: one IR op (`UnaryOp::Gelu`).
                Some(Val {
                    h: Self::mk(HExprKind::Unary(Unary::Gelu, Box::new(x)), ty, span),
                    flex: v.flex,
                })
            }
            // relu(x) = max(x, 0), keeping x's unit.
            _ => {
                let zero = scalar(0.0, ty.unit);
                Some(Val {
                    h: Self::mk(
                        HExprKind::Binary(Binary::Max, Box::new(x), Box::new(zero)),
                        ty,
                        span,
                    ),
                    flex: v.flex,
                })
            }
        }
    }

    /// `sum(v)`, `mean(pde^2)`: over a batch if the argument is batched, else over all
    /// elements.
    fn reduce_call(&mut self, red: Reduction, callee: &Ident, v: Val, span: Span) -> Option<Val> {
        if !self.numeric(&v, &format!("`{}`", callee.name)) {
            return None;
        }
        let batched = v.ty().batch.is_some();
        if batched && self.scope.ctx != Ctx::Loss {
            self.report(
                Diagnostic::error(
                    "E0307",
                    format!(
                        "`{}` over all points of a batch is only available in the loss.",
                        callee.name
                    ),
                )
                .with_primary(span, "a reduction over the points")
                .with_note("a residual is evaluated point by point; the loss combines its values")
                .with_help("reduce the residual in the loss instead, e.g. `loss = mean(r^2)`"),
            );
            return None;
        }
        let mut unit = v.ty().unit;
        if red == Reduction::Prod
            && let Some(u) = unit
            && !u.is_dimensionless()
        {
            if batched {
                let u = crate::units::Pretty(u);
                self.report(
                    Diagnostic::error("E0403", format!("`prod` over a batch needs a dimensionless value, but this is in {u}."))
                        .with_primary(v.h.span, format!("this is in {u}"))
                        .with_note("the number of points is only known at run time, so the unit of the product is unknown"),
                );
                return None;
            }
            let count = sci_ir::types::element_count(&v.ty().shape).unwrap_or(1);
            let p = Rational::new(count as i64, 1).unwrap_or(Rational::int(1));
            unit = Some(self.pow_unit(u, p, span)?);
        }
        let keep_int = v.ty().scalar == Scalar::Int && red != Reduction::Mean;
        let scalar = if keep_int { Scalar::Int } else { Scalar::Real };
        let x = if keep_int { v.h } else { to_real(v.h) };
        let (kind, shape) = if batched {
            let shape = x.ty.shape.clone();
            (HExprKind::ReduceBatch(red, Box::new(x)), shape)
        } else {
            (HExprKind::ReduceAll(red, Box::new(x)), Vec::new())
        };
        let ty = Ty {
            scalar,
            shape,
            batch: None,
            unit,
        };
        Some(Val::fixed(Self::mk(kind, ty, span)))
    }

    fn linalg(
        &mut self,
        op: Linalg,
        b: &Builtin,
        callee: &Ident,
        vals: Vec<Val>,
        span: Span,
    ) -> Option<Val> {
        let n = vals.len();
        for v in &vals {
            if !self.numeric(v, &format!("`{}`", callee.name)) {
                return None;
            }
        }
        match op {
            Linalg::Rfft | Linalg::Irfft => self.spectral(op, b, callee, vals, span),
            Linalg::Rfft2 | Linalg::Irfft2 => self.spectral2(op, b, callee, vals, span),
            Linalg::Transpose | Linalg::Norm => {
                let [v] = take::<1>(vals).or_else(|| {
                    self.arity(callee, n, "one argument", b.signature, span);
                    None
                })?;
                let x = to_real(v.h);
                let shape = x.ty.shape.clone();
                if op == Linalg::Transpose {
                    let &[r, c] = shape.as_slice() else {
                        return self.bad_linalg_shape(callee, "a matrix", &x);
                    };
                    let ty = Ty {
                        shape: vec![c, r],
                        ..x.ty.clone()
                    };
                    return Some(Val::fixed(Self::mk(
                        HExprKind::Transpose(Box::new(x)),
                        ty,
                        span,
                    )));
                }
                if shape.is_empty() {
                    return self.bad_linalg_shape(callee, "a vector (or an array)", &x);
                }
                // norm(v) = sqrt(sum(v^2)) over every element (a matrix's Frobenius norm,
                // the L2 norm of a function on a 2-D grid); keeps v's unit.
                let unit = x.ty.unit;
                let sq_unit = unit.and_then(|u| u.powr(Rational::int(2)));
                let sq_ty = Ty {
                    unit: sq_unit,
                    ..x.ty.clone()
                };
                let batch = x.ty.batch;
                let sq = Self::mk(HExprKind::Powi(Box::new(x), 2), sq_ty, span);
                let sum_ty = Ty {
                    shape: Vec::new(),
                    batch,
                    ..Ty::real(sq_unit)
                };
                let sum = Self::mk(
                    HExprKind::ReduceAll(Reduction::Sum, Box::new(sq)),
                    sum_ty,
                    span,
                );
                let ty = Ty {
                    batch,
                    ..Ty::real(unit)
                };
                Some(Val::fixed(Self::mk(
                    HExprKind::Unary(Unary::Sqrt, Box::new(sum)),
                    ty,
                    span,
                )))
            }
            Linalg::Dot | Linalg::MatMul => {
                let [a, c] = take::<2>(vals).or_else(|| {
                    self.arity(callee, n, "two arguments", b.signature, span);
                    None
                })?;
                let batch = self.join_batch(a.ty().batch, c.ty().batch, a.h.span, c.h.span)?;
                let unit = match (a.ty().unit, c.ty().unit) {
                    (Some(x), Some(y)) => x.mul(&y),
                    _ => None,
                };
                let (x, y) = (to_real(a.h), to_real(c.h));
                let (sx, sy) = (x.ty.shape.clone(), y.ty.shape.clone());
                let (kind, shape) = match (op, &sx[..], &sy[..]) {
                    (Linalg::Dot, [p], [q]) if p == q => {
                        (HExprKind::Dot(Box::new(x), Box::new(y)), vec![])
                    }
                    (Linalg::MatMul, [m, k], [k2]) if k == k2 => {
                        (HExprKind::MatVec(Box::new(x), Box::new(y)), vec![*m])
                    }
                    (Linalg::MatMul, [m, k], [k2, p]) if k == k2 => {
                        (HExprKind::MatMul(Box::new(x), Box::new(y)), vec![*m, *p])
                    }
                    _ => {
                        let (da, db) = (self.shape_desc(&sx), self.shape_desc(&sy));
                        let need = if op == Linalg::Dot {
                            "two vectors of equal length"
                        } else {
                            "a matrix [m, k] and a matrix [k, n] or a vector [k]"
                        };
                        self.report(
                            Diagnostic::error(
                                "E0302",
                                format!(
                                    "`{}` needs {need}, but got shapes {da} and {db}.",
                                    callee.name
                                ),
                            )
                            .with_primary(x.span, format!("shape {da}"))
                            .with_secondary(y.span, format!("shape {db}")),
                        );
                        return None;
                    }
                };
                let ty = Ty {
                    scalar: Scalar::Real,
                    shape,
                    batch,
                    unit,
                };
                Some(Val::fixed(Self::mk(kind, ty, span)))
            }
        }
    }

    /// `rfft(x, modes)` and `irfft(X, n)`: the count must be a whole number known at
    /// compile time, in range for the transform's length.
    fn spectral(
        &mut self,
        op: Linalg,
        b: &Builtin,
        callee: &Ident,
        vals: Vec<Val>,
        span: Span,
    ) -> Option<Val> {
        let n = vals.len();
        let [v, count] = take::<2>(vals).or_else(|| {
            self.arity(callee, n, "two arguments", b.signature, span);
            None
        })?;
        let what = match op {
            Linalg::Rfft => "The number of modes of `rfft`",
            _ => "The number of points of `irfft`",
        };
        let k = self.transform_count(&count, what)?;
        let x = to_real(v.h);
        let shape = x.ty.shape.clone();
        let x_ty = x.ty.clone();
        let (kind, out) = if op == Linalg::Rfft {
            let Some((&len, lead)) = shape.split_last() else {
                return self.bad_linalg_shape(callee, "an array of signals (last axis)", &x);
            };
            if k > len / 2 + 1 {
                return self.too_many_modes(callee, &count, k, len);
            }
            let out = [&[2][..], lead, &[k]].concat();
            (HExprKind::Rfft(Box::new(x), k), out)
        } else {
            let (Some(&2), Some(&m), true) = (shape.first(), shape.last(), shape.len() >= 2) else {
                return self.bad_linalg_shape(
                    callee,
                    "a spectrum [2, ..., modes] (real and imaginary parts)",
                    &x,
                );
            };
            if m > k / 2 + 1 {
                return self.too_many_modes(callee, &count, m, k);
            }
            let out = [&shape[1..shape.len() - 1], &[k]].concat();
            (HExprKind::Irfft(Box::new(x), k), out)
        };
        let ty = Ty { shape: out, ..x_ty };
        Some(Val::fixed(Self::mk(kind, ty, span)))
    }

    /// A transform's count (modes or points, `what` names it): a positive whole number
    /// known when the model is compiled, or `None` after reporting why not.
    fn transform_count(&mut self, at: &Val, what: &str) -> Option<usize> {
        let folded = self.fold_val(at, what)?;
        let k = folded.first();
        if !folded.shape.is_empty() || k.fract() != 0.0 || !(1.0..=1e9).contains(&k) {
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!("{what} must be a positive whole number, not {k}."),
                )
                .with_primary(at.h.span, "not a positive whole number"),
            );
            return None;
        }
        Some(k as usize)
    }

    /// `rfft2(x, m1, m2)` and `irfft2(X, n1, n2)`: whole counts known at compile time, in
    /// range for the transform's sizes.
    fn spectral2(
        &mut self,
        op: Linalg,
        b: &Builtin,
        callee: &Ident,
        vals: Vec<Val>,
        span: Span,
    ) -> Option<Val> {
        let n = vals.len();
        let [v, first, second] = take::<3>(vals).or_else(|| {
            self.arity(callee, n, "three arguments", b.signature, span);
            None
        })?;
        let what = match op {
            Linalg::Rfft2 => "The number of modes of `rfft2`",
            _ => "The number of points of `irfft2`",
        };
        let counts = [
            self.transform_count(&first, what)?,
            self.transform_count(&second, what)?,
        ];
        let x = to_real(v.h);
        let shape = x.ty.shape.clone();
        let x_ty = x.ty.clone();
        let (kind, out) = if op == Linalg::Rfft2 {
            let [lead @ .., n1, n2] = &shape[..] else {
                return self.bad_linalg_shape(callee, "signals over two axes [..., n1, n2]", &x);
            };
            let [m1, m2] = counts;
            if 2 * m1 > *n1 {
                return self.too_many_rows(callee, &first, m1, *n1);
            }
            if m2 > n2 / 2 + 1 {
                return self.too_many_modes(callee, &second, m2, *n2);
            }
            let out = [&[2][..], lead, &[2 * m1, m2]].concat();
            (HExprKind::Rfft2(Box::new(x), counts), out)
        } else {
            let [2, middle @ .., rows, m2] = &shape[..] else {
                return self.bad_linalg_shape(
                    callee,
                    "a spectrum [2, ..., rows, modes] (real and imaginary parts)",
                    &x,
                );
            };
            let [n1, n2] = counts;
            if rows % 2 != 0 || *rows > n1 {
                return self.too_many_rows(callee, &first, rows / 2 + rows % 2, n1);
            }
            if *m2 > n2 / 2 + 1 {
                return self.too_many_modes(callee, &second, *m2, n2);
            }
            let out = [middle, &counts[..]].concat();
            (HExprKind::Irfft2(Box::new(x), counts), out)
        };
        let ty = Ty { shape: out, ..x_ty };
        Some(Val::fixed(Self::mk(kind, ty, span)))
    }

    /// The first axis of a 2-D transform keeps `m1` frequencies at each end: `2·m1 ≤ n1`.
    fn too_many_rows(&mut self, callee: &Ident, at: &Val, m1: usize, n1: usize) -> Option<Val> {
        self.report(
            Diagnostic::error(
                "E0302",
                format!(
                    "`{}` keeps {m1} frequencies at each end of a first axis of {n1} points, \
                     which has room for {} at each end.",
                    callee.name,
                    n1 / 2
                ),
            )
            .with_primary(at.h.span, format!("{m1} at each end"))
            .with_help(format!(
                "keep at most {} at each end (an even count of rows up to {n1})",
                n1 / 2
            )),
        );
        None
    }

    fn too_many_modes(&mut self, callee: &Ident, at: &Val, modes: usize, n: usize) -> Option<Val> {
        self.report(
            Diagnostic::error(
                "E0302",
                format!(
                    "`{}` of {n} points has frequencies 0 to {}, so {modes} modes do not fit.",
                    callee.name,
                    n / 2
                ),
            )
            .with_primary(at.h.span, format!("{modes} modes"))
            .with_help(format!("keep at most {} modes", n / 2 + 1)),
        );
        None
    }

    fn bad_linalg_shape(&mut self, callee: &Ident, need: &str, x: &HExpr) -> Option<Val> {
        let s = self.shape_desc(&x.ty.shape);
        self.report(
            Diagnostic::error(
                "E0302",
                format!("`{}` needs {need}, but this has shape {s}.", callee.name),
            )
            .with_primary(x.span, format!("shape {s}")),
        );
        None
    }

    /// `prey(obs.t)`: a state at the times of a data set (only in the loss).
    fn state_at(&mut self, s: StateId, callee: &Ident, args: &[Arg], span: Span) -> Option<Val> {
        let name = &callee.name;
        if self.scope.ctx != Ctx::Loss {
            self.not_here(
                span,
                format!("`{name}(…)`, a state at given times,"),
                "a state evaluated at the times of a data set is only available in the loss",
                Some(format!("inside equations, use the current value `{name}`")),
            );
            return None;
        }
        let vals = self.positional(callee, args)?;
        let n = vals.len();
        let Some([time]) = take::<1>(vals) else {
            self.arity(
                callee,
                n,
                "one argument (the times)",
                &format!("{name}(obs.t)"),
                span,
            );
            return None;
        };
        let HExprKind::DataColumn { data, column } = time.h.kind else {
            self.report(
                Diagnostic::error(
                    "E0226",
                    format!("`{name}(…)` needs a time column of a data set as its argument."),
                )
                .with_primary(time.h.span, "not a data column")
                .with_help(format!(
                    "write `{name}(obs.t)` with `data obs(t, …) = csv(\"…\")`"
                )),
            );
            return None;
        };
        let time_unit = self.model.as_ref().and_then(|m| m.time_unit);
        if let (Some(expected), Some(got)) = (time_unit, time.ty().unit)
            && expected != got
        {
            let (pe, pg) = (crate::units::Pretty(expected), crate::units::Pretty(got));
            let d = self
                .unit_mismatch(
                    format!(
                        "The times passed to `{name}(…)` must be in {pe}, but they are in {pg}."
                    ),
                    (time.h.span, got),
                    (callee.span, expected),
                )
                .with_help(format!(
                    "declare the time column in the model's time unit, e.g. `data obs(t: {pe}, …)`"
                ));
            let mut d = d;
            d.code = "E0407";
            self.report(d);
            return None;
        }
        let st = self.model.as_ref()?.states.get(s.index())?.as_ref()?;
        let ty = Ty {
            shape: st.shape.clone(),
            batch: Some(crate::hir::BatchKind::Data(data)),
            ..Ty::real(st.unit)
        };
        Some(Val::fixed(Self::mk(
            HExprKind::StateAt {
                state: s,
                data,
                column,
            },
            ty,
            span,
        )))
    }

    /// `u(t, x)`: a network evaluated on scalar inputs.
    fn net_call(&mut self, n: NetId, callee: &Ident, args: &[Arg], span: Span) -> Option<Val> {
        let name = &callee.name;
        if !matches!(
            self.scope.ctx,
            Ctx::Let | Ctx::Output | Ctx::Der | Ctx::Event | Ctx::Residual(_) | Ctx::Loss
        ) {
            self.not_here(
                span,
                format!("The network `{name}`"),
                "networks are evaluated in equations, residuals and the loss",
                None,
            );
            return None;
        }
        let net = self.model.as_ref()?.nets.get(n.index())?.clone()?;
        let vals = self.positional(callee, args)?;
        if let Some(op) = &net.operator {
            return self.operator_call(n, op, callee, vals, span);
        }
        if vals.len() != net.inputs.len() {
            let sig = format!("{name}({})", net.inputs.join(", "));
            let expected = format!(
                "{} input{}",
                net.inputs.len(),
                if net.inputs.len() == 1 { "" } else { "s" }
            );
            self.arity(callee, vals.len(), &expected, &sig, span);
            return None;
        }
        let mut batch = None;
        let mut hs = Vec::new();
        for v in vals {
            if !self.numeric(&v, "A network input") {
                return None;
            }
            if !v.ty().shape.is_empty() {
                let s = self.shape_desc(&v.ty().shape);
                self.report(
                    Diagnostic::error("E0302", format!("Each input of the network `{name}` is a scalar, but this has shape {s}."))
                        .with_primary(v.h.span, format!("shape {s}")),
                );
                return None;
            }
            batch = self.join_batch(batch, v.ty().batch, v.h.span, span)?;
            hs.push(to_real(v.h));
        }
        Some(Val::fixed(self.net_expr(n, &net, hs, batch, span)))
    }

    /// `G(data.a)`: a neural operator applied to a function on a grid (`real[s]`, or
    /// `real[s1, s2]` for a Fourier operator), giving a function on the same grid. Each grid
    /// gets its own compiled function (a DeepONet has one); the grids are recorded on the
    /// network.
    fn operator_call(
        &mut self,
        n: NetId,
        op: &crate::hir::OperatorHir,
        callee: &Ident,
        vals: Vec<Val>,
        span: Span,
    ) -> Option<Val> {
        let name = &callee.name;
        let [v] = vals.as_slice() else {
            self.arity(callee, vals.len(), "1 input", &format!("{name}(a)"), span);
            return None;
        };
        if !self.numeric(v, "An operator's input") {
            return None;
        }
        let grid = v.ty().shape.clone();
        self.operator_grid_fits(name, op, v, &grid)?;
        let batch = v.ty().batch;
        let h = to_real(v.h.clone());
        if let Some(Some(net)) = self.model.as_mut().and_then(|m| m.nets.get_mut(n.index()))
            && let Some(op) = net.operator.as_mut()
        {
            op.apply_on(&grid);
        }
        let ty = Ty {
            shape: grid,
            batch,
            ..Ty::real(self.dimensionless())
        };
        Some(Val::fixed(Self::mk(
            HExprKind::Net {
                net: n,
                args: vec![h],
            },
            ty,
            span,
        )))
    }

    /// Whether operator `name` can be applied on `grid` (the shape of its argument `v`): one
    /// axis (two for a Fourier operator, one number of axes per operator), the points a
    /// DeepONet's branch reads, room for the Fourier modes along each axis. `None` after
    /// reporting why not.
    fn operator_grid_fits(
        &mut self,
        name: &str,
        op: &crate::hir::OperatorHir,
        v: &Val,
        grid: &[usize],
    ) -> Option<()> {
        let fno = match op {
            crate::hir::OperatorHir::Fno(fno) => Some(fno),
            crate::hir::OperatorHir::DeepOnet(_) => None,
        };
        let axes_allowed = if fno.is_some() { 2 } else { 1 };
        if grid.is_empty() || grid.len() > axes_allowed {
            let s = self.shape_desc(grid);
            let (what, help) = if fno.is_some() {
                (
                    "a function on a grid (a vector, or a matrix for a 2-D grid)",
                    "pass a column of grid values, such as `data.a` with `data d(a: real[256], …)` or `real[85, 85]`",
                )
            } else {
                (
                    "a function on a grid (a vector of values)",
                    "pass a column of grid values, such as `data.a` with `data d(a: real[256], …)`",
                )
            };
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!("The operator `{name}` maps {what}, but this has shape {s}."),
                )
                .with_primary(v.h.span, format!("shape {s}"))
                .with_help(help),
            );
            return None;
        }
        if let Some(fno) = fno
            && let Some(first) = fno.grids.first()
            && first.len() != grid.len()
        {
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!(
                        "The operator `{name}` is applied on a {}-D grid here, but on a {}-D grid elsewhere.",
                        grid.len(),
                        first.len()
                    ),
                )
                .with_primary(v.h.span, format!("a {}-D grid", grid.len()))
                .with_note("a Fourier operator's weights depend on its number of axes (not on the grid's size)")
                .with_help("apply it on grids of one number of axes"),
            );
            return None;
        }
        let points = grid[0];
        if let crate::hir::OperatorHir::DeepOnet(d) = op
            && let Some(first) = d.grids.first()
            && first.as_slice() != grid
        {
            let first = first.first().copied().unwrap_or(0);
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!(
                        "The DeepONet `{name}` reads its input at {first} points (its branch network's sensors), but this has {points}."
                    ),
                )
                .with_primary(v.h.span, format!("{points} points"))
                .with_note("the branch network's first layer has one weight per sensor")
                .with_help("apply it on one grid size, or use `fno`, whose weights do not depend on the grid"),
            );
            return None;
        }
        if grid.iter().any(|&s| s < 2) {
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!(
                        "The operator `{name}` needs a grid of at least 2 points along each axis, but this has shape {}.",
                        self.shape_desc(grid)
                    ),
                )
                .with_primary(v.h.span, "too few points"),
            );
            return None;
        }
        if let Some(fno) = fno {
            let modes = fno.modes;
            // The last axis keeps `modes` of its s/2 + 1 frequencies; the first of two keeps
            // `modes` at each end of its s.
            let last = grid[grid.len() - 1];
            let fits_last = modes <= last / 2 + 1;
            let fits_first = grid.len() == 1 || 2 * modes <= grid[0];
            if !fits_last || !fits_first {
                let (have, need) = if !fits_last {
                    (
                        if grid.len() == 1 {
                            format!("a grid of {last} points has only {}", last / 2 + 1)
                        } else {
                            format!("its last axis of {last} points has only {}", last / 2 + 1)
                        },
                        2 * modes.saturating_sub(1),
                    )
                } else {
                    (
                        format!(
                            "the first axis of {} points has room for {} at each end",
                            grid[0],
                            grid[0] / 2
                        ),
                        2 * modes,
                    )
                };
                self.report(
                    Diagnostic::error(
                        "E0302",
                        format!("The operator `{name}` keeps {modes} Fourier modes, but {have}."),
                    )
                    .with_primary(v.h.span, format!("shape {}", self.shape_desc(grid)))
                    .with_help(format!(
                        "use at least {need} points along it, or fewer modes"
                    )),
                );
                return None;
            }
        }
        Some(())
    }

    /// The HIR of a network evaluation.
    pub fn net_expr(
        &self,
        n: NetId,
        net: &crate::hir::NetHir,
        args: Vec<HExpr>,
        batch: Option<crate::hir::BatchKind>,
        span: Span,
    ) -> HExpr {
        let shape = if net.outputs == 1 {
            Vec::new()
        } else {
            vec![net.outputs]
        };
        let ty = Ty {
            shape,
            batch,
            ..Ty::real(self.dimensionless())
        };
        Self::mk(HExprKind::Net { net: n, args }, ty, span)
    }

    /// A bare network name inside a residual: its value at the point's coordinates.
    pub fn net_at_coords(&mut self, n: NetId, id: &Ident) -> Option<Val> {
        let net = self.model.as_ref()?.nets.get(n.index())?.clone()?;
        if net.operator.is_some() {
            self.report(
                Diagnostic::error(
                    "E0216",
                    format!(
                        "The operator `{}` maps a function on a grid; it has no value at a point.",
                        id.name
                    ),
                )
                .with_primary(id.span, "an operator, not a network of coordinates")
                .with_help(format!(
                    "apply it to a column of grid values: `{}(data.a)`",
                    id.name
                )),
            );
            return None;
        }
        let mut args = Vec::new();
        let mut batch = None;
        for input in &net.inputs {
            let coord = self.scope.locals.iter().rev().find_map(|l| match l {
                super::env::Local::Coord {
                    name,
                    index,
                    unit,
                    batch,
                    ..
                } if name == input => Some((*index, *unit, *batch)),
                _ => None,
            });
            let Some((index, unit, b)) = coord else {
                let coords: Vec<String> = self
                    .scope
                    .locals
                    .iter()
                    .filter_map(|l| match l {
                        super::env::Local::Coord { name, .. } => Some(name.clone()),
                        _ => None,
                    })
                    .collect();
                self.report(
                    Diagnostic::error(
                        "E0216",
                        format!("The network `{}` takes the input `{input}`, but the residual's domain has no coordinate `{input}`.", id.name),
                    )
                    .with_primary(id.span, "evaluated at the point's coordinates")
                    .with_note(format!("the domain's coordinates are: {}", coords.join(", ")))
                    .with_help(format!("pass the inputs explicitly: `{}({})`", id.name, net.inputs.join(", "))),
                );
                return None;
            };
            batch = Some(b);
            let ty = Ty {
                batch: Some(b),
                ..Ty::real(unit)
            };
            args.push(Self::mk(HExprKind::Coord(index), ty, id.span));
        }
        Some(Val::fixed(self.net_expr(n, &net, args, batch, id.span)))
    }
}

/// The values as an array of exactly `N`, if there are `N`.
pub fn take<const N: usize>(vals: Vec<Val>) -> Option<[Val; N]> {
    vals.try_into().ok()
}

/// True if an argument is a bare name (used by `der`, `d` and friends).
pub fn arg_name(arg: &Arg) -> Option<&Ident> {
    match &arg.value.kind {
        ExprKind::Name(id) => Some(id),
        _ => None,
    }
}
