//! The checker's state: name tables, the current scope, and the helpers every part uses
//! (reporting, recording types and references, describing types in messages).

use super::{Checked, DefKind, Definition, SemanticInfo};
use crate::ast::{self, ExprId};
use crate::hir::{
    BatchKind, BinderId, DataHir, DomainHir, FnHir, FnInstanceId, HExpr, HExprKind, LetHir, NetHir,
    OutputHir, ParamHir, ResidualHir, Scalar, StateHir, Ty,
};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;
use std::collections::{HashMap, HashSet};

/// Deepest expression nesting the checker follows, counted across the bodies of the
/// functions an expression calls (the parser allows 256 within one expression).
pub const MAX_EXPR_DEPTH: u32 = 400;
/// Deepest chain of function instantiations (a calls b calls c …).
pub const MAX_INSTANCE_DEPTH: u32 = 32;

/// A folded constant value.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstVal {
    pub scalar: Scalar,
    pub shape: Vec<usize>,
    pub unit: Option<Unit>,
    /// Row-major elements.
    pub data: Vec<f64>,
}

/// A `const` definition (file-level or in a model).
#[derive(Clone, Debug)]
pub struct ConstEntry<'f> {
    pub decl: &'f ast::Decl,
    /// `None` until folded, and forever if folding failed (an error was reported).
    pub value: Option<ConstVal>,
}

/// One dimension of a declared parameter shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    Fixed(usize),
    /// A shape variable, by index into [`FnSig::shape_vars`].
    Var(usize),
}

/// A declared function parameter.
#[derive(Clone, Debug)]
pub struct ParamSig {
    pub name: String,
    pub span: Span,
    pub dims: Vec<Dim>,
    pub unit: Option<Unit>,
}

/// The checked signature of a `fn`.
#[derive(Clone, Debug)]
pub struct FnSig {
    pub params: Vec<ParamSig>,
    /// Declared result shape (if `real[…]` was written) and unit.
    pub result_dims: Option<Vec<Dim>>,
    pub result_unit: Option<Unit>,
    /// Names of the shape variables with the span of their first occurrence.
    pub shape_vars: Vec<(String, Span)>,
    /// True if any annotation of the function has a unit.
    pub has_units: bool,
}

impl FnSig {
    /// True if the function has shape variables.
    pub fn is_generic(&self) -> bool {
        !self.shape_vars.is_empty()
    }
}

/// A `fn` definition.
#[derive(Clone, Debug)]
pub struct FnEntry<'f> {
    pub decl: &'f ast::FnDecl,
    /// The model that defines it, for model-local functions.
    pub model: Option<String>,
    pub sig: Option<FnSig>,
    /// Set when the signature or the generic check failed, or the function is recursive;
    /// calls then fail silently (the error was reported once).
    pub broken: bool,
}

/// Which function table a function lives in.
#[derive(Clone, Debug, PartialEq)]
pub enum FnRef {
    File(String),
    Model(String),
    /// A function of the prelude ([`crate::prelude`]), written in sci.
    Prelude(String),
}

/// The owner part of the instance keys of prelude functions, so that a prelude function
/// and a user function of the same name never share a cached instance. It cannot be a
/// model's name (it is not an identifier).
pub const PRELUDE_KEY: &str = "<prelude>";

/// What a model member name refers to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MemberRef {
    Const,
    Param(crate::hir::ParamId),
    State(crate::hir::StateId),
    Let(crate::hir::LetId),
    Output(crate::hir::OutputId),
    Domain(crate::hir::DomainId),
    Net(crate::hir::NetId),
    Residual(crate::hir::ResidualId),
    Data(crate::hir::DataId),
    Circuit(crate::hir::CircuitId),
    Observable(crate::hir::ObservableId),
    Fn,
}

/// A checked `let` with whether it depends on time (states, `t`, `der`).
#[derive(Clone, Debug)]
pub struct LetSlot {
    pub hir: LetHir,
    pub dynamic: bool,
}

/// The model being checked: its names and the HIR built so far.
#[derive(Debug, Default)]
pub struct ModelEnv<'f> {
    pub name: String,
    /// The model's members as written.
    pub members: &'f [ast::Member],
    /// Member names → (what, span of the name).
    pub names: HashMap<String, (MemberRef, Span)>,
    pub consts: HashMap<String, ConstEntry<'f>>,
    pub fns: HashMap<String, FnEntry<'f>>,
    pub imports: HashSet<String>,
    pub is_ode: bool,
    pub units_on: bool,
    pub time_unit: Option<Unit>,
    pub const_list: Vec<crate::hir::ConstHir>,
    pub params: Vec<Option<ParamHir>>,
    pub states: Vec<Option<StateHir>>,
    /// Span of the `der` equation already seen for each state.
    pub der_seen: Vec<Option<Span>>,
    pub lets: Vec<Option<LetSlot>>,
    pub outputs: Vec<Option<OutputHir>>,
    pub domains: Vec<Option<DomainHir>>,
    pub nets: Vec<Option<NetHir>>,
    pub residuals: Vec<Option<ResidualHir>>,
    pub data: Vec<Option<DataHir>>,
    pub circuits: Vec<Option<crate::hir::CircuitHir>>,
    pub observables: Vec<Option<crate::hir::ObservableHir>>,
    /// Data sets declared without columns (`data obs = csv("f.csv")`): their columns are
    /// the fields the model uses, read by header name.
    pub open_data: HashSet<crate::hir::DataId>,
    pub loss: Option<HExpr>,
    pub loss_span: Option<Span>,
    pub events: Vec<crate::hir::EventHir>,
    /// The columns of the data sets read for `interp` (`None`: reading failed, reported).
    pub loaded: HashMap<crate::hir::DataId, Option<Vec<Vec<f64>>>>,
    pub inputs: Vec<crate::hir::InputHir>,
    pub unloaded_inputs: Vec<Span>,
    /// The algebraic equations checked so far, with their places.
    pub algebraic: Vec<(HExpr, Span)>,
    pub algebraic_states: Vec<crate::hir::StateId>,
    /// Next index-variable id of the model (ids are unique within a model).
    pub next_binder: u32,
}

/// Where an expression is, which decides what it may use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ctx {
    /// A `const`, a shape, a range bound, an option: constants only.
    Const,
    /// A parameter default: constants only.
    ParamDefault,
    /// A state's initial value: constants and parameters.
    StateInit,
    /// A `let`: also states, time, networks and `der(x)`.
    Let,
    /// An `output`: as a `let`, plus other outputs.
    Output,
    /// The right-hand side of `der(x) = …`.
    Der,
    /// An event's condition and new values (`when h < 0 { reinit(v, -e * v) }`).
    Event,
    /// A residual's value or condition: coordinates, networks, parameters.
    Residual(crate::hir::ResidualId),
    /// The loss: residuals, data columns, states at data times.
    Loss,
    /// The body of a function: its parameters and constants.
    FnBody,
    /// A gate of a quantum circuit: constants, loop indices, parameters (angles).
    Circuit,
    /// An observable's coefficients and qubits: constants and loop indices.
    Observable,
}

impl Ctx {
    /// Words for messages: "in a parameter default".
    pub fn describe(self) -> &'static str {
        match self {
            Ctx::Const => "in a constant",
            Ctx::ParamDefault => "in a parameter default",
            Ctx::StateInit => "in a state's initial value",
            Ctx::Let => "in a `let`",
            Ctx::Output => "in an output",
            Ctx::Der => "in a `der` equation",
            Ctx::Event => "in an event",
            Ctx::Residual(_) => "in a residual",
            Ctx::Loss => "in the loss",
            Ctx::FnBody => "in a function body",
            Ctx::Circuit => "in a circuit",
            Ctx::Observable => "in an observable",
        }
    }
}

/// A name bound inside an expression or definition.
#[derive(Clone, Debug)]
pub enum Local {
    /// An index variable with its range.
    Index {
        name: String,
        id: BinderId,
        start: i64,
        end: i64,
        span: Span,
    },
    /// A function parameter.
    Param {
        name: String,
        index: usize,
        ty: Ty,
        span: Span,
    },
    /// A domain coordinate inside a residual.
    Coord {
        name: String,
        index: usize,
        unit: Option<Unit>,
        batch: BatchKind,
        span: Span,
    },
    /// A shape variable of a function instance, bound to its size.
    ShapeVar {
        name: String,
        value: usize,
        span: Span,
    },
}

impl Local {
    /// The bound name.
    pub fn name(&self) -> &str {
        match self {
            Local::Index { name, .. }
            | Local::Param { name, .. }
            | Local::Coord { name, .. }
            | Local::ShapeVar { name, .. } => name,
        }
    }
}

/// The context an expression is checked in; saved and restored around function instances.
#[derive(Clone, Debug)]
pub struct Scope {
    pub ctx: Ctx,
    pub locals: Vec<Local>,
    pub units_on: bool,
    /// Inside an array definition or indexed `der` equation: out-of-range neighbour reads
    /// get the Dirichlet fill instead of an error.
    pub stencil: bool,
    /// Model constants and functions are visible (model members and model-local fns).
    pub model_visible: bool,
    pub next_binder: u32,
    /// Checking a generic function with probe sizes: value-dependent errors are skipped.
    pub probe: bool,
    /// Probe sizes and the shape-variable names they stand for, for messages.
    pub shape_names: Vec<(usize, String)>,
    /// Checking prelude code: only the prelude's functions and the built-ins are visible
    /// (never the user's names), and nothing is recorded for the language server (the
    /// prelude's expression ids and spans are not the user file's).
    pub prelude: bool,
}

impl Scope {
    /// A fresh scope for the given context.
    pub fn new(ctx: Ctx, units_on: bool, model_visible: bool) -> Scope {
        Scope {
            ctx,
            locals: Vec::new(),
            units_on,
            stencil: false,
            model_visible,
            next_binder: 0,
            probe: false,
            shape_names: Vec::new(),
            prelude: false,
        }
    }
}

/// A checked expression, with whether it is a bare number whose unit may still adapt.
#[derive(Clone, Debug)]
pub struct Val {
    pub h: HExpr,
    /// A literal (or arithmetic of literals, or `π`): dimensionless, but takes the unit
    /// of the other side in `+`, `-`, comparisons, `if` branches, `min`/`max` and
    /// declarations with a unit.
    pub flex: bool,
}

impl Val {
    /// A value that is not an adaptable literal.
    pub fn fixed(h: HExpr) -> Val {
        Val { h, flex: false }
    }

    /// Its type.
    pub fn ty(&self) -> &Ty {
        &self.h.ty
    }
}

/// The whole checker.
pub struct Checker<'f> {
    pub file: &'f ast::SourceFile,
    pub diags: Vec<Diagnostic>,
    pub info: SemanticInfo,
    pub functions: Vec<FnHir>,
    /// Instance key → instance (or `None` if that instantiation failed).
    pub fn_cache: HashMap<String, Option<FnInstanceId>>,
    pub symbols: HashSet<String>,
    pub file_consts: HashMap<String, ConstEntry<'f>>,
    pub file_fns: HashMap<String, FnEntry<'f>>,
    /// Every prelude function; a signature is computed on the first call, an instance per
    /// call signature, so a program gets only the prelude functions it uses.
    pub prelude_fns: HashMap<String, FnEntry<'f>>,
    pub file_imports: HashSet<String>,
    /// Any file-level constant has a unit annotation (then every model uses units).
    pub file_units: bool,
    pub model: Option<ModelEnv<'f>>,
    pub scope: Scope,
    /// Names of the index variables of unrolled loops (circuits, observables), for messages
    /// that say at which index values something broke.
    pub binder_names: HashMap<BinderId, String>,
    pub inst_depth: u32,
    /// Instance key → the length of the longest call chain from that instance down (1: it
    /// calls no function), so a chain is measured whole even when its lower instances were
    /// checked (and cached) first.
    pub chain_depth: HashMap<String, u32>,
    /// While instances are checked, innermost last: the longest chain below each so far.
    pub callee_depth: Vec<u32>,
    /// Nesting of expression checking, across function instances (bounds the stack).
    pub expr_depth: u32,
    /// Expressions whose recorded type came from a probe check (replaced by real instances).
    pub probe_types: HashSet<ExprId>,
    /// Definition name span → index in `info.definitions`.
    pub def_index: HashMap<Span, usize>,
    pub models: Vec<crate::hir::ModelHir>,
    /// The file-level constants with their folded values.
    pub file_const_list: Vec<crate::hir::ConstHir>,
    /// Values given for constants from outside the source (`sci run --param n=…`), by
    /// name; they replace the folded values of every constant of that name.
    pub overrides: &'f Overrides,
    /// Where the values of data sets used as inputs (`interp`) come from; `None` when the
    /// host gives none (an editor): `interp` is then checked but cannot be compiled.
    pub tables: Option<&'f dyn super::interp::TableSource>,
    /// Per model checked: its item's span and the range of `diags` it produced.
    pub model_diags: Vec<(Span, std::ops::Range<usize>)>,
}

/// Constant values given from outside the source, by name (row-major, in the constant's
/// declared unit).
pub type Overrides = std::collections::BTreeMap<String, Vec<f64>>;

/// No overrides.
pub static NO_OVERRIDES: Overrides = std::collections::BTreeMap::new();

impl<'f> Checker<'f> {
    /// A checker for `file` with nothing collected yet.
    pub fn new(
        file: &'f ast::SourceFile,
        overrides: &'f Overrides,
        tables: Option<&'f dyn super::interp::TableSource>,
    ) -> Checker<'f> {
        Checker {
            file,
            diags: Vec::new(),
            info: SemanticInfo::default(),
            functions: Vec::new(),
            fn_cache: HashMap::new(),
            symbols: HashSet::new(),
            file_consts: HashMap::new(),
            file_fns: HashMap::new(),
            prelude_fns: crate::prelude::functions()
                .iter()
                .map(|f| {
                    let entry = FnEntry {
                        decl: &f.decl,
                        model: None,
                        sig: None,
                        broken: false,
                    };
                    (f.name.clone(), entry)
                })
                .collect(),
            file_imports: HashSet::new(),
            file_units: false,
            model: None,
            scope: Scope::new(Ctx::Const, false, false),
            binder_names: HashMap::new(),
            inst_depth: 0,
            chain_depth: HashMap::new(),
            callee_depth: Vec::new(),
            expr_depth: 0,
            probe_types: HashSet::new(),
            def_index: HashMap::new(),
            models: Vec::new(),
            file_const_list: Vec::new(),
            overrides,
            tables,
            model_diags: Vec::new(),
        }
    }

    /// The result, with references sorted and deduplicated.
    pub fn finish(mut self) -> Checked {
        self.info.references.sort();
        self.info.references.dedup();
        Checked {
            program: crate::hir::Program {
                models: self.models,
                functions: self.functions,
                consts: self.file_const_list,
            },
            diagnostics: self.diags,
            info: self.info,
        }
    }

    /// Hands the function instances out (used by `instantiate`).
    pub fn take_functions(&mut self) -> Vec<FnHir> {
        std::mem::take(&mut self.functions)
    }

    /// Number of errors reported so far.
    pub fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    /// Reports a diagnostic.
    pub fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Records the type of an expression for the language server.
    pub fn record_type(&mut self, id: ExprId, ty: &Ty) {
        if self.scope.prelude {
            return;
        }
        let probe = self.scope.probe;
        let replace = !self.info.types.contains_key(&id) || self.probe_types.contains(&id);
        if replace {
            self.info.types.insert(id, ty.clone());
            if probe {
                self.probe_types.insert(id);
            } else {
                self.probe_types.remove(&id);
            }
        }
    }

    /// Records a definition (once per name span).
    pub fn define(&mut self, name: &str, kind: DefKind, span: Span, ty: Option<Ty>) {
        if crate::prelude::is_prelude(span.file) {
            return;
        }
        if let Some(&i) = self.def_index.get(&span) {
            if let Some(def) = self.info.definitions.get_mut(i)
                && def.ty.is_none()
            {
                def.ty = ty;
            }
            return;
        }
        self.def_index.insert(span, self.info.definitions.len());
        self.info.definitions.push(Definition {
            name: name.to_string(),
            kind,
            span,
            ty,
            doc: None,
        });
    }

    /// Sets the type of an already recorded definition.
    pub fn set_def_ty(&mut self, span: Span, ty: &Ty) {
        let probe = self.scope.probe;
        if let Some(&i) = self.def_index.get(&span)
            && let Some(def) = self.info.definitions.get_mut(i)
            && (def.ty.is_none() || !probe)
        {
            def.ty = Some(ty.clone());
        }
    }

    /// Records that the name at `use_span` refers to the definition named at `def_span`.
    pub fn reference(&mut self, use_span: Span, def_span: Span) {
        let in_prelude = |s: Span| crate::prelude::is_prelude(s.file);
        if use_span != def_span && !in_prelude(use_span) && !in_prelude(def_span) {
            self.info.references.push((use_span, def_span));
        }
    }

    /// The unit a value of this model/function gets: `Some` (dimensionless if unknown)
    /// when units are checked, `None` otherwise.
    pub fn adapt_unit(&self, unit: Option<Unit>) -> Option<Unit> {
        if self.scope.units_on {
            Some(unit.unwrap_or(Unit::DIMENSIONLESS))
        } else {
            None
        }
    }

    /// The dimensionless unit in unit mode, else `None`.
    pub fn dimensionless(&self) -> Option<Unit> {
        self.adapt_unit(None)
    }

    /// A fresh index-variable id in the current model or function instance.
    pub fn fresh_binder(&mut self) -> BinderId {
        let id = BinderId(self.scope.next_binder);
        self.scope.next_binder += 1;
        id
    }

    /// A count or index for messages; near a probe size it is written with the shape
    /// variable's name (`n - 1`).
    pub fn count_desc(&self, v: i128) -> String {
        for (size, name) in &self.scope.shape_names {
            let diff = v.saturating_sub(*size as i128);
            if diff.abs() <= 1000 {
                return match diff {
                    0 => name.clone(),
                    d if d > 0 => format!("{name} + {d}"),
                    d => format!("{name} - {}", -d),
                };
            }
        }
        v.to_string()
    }

    /// A shape as the user would write it: `[200]`, `[n, n]`, or `scalar`.
    pub fn shape_desc(&self, shape: &[usize]) -> String {
        if shape.is_empty() {
            return "scalar".to_string();
        }
        let dims: Vec<String> = shape.iter().map(|&d| self.count_desc(d as i128)).collect();
        format!("[{}]", dims.join(", "))
    }

    /// A type for messages: `real[3] in m/s`, `integer`, `boolean`.
    pub fn ty_desc(&self, ty: &Ty) -> String {
        let base = match ty.scalar {
            Scalar::Real => "real",
            Scalar::Int => "integer",
            Scalar::Bool => "boolean",
        };
        let shape = if ty.shape.is_empty() {
            String::new()
        } else {
            self.shape_desc(&ty.shape)
        };
        match &ty.unit {
            Some(u) if ty.scalar != Scalar::Bool => {
                format!("{base}{shape} in {}", crate::units::describe(u))
            }
            _ => format!("{base}{shape}"),
        }
    }

    /// A unit for messages.
    pub fn unit_desc(unit: &Option<Unit>) -> String {
        match unit {
            Some(u) => crate::units::describe(u),
            None => "1".to_string(),
        }
    }

    /// The function entry called `name` visible from here: a model's function, a file
    /// function, then (unless a constant of that name is visible) a prelude function. The
    /// user's functions shadow the prelude's. Prelude code sees only the prelude.
    pub fn lookup_fn(&self, name: &str) -> Option<FnRef> {
        let prelude = || {
            self.prelude_fns
                .contains_key(name)
                .then(|| FnRef::Prelude(name.to_string()))
        };
        if self.scope.prelude {
            return prelude();
        }
        if self.scope.model_visible
            && let Some(m) = &self.model
            && m.fns.contains_key(name)
        {
            return Some(FnRef::Model(name.to_string()));
        }
        if self.file_fns.contains_key(name) {
            return Some(FnRef::File(name.to_string()));
        }
        if self.lookup_const(name).is_some() {
            return None;
        }
        prelude()
    }

    /// The entry of a function reference.
    pub fn fn_entry(&self, r: &FnRef) -> Option<&FnEntry<'f>> {
        match r {
            FnRef::File(n) => self.file_fns.get(n),
            FnRef::Model(n) => self.model.as_ref().and_then(|m| m.fns.get(n)),
            FnRef::Prelude(n) => self.prelude_fns.get(n),
        }
    }

    /// Mutable entry of a function reference.
    pub fn fn_entry_mut(&mut self, r: &FnRef) -> Option<&mut FnEntry<'f>> {
        match r {
            FnRef::File(n) => self.file_fns.get_mut(n),
            FnRef::Model(n) => self.model.as_mut().and_then(|m| m.fns.get_mut(n)),
            FnRef::Prelude(n) => self.prelude_fns.get_mut(n),
        }
    }

    /// The constant called `name` visible from here, with its definition's name span.
    pub fn lookup_const(&self, name: &str) -> Option<(Option<ConstVal>, Span)> {
        if self.scope.prelude {
            return None;
        }
        if self.scope.model_visible
            && let Some(m) = &self.model
            && let Some(c) = m.consts.get(name)
        {
            return Some((c.value.clone(), c.decl.name.span));
        }
        self.file_consts
            .get(name)
            .map(|c| (c.value.clone(), c.decl.name.span))
    }

    /// True if `name` is imported (by a file-level or model-level `use`).
    pub fn is_imported(&self, name: &str) -> bool {
        self.scope.prelude
            || self.file_imports.contains(name)
            || self
                .model
                .as_ref()
                .is_some_and(|m| m.imports.contains(name))
    }

    /// Every name visible in the current scope, for "did you mean" suggestions.
    pub fn visible_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .scope
            .locals
            .iter()
            .map(|l| l.name().to_string())
            .collect();
        if self.scope.model_visible
            && let Some(m) = &self.model
        {
            names.extend(m.consts.keys().cloned());
            names.extend(m.fns.keys().cloned());
            if self.scope.ctx != Ctx::FnBody {
                names.extend(m.names.keys().cloned());
            }
        }
        if !self.scope.prelude {
            names.extend(self.file_consts.keys().cloned());
            names.extend(self.file_fns.keys().cloned());
        }
        // The prelude functions that can be called from here without a new `use`.
        names.extend(
            crate::prelude::functions()
                .iter()
                .filter(|f| {
                    f.module == crate::builtins::Module::Math
                        || self.scope.prelude
                        || self.is_imported(&f.name)
                })
                .map(|f| f.name.clone()),
        );
        names.extend(crate::builtins::BUILTINS.iter().map(|b| b.name.to_string()));
        names.sort();
        names.dedup();
        names
    }

    /// An expression node.
    pub fn mk(kind: HExprKind, ty: Ty, span: Span) -> HExpr {
        HExpr { kind, ty, span }
    }
}
