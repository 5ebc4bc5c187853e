//! Common-subexpression elimination by hash-consing, respecting block scoping.
//!
//! Each value gets a structural key: its op with operands replaced by their representatives,
//! and its type. A structured op's key includes its whole block, with the values defined in
//! the block numbered by position, so two `tabulate`s with the same body are one value.
//! A value is replaced by an earlier value with the same key only if that value is visible
//! where the duplicate is: earlier in the same block or in an enclosing one, never in a
//! sibling block (each block opens a scope that is closed at its end).

use super::rebuild::{MAX_DEPTH, rebuild};
use sci_ir::{Block, Function, Handle, Op, Value, ValueId};
use std::collections::HashMap;
use std::fmt::Write;

/// Replaces every pure op that recomputes a visible earlier value by that value and removes
/// the duplicates. Arguments are never merged. The function is rebuilt in builder order; it
/// is left unchanged if its structure is broken.
pub fn cse(f: &mut Function) {
    let mut state = Cse {
        f,
        canon: HashMap::new(),
        scopes: vec![HashMap::new()],
    };
    if state.visit_block(&f.body, 0).is_none() || state.canon.is_empty() {
        return;
    }
    let canon = state.canon;
    let keep = |v: ValueId| !canon.contains_key(&v);
    let redirect = |v: ValueId| canon.get(&v).copied().unwrap_or(v);
    if let Some(new) = rebuild(f, &keep, &redirect) {
        *f = new;
    }
}

struct Cse<'f> {
    f: &'f Function,
    /// Duplicate → its representative (always a value that is not itself a duplicate).
    canon: HashMap<ValueId, ValueId>,
    /// Key → representative, one table per open block, innermost last.
    scopes: Vec<HashMap<String, ValueId>>,
}

impl<'f> Cse<'f> {
    fn visit_block(&mut self, block: &'f Block, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        for &v in &block.body {
            let value = self.f.values.get(v)?;
            if let Some(inner) = value.op.block() {
                self.scopes.push(HashMap::new());
                let visited = self.visit_block(inner, depth + 1);
                self.scopes.pop();
                visited?;
            }
            if matches!(value.op, Op::Arg(_)) {
                continue;
            }
            let mut key = String::new();
            let mut locals = Locals {
                base: self.f.values.len(),
                map: HashMap::new(),
            };
            self.write_value(value, &mut locals, &mut key, depth)?;
            let found = self.scopes.iter().rev().find_map(|s| s.get(&key)).copied();
            match found {
                Some(rep) => {
                    self.canon.insert(v, rep);
                }
                None => {
                    if let Some(scope) = self.scopes.last_mut() {
                        scope.insert(key, v);
                    }
                }
            }
        }
        Some(())
    }

    /// Writes the key of one value: its op (block stripped) with operands renamed, its
    /// type, and its block if it has one.
    fn write_value(
        &self,
        value: &Value,
        locals: &mut Locals,
        out: &mut String,
        depth: usize,
    ) -> Option<()> {
        let mut op = value.op.clone();
        if let Some(b) = op.block_mut() {
            *b = Block {
                args: Vec::new(),
                body: Vec::new(),
                result: Handle::from_index(0),
            };
        }
        op.map_values(|x| locals.rename(&self.canon, x));
        let _ = write!(out, "{op:?}:{:?}", value.ty);
        if let Some(block) = value.op.block() {
            self.write_block(block, locals, out, depth + 1)?;
        }
        out.push(';');
        Some(())
    }

    fn write_block(
        &self,
        block: &Block,
        locals: &mut Locals,
        out: &mut String,
        depth: usize,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        out.push('{');
        for &a in &block.args {
            locals.define(a);
            let _ = write!(out, "{:?},", self.f.values.get(a)?.ty);
        }
        for &v in &block.body {
            if self.canon.contains_key(&v) {
                continue;
            }
            locals.define(v);
            self.write_value(self.f.values.get(v)?, locals, out, depth)?;
        }
        let _ = write!(
            out,
            "yield {:?}}}",
            locals.rename(&self.canon, block.result)
        );
        Some(())
    }
}

/// Positional names for the values defined inside the block being keyed, as handles past
/// the end of the arena (so they never collide with the real handles of outer values).
struct Locals {
    base: usize,
    map: HashMap<ValueId, usize>,
}

impl Locals {
    fn define(&mut self, v: ValueId) {
        let n = self.map.len();
        self.map.entry(v).or_insert(n);
    }

    fn rename(&self, canon: &HashMap<ValueId, ValueId>, v: ValueId) -> ValueId {
        let rep = canon.get(&v).copied().unwrap_or(v);
        match self.map.get(&rep) {
            Some(&k) => Handle::from_index(self.base + k),
            None => rep,
        }
    }
}
