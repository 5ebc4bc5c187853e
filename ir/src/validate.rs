//! The IR validator: handles first, then scoping, then types.
//!
//! Validation runs in three phases per function, each only when the previous one found
//! nothing, so that later phases may rely on what earlier ones established:
//!
//! 1. **Handles**: every operand, block argument, block value, block result and callee is in
//!    range; every reachable value is defined at exactly one block position (which also makes
//!    the block tree finite and acyclic); `arg k` defines exactly argument `k` of a block;
//!    blocks nest at most [`MAX_BLOCK_DEPTH`] deep.
//! 2. **Scoping**: values are defined before use; values of a block are invisible outside it;
//!    a block may use values visible where its op is defined; `deriv` differentiates with
//!    respect to arguments of an enclosing top-level or `map` block.
//! 3. **Types**: every op's declared result type against its operands (see `docs/ir.md`),
//!    and the batch rules (batched values live only in the top-level block and are consumed
//!    only by `map`, `reduce_batch`, calls to batched inputs, and the function result).
//!
//! Units are metadata and are never compared. The validator never panics, whatever the
//! input: it uses `get` on handles until phase 1 has checked them, and iterates (not
//! recurses) over the call graph.

mod manifest;
mod typing;

pub use typing::{broadcasts_to, fits_dtype};

use crate::module::{Block, FuncId, Function, Layout, Module, ValueId};
use crate::op::Op;
use crate::types::element_count;
use sci_diag::Diagnostic;
use std::fmt;

/// Deepest nesting of blocks a function may have (the top-level block is depth 0).
pub const MAX_BLOCK_DEPTH: usize = 64;

/// Diagnostic code for out-of-range handles and malformed block structure.
pub const CODE_HANDLE: &str = "E0610";
/// Diagnostic code for use-before-definition and out-of-scope uses.
pub const CODE_SCOPE: &str = "E0611";
/// Diagnostic code for dtype/shape mismatches.
pub const CODE_TYPE: &str = "E0612";
/// Diagnostic code for violations of the batch rules.
pub const CODE_BATCH: &str = "E0613";
/// Diagnostic code for bad calls and recursion.
pub const CODE_CALL: &str = "E0614";
/// Diagnostic code for inconsistent layouts and module-level problems.
pub const CODE_MODULE: &str = "E0615";

/// One problem found by the validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The function the problem is in; empty for module-level problems (layouts, names).
    pub function: String,
    /// The value the problem is about, if any.
    pub value: Option<ValueId>,
    /// A full sentence saying what is wrong.
    pub message: String,
    /// The diagnostic code (one of the `CODE_*` constants).
    pub code: &'static str,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.function.is_empty(), self.value) {
            (true, _) => write!(f, "{}", self.message),
            (false, None) => write!(f, "in function `{}`: {}", self.function, self.message),
            (false, Some(v)) => write!(
                f,
                "in function `{}`, value %{}: {}",
                self.function,
                v.index(),
                self.message
            ),
        }
    }
}

impl ValidationError {
    /// The error as a diagnostic (no span: IR built in memory has no source text).
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(self.code, format!("invalid IR: {self}"))
            .with_note("the IR validator checks the output of the front end and of every pass; this is a compiler bug unless the IR was written by hand")
    }
}

/// Validates every layout, the function names, the call graph and every function.
pub fn validate_module(m: &Module) -> Result<(), Vec<ValidationError>> {
    let mut errors = Vec::new();
    for (what, layout) in [
        ("parameter", &m.params),
        ("state", &m.states),
        ("output", &m.outputs),
    ] {
        check_layout(what, layout, &mut errors);
    }
    check_function_names(m, &mut errors);
    check_call_graph(m, &mut errors);
    manifest::check_manifest(m, &mut errors);
    for (_, f) in m.functions.iter() {
        if let Err(mut e) = validate_function(m, f) {
            errors.append(&mut e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Validates one function of `m` (or one about to be added to it: calls are checked
/// against `m`'s functions). Recursion through other functions is checked by
/// [`validate_module`]; direct self-calls are caught here when `f` is in `m`.
pub fn validate_function(m: &Module, f: &Function) -> Result<(), Vec<ValidationError>> {
    let mut cx = Checker {
        m,
        f,
        errors: Vec::new(),
    };
    cx.check_handles();
    if cx.errors.is_empty() {
        cx.check_scopes();
    }
    if cx.errors.is_empty() {
        cx.check_types();
    }
    if cx.errors.is_empty() {
        Ok(())
    } else {
        Err(cx.errors)
    }
}

fn module_error(message: String) -> ValidationError {
    ValidationError {
        function: String::new(),
        value: None,
        message,
        code: CODE_MODULE,
    }
}

fn check_layout(what: &str, layout: &Layout, errors: &mut Vec<ValidationError>) {
    for (i, slot) in layout.slots.iter().enumerate() {
        let Some(count) = element_count(&slot.shape) else {
            errors.push(module_error(format!(
                "The {what} slot `{}` has a shape whose element count overflows.",
                slot.name
            )));
            continue;
        };
        match slot.offset.checked_add(count) {
            Some(end) if end <= layout.len => {}
            _ => errors.push(module_error(format!(
                "The {what} slot `{}` covers elements {}..{} but the {what} vector has only {} elements.",
                slot.name,
                slot.offset,
                slot.offset.saturating_add(count),
                layout.len
            ))),
        }
        if !slot.default.is_empty() && slot.default.len() != count {
            errors.push(module_error(format!(
                "The {what} slot `{}` has {} elements but {} default values.",
                slot.name,
                count,
                slot.default.len()
            )));
        }
        if layout.slots.iter().take(i).any(|s| s.name == slot.name) {
            errors.push(module_error(format!(
                "Two {what} slots are named `{}`.",
                slot.name
            )));
        }
    }
}

fn check_function_names(m: &Module, errors: &mut Vec<ValidationError>) {
    let names: Vec<&str> = m.functions.iter().map(|(_, f)| f.name.as_str()).collect();
    for (i, name) in names.iter().enumerate() {
        if names.iter().take(i).any(|n| n == name) {
            errors.push(module_error(format!("Two functions are named `{name}`.")));
        }
    }
}

/// Direct callees of a function (only in-range ones; others are reported per function).
fn callees(m: &Module, f: &Function) -> Vec<FuncId> {
    f.values
        .iter()
        .filter_map(|(_, v)| match &v.op {
            Op::Call { func, .. } if m.functions.contains(*func) => Some(*func),
            _ => None,
        })
        .collect()
}

/// Reports every function that lies on a cycle of calls, without recursing.
fn check_call_graph(m: &Module, errors: &mut Vec<ValidationError>) {
    let n = m.functions.len();
    let edges: Vec<Vec<FuncId>> = m.functions.iter().map(|(_, f)| callees(m, f)).collect();
    // 0 = unvisited, 1 = on the DFS stack, 2 = finished.
    let mut state = vec![0u8; n];
    let mut reported = vec![false; n];
    for root in 0..n {
        if state.get(root) != Some(&0) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        if let Some(s) = state.get_mut(root) {
            *s = 1;
        }
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let succ = edges.get(node).and_then(|e| e.get(*next)).copied();
            *next += 1;
            match succ {
                None => {
                    if let Some(s) = state.get_mut(node) {
                        *s = 2;
                    }
                    stack.pop();
                }
                Some(callee) => match state.get(callee.index()) {
                    Some(0) => {
                        if let Some(s) = state.get_mut(callee.index()) {
                            *s = 1;
                        }
                        stack.push((callee.index(), 0));
                    }
                    Some(1) => {
                        let name = m
                            .functions
                            .get(callee)
                            .map(|f| f.name.clone())
                            .unwrap_or_default();
                        if !reported.get(callee.index()).copied().unwrap_or(true) {
                            if let Some(r) = reported.get_mut(callee.index()) {
                                *r = true;
                            }
                            errors.push(ValidationError {
                                function: name.clone(),
                                value: None,
                                message: format!(
                                    "The function `{name}` calls itself (directly or through other functions); recursion is not allowed in the IR."
                                ),
                                code: CODE_CALL,
                            });
                        }
                    }
                    _ => {}
                },
            }
        }
    }
}

/// The kind of op that owns a block (or the function itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Top,
    Tabulate,
    Fold,
    Map,
    TileMap,
}

impl BlockKind {
    fn of(op: &Op) -> BlockKind {
        match op {
            Op::Tabulate { .. } => BlockKind::Tabulate,
            Op::Fold { .. } => BlockKind::Fold,
            Op::Map { .. } => BlockKind::Map,
            Op::TileMap { .. } => BlockKind::TileMap,
            _ => BlockKind::Top,
        }
    }
}

/// Where a value stands during the scoping walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    NotYetDefined,
    Visible,
    Gone,
}

pub(crate) struct Checker<'a> {
    pub(crate) m: &'a Module,
    pub(crate) f: &'a Function,
    pub(crate) errors: Vec<ValidationError>,
}

impl<'a> Checker<'a> {
    pub(crate) fn err(&mut self, value: Option<ValueId>, code: &'static str, message: String) {
        self.errors.push(ValidationError {
            function: self.f.name.clone(),
            value,
            message,
            code,
        });
    }

    fn in_range(&self, id: ValueId) -> bool {
        self.f.values.contains(id)
    }

    // ---- phase 1: handles -------------------------------------------------------------

    fn check_handles(&mut self) {
        let n = self.f.values.len();
        // Direct handles of every value in the arena, reachable or not, so that no later
        // stage can index out of range even when it scans the whole arena.
        for (id, v) in self.f.values.iter() {
            for operand in v.op.operands() {
                if !self.in_range(operand) {
                    self.err(
                        Some(id),
                        CODE_HANDLE,
                        format!(
                            "The operand %{} is out of range: the function has {n} values.",
                            operand.index()
                        ),
                    );
                }
            }
            if let Some(block) = v.op.block() {
                for h in block.args.iter().chain(&block.body).chain([&block.result]) {
                    if !self.in_range(*h) {
                        self.err(
                            Some(id),
                            CODE_HANDLE,
                            format!(
                                "The block of this `{}` refers to %{}, which is out of range: the function has {n} values.",
                                v.op.mnemonic(),
                                h.index()
                            ),
                        );
                    }
                }
            }
            if let Op::Call { func, .. } = &v.op
                && !self.m.functions.contains(*func)
            {
                self.err(
                    Some(id),
                    CODE_CALL,
                    format!(
                        "The call refers to function #{} but the module has only {} functions.",
                        func.index(),
                        self.m.functions.len()
                    ),
                );
            }
        }
        if !self.errors.is_empty() {
            return;
        }
        let mut defined = vec![false; n];
        let top = &self.f.body;
        self.walk_definitions(top, 0, &mut defined);
    }

    /// Marks every value defined by `block` (recursively), reporting duplicates and
    /// misplaced `arg`s. A value already marked is not descended into again, so a cyclic
    /// block structure terminates.
    fn walk_definitions(&mut self, block: &Block, depth: usize, defined: &mut [bool]) {
        for (k, &a) in block.args.iter().enumerate() {
            let Some(v) = self.f.values.get(a) else {
                self.err(
                    None,
                    CODE_HANDLE,
                    format!("The block argument %{} is out of range.", a.index()),
                );
                continue;
            };
            if !self.mark(a, defined) {
                continue;
            }
            if v.op != Op::Arg(k) {
                self.err(
                    Some(a),
                    CODE_HANDLE,
                    format!(
                        "Block argument {k} must be defined by `arg {k}`, but it is defined by `{}`.",
                        describe_op(&v.op)
                    ),
                );
            }
        }
        for &id in &block.body {
            let Some(v) = self.f.values.get(id) else {
                self.err(
                    None,
                    CODE_HANDLE,
                    format!("The block value %{} is out of range.", id.index()),
                );
                continue;
            };
            if !self.mark(id, defined) {
                continue;
            }
            if let Op::Arg(k) = v.op {
                self.err(
                    Some(id),
                    CODE_HANDLE,
                    format!(
                        "`arg {k}` may only define a block argument, but this value is in the body of a block."
                    ),
                );
            }
            if let Some(inner) = v.op.block() {
                if depth + 1 > MAX_BLOCK_DEPTH {
                    self.err(
                        Some(id),
                        CODE_HANDLE,
                        format!("Blocks are nested more than {MAX_BLOCK_DEPTH} deep."),
                    );
                } else {
                    self.walk_definitions(inner, depth + 1, defined);
                }
            }
        }
        if !self.in_range(block.result) {
            self.err(
                None,
                CODE_HANDLE,
                format!(
                    "The block result %{} is out of range.",
                    block.result.index()
                ),
            );
        }
    }

    /// Marks `id` defined; reports and returns false if it already was.
    fn mark(&mut self, id: ValueId, defined: &mut [bool]) -> bool {
        match defined.get_mut(id.index()) {
            Some(d) if !*d => {
                *d = true;
                true
            }
            Some(_) => {
                self.err(
                    Some(id),
                    CODE_HANDLE,
                    "This value is defined at more than one place; every value must appear in exactly one block."
                        .to_string(),
                );
                false
            }
            None => false,
        }
    }

    // ---- phase 2: scoping -------------------------------------------------------------

    fn check_scopes(&mut self) {
        let mut scope = vec![Scope::NotYetDefined; self.f.values.len()];
        let mut enclosing: Vec<(BlockKind, &'a [ValueId])> = Vec::new();
        let f = self.f;
        self.scope_block(&f.body, BlockKind::Top, &mut scope, &mut enclosing);
    }

    fn scope_block(
        &mut self,
        block: &'a Block,
        kind: BlockKind,
        scope: &mut [Scope],
        enclosing: &mut Vec<(BlockKind, &'a [ValueId])>,
    ) {
        for &a in &block.args {
            set(scope, a, Scope::Visible);
        }
        enclosing.push((kind, &block.args));
        for &id in &block.body {
            let Some(v) = self.f.values.get(id) else {
                continue;
            };
            for operand in v.op.operands() {
                self.check_visible(Some(id), operand, scope, "uses");
            }
            if let Op::Deriv { wrt, .. } = &v.op {
                for w in wrt {
                    let ok = enclosing.iter().any(|(k, args)| {
                        matches!(k, BlockKind::Top | BlockKind::Map) && args.contains(w)
                    });
                    if !ok {
                        self.err(
                            Some(id),
                            CODE_SCOPE,
                            format!(
                                "`deriv` differentiates with respect to %{}, which is not an argument of the function or of an enclosing `map`.",
                                w.index()
                            ),
                        );
                    }
                }
            }
            if let Some(inner) = v.op.block() {
                self.scope_block(inner, BlockKind::of(&v.op), scope, enclosing);
            }
            set(scope, id, Scope::Visible);
        }
        self.check_visible(None, block.result, scope, "yields");
        enclosing.pop();
        for &id in block.args.iter().chain(&block.body) {
            set(scope, id, Scope::Gone);
        }
    }

    fn check_visible(&mut self, user: Option<ValueId>, used: ValueId, scope: &[Scope], verb: &str) {
        let who = match user {
            Some(_) => "This value",
            None => "The block",
        };
        match scope.get(used.index()) {
            Some(Scope::Visible) => {}
            Some(Scope::NotYetDefined) => self.err(
                user,
                CODE_SCOPE,
                format!(
                    "{who} {verb} %{} before it is defined (or the value is not in any block).",
                    used.index()
                ),
            ),
            Some(Scope::Gone) => self.err(
                user,
                CODE_SCOPE,
                format!(
                    "{who} {verb} %{}, which is defined inside another block and is not visible here.",
                    used.index()
                ),
            ),
            None => {}
        }
    }
}

fn set(scope: &mut [Scope], id: ValueId, to: Scope) {
    if let Some(s) = scope.get_mut(id.index()) {
        *s = to;
    }
}

/// A short description of an op for messages (`arg 2`, `add`).
pub(crate) fn describe_op(op: &Op) -> String {
    match op {
        Op::Arg(k) => format!("arg {k}"),
        other => other.mnemonic().to_string(),
    }
}
