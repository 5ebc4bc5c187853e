//! Patterns as IR: a rule's side as a function of its pattern variables, so the rule
//! property tests can evaluate both sides with the reference interpreter.

use super::lang::{Node, binary_op, compare_op, unary_op};
use egg::{ENodeOrVar, Language, Pattern};
use sci_ir::{DType, FunctionBuilder, Module, Op, Type, ValueId};

/// A module with one function `f` computing `pattern` on scalars. Its inputs are the
/// pattern's variables in order of first appearance (names without the `?`): `bool` for a
/// variable used as a `select` condition, `f64` otherwise. Returns the variable names.
pub fn pattern_module(pattern: &str) -> Result<(Module, Vec<String>), String> {
    let pattern: Pattern<Node> = pattern
        .parse()
        .map_err(|e| format!("cannot parse `{pattern}`: {e}"))?;
    let nodes = pattern.ast.as_ref();
    // Which ids are select conditions (bool), to type variables and constants.
    let mut is_condition = vec![false; nodes.len()];
    for n in nodes {
        if let ENodeOrVar::ENode(Node::Select([c, _, _])) = n
            && let Some(slot) = is_condition.get_mut(usize::from(*c))
        {
            *slot = true;
        }
    }
    let mut vars: Vec<(egg::Var, DType)> = Vec::new();
    for (k, n) in nodes.iter().enumerate() {
        if let ENodeOrVar::Var(v) = n
            && !vars.iter().any(|(w, _)| w == v)
        {
            let dtype = if is_condition.get(k).copied().unwrap_or(false) {
                DType::Bool
            } else {
                DType::F64
            };
            vars.push((*v, dtype));
        }
    }
    let names: Vec<String> = vars
        .iter()
        .map(|(v, _)| v.to_string().trim_start_matches('?').to_string())
        .collect();
    let inputs = names
        .iter()
        .zip(&vars)
        .map(|(n, (_, d))| (n.clone(), Type::tensor(*d, Vec::new())))
        .collect();
    let mut b = FunctionBuilder::new("f", inputs);
    let mut ids: Vec<ValueId> = Vec::new();
    let scalar = Type::scalar;
    for (k, n) in nodes.iter().enumerate() {
        let kid = |i: usize, node: &Node| -> Result<ValueId, String> {
            let c = node.children().get(i).ok_or("missing operand")?;
            ids.get(usize::from(*c))
                .copied()
                .ok_or_else(|| "bad operand".to_string())
        };
        let id = match n {
            ENodeOrVar::Var(v) => {
                let k = vars
                    .iter()
                    .position(|(w, _)| w == v)
                    .ok_or("unknown variable")?;
                b.input(k).ok_or("missing input")?
            }
            ENodeOrVar::ENode(node) => match node {
                Node::Num { bits, .. } => {
                    let ty = if is_condition.get(k).copied().unwrap_or(false) {
                        Type::boolean(Vec::new())
                    } else {
                        scalar()
                    };
                    b.push(Op::Const(f64::from_bits(*bits)), ty)
                }
                Node::Leaf(_) => return Err("patterns must not contain leaves".into()),
                Node::Unary(c, _) => {
                    let op = Op::Unary(unary_op(*c).ok_or("bad op")?, kid(0, node)?);
                    b.push(op, scalar())
                }
                Node::Binary(c, _) => {
                    let op =
                        Op::Binary(binary_op(*c).ok_or("bad op")?, kid(0, node)?, kid(1, node)?);
                    b.push(op, scalar())
                }
                Node::Powi(p, _) => b.push(Op::Powi(kid(0, node)?, *p), scalar()),
                Node::Compare(c, _) => {
                    let op = Op::Compare(
                        compare_op(*c).ok_or("bad op")?,
                        kid(0, node)?,
                        kid(1, node)?,
                    );
                    b.push(op, Type::boolean(Vec::new()))
                }
                Node::Select(_) => {
                    let op = Op::Select(kid(0, node)?, kid(1, node)?, kid(2, node)?);
                    b.push(op, scalar())
                }
            },
        };
        ids.push(id);
    }
    let result = *ids.last().ok_or("empty pattern")?;
    let mut m = Module::new("pattern");
    m.functions.push(b.finish(result));
    Ok((m, names))
}
