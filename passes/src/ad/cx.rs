//! The state shared by forward and reverse mode: where new values go, how source values
//! map to values usable at the emission point, tangents, and activity.
//!
//! Transforms read *source* values (already in the function) and emit new ones. Inside a
//! new block (the loop of a tangent `tabulate`, the backward `fold` of a reverse sweep) the
//! source block's values are recomputed by cloning; `prim` maps each source value to its
//! copy in scope. Maps are layered per open block so that leaving a block forgets the
//! copies made inside it.

use super::AdError;
use super::emit::Emitter;
use super::graph::{MAX_DEPTH, free_values, uses, val};
use sci_ir::{Arena, Block, FuncId, Function, Module, Op, Value, ValueId};
use std::collections::{HashMap, HashSet};

/// Largest number of call bodies one transform copies (calls are acyclic, so this only
/// bounds pathological modules).
const MAX_IMPORTS: usize = 100_000;

/// Transform state; see the module documentation.
pub(crate) struct Cx<'m, 'a> {
    /// The module whose functions calls refer to.
    pub module: &'m Module,
    pub em: Emitter<'a>,
    prim: Vec<HashMap<ValueId, ValueId>>,
    tan: Vec<HashMap<ValueId, ValueId>>,
    /// Values that depend on the variables being differentiated (reverse mode).
    pub active: HashSet<ValueId>,
    imports: usize,
    /// Nesting of rule applications (blocks and calls), bounded by [`MAX_DEPTH`].
    pub depth: usize,
    /// Reverse mode: the cotangents of slices of an array, `(start, len, cotangent)`, kept
    /// until the array's whole cotangent is needed and then assembled in one
    /// concatenation (`Cx::flush_slices`), rather than each padded to the array's size and
    /// added: a network's weights are a dozen slices of θ, and padding each would write θ
    /// a dozen times per point.
    pub slices: std::collections::BTreeMap<ValueId, Vec<(usize, usize, ValueId)>>,
}

impl<'m, 'a> Cx<'m, 'a> {
    /// A context emitting into `values`.
    pub fn new(module: &'m Module, values: &'a mut Arena<Value>) -> Cx<'m, 'a> {
        Cx {
            module,
            em: Emitter::new(values),
            prim: vec![HashMap::new()],
            tan: vec![HashMap::new()],
            active: HashSet::new(),
            imports: 0,
            depth: 0,
            slices: std::collections::BTreeMap::new(),
        }
    }

    /// The value standing for source value `v` at the emission point.
    pub fn p(&self, v: ValueId) -> ValueId {
        for layer in self.prim.iter().rev() {
            if let Some(&x) = layer.get(&v) {
                return x;
            }
        }
        v
    }

    /// The tangent of source value `v` (None: zero).
    pub fn t(&self, v: ValueId) -> Option<ValueId> {
        for layer in self.tan.iter().rev() {
            if let Some(&x) = layer.get(&v) {
                return Some(x);
            }
        }
        None
    }

    /// Records the copy of a source value.
    pub fn set_p(&mut self, src: ValueId, new: ValueId) {
        if let Some(layer) = self.prim.last_mut() {
            layer.insert(src, new);
        }
    }

    /// Records the tangent of a source value.
    pub fn set_t(&mut self, src: ValueId, tangent: ValueId) {
        if let Some(layer) = self.tan.last_mut() {
            layer.insert(src, tangent);
        }
    }

    /// Opens a scope for copies and tangents (entering a new block).
    pub fn push_layer(&mut self) -> Result<(), AdError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(AdError::limit());
        }
        self.prim.push(HashMap::new());
        self.tan.push(HashMap::new());
        Ok(())
    }

    /// Closes the innermost scope.
    pub fn pop_layer(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.prim.len() > 1 {
            self.prim.pop();
            self.tan.pop();
        }
    }

    /// A source value (cloned out of the arena).
    pub fn src(&self, v: ValueId) -> Result<Value, AdError> {
        Ok(self.em.value(v)?.clone())
    }

    /// True if any free value of a block has a tangent.
    pub fn block_has_tangent(&self, block: &Block) -> Result<bool, AdError> {
        Ok(free_values(self.em.values, block)?
            .iter()
            .any(|u| self.t(*u).is_some()))
    }

    /// Emits a copy of source value `src` with its operands mapped to the values in scope
    /// (its block, if any, copied recursively); records the copy and returns it.
    pub fn clone_value(&mut self, src: ValueId) -> Result<ValueId, AdError> {
        let mut v = self.src(src)?;
        if matches!(v.op, Op::Arg(_)) {
            return Ok(self.p(src));
        }
        if let Some(block) = v.op.block().cloned() {
            let args = self.em.begin_like(&block.args)?;
            self.push_layer()?;
            for (a, n) in block.args.iter().zip(&args) {
                self.set_p(*a, *n);
            }
            let body = self.clone_body(&block.body);
            let result = self.p(block.result);
            self.pop_layer();
            body?;
            let new_block = self.em.end(args, result)?;
            self.remap_operands(&mut v.op);
            if let Some(b) = v.op.block_mut() {
                *b = new_block;
            }
        } else {
            self.remap_operands(&mut v.op);
        }
        let new = self.em.push_value(v);
        self.set_p(src, new);
        Ok(new)
    }

    /// Clones every value of a block body, in order.
    pub fn clone_body(&mut self, body: &[ValueId]) -> Result<(), AdError> {
        for &b in body {
            self.clone_value(b)?;
        }
        Ok(())
    }

    /// Maps the operands of an op (not its block) to the values in scope.
    fn remap_operands(&self, op: &mut Op) {
        let saved = op.block().cloned();
        let remap: HashMap<ValueId, ValueId> =
            op.operands().into_iter().map(|o| (o, self.p(o))).collect();
        op.map_values(|x| remap.get(&x).copied().unwrap_or(x));
        if let (Some(b), Some(saved)) = (op.block_mut(), saved) {
            *b = saved;
        }
    }

    /// Emits a copy of the body of `func` with its inputs replaced by `args` (values in
    /// scope). Returns the copied top-level values in order and the copy of the result.
    pub fn import_call(
        &mut self,
        func: FuncId,
        args: &[ValueId],
    ) -> Result<(Vec<ValueId>, ValueId), AdError> {
        self.imports += 1;
        if self.imports > MAX_IMPORTS {
            return Err(AdError::limit());
        }
        let module = self.module;
        let callee = module.functions.get(func).ok_or_else(|| {
            AdError::internal(format!(
                "call of function #{} that does not exist",
                func.index()
            ))
        })?;
        let mut map: HashMap<ValueId, ValueId> = HashMap::new();
        for (k, &a) in callee.body.args.iter().enumerate() {
            let actual = *args.get(k).ok_or_else(|| {
                AdError::internal(format!("call of `{}` with too few arguments", callee.name))
            })?;
            map.insert(a, actual);
        }
        let mut top = Vec::with_capacity(callee.body.body.len());
        for &id in &callee.body.body {
            top.push(self.import_value(callee, id, &mut map, 0)?);
        }
        let result = *map
            .get(&callee.body.result)
            .ok_or_else(|| AdError::internal("the callee's result is not defined"))?;
        Ok((top, result))
    }

    fn import_value(
        &mut self,
        callee: &Function,
        id: ValueId,
        map: &mut HashMap<ValueId, ValueId>,
        depth: usize,
    ) -> Result<ValueId, AdError> {
        if depth > MAX_DEPTH {
            return Err(AdError::limit());
        }
        let mut v = val(&callee.values, id)?.clone();
        if let Some(block) = v.op.block().cloned() {
            let mut arg_values = Vec::with_capacity(block.args.len());
            for &a in &block.args {
                arg_values.push(val(&callee.values, a)?.clone());
            }
            let tys: Vec<_> = arg_values.iter().map(|a| a.ty.clone()).collect();
            let args = self.em.begin(&tys);
            for ((old, new), value) in block.args.iter().zip(&args).zip(&arg_values) {
                map.insert(*old, *new);
                if let Some(x) = self.em.values.get_mut(*new) {
                    x.name = value.name.clone();
                }
            }
            let mut inner = Ok(());
            for &b in &block.body {
                if let Err(e) = self.import_value(callee, b, map, depth + 1) {
                    inner = Err(e);
                    break;
                }
            }
            let result = map.get(&block.result).copied();
            let result = match (inner, result) {
                (Ok(()), Some(r)) => r,
                (Err(e), _) => {
                    let _ = self.em.end(args, id);
                    return Err(e);
                }
                (Ok(()), None) => {
                    let _ = self.em.end(args, id);
                    return Err(AdError::internal("a block result is not defined"));
                }
            };
            let new_block = self.em.end(args, result)?;
            let operands = v.op.operands();
            let remap: HashMap<ValueId, ValueId> = operands
                .into_iter()
                .map(|o| (o, map.get(&o).copied().unwrap_or(o)))
                .collect();
            v.op.map_values(|x| remap.get(&x).copied().unwrap_or(x));
            if let Some(b) = v.op.block_mut() {
                *b = new_block;
            }
        } else {
            let m = &*map;
            v.op.map_values(|x| m.get(&x).copied().unwrap_or(x));
        }
        let new = self.em.push_value(v);
        map.insert(id, new);
        Ok(new)
    }

    /// Marks as active every float value among `body` (and inside their blocks) that reads
    /// an active value; `map` block arguments are active when their input is.
    pub fn mark_active(&mut self, body: &[ValueId]) -> Result<(), AdError> {
        self.mark_active_at(body, 0)
    }

    fn mark_active_at(&mut self, body: &[ValueId], depth: usize) -> Result<(), AdError> {
        if depth > MAX_DEPTH {
            return Err(AdError::limit());
        }
        for &id in body {
            let v = self.src(id)?;
            if let Op::Map {
                inputs,
                body: block,
            } = &v.op
            {
                for (inp, arg) in inputs.iter().zip(&block.args) {
                    if self.active.contains(inp) {
                        self.active.insert(*arg);
                    }
                }
            }
            if let Some(block) = v.op.block() {
                self.mark_active_at(&block.body, depth + 1)?;
            }
            if v.ty.dtype.is_float()
                && uses(self.em.values, id)?
                    .iter()
                    .any(|u| self.active.contains(u))
            {
                self.active.insert(id);
            }
        }
        Ok(())
    }
}
