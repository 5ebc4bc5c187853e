//! Function instances: one IR function per `FnHir`, named by its symbol, and the order
//! that lets every call refer to a function already in the module (callees first).

use super::cx::{FnCx, Statics, ir_type};
use super::walk::Refs;
use super::{Res, diag};
use crate::hir::{FnInstanceId, Program};
use sci_diag::Span;
use sci_ir::Function;
use std::collections::{BTreeMap, BTreeSet};

/// The instances of `set` ordered so that each comes after every instance it calls.
/// Instances called by members of `set` must be in `set` (see `walk::called_instances`).
pub(super) fn callee_order(
    program: &Program,
    set: &BTreeSet<FnInstanceId>,
) -> Res<Vec<FnInstanceId>> {
    let mut edges: BTreeMap<FnInstanceId, Vec<FnInstanceId>> = BTreeMap::new();
    for &id in set {
        let f = program.functions.get(id.index()).ok_or_else(|| {
            diag::internal(
                Span::default(),
                "a call refers to a function that does not exist",
            )
        })?;
        let callees = Refs::collect(None, &[&f.body]).calls;
        edges.insert(id, callees.into_iter().collect());
    }
    // Iterative depth-first search: 1 = on the path, 2 = placed.
    let mut mark: BTreeMap<FnInstanceId, u8> = BTreeMap::new();
    let mut order = Vec::with_capacity(set.len());
    for &root in set {
        if mark.contains_key(&root) {
            continue;
        }
        let mut path: Vec<(FnInstanceId, usize)> = vec![(root, 0)];
        mark.insert(root, 1);
        while let Some((id, next)) = path.last().copied() {
            let child = edges.get(&id).and_then(|c| c.get(next)).copied();
            let Some(child) = child else {
                path.pop();
                mark.insert(id, 2);
                order.push(id);
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            match mark.get(&child) {
                Some(2) => {}
                Some(_) => return Err(cycle_error(program, &path, child)),
                None => {
                    mark.insert(child, 1);
                    path.push((child, 0));
                }
            }
        }
    }
    Ok(order)
}

fn cycle_error(
    program: &Program,
    path: &[(FnInstanceId, usize)],
    back_to: FnInstanceId,
) -> diag::Diag {
    let start = path.iter().position(|(id, _)| *id == back_to).unwrap_or(0);
    let symbol = |id: FnInstanceId| {
        program
            .functions
            .get(id.index())
            .map_or_else(|| "?".to_string(), |f| f.symbol.clone())
    };
    let mut names: Vec<String> = path
        .get(start..)
        .unwrap_or_default()
        .iter()
        .map(|(id, _)| symbol(*id))
        .collect();
    names.push(symbol(back_to));
    let span = program
        .functions
        .get(back_to.index())
        .map_or_else(Span::default, |f| f.span);
    diag::recursion(span, &names)
}

/// Builds the IR function of one instance: inputs named after its parameters.
pub(super) fn lower_instance(st: &Statics, id: FnInstanceId) -> Res<Function> {
    let f = st.program.functions.get(id.index()).ok_or_else(|| {
        diag::internal(st.span, "a call refers to a function that does not exist")
    })?;
    let inputs = f
        .params
        .iter()
        .map(|p| (p.name.clone(), ir_type(&p.ty)))
        .collect();
    let mut cx = FnCx::new(st, &f.symbol, "a function", inputs);
    for k in 0..f.params.len() {
        let v = cx.input(k)?;
        cx.inputs.locals.push(v);
    }
    let out = cx.expr(&f.body, None).map_err(|d| {
        if d.labels.is_empty() {
            Box::new(d.with_primary(f.span, "in this function"))
        } else {
            d
        }
    })?;
    Ok(cx.finish(out))
}
