//! Dependencies between definitions and their order.
//!
//! The free names of each definition's expressions (names not bound by an index variable,
//! a function parameter or a coordinate) are its references. The definitions are then
//! sorted so that each comes after what it uses; a cycle is reported once, as the chain of
//! uses `a → b → a`, with the place of every use.

use crate::ast::{Expr, ExprKind};
use sci_diag::Span;

/// A use of a name inside a definition.
#[derive(Clone, Debug, PartialEq)]
pub struct NameRef {
    pub name: String,
    pub span: Span,
    /// `der(x)` used as a value: a use of the `der` equation of `x`, not of `x`.
    pub der: bool,
}

/// Deepest expression the walk follows (deeper parts are reported by the checker).
const MAX_DEPTH: u32 = 300;

/// Collects the free names of `e` into `out`; `bound` holds the names bound around it.
pub fn free_names(e: &Expr, bound: &mut Vec<String>, out: &mut Vec<NameRef>) {
    walk(e, bound, out, 0);
}

fn push(name: &str, span: Span, der: bool, bound: &[String], out: &mut Vec<NameRef>) {
    if !bound.iter().any(|b| b == name) {
        out.push(NameRef {
            name: name.to_string(),
            span,
            der,
        });
    }
}

fn walk(e: &Expr, bound: &mut Vec<String>, out: &mut Vec<NameRef>, depth: u32) {
    if depth > MAX_DEPTH {
        return;
    }
    let d = depth + 1;
    match &e.kind {
        ExprKind::Number { .. } | ExprKind::Str(_) | ExprKind::Error => {}
        ExprKind::Name(id) => push(&id.name, id.span, false, bound, out),
        ExprKind::Unary(_, a) => walk(a, bound, out, d),
        ExprKind::Binary(_, a, b) => {
            walk(a, bound, out, d);
            walk(b, bound, out, d);
        }
        ExprKind::Call { callee, args } => {
            if callee.name == "der"
                && let Some(first) = args.first()
            {
                let target = match &first.value.kind {
                    ExprKind::Name(id) => Some(id),
                    ExprKind::Index { base, .. } => match &base.kind {
                        ExprKind::Name(id) => Some(id),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(id) = target {
                    push(&id.name, id.span, true, bound, out);
                }
            } else {
                push(&callee.name, callee.span, false, bound, out);
            }
            for a in args {
                walk(&a.value, bound, out, d);
            }
        }
        ExprKind::Index { base, indices } => {
            walk(base, bound, out, d);
            for i in indices {
                walk(i, bound, out, d);
            }
        }
        ExprKind::Field { base, .. } => walk(base, bound, out, d),
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            walk(cond, bound, out, d);
            walk(then, bound, out, d);
            walk(otherwise, bound, out, d);
        }
        ExprKind::Reduce { binders, body, .. } => {
            let before = bound.len();
            for b in binders {
                walk(&b.start, bound, out, d);
                walk(&b.end, bound, out, d);
                bound.push(b.var.name.clone());
            }
            walk(body, bound, out, d);
            bound.truncate(before);
        }
        ExprKind::Array(items) => {
            for i in items {
                walk(i, bound, out, d);
            }
        }
    }
}

/// A dependency graph: `edges[a]` lists `(b, span)` when `a` uses `b` at `span`.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub edges: Vec<Vec<(usize, Span)>>,
}

/// One cycle: the nodes in order, each with the span where it uses the next.
pub type Cycle = Vec<(usize, Span)>;

impl Graph {
    /// A graph with `n` nodes and no edges.
    pub fn new(n: usize) -> Graph {
        Graph {
            edges: vec![Vec::new(); n],
        }
    }

    /// Records that `from` uses `to` at `span`.
    pub fn add(&mut self, from: usize, to: usize, span: Span) {
        let n = self.edges.len();
        if let Some(e) = self.edges.get_mut(from)
            && to < n
        {
            e.push((to, span));
        }
    }

    /// Every node, each after the nodes it uses (ties in node order), and the cycles found.
    /// Nodes on a cycle still appear once in the order.
    pub fn order(&self) -> (Vec<usize>, Vec<Cycle>) {
        let n = self.edges.len();
        // 0 = not visited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; n];
        let mut order = Vec::with_capacity(n);
        let mut cycles = Vec::new();
        for root in 0..n {
            if state[root] != 0 {
                continue;
            }
            // Explicit stack of (node, next edge); the path is the stack itself.
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = 1;
            while let Some(top) = stack.len().checked_sub(1) {
                let (node, next) = stack[top];
                let edges = &self.edges[node];
                if let Some(&(to, span)) = edges.get(next) {
                    stack[top].1 += 1;
                    match state[to] {
                        0 => {
                            state[to] = 1;
                            stack.push((to, 0));
                        }
                        1 => {
                            // A back edge: the cycle is the stack from `to` to here; each
                            // entry's last followed edge is where it uses the next node.
                            let start = stack.iter().position(|(v, _)| *v == to).unwrap_or(0);
                            let cycle: Cycle = stack[start..]
                                .iter()
                                .map(|&(v, e)| {
                                    let used = self.edges[v].get(e.wrapping_sub(1)).map(|x| x.1);
                                    (v, used.unwrap_or(span))
                                })
                                .collect();
                            cycles.push(cycle);
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                    order.push(node);
                    stack.pop();
                }
            }
        }
        (order, cycles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sci_diag::FileId;

    fn sp(i: usize) -> Span {
        Span::new(FileId(0), i, i + 1)
    }

    #[test]
    fn order_puts_uses_first() {
        let mut g = Graph::new(3);
        g.add(0, 2, sp(0));
        g.add(2, 1, sp(1));
        let (order, cycles) = g.order();
        assert_eq!(order, vec![1, 2, 0]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn cycles_are_found_with_their_uses() {
        let mut g = Graph::new(3);
        g.add(0, 1, sp(10));
        g.add(1, 2, sp(11));
        g.add(2, 0, sp(12));
        let (order, cycles) = g.order();
        assert_eq!(order.len(), 3);
        assert_eq!(cycles, vec![vec![(0, sp(10)), (1, sp(11)), (2, sp(12))]]);
    }

    #[test]
    fn self_reference_is_a_cycle() {
        let mut g = Graph::new(1);
        g.add(0, 0, sp(5));
        let (_, cycles) = g.order();
        assert_eq!(cycles, vec![vec![(0, sp(5))]]);
    }
}
