//! The `.sir` text reader: parses what [`crate::print`] writes (and hand-written files) back
//! into a [`Module`].
//!
//! Reading checks syntax, resolves names and rebuilds arenas; it does not validate (run
//! [`crate::validate_module`] for that), except that the declared result type of a function
//! must be the type of its result. Errors are spanned diagnostics with codes E0601–E0606.
//! The reader never panics and limits nesting and size, whatever the input.
//!
//! Arena order: in a plain function the values are pushed in builder order (inputs, then
//! for each line the values of its block, then the line's value); in an `indexed` function
//! every `%N` is placed at index `N`. See [`crate::print`].

mod lex;

use crate::manifest::{
    Coordinate, DataSource, DerivativeKind, Event, EventTrigger, InputRange, InputRole, PointSet,
    Role, Sampling,
};
use crate::module::{Block, FuncId, Function, Layout, Module, Slot, Value, ValueId};
use crate::op::{BinaryOp, CmpOp, Op, ReduceOp, UnaryOp};
use crate::quantum::{
    GateAngle, GateKind, Pauli, PauliObservable, PauliTerm, QuantumCircuit, QuantumGate,
};
use crate::types::{DType, Type};
use crate::unit::{BASE_SYMBOLS, Rational, Unit};
use crate::validate::MAX_BLOCK_DEPTH;
use lex::{Tok, Token};
use sci_diag::{Diagnostic, FileId, Span};
use std::collections::HashMap;

/// Unexpected or missing token.
pub const CODE_SYNTAX: &str = "E0601";
/// Reference to a value that is not defined (or not visible) at that point.
pub const CODE_UNKNOWN_VALUE: &str = "E0602";
/// A value or function defined twice.
pub const CODE_DUPLICATE: &str = "E0603";
/// A call to a function that does not exist, or whose name is ambiguous.
pub const CODE_UNKNOWN_FUNCTION: &str = "E0604";
/// A malformed number, type or unit, or a declared type that does not match.
pub const CODE_BAD_TYPE: &str = "E0605";
/// Input beyond the reader's limits (nesting, size).
pub const CODE_LIMIT: &str = "E0606";

/// Most tokens the reader accepts in one text.
pub(crate) const MAX_TOKENS: usize = 10_000_000;
/// Deepest nesting of derivative roles accepted (`jvp[1](grad[0](…))`).
const MAX_ROLE_DEPTH: usize = 64;
/// Largest value index accepted in an `indexed` function.
const MAX_INDEX: usize = 1 << 22;
/// Largest tensor extent accepted in a type or op.
const MAX_EXTENT: usize = 1 << 40;

const KEYWORDS: [&str; 19] = [
    "module",
    "func",
    "params",
    "states",
    "outputs",
    "time",
    "points",
    "data",
    "event",
    "input",
    "algebraic",
    "circuit",
    "observable",
    "return",
    "yield",
    "indexed",
    "unreachable",
    "batch",
    "len",
];

/// True for words with a meaning of their own at the start of a module item.
pub(crate) fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// Parses a module from `.sir` text. `file` is only used for the spans of diagnostics.
pub fn read_module(file: FileId, text: &str) -> Result<Module, Vec<Diagnostic>> {
    let tokens = lex::lex(file, text).map_err(|d| vec![d])?;
    let mut p = Parser {
        file,
        tokens,
        pos: 0,
        text_len: text.len(),
    };
    p.module().map_err(|d| vec![d])
}

type PResult<T> = Result<T, Diagnostic>;

struct Parser {
    file: FileId,
    tokens: Vec<Token>,
    pos: usize,
    text_len: usize,
}

/// A call whose callee is resolved once all functions are known.
struct PendingCall {
    func: usize,
    value: ValueId,
    target: Target,
    span: Span,
}

enum Target {
    Name(String),
    Index(usize),
}

/// Per-function state: the arena under construction and the visible names.
struct FuncState {
    indexed: bool,
    /// Plain mode: values in push order.
    values: Vec<Value>,
    /// Indexed mode: values by index.
    slots: Vec<Option<Value>>,
    /// Plain mode: visible tokens, innermost scope last.
    scopes: Vec<HashMap<String, ValueId>>,
    /// Calls in this function: (value, target, span).
    calls: Vec<(ValueId, Target, Span)>,
    /// The callee of the `call` op just parsed, until its value is defined.
    pending_target: Option<(Target, Span)>,
}

impl Parser {
    // ---- token helpers ----------------------------------------------------------------

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn span_here(&self) -> Span {
        match self.tokens.get(self.pos) {
            Some(t) => Span::new(self.file, t.start, t.end),
            None => Span::new(self.file, self.text_len, self.text_len),
        }
    }

    fn span_prev(&self) -> Span {
        match self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)) {
            Some(t) => Span::new(self.file, t.start, t.end),
            None => Span::new(self.file, 0, 0),
        }
    }

    fn describe_here(&self) -> String {
        match self.peek() {
            None => "the end of the text".to_string(),
            Some(Tok::Ident(s)) => format!("`{s}`"),
            Some(Tok::Value(s)) => format!("`%{s}`"),
            Some(Tok::Str(s)) => format!("the string {s:?}"),
            Some(Tok::Num(s)) => format!("`{s}`"),
            Some(Tok::Arrow) => "`->`".to_string(),
            Some(Tok::Punct(c)) => format!("`{c}`"),
        }
    }

    fn error_here(&self, expected: &str) -> Diagnostic {
        Diagnostic::error(
            CODE_SYNTAX,
            format!("Expected {expected} but found {}.", self.describe_here()),
        )
        .with_primary(self.span_here(), format!("expected {expected}"))
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    fn at_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn at_keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == k)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.at_punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        if self.at_keyword(k) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.error_here(&format!("`{c}`")))
        }
    }

    fn expect_keyword(&mut self, k: &str) -> PResult<()> {
        if self.eat_keyword(k) {
            Ok(())
        } else {
            Err(self.error_here(&format!("`{k}`")))
        }
    }

    /// True if the current token starts right where the previous one ended.
    fn adjacent(&self) -> bool {
        match (
            self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)),
            self.tokens.get(self.pos),
        ) {
            (Some(a), Some(b)) => a.end == b.start,
            _ => false,
        }
    }

    /// A module, function or slot name: an identifier or a string.
    fn name(&mut self, what: &str) -> PResult<String> {
        match self.peek() {
            Some(Tok::Ident(s)) | Some(Tok::Str(s)) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.error_here(what)),
        }
    }

    fn usize_lit(&mut self, what: &str) -> PResult<usize> {
        let span = self.span_here();
        match self.peek() {
            Some(Tok::Num(s)) if s.bytes().all(|b| b.is_ascii_digit()) => {
                let n = s.parse::<usize>().ok().filter(|n| *n <= MAX_EXTENT);
                self.bump();
                n.ok_or_else(|| {
                    Diagnostic::error(CODE_LIMIT, format!("This {what} is too large."))
                        .with_primary(span, "too large")
                })
            }
            _ => Err(self.error_here(what)),
        }
    }

    fn i32_lit(&mut self, what: &str) -> PResult<i32> {
        let negative = self.eat_punct('-');
        let span = self.span_here();
        let n = self.usize_lit(what)?;
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let n = if negative { -n } else { n };
        i32::try_from(n).map_err(|_| {
            Diagnostic::error(
                CODE_BAD_TYPE,
                format!("This {what} does not fit in 32 bits."),
            )
            .with_primary(span, "too large")
        })
    }

    /// A float: `-`? (number | `inf` | `nan`).
    fn f64_lit(&mut self) -> PResult<f64> {
        let negative = self.eat_punct('-');
        let x = match self.peek() {
            Some(Tok::Num(s)) => s.parse::<f64>().ok(),
            Some(Tok::Ident(s)) => match s.as_str() {
                "inf" | "infinity" => Some(f64::INFINITY),
                "nan" | "NaN" => Some(f64::NAN),
                _ => None,
            },
            _ => None,
        };
        match x {
            Some(x) => {
                self.bump();
                Ok(if negative { -x } else { x })
            }
            None => Err(self.error_here("a number")),
        }
    }

    fn f64_list(&mut self) -> PResult<Vec<f64>> {
        self.expect_punct('[')?;
        let mut xs = Vec::new();
        if !self.eat_punct(']') {
            loop {
                xs.push(self.f64_lit()?);
                if self.eat_punct(']') {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        Ok(xs)
    }

    // ---- types and units --------------------------------------------------------------

    fn ty(&mut self) -> PResult<Type> {
        let batched = self.eat_keyword("batch");
        let dtype = match self.peek() {
            Some(Tok::Ident(s)) => match s.as_str() {
                "f64" => Some(DType::F64),
                "f32" => Some(DType::F32),
                "i64" => Some(DType::I64),
                "bool" => Some(DType::Bool),
                _ => None,
            },
            _ => None,
        };
        let Some(dtype) = dtype else {
            return Err(self.error_here("a dtype (f64, f32, i64 or bool)"));
        };
        self.bump();
        let mut shape = Vec::new();
        if self.at_punct('[') && self.adjacent() {
            self.bump();
            if !self.eat_punct(']') {
                loop {
                    shape.push(self.usize_lit("extent")?);
                    if self.eat_punct(']') {
                        break;
                    }
                    self.expect_punct(',')?;
                }
            }
        }
        let mut unit = None;
        if self.at_punct('[') {
            self.bump();
            unit = Some(self.unit()?);
            self.expect_punct(']')?;
        }
        Ok(Type {
            dtype,
            shape,
            batched,
            unit,
        })
    }

    /// `term (· term)* (/ (term | '(' term (· term)* ')'))?` where a term is a number
    /// (a scale factor) or a base symbol with an optional exponent.
    fn unit(&mut self) -> PResult<Unit> {
        let mut u = Unit::DIMENSIONLESS;
        self.unit_terms(&mut u, false)?;
        if self.eat_punct('/') {
            if self.eat_punct('(') {
                self.unit_terms(&mut u, true)?;
                self.expect_punct(')')?;
            } else {
                self.unit_term(&mut u, true)?;
            }
        }
        Ok(u)
    }

    fn unit_terms(&mut self, u: &mut Unit, invert: bool) -> PResult<()> {
        self.unit_term(u, invert)?;
        while self.eat_punct('·') || self.eat_punct('*') {
            self.unit_term(u, invert)?;
        }
        Ok(())
    }

    fn unit_term(&mut self, u: &mut Unit, invert: bool) -> PResult<()> {
        let span = self.span_here();
        let sym = match self.peek() {
            Some(Tok::Ident(s)) if BASE_SYMBOLS.contains(&s.as_str()) => Some(s.clone()),
            _ => None,
        };
        let Some(sym) = sym else {
            let x = self.f64_lit().map_err(|_| {
                Diagnostic::error(
                    CODE_BAD_TYPE,
                    format!(
                        "Expected an SI base unit ({}) or a number in a unit, but found {}.",
                        BASE_SYMBOLS.join(", "),
                        self.describe_here()
                    ),
                )
                .with_primary(span, "not a unit")
            })?;
            u.scale = if invert { u.scale / x } else { u.scale * x };
            return Ok(());
        };
        self.bump();
        let mut exp = Rational::int(1);
        if self.eat_punct('^') {
            exp = if self.eat_punct('(') {
                let num = self.i32_lit("exponent")?;
                self.expect_punct('/')?;
                let den = self.i32_lit("exponent")?;
                self.expect_punct(')')?;
                Rational::new(num as i64, den as i64).ok_or_else(|| {
                    Diagnostic::error(CODE_BAD_TYPE, "A unit exponent has a zero denominator.")
                        .with_primary(self.span_prev(), "zero denominator")
                })?
            } else {
                Rational::int(self.i32_lit("exponent")?)
            };
        }
        if invert {
            exp = Rational::new(-(exp.num as i64), exp.den as i64).unwrap_or(exp);
        }
        let i = BASE_SYMBOLS.iter().position(|s| *s == sym).unwrap_or(0);
        let overflow = || {
            Diagnostic::error(CODE_BAD_TYPE, "A unit exponent is too large.")
                .with_primary(span, "too large")
        };
        if let Some(d) = u.dims.get_mut(i) {
            *d = d.add(exp).ok_or_else(overflow)?;
        }
        Ok(())
    }

    // ---- module -----------------------------------------------------------------------

    fn module(&mut self) -> PResult<Module> {
        let mut m = Module::default();
        if self.eat_keyword("module") {
            m.name = self.name("a module name")?;
        }
        let mut pending: Vec<PendingCall> = Vec::new();
        let mut func_spans: Vec<Span> = Vec::new();
        while self.peek().is_some() {
            if self.at_keyword("params") || self.at_keyword("states") || self.at_keyword("outputs")
            {
                let which = match self.peek() {
                    Some(Tok::Ident(s)) => s.clone(),
                    _ => String::new(),
                };
                self.bump();
                let layout = self.layout()?;
                match which.as_str() {
                    "params" => m.params = layout,
                    "states" => m.states = layout,
                    _ => m.outputs = layout,
                }
            } else if self.eat_keyword("time") {
                let span = self.span_prev();
                match self.f64_list()?[..] {
                    [t0, t1] => m.manifest.time_span = Some((t0, t1)),
                    _ => {
                        return Err(Diagnostic::error(
                            CODE_BAD_TYPE,
                            "A time span is two numbers: `time [t0, t1]`.",
                        )
                        .with_primary(span, "not two numbers"));
                    }
                }
            } else if self.eat_keyword("points") {
                m.manifest.point_sets.push(self.point_set()?);
            } else if self.eat_keyword("data") {
                m.manifest.data.push(self.data_source()?);
            } else if self.eat_keyword("event") {
                m.manifest.events.push(self.event()?);
            } else if self.eat_keyword("input") {
                m.manifest.inputs.push(self.input_range()?);
            } else if self.eat_keyword("algebraic") {
                loop {
                    m.manifest.algebraic.push(self.name("an algebraic state")?);
                    if !self.eat_punct(',') {
                        break;
                    }
                }
            } else if self.eat_keyword("circuit") {
                m.manifest.circuits.push(self.circuit()?);
            } else if self.eat_keyword("observable") {
                m.manifest.observables.push(self.observable()?);
            } else if self.at_keyword("func") {
                let span = self.span_here();
                let (f, calls) = self.function()?;
                let index = m.functions.len();
                for (value, target, span) in calls {
                    pending.push(PendingCall {
                        func: index,
                        value,
                        target,
                        span,
                    });
                }
                func_spans.push(span);
                m.functions.push(f);
            } else {
                return Err(self.error_here(
                    "`func`, `params`, `states`, `outputs`, `time`, `points`, `data`, `event`, `input`, `algebraic`, `circuit` or `observable`",
                ));
            }
        }
        for call in pending {
            let target = match &call.target {
                Target::Index(i) => FuncId::from_index(*i),
                Target::Name(name) => {
                    let matches: Vec<FuncId> = m
                        .functions
                        .iter()
                        .filter(|(_, f)| &f.name == name)
                        .map(|(id, _)| id)
                        .collect();
                    match matches[..] {
                        [one] => one,
                        [] => {
                            return Err(Diagnostic::error(
                                CODE_UNKNOWN_FUNCTION,
                                format!("There is no function named `{name}` in this module."),
                            )
                            .with_primary(call.span, "unknown function"));
                        }
                        _ => {
                            return Err(Diagnostic::error(
                                CODE_UNKNOWN_FUNCTION,
                                format!("Several functions are named `{name}`, so the call is ambiguous."),
                            )
                            .with_primary(call.span, "ambiguous call")
                            .with_help("call it by index, as `call @2(...)`"));
                        }
                    }
                }
            };
            let value = m
                .functions
                .get_mut(FuncId::from_index(call.func))
                .and_then(|f| f.values.get_mut(call.value));
            if let Some(Value {
                op: Op::Call { func, .. },
                ..
            }) = value
            {
                *func = target;
            }
        }
        Ok(m)
    }

    fn layout(&mut self) -> PResult<Layout> {
        let mut explicit_len = None;
        if self.eat_keyword("len") {
            explicit_len = Some(self.usize_lit("length")?);
        }
        self.expect_punct('{')?;
        let mut layout = Layout::default();
        let mut end = 0usize;
        while !self.eat_punct('}') {
            let name = self.name("a slot name or `}`")?;
            self.expect_punct(':')?;
            let ty_span = self.span_here();
            let ty = self.ty()?;
            if ty.dtype != DType::F64 || ty.batched {
                return Err(Diagnostic::error(
                    CODE_BAD_TYPE,
                    "A layout slot is a slice of an f64 vector, so its type must be plain f64.",
                )
                .with_primary(ty_span, "not f64"));
            }
            let count = crate::types::element_count(&ty.shape).unwrap_or(usize::MAX);
            let offset = if self.eat_punct('@') {
                self.usize_lit("offset")?
            } else {
                end
            };
            let default = if self.eat_punct('=') {
                self.f64_list()?
            } else {
                Vec::new()
            };
            let fixed = self.eat_keyword("fixed");
            end = end.max(offset.saturating_add(count));
            layout.slots.push(Slot {
                name,
                offset,
                shape: ty.shape,
                unit: ty.unit,
                default,
                fixed,
            });
        }
        layout.len = explicit_len.unwrap_or(end);
        Ok(layout)
    }

    // ---- functions --------------------------------------------------------------------

    #[allow(clippy::type_complexity)]
    fn function(&mut self) -> PResult<(Function, Vec<(ValueId, Target, Span)>)> {
        self.expect_keyword("func")?;
        let name = self.name("a function name")?;
        // The `indexed` marker comes after the header, so scan ahead for it: it decides how
        // the inputs are placed.
        let indexed = self.header_is_indexed();
        let mut fs = FuncState {
            indexed,
            values: Vec::new(),
            slots: Vec::new(),
            scopes: vec![HashMap::new()],
            calls: Vec::new(),
            pending_target: None,
        };
        self.expect_punct('(')?;
        let mut args = Vec::new();
        let mut input_roles = Vec::new();
        if !self.eat_punct(')') {
            loop {
                let k = args.len();
                let (token, vname, span) = self.value_decl()?;
                let ty = self.ty()?;
                if self.eat_keyword("as") {
                    input_roles.resize(k, InputRole::Plain);
                    input_roles.push(self.input_role()?);
                }
                args.push(fs.define(
                    &token,
                    span,
                    Value {
                        op: Op::Arg(k),
                        ty,
                        name: vname,
                    },
                )?);
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        if !matches!(self.peek(), Some(Tok::Arrow)) {
            return Err(self.error_here("`->` and the result type"));
        }
        self.bump();
        let result_span = self.span_here();
        let result_ty = self.ty()?;
        let role = if self.eat_keyword("role") {
            self.role(0)?
        } else {
            Role::Plain
        };
        if indexed {
            self.expect_keyword("indexed")?;
        }
        self.expect_punct('{')?;
        let mut body = Vec::new();
        while !self.at_keyword("return") {
            body.push(self.value_line(&mut fs, 0)?);
        }
        self.bump();
        let result = self.value_ref(&fs)?;
        if fs.indexed && self.eat_keyword("unreachable") {
            self.expect_punct('{')?;
            while !self.eat_punct('}') {
                self.value_line(&mut fs, 0)?;
            }
        }
        self.expect_punct('}')?;
        let values = fs.finish(result_span)?;
        let actual = values.get(result).map(|v| &v.ty);
        if actual != Some(&result_ty) {
            return Err(Diagnostic::error(
                CODE_BAD_TYPE,
                format!(
                    "The function `{name}` is declared to return {} but its result is {}.",
                    crate::print::format_type(&result_ty),
                    actual
                        .map(crate::print::format_type)
                        .unwrap_or_else(|| "undefined".to_string())
                ),
            )
            .with_primary(result_span, "declared result type"));
        }
        if !input_roles.is_empty() {
            input_roles.resize(args.len(), InputRole::Plain);
        }
        let f = Function {
            name,
            values,
            body: Block { args, body, result },
            role,
            input_roles,
        };
        Ok((f, fs.calls))
    }

    // ---- manifest ---------------------------------------------------------------------

    /// `NAME seed N SAMPLING POINTS { COORD: [lo, hi] … fix C = V or C = V … }` after
    /// `points`.
    fn point_set(&mut self) -> PResult<PointSet> {
        let name = self.name("a point set name")?;
        self.expect_keyword("seed")?;
        let seed_index = self.usize_lit("seed index")?;
        let span = self.span_here();
        let method = self.name("a sampling method")?;
        let sampling = Sampling::from_name(&method).ok_or_else(|| {
            let names: Vec<&str> = Sampling::ALL.iter().map(|(_, n)| *n).collect();
            Diagnostic::error(
                CODE_BAD_TYPE,
                format!("There is no sampling method `{method}`."),
            )
            .with_primary(span, "unknown method")
            .with_help(format!("the methods are: {}", names.join(", ")))
        })?;
        let points = self.usize_lit("point count")?;
        self.expect_punct('{')?;
        let mut coords = Vec::new();
        let mut fixed = Vec::new();
        while !self.eat_punct('}') {
            if self.eat_keyword("fix") {
                let mut alternatives = Vec::new();
                loop {
                    let span = self.span_here();
                    let c = self.usize_lit("coordinate index")?;
                    if c >= coords.len() {
                        return Err(Diagnostic::error(
                            CODE_BAD_TYPE,
                            format!("The point set has no coordinate {c}."),
                        )
                        .with_primary(span, "out of range"));
                    }
                    self.expect_punct('=')?;
                    alternatives.push((c, self.f64_lit()?));
                    if !self.eat_keyword("or") {
                        break;
                    }
                }
                fixed.push(alternatives);
                continue;
            }
            let name = self.name("a coordinate name, `fix` or `}`")?;
            self.expect_punct(':')?;
            let span = self.span_here();
            let bounds = self.f64_list()?;
            let [lo, hi] = bounds[..] else {
                return Err(Diagnostic::error(
                    CODE_BAD_TYPE,
                    "A coordinate's bounds are two numbers: `x: [lo, hi]`.",
                )
                .with_primary(span, "not two numbers"));
            };
            coords.push(Coordinate { name, lo, hi });
        }
        Ok(PointSet {
            name,
            seed_index,
            coords,
            fixed,
            points,
            sampling,
        })
    }

    /// `NAME "PATH"… (COLUMN [SHAPE]?, …) (test N)?` after `data`.
    fn data_source(&mut self) -> PResult<DataSource> {
        let name = self.name("a data set name")?;
        let mut paths = Vec::new();
        while let Some(Tok::Str(s)) = self.peek() {
            paths.push(s.clone());
            self.bump();
        }
        if paths.is_empty() {
            return Err(self.error_here("the data file's path as a string"));
        }
        self.expect_punct('(')?;
        let mut columns = Vec::new();
        let mut shapes = Vec::new();
        if !self.eat_punct(')') {
            loop {
                columns.push(self.name("a column name")?);
                let mut shape = Vec::new();
                if self.eat_punct('[') && !self.eat_punct(']') {
                    loop {
                        shape.push(self.usize_lit("extent")?);
                        if self.eat_punct(']') {
                            break;
                        }
                        self.expect_punct(',')?;
                    }
                }
                shapes.push(shape);
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        let test = if self.eat_keyword("test") {
            self.usize_lit("number of test rows")?
        } else {
            0
        };
        let path = paths.first().cloned().unwrap_or_default();
        if paths.len() == 1 {
            paths.clear();
        }
        // Canonical form (as the front end writes it): no shapes for a table of numbers.
        if shapes.iter().all(Vec::is_empty) {
            shapes.clear();
        }
        Ok(DataSource {
            name,
            path,
            columns,
            shapes,
            paths,
            test,
        })
    }

    /// `input NAME "PATH" [FIRST, LAST]`.
    fn input_range(&mut self) -> PResult<InputRange> {
        let name = self.name("a data set name")?;
        let path = match self.peek() {
            Some(Tok::Str(s)) => s.clone(),
            _ => return Err(self.error_here("the data file's path as a string")),
        };
        self.bump();
        let span = self.span_here();
        match self.f64_list()?[..] {
            [first, last] => Ok(InputRange {
                name,
                path,
                first,
                last,
            }),
            _ => Err(Diagnostic::error(
                CODE_BAD_TYPE,
                "An input's time range is two numbers: `[first, last]`.",
            )
            .with_primary(span, "not two numbers")),
        }
    }

    /// `NAME qubits N { GATE QUBIT… ('(' ANGLE (, ANGLE)* ')')? … }` after `circuit`.
    /// Counts and ranges are the validator's to check, so any gate reads back as printed.
    fn circuit(&mut self) -> PResult<QuantumCircuit> {
        let name = self.name("a circuit name")?;
        self.expect_keyword("qubits")?;
        let qubits = self.usize_lit("number of qubits")?;
        self.expect_punct('{')?;
        let mut gates = Vec::new();
        while !self.eat_punct('}') {
            let span = self.span_here();
            let word = match self.peek() {
                Some(Tok::Ident(s)) => s.clone(),
                _ => return Err(self.error_here("a gate such as `h` or `}`")),
            };
            let kind = GateKind::from_name(&word).ok_or_else(|| {
                let names: Vec<&str> = GateKind::ALL.iter().map(|(_, n)| *n).collect();
                Diagnostic::error(CODE_BAD_TYPE, format!("There is no gate `{word}`."))
                    .with_primary(span, "unknown gate")
                    .with_help(format!("the gates are: {}", names.join(", ")))
            })?;
            self.bump();
            let mut on = Vec::new();
            while let Some(Tok::Num(_)) = self.peek() {
                on.push(self.usize_lit("qubit")?);
            }
            let mut angles = Vec::new();
            if self.eat_punct('(') {
                loop {
                    angles.push(self.angle()?);
                    if self.eat_punct(')') {
                        break;
                    }
                    self.expect_punct(',')?;
                }
            }
            gates.push(QuantumGate {
                kind,
                qubits: on,
                angles,
            });
        }
        Ok(QuantumCircuit {
            name,
            qubits,
            gates,
        })
    }

    /// A gate's angle: `num`, or `(num '*')? θ[K] (('+' | '-') num)?` (`theta` for `θ` too).
    fn angle(&mut self) -> PResult<GateAngle> {
        let at_theta = |p: &Parser| p.at_keyword("θ") || p.at_keyword("theta");
        let scale = if at_theta(self) {
            1.0
        } else {
            let x = self.f64_lit()?;
            if !self.eat_punct('*') {
                return Ok(GateAngle::constant(x));
            }
            x
        };
        if !at_theta(self) {
            return Err(self.error_here("`θ[K]`"));
        }
        self.bump();
        self.expect_punct('[')?;
        let param = self.usize_lit("parameter index")?;
        self.expect_punct(']')?;
        let offset = if self.eat_punct('+') {
            self.f64_lit()?
        } else if self.eat_punct('-') {
            -self.f64_lit()?
        } else {
            0.0
        };
        Ok(GateAngle {
            param: Some(param),
            scale,
            offset,
        })
    }

    /// `NAME qubits N { COEFF PAULI… … }` after `observable`: each term a coefficient
    /// and its factors (`-1 Z0 Z1`; none for the identity).
    fn observable(&mut self) -> PResult<PauliObservable> {
        let name = self.name("an observable name")?;
        self.expect_keyword("qubits")?;
        let qubits = self.usize_lit("number of qubits")?;
        self.expect_punct('{')?;
        let mut terms = Vec::new();
        while !self.eat_punct('}') {
            let coeff = self
                .f64_lit()
                .map_err(|_| self.error_here("a term's coefficient or `}`"))?;
            let mut factors = Vec::new();
            // A factor is a word `X3`; the next term starts with its coefficient, a
            // number, `-`, or the words `inf` and `nan`.
            while let Some(Tok::Ident(word)) = self.peek() {
                if matches!(word.as_str(), "inf" | "infinity" | "nan" | "NaN") {
                    break;
                }
                let span = self.span_here();
                let factor = pauli_factor(word).ok_or_else(|| {
                    Diagnostic::error(
                        CODE_BAD_TYPE,
                        format!("`{word}` is not a Pauli factor such as `Z0`."),
                    )
                    .with_primary(span, "not a factor")
                    .with_help("a factor is X, Y or Z and a qubit number: `X0`, `Z12`")
                })?;
                factors.push(factor);
                self.bump();
            }
            terms.push(PauliTerm { coeff, factors });
        }
        Ok(PauliObservable {
            name,
            qubits,
            terms,
        })
    }

    /// `event "LABEL" (rising | falling | every P [from T0]) (reset | stop)`.
    fn event(&mut self) -> PResult<Event> {
        let label = match self.peek() {
            Some(Tok::Str(s)) => s.clone(),
            _ => return Err(self.error_here("the event's condition as a string")),
        };
        self.bump();
        let trigger = if self.eat_keyword("rising") {
            EventTrigger::Crossing { rising: true }
        } else if self.eat_keyword("falling") {
            EventTrigger::Crossing { rising: false }
        } else if self.eat_keyword("every") {
            let period = self.f64_lit()?;
            let start = if self.eat_keyword("from") {
                Some(self.f64_lit()?)
            } else {
                None
            };
            EventTrigger::Every { period, start }
        } else {
            return Err(self.error_here("`rising`, `falling` or `every`"));
        };
        let stop = if self.eat_keyword("stop") {
            true
        } else if self.eat_keyword("reset") {
            false
        } else {
            return Err(self.error_here("`reset` or `stop`"));
        };
        Ok(Event {
            label,
            trigger,
            stop,
        })
    }

    /// A function role: `rhs`, `residual(NAME)`, `KIND[i, …](ROLE)`.
    fn role(&mut self, depth: usize) -> PResult<Role> {
        let span = self.span_here();
        if depth > MAX_ROLE_DEPTH {
            return Err(
                Diagnostic::error(CODE_LIMIT, "This role nests derivatives too deeply.")
                    .with_primary(span, "too deep"),
            );
        }
        let word = self.name("a role")?;
        if let Some(role) = Role::from_simple_name(&word) {
            return Ok(role);
        }
        if let Some(part) = crate::SplitPart::from_name(&word) {
            self.expect_punct('(')?;
            let of = self.role(depth + 1)?;
            self.expect_punct(')')?;
            return Ok(Role::split(part, &of));
        }
        if word == "residual" || word == "net" || word == "loss_term" {
            self.expect_punct('(')?;
            let name = self.name("a name")?;
            self.expect_punct(')')?;
            return Ok(match word.as_str() {
                "net" => Role::Net(name),
                "loss_term" => Role::LossTerm(name),
                _ => Role::Residual(name),
            });
        }
        let Some(kind) = DerivativeKind::from_name(&word) else {
            return Err(Diagnostic::error(
                CODE_BAD_TYPE,
                format!("There is no function role `{word}`."),
            )
            .with_primary(span, "unknown role")
            .with_help(
                "the roles are plain, rhs, y0, outputs, loss, residual(NAME), loss_term(NAME), \
                 net(NAME), derivatives such as jvp[1](rhs) and parts such as invariant(rhs)",
            ));
        };
        self.expect_punct('[')?;
        let mut wrt = Vec::new();
        if !self.eat_punct(']') {
            loop {
                wrt.push(self.usize_lit("input index")?);
                if self.eat_punct(']') {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        self.expect_punct('(')?;
        let of = self.role(depth + 1)?;
        self.expect_punct(')')?;
        Ok(Role::derivative(kind, &of, &wrt))
    }

    /// An input role: `time`, `state`, `params`, `point(S, C)`, `data(D)`,
    /// `trajectory(D, C)`, `tangent(K)`, `cotangent`, `arg(NAME)`, `plain`.
    fn input_role(&mut self) -> PResult<InputRole> {
        let span = self.span_here();
        let word = self.name("an input role")?;
        let role = match word.as_str() {
            "plain" => InputRole::Plain,
            "time" => InputRole::Time,
            "state" => InputRole::State,
            "params" => InputRole::Params,
            "cotangent" => InputRole::Cotangent,
            "invariant" => InputRole::Invariant,
            "arg" => {
                self.expect_punct('(')?;
                let name = self.name("an argument name")?;
                self.expect_punct(')')?;
                InputRole::Argument(name)
            }
            "point" => {
                let [set, coord] = self.index_pair()?;
                InputRole::Point { set, coord }
            }
            "trajectory" => {
                let [data, time_column] = self.index_pair()?;
                InputRole::Trajectory { data, time_column }
            }
            "expval" => {
                let [circuit, observable] = self.index_pair()?;
                InputRole::Expval {
                    circuit,
                    observable,
                }
            }
            "data" | "tangent" => {
                self.expect_punct('(')?;
                let k = self.usize_lit("an index")?;
                self.expect_punct(')')?;
                if word == "data" {
                    InputRole::Data { data: k }
                } else {
                    InputRole::Tangent { of: k }
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    CODE_BAD_TYPE,
                    format!("There is no input role `{word}`."),
                )
                .with_primary(span, "unknown input role")
                .with_help(
                    "the input roles are time, state, params, point(S, C), data(D), \
                     trajectory(D, C), expval(C, O), tangent(K), cotangent, invariant, arg(NAME) \
                     and plain",
                ));
            }
        };
        Ok(role)
    }

    /// `(A, B)`: two indices.
    fn index_pair(&mut self) -> PResult<[usize; 2]> {
        self.expect_punct('(')?;
        let a = self.usize_lit("an index")?;
        self.expect_punct(',')?;
        let b = self.usize_lit("an index")?;
        self.expect_punct(')')?;
        Ok([a, b])
    }

    /// Looks past the parameter list and result type for the `indexed` keyword.
    fn header_is_indexed(&self) -> bool {
        let mut depth = 0usize;
        for t in self.tokens.iter().skip(self.pos) {
            match &t.tok {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth = depth.saturating_sub(1),
                Tok::Punct('{') if depth == 0 => return false,
                Tok::Ident(s) if depth == 0 && s == "indexed" => return true,
                _ => {}
            }
        }
        false
    }

    /// `%token "name"? :` — returns the token, the value's name and the token's span.
    fn value_decl(&mut self) -> PResult<(String, Option<String>, Span)> {
        let span = self.span_here();
        let token = match self.peek() {
            Some(Tok::Value(s)) => s.clone(),
            _ => return Err(self.error_here("a value such as `%x`")),
        };
        self.bump();
        let name = match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.bump();
                Some(s)
            }
            _ if token.bytes().all(|b| b.is_ascii_digit()) => None,
            _ => Some(token.clone()),
        };
        self.expect_punct(':')?;
        Ok((token, name, span))
    }

    fn value_ref(&mut self, fs: &FuncState) -> PResult<ValueId> {
        let span = self.span_here();
        let token = match self.peek() {
            Some(Tok::Value(s)) => s.clone(),
            _ => return Err(self.error_here("a value such as `%x`")),
        };
        self.bump();
        fs.lookup(&token).ok_or_else(|| {
            let message = if fs.indexed {
                format!(
                    "`%{token}` is not a value index; an indexed function refers to values as `%N`."
                )
            } else {
                format!("The value `%{token}` is not defined here.")
            };
            Diagnostic::error(CODE_UNKNOWN_VALUE, message)
                .with_primary(span, "unknown value")
                .with_help(
                    "values must be defined on an earlier line of the same or an enclosing block",
                )
        })
    }

    fn value_refs(&mut self, fs: &FuncState) -> PResult<Vec<ValueId>> {
        let mut ids = vec![self.value_ref(fs)?];
        while self.eat_punct(',') {
            ids.push(self.value_ref(fs)?);
        }
        Ok(ids)
    }

    /// One `%x: type = op` line (with its block, if any); returns the value's id.
    fn value_line(&mut self, fs: &mut FuncState, depth: usize) -> PResult<ValueId> {
        let (token, name, span) = self.value_decl()?;
        let ty = self.ty()?;
        self.expect_punct('=')?;
        let op = self.op(fs, depth)?;
        let is_call = matches!(op, Op::Call { .. });
        let target = fs.pending_target.take();
        let id = fs.define(&token, span, Value { op, ty, name })?;
        if is_call && let Some((target, span)) = target {
            fs.calls.push((id, target, span));
        }
        Ok(id)
    }

    fn reduce_op(&mut self) -> PResult<ReduceOp> {
        let op = match self.peek() {
            Some(Tok::Ident(s)) => ReduceOp::from_name(s),
            _ => None,
        };
        match op {
            Some(op) => {
                self.bump();
                Ok(op)
            }
            None => Err(self.error_here("a reduction (sum, prod, max, min or mean)")),
        }
    }

    fn op(&mut self, fs: &mut FuncState, depth: usize) -> PResult<Op> {
        let mnemonic = match self.peek() {
            Some(Tok::Ident(s)) => s.clone(),
            _ => return Err(self.error_here("an op such as `add`")),
        };
        let span = self.span_here();
        self.bump();
        if let Some(op) = UnaryOp::from_name(&mnemonic) {
            return Ok(Op::Unary(op, self.value_ref(fs)?));
        }
        if let Some(op) = BinaryOp::from_name(&mnemonic) {
            let (a, b) = self.two_refs(fs)?;
            return Ok(Op::Binary(op, a, b));
        }
        if let Some(op) = CmpOp::from_name(&mnemonic) {
            let (a, b) = self.two_refs(fs)?;
            return Ok(Op::Compare(op, a, b));
        }
        let op = match mnemonic.as_str() {
            "arg" => Op::Arg(self.usize_lit("argument number")?),
            "const" => Op::Const(self.f64_lit()?),
            "literal" => Op::Literal(self.f64_list()?),
            "powi" => {
                let a = self.value_ref(fs)?;
                self.expect_punct(',')?;
                Op::Powi(a, self.i32_lit("exponent")?)
            }
            "select" => {
                let c = self.value_ref(fs)?;
                self.expect_punct(',')?;
                let (a, b) = self.two_refs(fs)?;
                Op::Select(c, a, b)
            }
            "cast" => Op::Cast(self.value_ref(fs)?),
            "broadcast" => Op::Broadcast(self.value_ref(fs)?),
            "reshape" => Op::Reshape(self.value_ref(fs)?),
            "transpose" => Op::Transpose(self.value_ref(fs)?),
            "rfft" => {
                let (signal, modes) = self.ref_and_count(fs, "number of modes")?;
                Op::Rfft { signal, modes }
            }
            "irfft" => {
                let (spectrum, n) = self.ref_and_count(fs, "number of points")?;
                Op::Irfft { spectrum, n }
            }
            "rfft2" => {
                let (signal, m1) = self.ref_and_count(fs, "number of modes")?;
                self.expect_punct(',')?;
                let m2 = self.usize_lit("number of modes")?;
                Op::Rfft2 {
                    signal,
                    modes: [m1, m2],
                }
            }
            "irfft2" => {
                let (spectrum, n1) = self.ref_and_count(fs, "number of points")?;
                self.expect_punct(',')?;
                let n2 = self.usize_lit("number of points")?;
                Op::Irfft2 {
                    spectrum,
                    n: [n1, n2],
                }
            }
            "index" => {
                let array = self.value_ref(fs)?;
                self.expect_punct('[')?;
                let indices = if self.at_punct(']') {
                    Vec::new()
                } else {
                    self.value_refs(fs)?
                };
                self.expect_punct(']')?;
                let fill = if self.eat_keyword("fill") {
                    Some(self.f64_lit()?)
                } else {
                    None
                };
                Op::Index {
                    array,
                    indices,
                    fill,
                }
            }
            "slice" => {
                let array = self.value_ref(fs)?;
                self.expect_punct(',')?;
                let start = self.usize_lit("start")?;
                self.expect_punct(',')?;
                let len = self.usize_lit("length")?;
                Op::Slice { array, start, len }
            }
            "concat" => Op::Concat(self.value_refs(fs)?),
            "dot" => {
                let (a, b) = self.two_refs(fs)?;
                Op::Dot(a, b)
            }
            "matvec" => {
                let (a, b) = self.two_refs(fs)?;
                Op::MatVec(a, b)
            }
            "matmul" => {
                let (a, b) = self.two_refs(fs)?;
                Op::MatMul(a, b)
            }
            "reduce" => {
                let op = self.reduce_op()?;
                Op::Reduce(op, self.value_ref(fs)?)
            }
            "reduce_batch" => {
                let op = self.reduce_op()?;
                Op::ReduceBatch(op, self.value_ref(fs)?)
            }
            "tabulate" => {
                self.expect_punct('[')?;
                let mut extents = vec![self.usize_lit("extent")?];
                while self.eat_punct(',') {
                    extents.push(self.usize_lit("extent")?);
                }
                self.expect_punct(']')?;
                let body = self.block(fs, depth)?;
                Op::Tabulate { extents, body }
            }
            "fold" => {
                let op = self.reduce_op()?;
                let extent = self.usize_lit("iteration count")?;
                let body = self.block(fs, depth)?;
                Op::Fold { op, extent, body }
            }
            "map" => {
                let inputs = self.value_refs(fs)?;
                let body = self.block(fs, depth)?;
                Op::Map { inputs, body }
            }
            "tile_map" => {
                let lanes = self.usize_lit("number of lanes")?;
                let reduce = match self.peek() {
                    Some(Tok::Ident(_)) => Some(self.reduce_op()?),
                    _ => None,
                };
                let inputs = self.value_refs(fs)?;
                let body = self.block(fs, depth)?;
                Op::TileMap {
                    inputs,
                    lanes,
                    reduce,
                    body,
                }
            }
            "call" => {
                self.expect_punct('@')?;
                let tspan = self.span_here();
                let target = match self.peek() {
                    Some(Tok::Num(_)) => Target::Index(self.usize_lit("function index")?),
                    Some(Tok::Ident(s)) | Some(Tok::Str(s)) => {
                        let s = s.clone();
                        self.bump();
                        Target::Name(s)
                    }
                    _ => return Err(self.error_here("a function name after `@`")),
                };
                self.expect_punct('(')?;
                let args = if self.at_punct(')') {
                    Vec::new()
                } else {
                    self.value_refs(fs)?
                };
                self.expect_punct(')')?;
                fs.pending_target = Some((target, tspan));
                Op::Call {
                    func: FuncId::from_index(0),
                    args,
                }
            }
            "deriv" => {
                let of = self.value_ref(fs)?;
                self.expect_keyword("wrt")?;
                Op::Deriv {
                    of,
                    wrt: self.value_refs(fs)?,
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    CODE_SYNTAX,
                    format!("`{mnemonic}` is not an IR op."),
                )
                .with_primary(span, "unknown op")
                .with_help("see docs/ir.md for the list of ops"));
            }
        };
        Ok(op)
    }

    /// `%v, INT` (the operand and count of `rfft`/`irfft`); `what` names the count.
    fn ref_and_count(&mut self, fs: &FuncState, what: &str) -> PResult<(ValueId, usize)> {
        let a = self.value_ref(fs)?;
        self.expect_punct(',')?;
        Ok((a, self.usize_lit(what)?))
    }

    fn two_refs(&mut self, fs: &FuncState) -> PResult<(ValueId, ValueId)> {
        let a = self.value_ref(fs)?;
        self.expect_punct(',')?;
        let b = self.value_ref(fs)?;
        Ok((a, b))
    }

    /// `(args) { lines yield %r }`, pushing the block's values.
    fn block(&mut self, fs: &mut FuncState, depth: usize) -> PResult<Block> {
        if depth >= MAX_BLOCK_DEPTH {
            return Err(Diagnostic::error(
                CODE_LIMIT,
                format!("Blocks are nested more than {MAX_BLOCK_DEPTH} deep."),
            )
            .with_primary(self.span_here(), "too deep"));
        }
        fs.scopes.push(HashMap::new());
        self.expect_punct('(')?;
        let mut args = Vec::new();
        if !self.eat_punct(')') {
            loop {
                let k = args.len();
                let (token, name, span) = self.value_decl()?;
                let ty = self.ty()?;
                args.push(fs.define(
                    &token,
                    span,
                    Value {
                        op: Op::Arg(k),
                        ty,
                        name,
                    },
                )?);
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        self.expect_punct('{')?;
        let mut body = Vec::new();
        while !self.at_keyword("yield") {
            body.push(self.value_line(fs, depth + 1)?);
        }
        self.bump();
        let result = self.value_ref(fs)?;
        self.expect_punct('}')?;
        fs.scopes.pop();
        Ok(Block { args, body, result })
    }
}

/// `X3` as `(Pauli::X, 3)`: a Pauli letter and a qubit number of at most 2^40.
fn pauli_factor(word: &str) -> Option<(Pauli, usize)> {
    let mut chars = word.chars();
    let pauli = Pauli::from_letter(chars.next()?)?;
    let digits = chars.as_str();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let q = digits.parse::<usize>().ok().filter(|q| *q <= MAX_EXTENT)?;
    Some((pauli, q))
}

impl FuncState {
    /// Defines a value under `token` in the innermost scope and returns its id.
    fn define(&mut self, token: &str, span: Span, value: Value) -> PResult<ValueId> {
        if self.indexed {
            let index = token
                .parse::<usize>()
                .ok()
                .filter(|i| *i < MAX_INDEX)
                .ok_or_else(|| {
                    Diagnostic::error(
                        CODE_SYNTAX,
                        format!("In an indexed function every value is written `%N` with N below {MAX_INDEX}, not `%{token}`."),
                    )
                    .with_primary(span, "expected `%N`")
                })?;
            if self.slots.len() <= index {
                self.slots.resize(index + 1, None);
            }
            match self.slots.get_mut(index) {
                Some(slot @ None) => *slot = Some(value),
                _ => {
                    return Err(Diagnostic::error(
                        CODE_DUPLICATE,
                        format!("The value `%{index}` is defined twice."),
                    )
                    .with_primary(span, "second definition"));
                }
            }
            return Ok(ValueId::from_index(index));
        }
        if self.lookup(token).is_some() {
            return Err(Diagnostic::error(
                CODE_DUPLICATE,
                format!("The value `%{token}` is already defined here."),
            )
            .with_primary(span, "defined again")
            .with_help("give the value another name; names must not shadow visible values"));
        }
        if self.values.len() >= MAX_INDEX {
            return Err(
                Diagnostic::error(CODE_LIMIT, "The function has too many values.")
                    .with_primary(span, "too many values"),
            );
        }
        let id = ValueId::from_index(self.values.len());
        self.values.push(value);
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(token.to_string(), id);
        }
        Ok(id)
    }

    fn lookup(&self, token: &str) -> Option<ValueId> {
        if self.indexed {
            return token
                .parse::<usize>()
                .ok()
                .filter(|i| *i < MAX_INDEX)
                .map(ValueId::from_index);
        }
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.get(token).copied())
    }

    /// The finished arena; in indexed mode every index below the largest must be defined.
    fn finish(&mut self, span: Span) -> PResult<crate::arena::Arena<Value>> {
        let mut arena = crate::arena::Arena::new();
        if self.indexed {
            for (i, slot) in std::mem::take(&mut self.slots).into_iter().enumerate() {
                match slot {
                    Some(v) => {
                        arena.push(v);
                    }
                    None => {
                        return Err(Diagnostic::error(
                            CODE_UNKNOWN_VALUE,
                            format!("The indexed function does not define `%{i}`; every index up to the largest must be defined once."),
                        )
                        .with_primary(span, "in this function"));
                    }
                }
            }
        } else {
            for v in std::mem::take(&mut self.values) {
                arena.push(v);
            }
        }
        Ok(arena)
    }
}
