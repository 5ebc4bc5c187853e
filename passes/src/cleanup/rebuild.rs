//! Copying a function into a fresh arena in builder order, dropping values and
//! redirecting uses on the way: the common back end of CSE, DCE and simplification.

use sci_ir::{Block, Function, FunctionBuilder, ValueId};
use std::collections::{HashMap, HashSet};

/// Deepest block nesting the passes follow (the validator allows 64).
pub(crate) const MAX_DEPTH: usize = 64;

/// Copies `f` in builder order (inputs, then each line's block followed by the line's
/// value). Body values for which `keep` is false are dropped; block arguments are always
/// kept. Every use of a value `v` (operands, block results) reads `redirect(v)` instead.
///
/// Returns `None`, leaving the caller to keep `f`, when a handle is out of range, a kept
/// value uses a dropped or not-yet-defined value, or blocks nest deeper than [`MAX_DEPTH`].
pub(crate) fn rebuild(
    f: &Function,
    keep: &dyn Fn(ValueId) -> bool,
    redirect: &dyn Fn(ValueId) -> ValueId,
) -> Option<Function> {
    let mut inputs = Vec::new();
    for &a in &f.body.args {
        let v = f.values.get(a)?;
        inputs.push((v.name.clone().unwrap_or_default(), v.ty.clone()));
    }
    let mut copier = Copier {
        f,
        keep,
        redirect,
        map: HashMap::new(),
        b: FunctionBuilder::new(f.name.clone(), inputs),
    };
    for (k, &a) in f.body.args.iter().enumerate() {
        let new = copier.b.input(k)?;
        copier.map.insert(a, new);
    }
    copier.copy_body(&f.body, 0)?;
    let result = copier.lookup(f.body.result)?;
    let mut out = copier.b.finish(result);
    out.role = f.role.clone();
    out.input_roles = f.input_roles.clone();
    // The builder names every input; restore the originals (which may have no name).
    for (&old, &new) in f.body.args.iter().zip(out.body.args.clone().iter()) {
        let name = f.values.get(old).and_then(|v| v.name.clone());
        if let Some(v) = out.values.get_mut(new) {
            v.name = name;
        }
    }
    Some(out)
}

struct Copier<'a> {
    f: &'a Function,
    keep: &'a dyn Fn(ValueId) -> bool,
    redirect: &'a dyn Fn(ValueId) -> ValueId,
    map: HashMap<ValueId, ValueId>,
    b: FunctionBuilder,
}

impl Copier<'_> {
    fn lookup(&self, old: ValueId) -> Option<ValueId> {
        self.map.get(&(self.redirect)(old)).copied()
    }

    fn copy_body(&mut self, block: &Block, depth: usize) -> Option<()> {
        for &v in &block.body {
            if !(self.keep)(v) {
                continue;
            }
            let value = self.f.values.get(v)?;
            // A structured op's block is copied first; then its operands are remapped.
            let mut op = value.op.clone();
            if let Some(block) = value.op.block() {
                let copy = self.copy_block(block, depth + 1)?;
                if let Some(b) = op.block_mut() {
                    *b = copy;
                }
            }
            let mut ok = true;
            op.map_operands(|x| match self.lookup(x) {
                Some(y) => y,
                None => {
                    ok = false;
                    x
                }
            });
            if !ok {
                return None;
            }
            let new = match &value.name {
                Some(name) => self.b.push_named(op, value.ty.clone(), name.clone()),
                None => self.b.push(op, value.ty.clone()),
            };
            self.map.insert(v, new);
        }
        Some(())
    }

    fn copy_block(&mut self, block: &Block, depth: usize) -> Option<Block> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut arg_types = Vec::new();
        for &a in &block.args {
            let v = self.f.values.get(a)?;
            arg_types.push((v.name.clone(), v.ty.clone()));
        }
        let new_args = self.b.begin_block(arg_types);
        for (&old, &new) in block.args.iter().zip(&new_args) {
            self.map.insert(old, new);
        }
        self.copy_body(block, depth)?;
        let result = self.lookup(block.result)?;
        Some(self.b.end_block(result))
    }
}

/// The values a block (with everything nested in it) uses but does not define, in first-use
/// order: what must be available where the block's op is.
pub(crate) fn block_tree_refs(f: &Function, block: &Block) -> Vec<ValueId> {
    let mut defined = HashSet::new();
    let mut used = Vec::new();
    let mut stack = vec![block];
    while let Some(b) = stack.pop() {
        defined.extend(b.args.iter().copied());
        for &v in &b.body {
            defined.insert(v);
            if let Some(value) = f.values.get(v) {
                used.extend(value.op.operands());
                if let Some(inner) = value.op.block() {
                    stack.push(inner);
                }
            }
        }
        used.push(b.result);
    }
    let mut seen = HashSet::new();
    used.retain(|v| !defined.contains(v) && seen.insert(*v));
    used
}
