//! The `.sir` text printer. [`crate::read`] parses its output back to an equal module.
//!
//! The format is described in `docs/ir.md`. In short: one `%name: type = op` line per value,
//! structured ops with indented blocks, units in brackets after a space (`f64[2] [m/s]`).
//!
//! Value identity: the reader rebuilds the arena in the order a [`crate::FunctionBuilder`]
//! would have pushed the values (a function's inputs, then for each line: the values of its
//! block, then the line's own value). When a function's arena is in exactly that order and
//! every value is reachable ("canonical"), values print under their names. Otherwise the
//! function is printed `indexed`: every value prints as `%N` with `N` its arena index, names
//! follow as strings, and unreachable values are listed in an `unreachable { }` section, so
//! that the reader can put every value back at its index.
//!
//! The printer never panics, on valid or invalid modules; invalid modules may print text
//! that does not read back.

use crate::manifest::{EventTrigger, InputRole, Manifest, Role};
use crate::module::{Block, FuncId, Function, Layout, Module, Value, ValueId};
use crate::op::Op;
use crate::quantum::{GateAngle, PauliObservable, QuantumCircuit};
use crate::types::Type;
use crate::unit::{BASE_SYMBOLS, Rational, Unit};
use crate::validate::MAX_BLOCK_DEPTH;
use std::collections::HashSet;
use std::fmt::{self, Write};

/// Prints a whole module.
pub fn print_module(m: &Module) -> String {
    let mut out = String::new();
    out.push_str("module ");
    out.push_str(&name_token(&m.name));
    out.push('\n');
    for (keyword, layout) in [
        ("params", &m.params),
        ("states", &m.states),
        ("outputs", &m.outputs),
    ] {
        print_layout(&mut out, keyword, layout);
    }
    print_manifest(&mut out, &m.manifest);
    for (id, _) in m.functions.iter() {
        out.push('\n');
        out.push_str(&print_function(m, id));
    }
    out
}

/// Prints one function of `m` (the empty string for an out-of-range id).
pub fn print_function(m: &Module, func: FuncId) -> String {
    let Some(f) = m.functions.get(func) else {
        return String::new();
    };
    let canonical = is_canonical(f);
    let mut p = Printer {
        m,
        f,
        out: String::new(),
        indexed: !canonical,
        tokens: vec![None; f.values.len()],
        visible: vec![HashSet::new()],
        printing: vec![false; f.values.len()],
    };
    p.function();
    p.out
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_module(self))
    }
}

/// Formats a float so that it parses back to the same bits (except NaN payloads):
/// integers without a fraction (`2`), others in Rust's shortest round-trip form (`0.1`,
/// `1e-7`), and `inf`, `-inf`, `nan`.
pub fn format_f64(x: f64) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if x == x.trunc() && x.abs() < 1e15 && !(x == 0.0 && x.is_sign_negative()) {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

/// True if `s` can be printed as a bare identifier (`prey`, `θ`, `residual.pde`).
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(is_ident_continue)
}

/// Characters allowed after the first in identifiers and value names.
pub(crate) fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// A module, function or slot name: bare if it is an identifier that is not a keyword,
/// else a quoted string.
fn name_token(name: &str) -> String {
    if is_ident(name) && !crate::read::is_keyword(name) {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

/// The text form of a unit (inside its brackets): `m/s^2`, `1000.0·m`, `1`, `kg^(1/2)`.
pub fn format_unit(u: &Unit) -> String {
    let mut numer = Vec::new();
    let mut denom = Vec::new();
    for (sym, d) in BASE_SYMBOLS.iter().zip(u.dims) {
        if d.num > 0 {
            numer.push(power(sym, d));
        } else if d.num < 0 {
            denom.push(power(
                sym,
                Rational {
                    num: d.num.saturating_neg(),
                    den: d.den,
                },
            ));
        }
    }
    let mut out = String::new();
    if u.scale != 1.0 || numer.is_empty() {
        out.push_str(&format_f64(u.scale));
        if !numer.is_empty() {
            out.push('·');
        }
    }
    out.push_str(&numer.join("·"));
    match denom.len() {
        0 => {}
        1 => {
            out.push('/');
            out.push_str(&denom.join(""));
        }
        _ => {
            out.push_str("/(");
            out.push_str(&denom.join("·"));
            out.push(')');
        }
    }
    out
}

fn power(sym: &str, d: Rational) -> String {
    if d.den == 1 && d.num == 1 {
        sym.to_string()
    } else if d.den == 1 {
        format!("{sym}^{}", d.num)
    } else {
        format!("{sym}^({}/{})", d.num, d.den)
    }
}

/// The text form of a type: `f64`, `batch f64[2, 3]`, `f64 [m/s]`.
pub fn format_type(ty: &Type) -> String {
    let mut out = String::new();
    if ty.batched {
        out.push_str("batch ");
    }
    out.push_str(ty.dtype.name());
    if !ty.shape.is_empty() {
        let dims: Vec<String> = ty.shape.iter().map(|d| d.to_string()).collect();
        let _ = write!(out, "[{}]", dims.join(", "));
    }
    if let Some(u) = &ty.unit {
        let _ = write!(out, " [{}]", format_unit(u));
    }
    out
}

fn format_list(xs: &[f64]) -> String {
    let items: Vec<String> = xs.iter().map(|x| format_f64(*x)).collect();
    format!("[{}]", items.join(", "))
}

fn print_layout(out: &mut String, keyword: &str, layout: &Layout) {
    if layout.slots.is_empty() && layout.len == 0 {
        return;
    }
    let natural_len = layout
        .slots
        .iter()
        .map(|s| {
            crate::types::element_count(&s.shape)
                .and_then(|n| n.checked_add(s.offset))
                .unwrap_or(usize::MAX)
        })
        .max()
        .unwrap_or(0);
    out.push_str(keyword);
    if natural_len != layout.len {
        let _ = write!(out, " len {}", layout.len);
    }
    out.push_str(" {\n");
    for slot in &layout.slots {
        let ty = Type::f64(slot.shape.clone()).with_unit(slot.unit);
        let _ = write!(
            out,
            "  {}: {} @ {}",
            name_token(&slot.name),
            format_type(&ty),
            slot.offset
        );
        if !slot.default.is_empty() {
            let _ = write!(out, " = {}", format_list(&slot.default));
        }
        if slot.fixed {
            out.push_str(" fixed");
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

/// The manifest's module-level items: `time`, `points`, `data`, `event`, `algebraic`,
/// `input`, `circuit`, `observable` (see `docs/ir.md`).
fn print_manifest(out: &mut String, manifest: &Manifest) {
    if let Some((t0, t1)) = manifest.time_span {
        let _ = writeln!(out, "time {}", format_list(&[t0, t1]));
    }
    for set in &manifest.point_sets {
        let _ = writeln!(
            out,
            "points {} seed {} {} {} {{",
            name_token(&set.name),
            set.seed_index,
            set.sampling.name(),
            set.points
        );
        for c in &set.coords {
            let _ = writeln!(
                out,
                "  {}: {}",
                name_token(&c.name),
                format_list(&[c.lo, c.hi])
            );
        }
        for fixing in &set.fixed {
            let alternatives: Vec<String> = fixing
                .iter()
                .map(|(c, v)| format!("{c} = {}", format_f64(*v)))
                .collect();
            let _ = writeln!(out, "  fix {}", alternatives.join(" or "));
        }
        out.push_str("}\n");
    }
    for data in &manifest.data {
        let columns: Vec<String> = (0..data.columns.len())
            .map(|k| {
                let name = name_token(&data.columns[k]);
                match data.shape(k) {
                    [] => name,
                    shape => format!("{name} {shape:?}"),
                }
            })
            .collect();
        let paths: Vec<String> = if data.paths.is_empty() {
            vec![format!("{:?}", data.path)]
        } else {
            data.paths.iter().map(|p| format!("{p:?}")).collect()
        };
        let test = match data.test {
            0 => String::new(),
            n => format!(" test {n}"),
        };
        let _ = writeln!(
            out,
            "data {} {} ({}){test}",
            name_token(&data.name),
            paths.join(" "),
            columns.join(", ")
        );
    }
    for event in &manifest.events {
        let trigger = match event.trigger {
            EventTrigger::Crossing { rising: true } => "rising".to_string(),
            EventTrigger::Crossing { rising: false } => "falling".to_string(),
            EventTrigger::Every {
                period,
                start: None,
            } => format!("every {}", format_f64(period)),
            EventTrigger::Every {
                period,
                start: Some(t0),
            } => format!("every {} from {}", format_f64(period), format_f64(t0)),
        };
        let action = if event.stop { "stop" } else { "reset" };
        let _ = writeln!(out, "event {:?} {trigger} {action}", event.label);
    }
    if !manifest.algebraic.is_empty() {
        let names: Vec<String> = manifest.algebraic.iter().map(|n| name_token(n)).collect();
        let _ = writeln!(out, "algebraic {}", names.join(", "));
    }
    for input in &manifest.inputs {
        let _ = writeln!(
            out,
            "input {} {:?} {}",
            name_token(&input.name),
            input.path,
            format_list(&[input.first, input.last])
        );
    }
    for circuit in &manifest.circuits {
        print_circuit(out, circuit);
    }
    for observable in &manifest.observables {
        print_observable(out, observable);
    }
}

/// `circuit NAME qubits N { GATE QUBIT… (ANGLE, …)? … }`, one gate a line.
fn print_circuit(out: &mut String, circuit: &QuantumCircuit) {
    let _ = writeln!(
        out,
        "circuit {} qubits {} {{",
        name_token(&circuit.name),
        circuit.qubits
    );
    for gate in &circuit.gates {
        out.push_str("  ");
        out.push_str(gate.kind.name());
        for q in &gate.qubits {
            let _ = write!(out, " {q}");
        }
        if !gate.angles.is_empty() {
            let angles: Vec<String> = gate.angles.iter().map(format_angle).collect();
            let _ = write!(out, " ({})", angles.join(", "));
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

/// A gate's angle: a constant (`1.5707963267948966`), or `SCALE * θ[K] ± OFFSET` with a
/// scale of exactly 1 and an offset of exactly +0 left out (`θ[3]`, `2 * θ[3] - 0.5`). The
/// offset's sign is written as the operator, so `-0` survives as `θ[3] - 0`. A constant
/// angle's `scale` is not printed (it multiplies no parameter): it reads back as 0.
pub fn format_angle(angle: &GateAngle) -> String {
    let Some(k) = angle.param else {
        return format_f64(angle.offset);
    };
    let mut s = String::new();
    if angle.scale.to_bits() != 1f64.to_bits() {
        let _ = write!(s, "{} * ", format_f64(angle.scale));
    }
    let _ = write!(s, "θ[{k}]");
    if angle.offset.to_bits() != 0f64.to_bits() {
        if angle.offset.is_sign_negative() {
            let _ = write!(s, " - {}", format_f64(-angle.offset));
        } else {
            let _ = write!(s, " + {}", format_f64(angle.offset));
        }
    }
    s
}

/// `observable NAME qubits N { COEFF PAULI… … }`, one term a line: the coefficient, then
/// the factors as letter and qubit (`-1 Z0 Z1`); a term of no factors is the identity.
fn print_observable(out: &mut String, observable: &PauliObservable) {
    let _ = writeln!(
        out,
        "observable {} qubits {} {{",
        name_token(&observable.name),
        observable.qubits
    );
    for term in &observable.terms {
        let _ = write!(out, "  {}", format_f64(term.coeff));
        for (pauli, q) in &term.factors {
            let _ = write!(out, " {}{q}", pauli.letter());
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

/// The text form of a function role: `rhs`, `residual(pde)`, `jvp[1](rhs)`.
pub fn format_role(role: &Role) -> String {
    match role {
        Role::Residual(name) => format!("residual({})", name_token(name)),
        Role::Net(name) => format!("net({})", name_token(name)),
        Role::LossTerm(name) => format!("loss_term({})", name_token(name)),
        Role::Derivative(d) => {
            let wrt: Vec<String> = d.wrt.iter().map(usize::to_string).collect();
            format!(
                "{}[{}]({})",
                d.kind.name(),
                wrt.join(", "),
                format_role(&d.of)
            )
        }
        Role::Split(part, of) => format!("{}({})", part.name(), format_role(of)),
        simple => simple.simple_name().unwrap_or("plain").to_string(),
    }
}

/// The text form of an input role: `time`, `point(0, 1)`, `tangent(1)`.
pub fn format_input_role(role: &InputRole) -> String {
    match role {
        InputRole::Plain => "plain".into(),
        InputRole::Time => "time".into(),
        InputRole::State => "state".into(),
        InputRole::Params => "params".into(),
        InputRole::Point { set, coord } => format!("point({set}, {coord})"),
        InputRole::Data { data } => format!("data({data})"),
        InputRole::Trajectory { data, time_column } => {
            format!("trajectory({data}, {time_column})")
        }
        InputRole::Expval {
            circuit,
            observable,
        } => format!("expval({circuit}, {observable})"),
        InputRole::Tangent { of } => format!("tangent({of})"),
        InputRole::Cotangent => "cotangent".into(),
        InputRole::Argument(name) => format!("arg({})", name_token(name)),
        InputRole::Invariant => "invariant".into(),
    }
}

/// True if the reader would rebuild `f`'s arena in the same order: inputs, then per line
/// the values of its block followed by the line's value, with every value reachable.
fn is_canonical(f: &Function) -> bool {
    let mut order = Vec::with_capacity(f.values.len());
    let mut seen = vec![false; f.values.len()];
    if !canonical_order(f, &f.body, 0, &mut order, &mut seen) {
        return false;
    }
    order.len() == f.values.len() && order.iter().enumerate().all(|(i, id)| id.index() == i)
}

fn canonical_order(
    f: &Function,
    block: &Block,
    depth: usize,
    order: &mut Vec<ValueId>,
    seen: &mut [bool],
) -> bool {
    if depth > MAX_BLOCK_DEPTH {
        return false;
    }
    fn visit(id: ValueId, order: &mut Vec<ValueId>, seen: &mut [bool]) -> bool {
        match seen.get_mut(id.index()) {
            Some(s) if !*s => {
                *s = true;
                order.push(id);
                true
            }
            _ => false,
        }
    }
    for &a in &block.args {
        if !visit(a, order, seen) {
            return false;
        }
    }
    for &id in &block.body {
        let Some(v) = f.values.get(id) else {
            return false;
        };
        if let Some(inner) = v.op.block()
            && !canonical_order(f, inner, depth + 1, order, seen)
        {
            return false;
        }
        if !visit(id, order, seen) {
            return false;
        }
    }
    f.values.contains(block.result)
}

struct Printer<'a> {
    m: &'a Module,
    f: &'a Function,
    out: String,
    /// Print `%N` for every value and list unreachable values (see the module docs).
    indexed: bool,
    /// The token chosen for each value once its definition has been printed.
    tokens: Vec<Option<String>>,
    /// Named tokens visible in each open scope (canonical mode), to avoid shadowing.
    visible: Vec<HashSet<String>>,
    /// Values whose definition is being or has been printed (guards against cycles).
    printing: Vec<bool>,
}

impl<'a> Printer<'a> {
    fn indent(&mut self, depth: usize) {
        for _ in 0..=depth {
            self.out.push_str("  ");
        }
    }

    /// The reference to `id`: its chosen token, or `%N`.
    fn r(&self, id: ValueId) -> String {
        match self.tokens.get(id.index()).and_then(|t| t.as_ref()) {
            Some(t) => format!("%{t}"),
            None => format!("%{}", id.index()),
        }
    }

    fn refs(&self, ids: &[ValueId]) -> String {
        let items: Vec<String> = ids.iter().map(|id| self.r(*id)).collect();
        items.join(", ")
    }

    /// Chooses the token of a value being defined and returns `%token "name"?: type`.
    fn declare(&mut self, id: ValueId) -> String {
        let value = self.f.values.get(id);
        let name = value.and_then(|v| v.name.as_deref());
        let usable = |n: &str, visible: &[HashSet<String>]| {
            is_ident(n) && !visible.iter().any(|s| s.contains(n))
        };
        let (token, by_name) = match name {
            Some(n) if !self.indexed && usable(n, &self.visible) => {
                if let Some(scope) = self.visible.last_mut() {
                    scope.insert(n.to_string());
                }
                (n.to_string(), true)
            }
            _ => (id.index().to_string(), false),
        };
        if let Some(slot) = self.tokens.get_mut(id.index()) {
            *slot = Some(token.clone());
        }
        let mut out = format!("%{token}");
        if let Some(n) = name
            && !by_name
        {
            let _ = write!(out, " {n:?}");
        }
        let ty = value
            .map(|v| format_type(&v.ty))
            .unwrap_or_else(|| "?".to_string());
        let _ = write!(out, ": {ty}");
        out
    }

    fn function(&mut self) {
        let f = self.f;
        let _ = write!(self.out, "func {}(", name_token(&f.name));
        let args: Vec<String> = f
            .body
            .args
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let mut arg = self.declare(*a);
                let role = f.input_role(k);
                if *role != InputRole::Plain {
                    let _ = write!(arg, " as {}", format_input_role(role));
                }
                arg
            })
            .collect();
        self.out.push_str(&args.join(", "));
        let result = f
            .values
            .get(f.body.result)
            .map(|v| format_type(&v.ty))
            .unwrap_or_else(|| "?".to_string());
        let _ = write!(self.out, ") -> {result}");
        if f.role != Role::Plain {
            let _ = write!(self.out, " role {}", format_role(&f.role));
        }
        if self.indexed {
            self.out.push_str(" indexed");
        }
        self.out.push_str(" {\n");
        for &a in &f.body.args {
            self.mark(a);
        }
        for &id in &f.body.body {
            self.value_line(id, 0);
        }
        self.indent(0);
        let _ = writeln!(self.out, "return {}", self.r(f.body.result));
        if self.indexed {
            self.unreachable_section();
        }
        self.out.push_str("}\n");
    }

    fn mark(&mut self, id: ValueId) -> bool {
        match self.printing.get_mut(id.index()) {
            Some(p) if !*p => {
                *p = true;
                true
            }
            _ => false,
        }
    }

    fn unreachable_section(&mut self) {
        // Roots: values not printed yet and not a member of any block (members are printed
        // with their block).
        let mut member = vec![false; self.f.values.len()];
        for (_, v) in self.f.values.iter() {
            if let Some(b) = v.op.block() {
                for id in b.args.iter().chain(&b.body) {
                    if let Some(m) = member.get_mut(id.index()) {
                        *m = true;
                    }
                }
            }
        }
        let roots: Vec<ValueId> = self
            .f
            .values
            .iter()
            .map(|(id, _)| id)
            .filter(|id| {
                !self.printing.get(id.index()).copied().unwrap_or(true)
                    && !member.get(id.index()).copied().unwrap_or(true)
            })
            .collect();
        if roots.is_empty() {
            return;
        }
        self.indent(0);
        self.out.push_str("unreachable {\n");
        for id in roots {
            self.value_line(id, 1);
        }
        self.indent(0);
        self.out.push_str("}\n");
    }

    fn value_line(&mut self, id: ValueId, depth: usize) {
        self.indent(depth);
        if !self.mark(id) {
            let _ = writeln!(self.out, "; %{} is defined more than once", id.index());
            return;
        }
        let Some(v) = self.f.values.get(id) else {
            let _ = writeln!(self.out, "; %{} is out of range", id.index());
            return;
        };
        // The op's operands are printed before the declaration so that a name chosen for
        // this value cannot shadow them.
        let op_text = self.op_head(v);
        let decl = self.declare(id);
        let _ = write!(self.out, "{decl} = {op_text}");
        if let Some(block) = v.op.block() {
            self.block(block, depth);
        }
        self.out.push('\n');
    }

    /// The op without its block.
    fn op_head(&self, v: &Value) -> String {
        match &v.op {
            Op::Arg(k) => format!("arg {k}"),
            Op::Const(x) => format!("const {}", format_f64(*x)),
            Op::Literal(xs) => format!("literal {}", format_list(xs)),
            Op::Unary(op, a) => format!("{} {}", op.name(), self.r(*a)),
            Op::Binary(op, a, b) => format!("{} {}, {}", op.name(), self.r(*a), self.r(*b)),
            Op::Powi(a, n) => format!("powi {}, {n}", self.r(*a)),
            Op::Compare(op, a, b) => format!("{} {}, {}", op.name(), self.r(*a), self.r(*b)),
            Op::Select(c, a, b) => {
                format!("select {}, {}, {}", self.r(*c), self.r(*a), self.r(*b))
            }
            Op::Cast(a) | Op::Broadcast(a) | Op::Reshape(a) | Op::Transpose(a) => {
                format!("{} {}", v.op.mnemonic(), self.r(*a))
            }
            Op::Index {
                array,
                indices,
                fill,
            } => {
                let mut s = format!("index {}[{}]", self.r(*array), self.refs(indices));
                if let Some(x) = fill {
                    let _ = write!(s, " fill {}", format_f64(*x));
                }
                s
            }
            Op::Slice { array, start, len } => format!("slice {}, {start}, {len}", self.r(*array)),
            Op::Rfft { signal, modes } => format!("rfft {}, {modes}", self.r(*signal)),
            Op::Irfft { spectrum, n } => format!("irfft {}, {n}", self.r(*spectrum)),
            Op::Rfft2 { signal, modes } => {
                format!("rfft2 {}, {}, {}", self.r(*signal), modes[0], modes[1])
            }
            Op::Irfft2 { spectrum, n } => {
                format!("irfft2 {}, {}, {}", self.r(*spectrum), n[0], n[1])
            }
            Op::Concat(parts) => format!("concat {}", self.refs(parts)),
            Op::Dot(a, b) | Op::MatVec(a, b) | Op::MatMul(a, b) => {
                format!("{} {}, {}", v.op.mnemonic(), self.r(*a), self.r(*b))
            }
            Op::Reduce(op, a) => format!("reduce {} {}", op.name(), self.r(*a)),
            Op::ReduceBatch(op, a) => format!("reduce_batch {} {}", op.name(), self.r(*a)),
            Op::Tabulate { extents, .. } => {
                let dims: Vec<String> = extents.iter().map(|e| e.to_string()).collect();
                format!("tabulate [{}]", dims.join(", "))
            }
            Op::Fold { op, extent, .. } => format!("fold {} {extent}", op.name()),
            Op::Map { inputs, .. } => format!("map {}", self.refs(inputs)),
            Op::TileMap {
                inputs,
                lanes,
                reduce,
                ..
            } => match reduce {
                Some(op) => format!("tile_map {lanes} {} {}", op.name(), self.refs(inputs)),
                None => format!("tile_map {lanes} {}", self.refs(inputs)),
            },
            Op::Call { func, args } => {
                format!("call @{}({})", self.callee(*func), self.refs(args))
            }
            Op::Deriv { of, wrt } => format!("deriv {} wrt {}", self.r(*of), self.refs(wrt)),
        }
    }

    /// A callee by name when that name is unique, else by index.
    fn callee(&self, func: FuncId) -> String {
        match self.m.functions.get(func) {
            Some(g)
                if self
                    .m
                    .functions
                    .iter()
                    .filter(|(_, h)| h.name == g.name)
                    .count()
                    == 1
                    && !g.name.is_empty()
                    && !g.name.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                if is_ident(&g.name) {
                    g.name.clone()
                } else {
                    format!("{:?}", g.name)
                }
            }
            _ => func.index().to_string(),
        }
    }

    fn block(&mut self, block: &Block, depth: usize) {
        if depth >= MAX_BLOCK_DEPTH {
            self.out.push_str(" ; blocks nested too deep");
            return;
        }
        self.visible.push(HashSet::new());
        let args: Vec<String> = block.args.iter().map(|a| self.declare(*a)).collect();
        for &a in &block.args {
            self.mark(a);
        }
        let _ = writeln!(self.out, " ({}) {{", args.join(", "));
        for &id in &block.body {
            self.value_line(id, depth + 1);
        }
        self.indent(depth + 1);
        let _ = writeln!(self.out, "yield {}", self.r(block.result));
        self.indent(depth);
        self.out.push('}');
        self.visible.pop();
    }
}
