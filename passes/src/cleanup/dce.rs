//! Dead-code elimination: keep only what the result needs.

use super::rebuild::rebuild;
use sci_ir::{Function, ValueId};

/// Removes every value the function's result does not depend on (the IR is pure, so
/// nothing else can observe a value), and values that are in no block. The function is
/// rebuilt in builder order with fresh handles; it is left unchanged if its structure is
/// broken.
pub fn dce(f: &mut Function) {
    let live = live_values(f);
    let keep = |v: ValueId| live.get(v.index()).copied().unwrap_or(false);
    if let Some(new) = rebuild(f, &keep, &|v| v) {
        *f = new;
    }
}

/// Marks the values reachable from the result: operands, and for a structured op its
/// block's result (block arguments are kept with their op).
fn live_values(f: &Function) -> Vec<bool> {
    let mut live = vec![false; f.values.len()];
    let mut work = vec![f.body.result];
    while let Some(v) = work.pop() {
        let Some(slot) = live.get_mut(v.index()) else {
            continue;
        };
        if *slot {
            continue;
        }
        *slot = true;
        let Some(value) = f.values.get(v) else {
            continue;
        };
        work.extend(value.op.operands());
        if let Some(block) = value.op.block() {
            work.push(block.result);
        }
    }
    live
}
