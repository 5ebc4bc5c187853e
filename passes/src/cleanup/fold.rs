//! Constant folding of scalar ops, evaluated by the reference interpreter.
//!
//! Folding must give exactly the bits the op would compute at run time, so it does not
//! re-implement any arithmetic: it builds a one-op function with constant operands and runs
//! it through `sci_ir::interp`, the oracle every back end is compared against.

use super::rebuild::MAX_DEPTH;
use sci_ir::validate::fits_dtype;
use sci_ir::{Block, DType, Function, FunctionBuilder, Module, Op, Type, ValueId};
use std::collections::HashMap;

/// Replaces every scalar `unary`, `binary`, `powi`, comparison, `select` and `cast` whose
/// operands are all `const` by the `const` it evaluates to. Returns how many ops were
/// folded. The operands stay (DCE removes them when nothing else uses them).
pub fn fold_constants(f: &mut Function) -> usize {
    let mut order = Vec::new();
    if !block_order(f, &f.body, &mut order, 0) {
        return 0;
    }
    let mut folded = 0;
    for v in order {
        let Some(value) = f.values.get(v) else {
            continue;
        };
        if !foldable(&value.op) || !value.ty.is_scalar() || value.ty.batched {
            continue;
        }
        let mut operands = Vec::new();
        for x in value.op.operands() {
            match f.values.get(x) {
                Some(xv) if xv.ty.is_scalar() && !xv.ty.batched => match xv.op {
                    Op::Const(c) => operands.push((x, c, xv.ty.dtype)),
                    _ => break,
                },
                _ => break,
            }
        }
        if operands.len() != value.op.operands().len() {
            continue;
        }
        if let Some(c) = eval_op(&value.op, &operands, value.ty.dtype)
            && let Some(value) = f.values.get_mut(v)
        {
            value.op = Op::Const(c);
            folded += 1;
        }
    }
    folded
}

/// The ops folding handles: elementwise, no block, no call.
fn foldable(op: &Op) -> bool {
    matches!(
        op,
        Op::Unary(..)
            | Op::Binary(..)
            | Op::Powi(..)
            | Op::Compare(..)
            | Op::Select(..)
            | Op::Cast(..)
    )
}

/// Body values in evaluation order, nested blocks before their op. False if too deep.
fn block_order(f: &Function, block: &Block, out: &mut Vec<ValueId>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    for &v in &block.body {
        if let Some(inner) = f.values.get(v).and_then(|x| x.op.block())
            && !block_order(f, inner, out, depth + 1)
        {
            return false;
        }
        out.push(v);
    }
    true
}

/// Evaluates the scalar op `op` whose operands are the handles in `operands`, each with its
/// constant value and dtype, giving a result of dtype `out`. `None` if the interpreter
/// refuses it or the result does not fit `out` (an `i64` beyond ±2^53, say).
pub(crate) fn eval_op(op: &Op, operands: &[(ValueId, f64, DType)], out: DType) -> Option<f64> {
    let mut b = FunctionBuilder::new("fold", Vec::new());
    let mut map = HashMap::new();
    for &(old, c, dtype) in operands {
        if !fits_dtype(c, dtype) {
            return None;
        }
        let new = b.push(Op::Const(c), Type::tensor(dtype, Vec::new()));
        map.insert(old, new);
    }
    let mut op = op.clone();
    let mut ok = true;
    op.map_values(|x| match map.get(&x) {
        Some(&y) => y,
        None => {
            ok = false;
            x
        }
    });
    if !ok {
        return None;
    }
    let r = b.push(op, Type::tensor(out, Vec::new()));
    let mut m = Module::new("fold");
    let id = m.functions.push(b.finish(r));
    let c = sci_ir::eval(&m, id, &[]).ok()?.as_scalar()?;
    fits_dtype(c, out).then_some(c)
}
