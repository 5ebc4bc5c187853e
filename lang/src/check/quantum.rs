//! Quantum circuits, observables and `expval`: loops unrolled at compile time.
//!
//! A circuit's gate arguments are checked once, as expressions with the loop indices in
//! scope; unrolling then folds them for every index value: qubits to whole numbers in
//! range, angles to `scale·p + offset` with `p` one element of a parameter (the form the
//! simulator differentiates by the adjoint method). An observable is evaluated to a sum of
//! real multiples of Pauli strings; products on one qubit are refused, which keeps it
//! Hermitian. Everything here is a compile-time fact, so every error names the source
//! span and, for a loop, the index values that broke it.

use super::env::{Checker, Ctx, MemberRef, Val};
use super::fold::{self, FoldError};
use super::suggest::did_you_mean;
use crate::ast::{self, BinaryOp, CircuitStmt, Expr, ExprKind, UnaryOp};
use crate::hir::{
    AngleHir, Binary, BinderId, CircuitHir, CircuitId, GateHir, HExpr, HExprKind, ObservableHir,
    ObservableId, ParamId, Scalar, Ty, Unary,
};
use sci_diag::{Diagnostic, Span};
use sci_ir::quantum::{GateKind, Pauli, PauliTerm};
use std::collections::HashMap;

/// Most qubits a circuit may have: a state vector of 2^30 complex numbers is 16 GiB.
pub const MAX_QUBITS: usize = 30;
/// Most gates an unrolled circuit may have.
pub const MAX_GATES: usize = 1_000_000;
/// Most terms an observable may have before like terms are combined.
pub const MAX_TERMS: usize = 1_000_000;
/// Most loop iterations unrolling a circuit may take (gates or not: nested empty loops
/// must not hang the compiler).
pub const MAX_ITERATIONS: u64 = 10_000_000;

/// A gate statement with its arguments checked (not yet folded).
enum Checked {
    Gate {
        kind: GateKind,
        angles: Vec<HExpr>,
        qubits: Vec<HExpr>,
        span: Span,
    },
    For {
        id: BinderId,
        name: String,
        start: i64,
        end: i64,
        body: Vec<Checked>,
        span: Span,
    },
}

/// The values of the index variables of the loops around a statement.
type IndexValues = Vec<(BinderId, i64)>;

/// An angle while it is folded: `scale·p + offset`.
#[derive(Clone, Copy)]
struct Affine {
    param: Option<(ParamId, usize, Span)>,
    scale: f64,
    offset: f64,
}

impl Affine {
    fn constant(v: f64) -> Affine {
        Affine {
            param: None,
            scale: 0.0,
            offset: v,
        }
    }

    fn scaled(self, k: f64) -> Affine {
        Affine {
            param: self.param,
            scale: self.scale * k,
            offset: self.offset * k,
        }
    }
}

/// Why an angle is not affine in one parameter element.
enum NotAffine {
    /// Two different parameter elements (their spans).
    TwoParams(Span, Span),
    /// A product or quotient of parameters, or a parameter inside a function.
    Nonlinear(Span),
    /// Something that is neither constant nor a parameter (what, where).
    Other(&'static str, Span),
    /// A fold error (reported as for any constant).
    Fold(FoldError),
}

/// One term of an observable while it is evaluated: a coefficient and Pauli factors keyed
/// by qubit.
#[derive(Clone)]
struct Term {
    coeff: f64,
    factors: Vec<(usize, Pauli)>,
}

impl<'f> Checker<'f> {
    /// Checks `circuit name(qubits: n) { … }`, unrolling it into the model's HIR.
    pub fn check_circuit(&mut self, id: CircuitId, c: &'f ast::Circuit, span: Span) {
        self.member_scope(Ctx::Circuit);
        let qubits = self.circuit_qubits(c);
        let checked = self.check_statements(&c.body);
        self.end_member_scope();
        let (Some(qubits), Some(checked)) = (qubits, checked) else {
            return;
        };
        let mut gates = Vec::new();
        let mut values = Vec::new();
        let mut iterations = 0;
        if !self.unroll(&checked, qubits, &mut values, &mut gates, &mut iterations) {
            return;
        }
        if let Some(slot) = self
            .model
            .as_mut()
            .and_then(|m| m.circuits.get_mut(id.index()))
        {
            *slot = Some(CircuitHir {
                name: c.name.name.clone(),
                qubits,
                gates,
                span,
            });
        }
    }

    /// The circuit's `qubits: n` option: a whole number from 1 to [`MAX_QUBITS`].
    fn circuit_qubits(&mut self, c: &ast::Circuit) -> Option<usize> {
        let mut qubits = None;
        for o in &c.options {
            let Some(name) = &o.name else {
                self.report(
                    Diagnostic::error("E0241", "A circuit's options are named.")
                        .with_primary(o.value.span, "an option without a name")
                        .with_help(format!(
                            "write the number of qubits as `circuit {}(qubits: n)`",
                            c.name.name
                        )),
                );
                return None;
            };
            if name.name != "qubits" {
                self.report(
                    Diagnostic::error("E0241", format!("A circuit has no option `{}`.", name.name))
                        .with_primary(name.span, "unknown option")
                        .with_help("the option is `qubits: n`, the number of qubits"),
                );
                return None;
            }
            let n = self.const_int(&o.value, "The number of qubits")?;
            if n < 1 || n as u64 > MAX_QUBITS as u64 {
                self.report(
                    Diagnostic::error(
                        "E0246",
                        format!(
                            "A circuit has 1 to {MAX_QUBITS} qubits, but this one would have {n}."
                        ),
                    )
                    .with_primary(o.value.span, format!("= {n}"))
                    .with_note(format!(
                        "the simulation holds 2^n complex amplitudes: {MAX_QUBITS} qubits take \
                         16 GiB per state vector"
                    )),
                );
                return None;
            }
            qubits = Some(n as usize);
        }
        if qubits.is_none() {
            self.report(
                Diagnostic::error(
                    "E0241",
                    format!(
                        "The circuit `{}` does not say how many qubits it has.",
                        c.name.name
                    ),
                )
                .with_primary(c.name.span, "no `qubits`")
                .with_help(format!("write `circuit {}(qubits: n)`", c.name.name)),
            );
        }
        qubits
    }

    /// Checks statements once, with loop indices in scope.
    fn check_statements(&mut self, body: &[CircuitStmt]) -> Option<Vec<Checked>> {
        let mut out = Vec::new();
        let mut ok = true;
        for stmt in body {
            match stmt {
                CircuitStmt::Gate(e) => match self.check_gate(e) {
                    Some(g) => out.push(g),
                    None => ok = false,
                },
                CircuitStmt::For { binder, body, span } => {
                    let locals = self.scope.locals.len();
                    let bound = self.bind_indices(std::slice::from_ref(binder));
                    let inner = bound.as_ref().and_then(|_| self.check_statements(body));
                    self.scope.locals.truncate(locals);
                    match (bound.as_deref(), inner) {
                        (Some([b]), Some(body)) => out.push(Checked::For {
                            id: b.id,
                            name: b.name.clone(),
                            start: b.start,
                            end: b.end,
                            body,
                            span: *span,
                        }),
                        _ => ok = false,
                    }
                }
            }
        }
        ok.then_some(out)
    }

    /// Checks one gate call: a known gate, its angles then its qubits, positional.
    fn check_gate(&mut self, e: &Expr) -> Option<Checked> {
        let ExprKind::Call { callee, args } = &e.kind else {
            self.report(
                Diagnostic::error("E0240", "A circuit's statements are gates and `for` loops.")
                    .with_primary(e.span, "not a gate")
                    .with_help("apply a gate to qubits, e.g. `h(0)` or `rx(theta[0], 1)`"),
            );
            return None;
        };
        let Some(kind) = GateKind::from_name(&callee.name) else {
            let names = GateKind::ALL.iter().map(|(_, n)| *n);
            let mut d = Diagnostic::error("E0240", format!("There is no gate `{}`.", callee.name))
                .with_primary(callee.span, "unknown gate");
            d = match did_you_mean(&callee.name, names) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_note(gate_list()),
            };
            self.report(d);
            return None;
        };
        let (n_angles, n_qubits) = (kind.angles(), kind.qubits());
        if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
            self.report(
                Diagnostic::error("E0241", "A gate's arguments are positional.")
                    .with_primary(named.span, "a named argument")
                    .with_help(gate_signature(kind)),
            );
            return None;
        }
        if args.len() != n_angles + n_qubits {
            self.report(
                Diagnostic::error(
                    "E0241",
                    format!(
                        "The gate `{}` takes {}, but this call has {} argument{}.",
                        callee.name,
                        arity_words(n_angles, n_qubits),
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ),
                )
                .with_primary(e.span, "wrong number of arguments")
                .with_help(gate_signature(kind)),
            );
            return None;
        }
        let mut angles = Vec::new();
        let mut qubits = Vec::new();
        let mut ok = true;
        for (k, a) in args.iter().enumerate() {
            let what = if k < n_angles { "An angle" } else { "A qubit" };
            let Some(v) = self.expr(&a.value) else {
                ok = false;
                continue;
            };
            if !self.scalar_number(&v, what) {
                ok = false;
                continue;
            }
            if k < n_angles {
                angles.push(v.h);
            } else {
                qubits.push(v.h);
            }
        }
        ok.then_some(Checked::Gate {
            kind,
            angles,
            qubits,
            span: e.span,
        })
    }

    /// True for a real (or whole) scalar that is not per-point; reports otherwise.
    fn scalar_number(&mut self, v: &Val, what: &str) -> bool {
        if !self.numeric(v, what) {
            return false;
        }
        if !v.ty().shape.is_empty() || v.ty().batch.is_some() {
            let s = self.ty_desc(v.ty());
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!("{what} must be a single number, but this is {s}."),
                )
                .with_primary(v.h.span, "not a scalar"),
            );
            return false;
        }
        true
    }

    /// Unrolls checked statements for the index values in `values`; false after the first
    /// error (reported once, not once per iteration).
    fn unroll(
        &mut self,
        body: &[Checked],
        n: usize,
        values: &mut IndexValues,
        gates: &mut Vec<GateHir>,
        iterations: &mut u64,
    ) -> bool {
        for stmt in body {
            match stmt {
                Checked::Gate {
                    kind,
                    angles,
                    qubits,
                    span,
                } => {
                    if gates.len() >= MAX_GATES {
                        self.report(
                            Diagnostic::error(
                                "E0246",
                                format!("The circuit has more than {MAX_GATES} gates."),
                            )
                            .with_primary(*span, "the gate past the limit"),
                        );
                        return false;
                    }
                    let Some(gate) = self.fold_gate(*kind, angles, qubits, *span, n, values) else {
                        return false;
                    };
                    gates.push(gate);
                }
                Checked::For {
                    id,
                    name,
                    start,
                    end,
                    body,
                    span,
                } => {
                    self.binder_names.insert(*id, name.clone());
                    for v in *start..*end {
                        *iterations += 1;
                        if *iterations > MAX_ITERATIONS {
                            self.report(
                                Diagnostic::error(
                                    "E0246",
                                    format!(
                                        "Unrolling the circuit's loops takes more than \
                                         {MAX_ITERATIONS} iterations."
                                    ),
                                )
                                .with_primary(*span, "this loop")
                                .with_help("fewer or shorter loops"),
                            );
                            return false;
                        }
                        values.push((*id, v));
                        let ok = self.unroll(body, n, values, gates, iterations);
                        values.pop();
                        if !ok {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// One gate at the current index values.
    fn fold_gate(
        &mut self,
        kind: GateKind,
        angles: &[HExpr],
        qubits: &[HExpr],
        span: Span,
        n: usize,
        values: &[(BinderId, i64)],
    ) -> Option<GateHir> {
        let mut qs = Vec::with_capacity(qubits.len());
        for q in qubits {
            let x = match fold::eval_with(&self.functions, values, q) {
                Ok(t) => t.first(),
                Err(e) => {
                    self.report_fold(e, q.span, "A qubit index");
                    return None;
                }
            };
            if x.fract() != 0.0 || !x.is_finite() || x < 0.0 || x >= n as f64 {
                let at = self.index_values(values);
                self.report(
                    Diagnostic::error(
                        "E0242",
                        format!(
                            "The qubit {} is outside the circuit's qubits 0..{n}{at}.",
                            fmt_number(x)
                        ),
                    )
                    .with_primary(q.span, format!("= {}", fmt_number(x)))
                    .with_help(format!(
                        "qubits are numbered from 0 to {}; for a ring, wrap the index with \
                         `mod(i + 1, {n})`",
                        n - 1
                    )),
                );
                return None;
            }
            let q_index = x as usize;
            if let Some(k) = qs.iter().position(|&p| p == q_index) {
                let at = self.index_values(values);
                self.report(
                    Diagnostic::error(
                        "E0242",
                        format!(
                            "The gate `{}` acts on qubit {q_index} twice{at}.",
                            kind.name()
                        ),
                    )
                    .with_primary(q.span, format!("qubit {q_index}"))
                    .with_secondary(qubits[k].span, "also this one")
                    .with_help("a two-qubit gate acts on two different qubits"),
                );
                return None;
            }
            qs.push(q_index);
        }
        let mut hs = Vec::with_capacity(angles.len());
        for a in angles {
            match self.affine(a, values) {
                Ok(mut f) => {
                    // An angle in a scaled dimensionless unit (`deg`) in radians.
                    if let Some(u) = a.ty.unit {
                        if !u.is_dimensionless() {
                            let unit = super::env::Checker::unit_desc(&Some(u));
                            self.report(
                                Diagnostic::error(
                                    "E0243",
                                    format!("A gate angle is in radians, but this is in {unit}."),
                                )
                                .with_primary(a.span, format!("in {unit}")),
                            );
                            return None;
                        }
                        f = f.scaled(u.scale);
                    }
                    if !f.scale.is_finite() || !f.offset.is_finite() {
                        self.report(
                            Diagnostic::error("E0243", "This angle is not a finite number.")
                                .with_primary(a.span, "not finite"),
                        );
                        return None;
                    }
                    hs.push(AngleHir {
                        param: f.param.map(|(p, k, _)| (p, k)),
                        scale: if f.param.is_some() { f.scale } else { 0.0 },
                        offset: f.offset,
                    });
                }
                Err(why) => {
                    self.report_not_affine(why, a.span);
                    return None;
                }
            }
        }
        Some(GateHir {
            kind,
            qubits: qs,
            angles: hs,
            span,
        })
    }

    /// ` (at i = 3, l = 1)` for messages about an unrolled gate; empty outside loops.
    fn index_values(&self, values: &[(BinderId, i64)]) -> String {
        if values.is_empty() {
            return String::new();
        }
        let names: Vec<String> = values
            .iter()
            .map(|(id, v)| {
                let name = self
                    .binder_names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| "index".to_string());
                format!("{name} = {v}")
            })
            .collect();
        format!(" (at {})", names.join(", "))
    }

    /// The angle `h` as `scale·p + offset` at the current index values.
    fn affine(&self, h: &HExpr, values: &[(BinderId, i64)]) -> Result<Affine, NotAffine> {
        match &h.kind {
            HExprKind::Param(p) if h.ty.shape.is_empty() => Ok(Affine {
                param: Some((*p, 0, h.span)),
                scale: 1.0,
                offset: 0.0,
            }),
            HExprKind::Index {
                base,
                indices,
                fill: None,
            } if matches!(base.kind, HExprKind::Param(_)) && h.ty.shape.is_empty() => {
                let HExprKind::Param(p) = &base.kind else {
                    return Err(NotAffine::Other("a parameter", h.span));
                };
                let p = *p;
                let mut flat = 0usize;
                for (axis, ix) in indices.iter().enumerate() {
                    let v = fold::eval_with(&self.functions, values, ix)
                        .map_err(NotAffine::Fold)?
                        .first();
                    let len = base.ty.shape.get(axis).copied().unwrap_or(0);
                    if v.fract() != 0.0 || v < 0.0 || v >= len as f64 {
                        return Err(NotAffine::Fold(FoldError::OutOfRange(ix.span)));
                    }
                    flat = flat * len + v as usize;
                }
                Ok(Affine {
                    param: Some((p, flat, h.span)),
                    scale: 1.0,
                    offset: 0.0,
                })
            }
            HExprKind::ToReal(inner) => self.affine(inner, values),
            HExprKind::Unary(Unary::Neg, a) => Ok(self.affine(a, values)?.scaled(-1.0)),
            HExprKind::Binary(op @ (Binary::Add | Binary::Sub), a, b) => {
                let x = self.affine(a, values)?;
                let mut y = self.affine(b, values)?;
                if *op == Binary::Sub {
                    y = y.scaled(-1.0);
                }
                let param = match (x.param, y.param) {
                    (Some((p, k, s)), Some((q, j, t))) if (p, k) != (q, j) => {
                        return Err(NotAffine::TwoParams(s, t));
                    }
                    (p, q) => p.or(q),
                };
                Ok(Affine {
                    param,
                    scale: x.scale + y.scale,
                    offset: x.offset + y.offset,
                })
            }
            HExprKind::Binary(Binary::Mul, a, b) => {
                let x = self.affine(a, values)?;
                let y = self.affine(b, values)?;
                match (x.param, y.param) {
                    (Some(_), Some(_)) => Err(NotAffine::Nonlinear(h.span)),
                    (None, _) => Ok(y.scaled(x.offset)),
                    (_, None) => Ok(x.scaled(y.offset)),
                }
            }
            HExprKind::Binary(Binary::Div, a, b) => {
                let x = self.affine(a, values)?;
                let y = self.affine(b, values)?;
                if y.param.is_some() {
                    return Err(NotAffine::Nonlinear(h.span));
                }
                Ok(x.scaled(1.0 / y.offset))
            }
            _ => match fold::eval_with(&self.functions, values, h) {
                Ok(t) => Ok(Affine::constant(t.first())),
                Err(FoldError::NotConstant(what, at)) => {
                    if mentions_param(h) {
                        Err(NotAffine::Nonlinear(h.span))
                    } else {
                        Err(NotAffine::Other(what, at))
                    }
                }
                Err(e) => Err(NotAffine::Fold(e)),
            },
        }
    }

    fn report_not_affine(&mut self, why: NotAffine, span: Span) {
        let help = "write each angle as `a * p + b` with one parameter element `p` (such as \
                    `theta[2 * l + 1]`) and constants `a`, `b`";
        let note = "the adjoint gradient differentiates each gate by its one angle parameter";
        let d = match why {
            NotAffine::TwoParams(a, b) => Diagnostic::error(
                "E0243",
                "A gate angle depends on two parameter elements, but it may depend on one.",
            )
            .with_primary(b, "a second parameter element")
            .with_secondary(a, "the first"),
            NotAffine::Nonlinear(at) => Diagnostic::error(
                "E0243",
                "A gate angle must be a constant multiple of a parameter plus a constant.",
            )
            .with_primary(at, "not of the form `a * p + b`"),
            NotAffine::Other(what, at) => Diagnostic::error(
                "E0243",
                format!("A gate angle is made of parameters and constants, but this uses {what}."),
            )
            .with_primary(at, format!("{what} is not known to the circuit")),
            NotAffine::Fold(e) => {
                self.report_fold(e, span, "A gate angle");
                return;
            }
        };
        self.report(d.with_note(note).with_help(help));
    }

    /// Reports why a compile-time value of a circuit or observable could not be computed.
    fn report_fold(&mut self, e: FoldError, span: Span, what: &str) {
        self.report_fold_error(
            e,
            span,
            what,
            "use constants (`const`) and loop indices here",
        );
    }

    /// Checks `observable name = value` into a sum of Pauli strings.
    pub fn check_observable(&mut self, id: ObservableId, o: &'f ast::Observable, span: Span) {
        self.member_scope(Ctx::Observable);
        let mut values = Vec::new();
        let mut count = 0usize;
        let terms = self.pauli_sum(&o.value, &mut values, &mut count);
        self.end_member_scope();
        let Some(terms) = terms else {
            return;
        };
        // Like terms combined, in order of first appearance; zeros dropped.
        let mut index: HashMap<Vec<(usize, Pauli)>, usize> = HashMap::new();
        let mut combined: Vec<Term> = Vec::new();
        for t in terms {
            match index.get(&t.factors) {
                Some(&k) => combined[k].coeff += t.coeff,
                None => {
                    index.insert(t.factors.clone(), combined.len());
                    combined.push(t);
                }
            }
        }
        combined.retain(|t| t.coeff != 0.0);
        let qubits = combined
            .iter()
            .flat_map(|t| t.factors.iter().map(|(q, _)| q + 1))
            .max()
            .unwrap_or(0);
        let terms = combined
            .into_iter()
            .map(|t| PauliTerm {
                coeff: t.coeff,
                factors: t.factors.into_iter().map(|(q, p)| (p, q)).collect(),
            })
            .collect();
        if let Some(slot) = self
            .model
            .as_mut()
            .and_then(|m| m.observables.get_mut(id.index()))
        {
            *slot = Some(ObservableHir {
                name: o.name.name.clone(),
                qubits,
                terms,
                span,
            });
        }
    }

    /// The terms of an observable expression at the current index values.
    fn pauli_sum(
        &mut self,
        e: &Expr,
        values: &mut IndexValues,
        count: &mut usize,
    ) -> Option<Vec<Term>> {
        let terms = match &e.kind {
            ExprKind::Binary(op @ (BinaryOp::Add | BinaryOp::Sub), a, b) => {
                let mut x = self.pauli_sum(a, values, count)?;
                let y = self.pauli_sum(b, values, count)?;
                let sign = if *op == BinaryOp::Sub { -1.0 } else { 1.0 };
                x.extend(y.into_iter().map(|t| Term {
                    coeff: sign * t.coeff,
                    ..t
                }));
                x
            }
            ExprKind::Binary(BinaryOp::Mul, a, b) => {
                let x = self.pauli_sum(a, values, count)?;
                let y = self.pauli_sum(b, values, count)?;
                if x.len().saturating_mul(y.len()) > MAX_TERMS {
                    self.report(
                        Diagnostic::error(
                            "E0246",
                            format!("This product has more than {MAX_TERMS} terms."),
                        )
                        .with_primary(e.span, "too many terms"),
                    );
                    return None;
                }
                let mut out = Vec::with_capacity(x.len() * y.len());
                for s in &x {
                    for t in &y {
                        out.push(self.pauli_product(s, t, e.span)?);
                    }
                }
                out
            }
            ExprKind::Binary(BinaryOp::Div, a, b) if !mentions_pauli(b) => {
                let x = self.pauli_sum(a, values, count)?;
                let d = self.coefficient(b, values)?;
                x.into_iter()
                    .map(|t| Term {
                        coeff: t.coeff / d,
                        ..t
                    })
                    .collect()
            }
            ExprKind::Unary(op @ (UnaryOp::Neg | UnaryOp::Plus), a) => {
                let sign = if *op == UnaryOp::Neg { -1.0 } else { 1.0 };
                self.pauli_sum(a, values, count)?
                    .into_iter()
                    .map(|t| Term {
                        coeff: sign * t.coeff,
                        ..t
                    })
                    .collect()
            }
            ExprKind::Call { callee, args } if pauli_name(&callee.name).is_some() => {
                self.pauli_factor(callee, args, e.span, values)?
            }
            ExprKind::Reduce { op, binders, body } if mentions_pauli(body) => {
                if op.name != "sum" {
                    self.report(
                        Diagnostic::error(
                            "E0244",
                            format!(
                                "An observable adds Pauli strings; `{}` of them is not one.",
                                op.name
                            ),
                        )
                        .with_primary(op.span, "not a sum")
                        .with_help("write `sum(i in 0..n: …)`"),
                    );
                    return None;
                }
                let locals = self.scope.locals.len();
                let bound = self.bind_indices(binders);
                let out = bound.and_then(|bound| {
                    let mut out = Vec::new();
                    if self.each_index(&bound, 0, values, &mut |cx, values| match cx
                        .pauli_sum(body, values, count)
                    {
                        Some(t) => {
                            out.extend(t);
                            true
                        }
                        None => false,
                    }) {
                        Some(out)
                    } else {
                        None
                    }
                });
                self.scope.locals.truncate(locals);
                out?
            }
            _ if mentions_pauli(e) => {
                self.report(
                    Diagnostic::error(
                        "E0244",
                        "An observable is a sum of real multiples of products of Pauli operators.",
                    )
                    .with_primary(e.span, "not a sum, difference, product or multiple")
                    .with_help("write it as `c1 * Z(0) * Z(1) + c2 * X(0) + …`"),
                );
                return None;
            }
            _ => {
                let c = self.coefficient(e, values)?;
                vec![Term {
                    coeff: c,
                    factors: Vec::new(),
                }]
            }
        };
        *count += terms.len();
        if *count > MAX_TERMS {
            self.report(
                Diagnostic::error(
                    "E0246",
                    format!("The observable has more than {MAX_TERMS} terms."),
                )
                .with_primary(e.span, "too many terms"),
            );
            return None;
        }
        Some(terms)
    }

    /// Runs `f` for every combination of the binders' values (in order), pushing them.
    fn each_index(
        &mut self,
        binders: &[crate::hir::Binder],
        k: usize,
        values: &mut IndexValues,
        f: &mut dyn FnMut(&mut Self, &mut IndexValues) -> bool,
    ) -> bool {
        let Some(b) = binders.get(k) else {
            return f(self, values);
        };
        for v in b.start..b.end {
            values.push((b.id, v));
            self.binder_names.insert(b.id, b.name.clone());
            let ok = self.each_index(binders, k + 1, values, f);
            values.pop();
            if !ok {
                return false;
            }
        }
        true
    }

    /// `X(q)`, `Y(q)`, `Z(q)` or `I()`.
    fn pauli_factor(
        &mut self,
        callee: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        values: &[(BinderId, i64)],
    ) -> Option<Vec<Term>> {
        let pauli = pauli_name(&callee.name)?;
        let want = usize::from(pauli.is_some());
        if args.len() != want || args.iter().any(|a| a.name.is_some()) {
            let usage = if pauli.is_some() {
                format!("`{}(q)` takes one qubit index", callee.name)
            } else {
                "`I()` (the identity) takes no argument".to_string()
            };
            self.report(
                Diagnostic::error("E0244", format!("{usage}."))
                    .with_primary(span, "wrong arguments"),
            );
            return None;
        }
        let Some(p) = pauli else {
            return Some(vec![Term {
                coeff: 1.0,
                factors: Vec::new(),
            }]);
        };
        let arg = &args.first()?.value;
        let v = self.expr(arg)?;
        if !self.scalar_number(&v, "A qubit") {
            return None;
        }
        let x = match fold::eval_with(&self.functions, values, &v.h) {
            Ok(t) => t.first(),
            Err(e) => {
                self.report_fold(e, arg.span, "A qubit index");
                return None;
            }
        };
        if x.fract() != 0.0 || !x.is_finite() || x < 0.0 || x >= MAX_QUBITS as f64 {
            let at = self.index_values(values);
            self.report(
                Diagnostic::error(
                    "E0242",
                    format!(
                        "A qubit index is a whole number from 0 to {}, but this is {}{at}.",
                        MAX_QUBITS - 1,
                        fmt_number(x)
                    ),
                )
                .with_primary(arg.span, format!("= {}", fmt_number(x))),
            );
            return None;
        }
        Some(vec![Term {
            coeff: 1.0,
            factors: vec![(x as usize, p)],
        }])
    }

    /// The product of two terms; the same qubit twice is refused (its product is another
    /// Pauli operator times a phase, possibly imaginary).
    fn pauli_product(&mut self, a: &Term, b: &Term, span: Span) -> Option<Term> {
        let mut factors = a.factors.clone();
        for &(q, p) in &b.factors {
            if factors.iter().any(|&(r, _)| r == q) {
                self.report(
                    Diagnostic::error("E0244", format!("This product acts twice on qubit {q}."))
                        .with_primary(span, format!("two Pauli operators on qubit {q}"))
                        .with_note(
                            "a product of Pauli operators on one qubit is another Pauli operator \
                         times a phase (X·Y = iZ), which need not be Hermitian",
                        )
                        .with_help("write each Pauli string with one operator per qubit"),
                );
                return None;
            }
            factors.push((q, p));
        }
        factors.sort_by_key(|&(q, _)| q);
        Some(Term {
            coeff: a.coeff * b.coeff,
            factors,
        })
    }

    /// A real, dimensionless constant coefficient of an observable.
    fn coefficient(&mut self, e: &Expr, values: &[(BinderId, i64)]) -> Option<f64> {
        let v = self.expr(e)?;
        if !self.scalar_number(&v, "A coefficient") {
            return None;
        }
        let x = match fold::eval_with(&self.functions, values, &v.h) {
            Ok(t) => t.first(),
            Err(err) => {
                self.report_fold(err, e.span, "A coefficient of an observable");
                return None;
            }
        };
        let scale = match v.ty().unit {
            Some(u) if !u.is_dimensionless() => {
                let unit = super::env::Checker::unit_desc(&Some(u));
                self.report(
                    Diagnostic::error(
                        "E0244",
                        format!(
                            "An observable's coefficients are plain numbers, but this is in {unit}."
                        ),
                    )
                    .with_primary(e.span, format!("in {unit}")),
                );
                return None;
            }
            Some(u) => u.scale,
            None => 1.0,
        };
        if !x.is_finite() {
            self.report(
                Diagnostic::error("E0244", "This coefficient is not a finite number.")
                    .with_primary(e.span, "not finite"),
            );
            return None;
        }
        Some(x * scale)
    }

    /// `expval(psi, H)`: the expectation value of an observable in a circuit's state.
    pub fn expval_call(
        &mut self,
        callee: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
    ) -> Option<Val> {
        // Outputs of a model with states are functions of the trajectory (`outputs(t, y,
        // θ)`), which no simulation feeds; a circuit model's outputs are reported after
        // training, from the trained θ.
        let ode = self.model.as_ref().is_some_and(|m| m.is_ode);
        if self.scope.ctx != Ctx::Loss && (self.scope.ctx != Ctx::Output || ode) {
            let note = if self.scope.ctx == Ctx::Output {
                "the outputs of a model with states are computed along its trajectory; an \
                 expectation value is simulated from the parameters alone"
            } else {
                "an expectation value is simulated from the parameters when the loss or the \
                 outputs are evaluated"
            };
            self.not_here(
                callee.span,
                "`expval`".to_string(),
                note,
                Some(
                    "use it in the loss (`loss = expval(psi, H)`) or in an output of a model \
                     without states (`output energy = expval(psi, H)`)"
                        .to_string(),
                ),
            );
            return None;
        }
        let usage = "write `expval(psi, H)` with a circuit `psi` and an observable `H`";
        let [c, o] = args else {
            self.report(
                Diagnostic::error("E0245", "`expval` takes a circuit and an observable.")
                    .with_primary(span, format!("{} argument(s)", args.len()))
                    .with_help(usage),
            );
            return None;
        };
        let circuit = match self.member_named(&c.value) {
            Some((MemberRef::Circuit(id), def, ident)) => {
                self.reference(ident, def);
                id
            }
            _ => {
                self.report(
                    Diagnostic::error("E0245", "The first argument of `expval` is a circuit.")
                        .with_primary(c.value.span, "not a circuit")
                        .with_help(usage),
                );
                return None;
            }
        };
        let observable = match self.member_named(&o.value) {
            Some((MemberRef::Observable(id), def, ident)) => {
                self.reference(ident, def);
                id
            }
            _ => {
                self.report(
                    Diagnostic::error("E0245", "The second argument of `expval` is an observable.")
                        .with_primary(o.value.span, "not an observable")
                        .with_help(usage),
                );
                return None;
            }
        };
        let model = self.model.as_ref()?;
        let ch = model.circuits.get(circuit.index())?.as_ref()?;
        let oh = model.observables.get(observable.index())?.as_ref()?;
        if oh.qubits > ch.qubits {
            let d = Diagnostic::error(
                "E0245",
                format!(
                    "The observable `{}` acts on qubit {}, but the circuit `{}` has {} qubits.",
                    oh.name,
                    oh.qubits - 1,
                    ch.name,
                    ch.qubits
                ),
            )
            .with_primary(o.value.span, format!("acts on qubit {}", oh.qubits - 1))
            .with_secondary(ch.span, format!("{} qubits", ch.qubits));
            self.report(d);
            return None;
        }
        let ty = Ty {
            scalar: Scalar::Real,
            ..Ty::real(self.dimensionless())
        };
        Some(Val::fixed(Self::mk(
            HExprKind::Expval {
                circuit,
                observable,
            },
            ty,
            span,
        )))
    }

    /// The model member a bare name refers to, with its definition's span and the use's.
    fn member_named(&self, e: &Expr) -> Option<(MemberRef, Span, Span)> {
        let ExprKind::Name(id) = &e.kind else {
            return None;
        };
        let (what, def) = *self.model.as_ref()?.names.get(&id.name)?;
        Some((what, def, id.span))
    }
}

/// The Pauli operator a call names in an observable: `Some(Some(p))` for `X`, `Y`, `Z`,
/// `Some(None)` for the identity `I`.
fn pauli_name(name: &str) -> Option<Option<Pauli>> {
    match name {
        "I" => Some(None),
        _ => {
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Pauli::from_letter(c).map(Some),
                _ => None,
            }
        }
    }
}

/// True if the expression calls a Pauli operator anywhere.
fn mentions_pauli(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if let ExprKind::Call { callee, .. } = &x.kind
            && pauli_name(&callee.name).is_some()
        {
            found = true;
        }
    });
    found
}

/// True if a checked expression reads a parameter anywhere.
fn mentions_param(h: &HExpr) -> bool {
    let mut found = false;
    h.visit(&mut |e| found |= matches!(e.kind, HExprKind::Param(_)));
    found
}

fn fmt_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// "1 qubit", "1 angle and 2 qubits".
fn arity_words(angles: usize, qubits: usize) -> String {
    let q = if qubits == 1 {
        "1 qubit".to_string()
    } else {
        format!("{qubits} qubits")
    };
    match angles {
        0 => q,
        1 => format!("1 angle and {q}"),
        n => format!("{n} angles and {q}"),
    }
}

/// How to call a gate: `rzz(angle, q1, q2)`.
fn gate_signature(kind: GateKind) -> String {
    let mut args: Vec<String> = Vec::new();
    match kind.angles() {
        1 => args.push("angle".into()),
        3 => args.extend(["theta", "phi", "lambda"].map(String::from)),
        _ => {}
    }
    match kind.qubits() {
        1 => args.push("q".into()),
        _ if matches!(
            kind,
            GateKind::Swap | GateKind::Rxx | GateKind::Ryy | GateKind::Rzz
        ) =>
        {
            args.extend(["q1", "q2"].map(String::from))
        }
        _ => args.extend(["control", "target"].map(String::from)),
    }
    format!("write `{}({})`", kind.name(), args.join(", "))
}

/// The gates, for a note.
fn gate_list() -> String {
    let names: Vec<&str> = GateKind::ALL.iter().map(|(_, n)| *n).collect();
    format!("the gates are {}", names.join(", "))
}
