//! Functions as readable mathematics, for people (`sci compile --emit simplified`).
//!
//! The output reads like the source language: infix arithmetic with the fewest parentheses
//! that keep the IR's evaluation order (operators associate to the left, so `a - (b + c)`
//! keeps its parentheses and `(a - b) - c` prints as `a - b - c`), `x^2`, `if c then a
//! else b`, `sum(i in 0..n: …)` for folds, `[i in 0..n] …` for tabulates, `map (t, x) in
//! (ts, xs): …` for the batch dimension, `∂²u/∂x²` for unexpanded derivatives.
//!
//! Values used more than once, values with a name from the source, multi-line constructs
//! and expressions wider than [`MAX_INLINE_WIDTH`] become `let` lines in the block that
//! defines them; everything else (constants always) is written inline. Inline expressions are at most [`MAX_INLINE_DEPTH`] deep (deeper ones
//! are split with `let`s) and blocks are followed [`MAX_BLOCK_DEPTH`] deep, so printing
//! never recurses without bound. It never panics, whatever the input.

use crate::module::{Block, FuncId, Function, Module, ValueId};
use crate::op::{BinaryOp, CmpOp, Op, ReduceOp, UnaryOp};
use crate::print::{format_f64, is_ident};
use crate::types::DType;
use std::collections::HashSet;

/// Deepest inline expression before a `let` is introduced.
pub const MAX_INLINE_DEPTH: usize = 24;

/// Inline expressions estimated longer than this many characters get a `let` of their own.
pub const MAX_INLINE_WIDTH: usize = 48;

/// Deepest block nesting printed; deeper blocks print as `…`.
pub const MAX_BLOCK_DEPTH: usize = 16;

/// Every function of the module, separated by blank lines.
pub fn module_to_math(m: &Module) -> String {
    m.functions
        .iter()
        .map(|(id, _)| function_to_math(m, id))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One function as readable mathematics:
///
/// ```text
/// rhs(t, y, θ) =
///     let prey = y[0]
///     let pred = y[1]
///     [1.5*prey - prey*pred, prey*pred - 3*pred]
/// ```
pub fn function_to_math(m: &Module, func: FuncId) -> String {
    let Some(f) = m.functions.get(func) else {
        return format!("(there is no function #{})\n", func.index());
    };
    let p = Printer::new(m, f);
    let args: Vec<String> = f.body.args.iter().map(|a| p.name(*a)).collect();
    let mut out = format!("{}({}) =\n", f.name, args.join(", "));
    let (lines, result) = p.block(&f.body, 1, 0);
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&indent(1));
    out.push_str(&result);
    out.push('\n');
    out
}

fn indent(level: usize) -> String {
    "    ".repeat(level)
}

// Precedence levels, loosest first.
const P_LOWEST: u8 = 1; // if-then-else, tabulate, map
const P_OR: u8 = 2;
const P_AND: u8 = 3;
const P_CMP: u8 = 4;
const P_ADD: u8 = 5;
const P_MUL: u8 = 6;
const P_NEG: u8 = 7;
const P_POW: u8 = 8;
const P_ATOM: u8 = 9;

struct Printer<'a> {
    m: &'a Module,
    f: &'a Function,
    /// Values written as a name rather than inline (arguments and `let`s).
    named: Vec<bool>,
    /// Display names, for named values.
    names: Vec<String>,
}

impl<'a> Printer<'a> {
    fn new(m: &'a Module, f: &'a Function) -> Printer<'a> {
        let n = f.values.len();
        let mut uses = vec![0u32; n];
        let mut bump = |v: ValueId| {
            if let Some(u) = uses.get_mut(v.index()) {
                *u = u.saturating_add(1);
            }
        };
        bump(f.body.result);
        for (_, v) in f.values.iter() {
            v.op.operands().into_iter().for_each(&mut bump);
            if let Some(b) = v.op.block() {
                bump(b.result);
            }
        }
        let mut p = Printer {
            m,
            f,
            named: vec![false; n],
            names: vec![String::new(); n],
        };
        let mut taken = HashSet::new();
        let mut inline = vec![0usize; n];
        let mut width = vec![0usize; n];
        p.decide(&f.body, &uses, &mut inline, &mut width, &mut taken, 0);
        p
    }

    /// Chooses the `let`s and names of a block (and the blocks inside it), in block order.
    /// `inline[v]` is the depth of `v`'s inline expression (0 for named values).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        block: &Block,
        uses: &[u32],
        inline: &mut [usize],
        width_of: &mut [usize],
        taken: &mut HashSet<String>,
        depth: usize,
    ) {
        if depth > MAX_BLOCK_DEPTH {
            return;
        }
        for &a in &block.args {
            self.set_name(a, taken);
        }
        for &v in &block.body {
            let Some(value) = self.f.values.get(v) else {
                continue;
            };
            if let Some(inner) = value.op.block() {
                self.decide(inner, uses, inline, width_of, taken, depth + 1);
            }
            let used = uses.get(v.index()).copied().unwrap_or(0);
            let has_name = value
                .name
                .as_deref()
                .is_some_and(|n| !n.is_empty() && !n.starts_with(|c: char| c.is_ascii_digit()));
            let multi_line = value.op.block().is_some_and(|b| self.block_has_lets(b));
            let d = 1 + value
                .op
                .operands()
                .into_iter()
                .filter(|o| !self.named.get(o.index()).copied().unwrap_or(true))
                .map(|o| inline.get(o.index()).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            // A rough width: the operands' names or inline widths, and 3 for the operator.
            let width = 3 + value
                .op
                .operands()
                .into_iter()
                .map(|o| {
                    if self.named.get(o.index()).copied().unwrap_or(true) {
                        self.names.get(o.index()).map_or(3, |n| n.chars().count())
                    } else {
                        width_of.get(o.index()).copied().unwrap_or(0)
                    }
                })
                .sum::<usize>();
            let is_result = v == block.result;
            // Source names are kept at the top level; inside blocks single-use values read
            // better inline (`sum(i in 0..n: v[i]*a)`).
            let bind = !matches!(value.op, Op::Arg(_))
                && !self.trivial(v, 0)
                && (used >= 2
                    || (has_name && !is_result && depth == 0)
                    || (multi_line && !is_result)
                    || (width > MAX_INLINE_WIDTH && !is_result)
                    || d > MAX_INLINE_DEPTH);
            if bind {
                self.set_name(v, taken);
            } else {
                if let Some(slot) = inline.get_mut(v.index()) {
                    *slot = d;
                }
                if let Some(slot) = width_of.get_mut(v.index()) {
                    *slot = width;
                }
            }
        }
    }

    /// Constants, short literals, and broadcasts of trivial or named values: always inline.
    fn trivial(&self, v: ValueId, depth: usize) -> bool {
        let Some(value) = self.f.values.get(v) else {
            return false;
        };
        match &value.op {
            Op::Const(_) => true,
            Op::Literal(xs) => xs.len() <= 3,
            Op::Broadcast(a) => {
                depth < 4
                    && (self.named.get(a.index()).copied().unwrap_or(false)
                        || self.trivial(*a, depth + 1))
            }
            _ => false,
        }
    }

    fn block_has_lets(&self, b: &Block) -> bool {
        b.body
            .iter()
            .any(|v| self.named.get(v.index()).copied().unwrap_or(false))
    }

    fn set_name(&mut self, v: ValueId, taken: &mut HashSet<String>) {
        let Some(value) = self.f.values.get(v) else {
            return;
        };
        let base = match value.name.as_deref() {
            Some(n) if is_ident(n) => n.to_string(),
            _ => format!("v{}", v.index()),
        };
        let mut name = base.clone();
        let mut k = 2;
        while taken.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        taken.insert(name.clone());
        if let Some(slot) = self.named.get_mut(v.index()) {
            *slot = true;
        }
        if let Some(slot) = self.names.get_mut(v.index()) {
            *slot = name;
        }
    }

    fn name(&self, v: ValueId) -> String {
        match self.names.get(v.index()) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("v{}", v.index()),
        }
    }

    /// The `let` lines of a block and its result expression, at indentation `level`.
    fn block(&self, block: &Block, level: usize, depth: usize) -> (Vec<String>, String) {
        if depth > MAX_BLOCK_DEPTH {
            return (Vec::new(), "…".into());
        }
        let mut lines = Vec::new();
        for &v in &block.body {
            if self.named.get(v.index()).copied().unwrap_or(false) {
                let (text, _) = self.define(v, level, depth);
                lines.push(format!("{}let {} = {}", indent(level), self.name(v), text));
            }
        }
        (lines, self.expr(block.result, level, depth).0)
    }

    /// A block as an expression: inline if it has no `let`s, else a braced multi-line form.
    fn block_expr(&self, block: &Block, level: usize, depth: usize) -> (String, bool) {
        let (lines, result) = self.block(block, level + 1, depth + 1);
        if lines.is_empty() {
            (result, false)
        } else {
            let mut s = String::from("{\n");
            for line in lines {
                s.push_str(&line);
                s.push('\n');
            }
            s.push_str(&indent(level + 1));
            s.push_str(&result);
            s.push('\n');
            s.push_str(&indent(level));
            s.push('}');
            (s, true)
        }
    }

    /// A value where it is used: its name, or its definition inline.
    fn expr(&self, v: ValueId, level: usize, depth: usize) -> (String, u8) {
        if self.named.get(v.index()).copied().unwrap_or(true) {
            return (self.name(v), P_ATOM);
        }
        self.define(v, level, depth)
    }

    /// An operand, parenthesised if it binds looser than `min`.
    fn operand(&self, v: ValueId, min: u8, level: usize, depth: usize) -> String {
        let (s, p) = self.expr(v, level, depth);
        if p < min { format!("({s})") } else { s }
    }

    /// A right operand of a left-associative operator: also parenthesise a leading minus.
    fn right(&self, v: ValueId, min: u8, level: usize, depth: usize) -> String {
        let (s, p) = self.expr(v, level, depth);
        if p < min || s.starts_with('-') {
            format!("({s})")
        } else {
            s
        }
    }

    fn list(&self, vs: &[ValueId], level: usize, depth: usize) -> String {
        vs.iter()
            .map(|v| self.expr(*v, level, depth).0)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The definition of a value as an expression with its precedence.
    fn define(&self, v: ValueId, level: usize, depth: usize) -> (String, u8) {
        let Some(value) = self.f.values.get(v) else {
            return (format!("%{}", v.index()), P_ATOM);
        };
        let ty = &value.ty;
        let op = |x: ValueId, min: u8| self.operand(x, min, level, depth);
        let rhs = |x: ValueId, min: u8| self.right(x, min, level, depth);
        match &value.op {
            Op::Arg(_) => (self.name(v), P_ATOM),
            Op::Const(x) => constant(*x, ty.dtype),
            Op::Literal(xs) => {
                let shown: Vec<String> = xs
                    .iter()
                    .take(6)
                    .map(|x| constant(*x, ty.dtype).0)
                    .collect();
                let more = if xs.len() > 6 {
                    format!(", … ({} values)", xs.len())
                } else {
                    String::new()
                };
                (format!("[{}{more}]", shown.join(", ")), P_ATOM)
            }
            Op::Unary(UnaryOp::Neg, a) => (format!("-{}", rhs(*a, P_NEG)), P_NEG),
            Op::Unary(UnaryOp::Not, a) => (format!("not {}", op(*a, P_NEG)), P_NEG),
            Op::Unary(u, a) => (
                format!("{}({})", u.name(), self.expr(*a, level, depth).0),
                P_ATOM,
            ),
            Op::Binary(b, x, y) => match binary_infix(*b) {
                Some((sym, p)) => (format!("{}{sym}{}", op(*x, p), rhs(*y, p + 1)), p),
                None if *b == BinaryOp::Pow => {
                    (format!("{}^{}", op(*x, P_ATOM), rhs(*y, P_ATOM)), P_POW)
                }
                None => (
                    format!("{}({})", b.name(), self.list(&[*x, *y], level, depth)),
                    P_ATOM,
                ),
            },
            Op::Powi(a, n) => {
                let e = if *n < 0 {
                    format!("({n})")
                } else {
                    n.to_string()
                };
                (format!("{}^{e}", op(*a, P_ATOM)), P_POW)
            }
            Op::Compare(c, x, y) => (
                format!("{} {} {}", op(*x, P_ADD), compare_symbol(*c), op(*y, P_ADD)),
                P_CMP,
            ),
            Op::Select(c, a, b) => (
                format!(
                    "if {} then {} else {}",
                    self.expr(*c, level, depth).0,
                    op(*a, P_OR),
                    self.expr(*b, level, depth).0
                ),
                P_LOWEST,
            ),
            Op::Cast(a) => (
                format!("{}({})", ty.dtype.name(), self.expr(*a, level, depth).0),
                P_ATOM,
            ),
            Op::Broadcast(a) | Op::Reshape(a) => self.reshaped(v, *a, level, depth),
            Op::Index {
                array,
                indices,
                fill,
            } => {
                let fill = fill
                    .map(|x| format!("; fill {}", constant(x, ty.dtype).0))
                    .unwrap_or_default();
                (
                    format!(
                        "{}[{}{fill}]",
                        op(*array, P_ATOM),
                        self.list(indices, level, depth)
                    ),
                    P_ATOM,
                )
            }
            Op::Slice { array, start, len } => (
                format!(
                    "{}[{start}..{}]",
                    op(*array, P_ATOM),
                    start.saturating_add(*len)
                ),
                P_ATOM,
            ),
            Op::Concat(parts) => {
                let scalars = parts
                    .iter()
                    .all(|p| self.f.values.get(*p).is_some_and(|x| x.ty.shape.is_empty()));
                if scalars {
                    (format!("[{}]", self.list(parts, level, depth)), P_ATOM)
                } else {
                    (
                        format!("concat({})", self.list(parts, level, depth)),
                        P_ATOM,
                    )
                }
            }
            Op::Transpose(a) => (format!("{}ᵀ", op(*a, P_ATOM)), P_ATOM),
            Op::Rfft { signal, modes } => (
                format!("rfft({}, {modes})", self.list(&[*signal], level, depth)),
                P_ATOM,
            ),
            Op::Irfft { spectrum, n } => (
                format!("irfft({}, {n})", self.list(&[*spectrum], level, depth)),
                P_ATOM,
            ),
            Op::Rfft2 { signal, modes } => (
                format!(
                    "rfft2({}, {}, {})",
                    self.list(&[*signal], level, depth),
                    modes[0],
                    modes[1]
                ),
                P_ATOM,
            ),
            Op::Irfft2 { spectrum, n } => (
                format!(
                    "irfft2({}, {}, {})",
                    self.list(&[*spectrum], level, depth),
                    n[0],
                    n[1]
                ),
                P_ATOM,
            ),
            Op::Dot(x, y) => (
                format!("dot({})", self.list(&[*x, *y], level, depth)),
                P_ATOM,
            ),
            Op::MatVec(x, y) | Op::MatMul(x, y) => {
                (format!("{}·{}", op(*x, P_MUL), rhs(*y, P_NEG)), P_MUL)
            }
            Op::Reduce(r, a) => (
                format!("{}({})", r.name(), self.expr(*a, level, depth).0),
                P_ATOM,
            ),
            Op::ReduceBatch(r, a) => (
                format!("{}_points({})", r.name(), self.expr(*a, level, depth).0),
                P_ATOM,
            ),
            Op::Tabulate { extents, body } => {
                let ranges: Vec<String> = body
                    .args
                    .iter()
                    .zip(extents)
                    .map(|(a, n)| format!("{} in 0..{n}", self.name(*a)))
                    .collect();
                let (b, _) = self.block_expr(body, level, depth);
                (format!("[{}] {b}", ranges.join(", ")), P_LOWEST)
            }
            Op::Fold {
                op: r,
                extent,
                body,
            } => {
                let var = body.args.first().map(|a| self.name(*a)).unwrap_or_default();
                let (b, _) = self.block_expr(body, level, depth);
                (
                    format!("{}({var} in 0..{extent}: {b})", reduce_name(*r)),
                    P_ATOM,
                )
            }
            Op::Map { inputs, body } => {
                let args: Vec<String> = body.args.iter().map(|a| self.name(*a)).collect();
                let (b, _) = self.block_expr(body, level, depth);
                (
                    format!(
                        "map ({}) in ({}): {b}",
                        args.join(", "),
                        self.list(inputs, level, depth)
                    ),
                    P_LOWEST,
                )
            }
            Op::TileMap {
                inputs,
                lanes,
                reduce,
                body,
            } => {
                let args: Vec<String> = body.args.iter().map(|a| self.name(*a)).collect();
                let (b, _) = self.block_expr(body, level, depth);
                let over = match reduce {
                    Some(r) => format!("{} over tiles of ", reduce_name(*r)),
                    None => "tiles of ".to_string(),
                };
                (
                    format!(
                        "{over}{lanes} ({}) in ({}): {b}",
                        args.join(", "),
                        self.list(inputs, level, depth)
                    ),
                    P_LOWEST,
                )
            }
            Op::Call { func, args } => {
                let name = self.m.functions.get(*func).map_or("?", |g| g.name.as_str());
                (format!("{name}({})", self.list(args, level, depth)), P_ATOM)
            }
            Op::Deriv { of, wrt } => (self.derivative(*of, wrt, level, depth), P_MUL),
        }
    }

    /// `broadcast` is implicit in mathematics; `reshape` of a one-element slice is an
    /// element (`θ[3]`); other reshapes say their shape.
    fn reshaped(&self, v: ValueId, a: ValueId, level: usize, depth: usize) -> (String, u8) {
        let Some(value) = self.f.values.get(v) else {
            return (format!("%{}", v.index()), P_ATOM);
        };
        if let Op::Broadcast(_) = value.op {
            return self.expr(a, level, depth);
        }
        let source = self.f.values.get(a);
        if value.ty.shape.is_empty()
            && !self.named.get(a.index()).copied().unwrap_or(true)
            && let Some(Op::Slice {
                array,
                start,
                len: 1,
            }) = source.map(|s| &s.op)
        {
            return (
                format!("{}[{start}]", self.operand(*array, P_ATOM, level, depth)),
                P_ATOM,
            );
        }
        if source.is_some_and(|s| s.ty.shape.iter().product::<usize>() == 1)
            && value.ty.shape.len() <= 1
        {
            return self.expr(a, level, depth);
        }
        let dims: Vec<String> = value.ty.shape.iter().map(|d| d.to_string()).collect();
        (
            format!(
                "reshape({}, [{}])",
                self.expr(a, level, depth).0,
                dims.join(", ")
            ),
            P_ATOM,
        )
    }

    /// `∂u/∂x`, `∂²u/∂x²`, `∂²u/∂x∂t`.
    fn derivative(&self, of: ValueId, wrt: &[ValueId], level: usize, depth: usize) -> String {
        let order = wrt.len();
        let sup = |n: usize| if n > 1 { superscript(n) } else { String::new() };
        let top = self.operand(of, P_ATOM, level, depth);
        let mut denominator = String::new();
        let mut k = 0;
        while k < wrt.len() {
            let mut run = 1;
            while wrt.get(k + run) == wrt.get(k) {
                run += 1;
            }
            let x = wrt.get(k).map(|x| self.name(*x)).unwrap_or_default();
            denominator.push_str(&format!("∂{x}{}", sup(run)));
            k += run;
        }
        format!("∂{}{top}/{denominator}", sup(order))
    }
}

fn superscript(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .chars()
        .map(|c| {
            c.to_digit(10)
                .and_then(|d| DIGITS.get(d as usize))
                .copied()
                .unwrap_or(c)
        })
        .collect()
}

/// A constant: `π`, `∞`, booleans as `true`/`false`, negative numbers at unary-minus
/// precedence.
fn constant(x: f64, dtype: DType) -> (String, u8) {
    if dtype == DType::Bool {
        return (if x != 0.0 { "true" } else { "false" }.into(), P_ATOM);
    }
    let text = if x == std::f64::consts::PI {
        "π".to_string()
    } else if x == -std::f64::consts::PI {
        "-π".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "∞" } else { "-∞" }.to_string()
    } else if x.is_nan() {
        "NaN".to_string()
    } else {
        format_f64(x)
    };
    let p = if text.starts_with('-') { P_NEG } else { P_ATOM };
    (text, p)
}

/// Infix binary operators: symbol (with spacing) and precedence.
fn binary_infix(op: BinaryOp) -> Option<(&'static str, u8)> {
    match op {
        BinaryOp::Add => Some((" + ", P_ADD)),
        BinaryOp::Sub => Some((" - ", P_ADD)),
        BinaryOp::Mul => Some(("*", P_MUL)),
        BinaryOp::Div => Some(("/", P_MUL)),
        BinaryOp::And => Some((" and ", P_AND)),
        BinaryOp::Or => Some((" or ", P_OR)),
        _ => None,
    }
}

fn compare_symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

fn reduce_name(op: ReduceOp) -> &'static str {
    op.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::FunctionBuilder;
    use crate::types::Type;
    use sci_diag::FileId;

    fn math(text: &str) -> String {
        let m = crate::read::read_module(FileId(0), text).unwrap();
        module_to_math(&m)
    }

    #[test]
    fn parentheses_follow_precedence_and_left_associativity() {
        let out = math(
            "func f(%a: f64, %b: f64, %c: f64) -> f64 {
               %1: f64 = add %b, %c
               %2: f64 = sub %a, %1
               %3: f64 = sub %a, %b
               %4: f64 = sub %3, %c
               %5: f64 = mul %2, %4
               %6: f64 = neg %a
               %7: f64 = powi %6, 2
               %8: f64 = mul %a, %b
               %9: f64 = neg %8
               %10: f64 = powi %c, -1
               %11: f64 = div %9, %10
               %12: f64 = add %5, %7
               %13: f64 = add %12, %11
               return %13
             }",
        );
        assert_eq!(
            out,
            "f(a, b, c) =\n    (a - (b + c))*(a - b - c) + (-a)^2 + (-(a*b)/c^(-1))\n"
        );
    }

    #[test]
    fn blocks_print_as_sums_tabulates_and_maps() {
        let out = math(
            "func f(%v: f64[3], %w: f64, %p: batch f64) -> f64 {
               %s: f64 = fold sum 3 (%i: i64) {
                 %vi: f64 = index %v[%i]
                 %sq: f64 = mul %vi, %w
                 yield %sq
               }
               %t: f64[3] = tabulate [3] (%j: i64) {
                 %vj: f64 = index %v[%j]
                 %e: f64 = exp %vj
                 %x: f64 = add %e, %e
                 yield %x
               }
               %m: batch f64 = map %p (%q: f64) {
                 %z: bool = gt %q, %s
                 %r: f64 = select %z, %q, %s
                 yield %r
               }
               %tot: f64 = reduce_batch sum %m
               %u: f64 = reduce sum %t
               %k: f64 = add %tot, %u
               return %k
             }",
        );
        assert_eq!(
            out,
            "f(v, w, p) =
    let s = sum(i in 0..3: v[i]*w)
    let t = [j in 0..3] {
        let e = exp(v[j])
        e + e
    }
    let m = map (q) in (p): if q > s then q else s
    let tot = sum_points(m)
    let u = sum(t)
    tot + u
"
        );
    }

    #[test]
    fn derivatives_print_with_partial_signs() {
        let out = math(
            "func f(%x: f64, %t: f64) -> f64 {
               %u: f64 = mul %x, %t
               %d: f64 = deriv %u wrt %x, %x
               %e: f64 = deriv %u wrt %x, %t
               %r: f64 = add %d, %e
               return %r
             }",
        );
        assert!(out.contains("∂²u/∂x²"), "{out}");
        assert!(out.contains("∂²u/∂x∂t"), "{out}");
    }

    #[test]
    fn long_chains_are_split_and_never_overflow_the_stack() {
        let mut b = FunctionBuilder::new("chain", vec![("x".into(), Type::scalar())]);
        let mut v = b.input(0).unwrap();
        for _ in 0..100_000 {
            v = b.push(Op::Unary(UnaryOp::Sin, v), Type::scalar());
        }
        let mut m = Module::new("M");
        let id = m.functions.push(b.finish(v));
        let out = function_to_math(&m, id);
        assert!(out.lines().count() > 100_000 / (MAX_INLINE_DEPTH + 1));
        assert!(
            out.lines()
                .all(|l| l.matches("sin(").count() <= MAX_INLINE_DEPTH + 1)
        );
    }

    #[test]
    fn broken_functions_do_not_panic() {
        let mut m = Module::new("M");
        let mut b = FunctionBuilder::new("f", vec![("x".into(), Type::scalar())]);
        let x = b.input(0).unwrap();
        let y = b.push(
            Op::Binary(BinaryOp::Add, x, crate::Handle::from_index(77)),
            Type::scalar(),
        );
        let mut f = b.finish(y);
        f.body.body.push(crate::Handle::from_index(99));
        let id = m.functions.push(f);
        let out = function_to_math(&m, id);
        assert!(out.contains("x + v77"), "{out}");
        assert!(function_to_math(&m, crate::Handle::from_index(5)).contains("no function"));
    }
}
