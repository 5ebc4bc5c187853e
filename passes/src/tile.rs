//! Batch-major maps: rewrites `map` into `tile_map`, whose body runs over a tile of `lanes`
//! points at once, structure of arrays (every per-point value of shape `S` becomes a tile of
//! shape `S ++ [lanes]`, the points along the last, contiguous axis).
//!
//! Why an IR transform and not a lowering strategy: every back end gets batch-major code
//! from the same rewrite, and the interpreter checks it (a tiled module is ordinary IR). The
//! body's ops become tensor ops over the tile, so:
//!
//! - elementwise ops run over `S ++ [lanes]` contiguous elements (loops the back ends
//!   vectorise);
//! - a matrix–vector product with weights shared by all points, `matvec W x`, becomes the
//!   matrix–matrix product `matmul W X` over the tile (a GEMM);
//! - when the map's only use is `reduce_batch sum|mean`, the reduction is fused: the body
//!   yields the tile's partial sum, and the sum over lanes is pushed through the linear ops
//!   that build the per-point result (`add`, `concat`, `reshape`, `slice`, `broadcast`,
//!   `matvec W`, scaling by a uniform value), so a gradient's per-point outer products
//!   `matmul a b` (`a: [m, 1]`, `b: [1, n]`) summed over points become one
//!   `matmul A Bᵀ` over the tile, and no per-point gradient vector is ever built.
//!
//! Values of the body that do not depend on the point (slices of θ, constants) stay
//! *uniform* (their per-point shape) and are broadcast only where a tiled op needs them.
//! The padded lanes of the last tile repeat the last point, so they compute finite numbers
//! wherever real points do; sums over lanes select the real lanes with the mask.
//!
//! A `tabulate` or `fold` whose body depends on the point (reverse mode builds the adjoint
//! of `index v[k]` as a one-hot `tabulate`) is kept as a loop whose body is tiled.
//!
//! A map whose body uses an op this rewrite cannot express over a tile (a `transpose` of a
//! per-point matrix, an index computed per point, a product of two per-point matrices that
//! is not summed) is left as it is: tiling is an optimisation, never a requirement.
//! Summation order changes (lanes, then tiles), so tiled results agree with the untiled
//! ones to rounding, not bit for bit; the back ends agree bit for bit on the tiled module.

mod hoist;
mod outline;

pub use outline::{is_single_call, outline_tiles};

use crate::ad::{inline_calls_function, use_counts};
use crate::cleanup::{cse, dce};
use sci_ir::{
    BinaryOp, Block, DType, FuncId, Function, Module, Op, ReduceOp, Type, UnaryOp, Value, ValueId,
};
use std::collections::{HashMap, HashSet};

/// The number of points per tile the CPU back ends use: on the Burgers PINN's loss and
/// gradient, 64 lanes ran 10 % faster than 32 and 25 % faster than 8 (Cranelift).
pub const DEFAULT_LANES: usize = 64;

/// How deeply loops that depend on the point may nest in a tiled body (deeper bodies keep
/// their map untiled rather than recurse without bound).
const MAX_NESTING: usize = 16;

/// Rewrites the maps of every function of `m` (see the module docs); returns how many
/// maps became `tile_map`s.
///
/// Calls inside map bodies (a network called per point) are inlined first, so that the
/// callee's ops are tiled too.
pub fn tile_module(m: &mut Module, lanes: usize) -> usize {
    let ids: Vec<_> = m.functions.iter().map(|(id, _)| id).collect();
    let mut count = 0;
    for id in ids {
        inline_calls_in_maps(m, id);
        if let Some(f) = m.functions.get_mut(id) {
            count += tile_function(f, lanes);
        }
    }
    count
}

/// Inlines every call of function `id` when one of its top-level maps calls a function (a
/// network called per point), so that the callee's ops are in the map's body; returns
/// whether it did.
pub(crate) fn inline_calls_in_maps(m: &mut Module, id: FuncId) -> bool {
    let calls_in_maps = m.functions.get(id).is_some_and(|f| {
        f.body.body.iter().any(|v| {
            matches!(f.values.get(*v).map(|v| &v.op),
                Some(Op::Map { body, .. }) if has_call(f, body, 0))
        })
    });
    if !calls_in_maps {
        return false;
    }
    let inlined = m
        .functions
        .get(id)
        .and_then(|f| inline_calls_function(m, f).ok());
    match (inlined, m.functions.get_mut(id)) {
        (Some(g), Some(slot)) => {
            *slot = g;
            true
        }
        _ => false,
    }
}

/// Rewrites the top-level maps of `f`; returns how many became `tile_map`s.
pub fn tile_function(f: &mut Function, lanes: usize) -> usize {
    if lanes == 0 {
        return 0;
    }
    let uses = use_counts(f);
    let top = f.body.body.clone();
    let at_top: HashSet<ValueId> = top.iter().copied().collect();
    let mut fused = HashSet::new();
    // Per new `tile_map`, the values moved out of its body (`hoist`), placed before it.
    let mut hoisted: HashMap<ValueId, Vec<ValueId>> = HashMap::new();
    let mut count = 0;
    // First the reductions whose operand is a map used only there: fused.
    for &id in &top {
        let Some(Op::ReduceBatch(op @ (ReduceOp::Sum | ReduceOp::Mean), a)) =
            f.values.get(id).map(|v| &v.op)
        else {
            continue;
        };
        let (op, a) = (*op, *a);
        if uses.get(&a) != Some(&1) || !at_top.contains(&a) {
            continue;
        }
        let Some(Op::Map { inputs, body }) = f.values.get(a).map(|v| v.op.clone()) else {
            continue;
        };
        if let Some(moved) = tile_map_at(f, id, inputs, &body, lanes, Some(op)) {
            hoisted.insert(id, moved);
            fused.insert(a);
            count += 1;
        }
    }
    // Then every other map.
    for &id in &top {
        if fused.contains(&id) {
            continue;
        }
        let Some(Op::Map { inputs, body }) = f.values.get(id).map(|v| v.op.clone()) else {
            continue;
        };
        if let Some(moved) = tile_map_at(f, id, inputs, &body, lanes, None) {
            hoisted.insert(id, moved);
            count += 1;
        }
    }
    if count > 0 {
        let mut body = Vec::with_capacity(top.len());
        for id in top {
            if let Some(moved) = hoisted.remove(&id) {
                body.extend(moved);
            }
            body.push(id);
        }
        f.body.body = body;
        // The rewrite builds some values once per use (the mask broadcast to a tile's shape
        // for each lane sum, the zeros it selects): CSE keeps one of each.
        cse(f);
        dce(f);
    }
    count
}

/// Makes value `id` the `tile_map` of the map `inputs`/`body` (fused with `reduce` when
/// given); returns the loop-invariant values moved out of its body, to be placed before it,
/// or `None` (nothing changed) when the body has no tile form.
fn tile_map_at(
    f: &mut Function,
    id: ValueId,
    inputs: Vec<ValueId>,
    body: &Block,
    lanes: usize,
    reduce: Option<ReduceOp>,
) -> Option<Vec<ValueId>> {
    f.values.get(id)?;
    let Ok(mut block) = Tiler::new(f, lanes).run(body, reduce.is_some()) else {
        return one_point_tiles(f, id, inputs, body, reduce);
    };
    let moved = hoist::hoist_invariants(f, &mut block);
    let v = f.values.get_mut(id)?;
    v.op = Op::TileMap {
        inputs,
        lanes,
        reduce,
        body: block,
    };
    Some(moved)
}

/// A map whose body has no tile form but multiplies per-point matrices (a neural
/// operator's layers on each sample) becomes a `tile_map` of one point per tile: the same
/// body, its arguments reshaped from `S ++ [1]`, so the tile runtime runs the points on
/// threads (an untiled `map` runs them in one loop). Cheaper bodies stay maps: per point,
/// the runtime's gathering would cost more than it saves. `None` when left as it is.
fn one_point_tiles(
    f: &mut Function,
    id: ValueId,
    inputs: Vec<ValueId>,
    body: &Block,
    reduce: Option<ReduceOp>,
) -> Option<Vec<ValueId>> {
    if !has_matmul(f, body, 0) {
        return None;
    }
    let with_lane = |ty: &Type| {
        let mut shape = ty.shape.to_vec();
        shape.push(1);
        Type {
            shape,
            ..ty.clone()
        }
    };
    let mut args = Vec::with_capacity(body.args.len() + 1);
    for (k, &old) in body.args.iter().enumerate() {
        let ty = with_lane(&f.values.get(old)?.ty);
        let tile = f.values.push(Value {
            op: Op::Arg(k),
            ty,
            name: None,
        });
        // The old argument becomes the point's view of the tile: no use changes.
        f.values.get_mut(old)?.op = Op::Reshape(tile);
        args.push(tile);
    }
    args.push(f.values.push(Value {
        op: Op::Arg(body.args.len()),
        ty: Type::tensor(DType::Bool, vec![1]),
        name: None,
    }));
    let mut values: Vec<ValueId> = body.args.clone();
    values.extend(body.body.iter().copied());
    let result = match reduce {
        // One real point per tile: its value is the tile's partial.
        Some(_) => body.result,
        None => {
            let ty = with_lane(&f.values.get(body.result)?.ty);
            let out = f.values.push(Value {
                op: Op::Reshape(body.result),
                ty,
                name: None,
            });
            values.push(out);
            out
        }
    };
    let mut block = Block {
        args,
        body: values,
        result,
    };
    // The weights' transposes of a reverse pass are the same for every sample.
    let moved = hoist::hoist_invariants(f, &mut block);
    let v = f.values.get_mut(id)?;
    v.op = Op::TileMap {
        inputs,
        lanes: 1,
        reduce,
        body: block,
    };
    Some(moved)
}

/// True when `block` (or a block inside it) multiplies two matrices.
fn has_matmul(f: &Function, block: &Block, depth: usize) -> bool {
    depth < 64
        && block
            .body
            .iter()
            .any(|v| match f.values.get(*v).map(|v| &v.op) {
                Some(Op::MatMul(..)) => true,
                Some(op) => op.block().is_some_and(|b| has_matmul(f, b, depth + 1)),
                None => false,
            })
}

/// True when `block` (or a block inside it) calls a function.
fn has_call(f: &Function, block: &Block, depth: usize) -> bool {
    depth < 64
        && block
            .body
            .iter()
            .any(|v| match f.values.get(*v).map(|v| &v.op) {
                Some(Op::Call { .. }) => true,
                Some(op) => op.block().is_some_and(|b| has_call(f, b, depth + 1)),
                None => false,
            })
}

/// Why a map body cannot be tiled (the map is then left as it is).
#[derive(Debug)]
struct Untileable;

type Res<T> = Result<T, Untileable>;

/// A body value in the tiled block.
#[derive(Clone, Copy, Debug)]
enum Lane {
    /// Independent of the point: the per-point shape.
    Uniform(ValueId),
    /// One value per lane: `shape ++ [lanes]`.
    Tiled(ValueId),
    /// No tile form (a product of two per-point matrices): usable only through its sum
    /// over the lanes, which [`Tiler::lane_sum`] builds from the operands.
    Deferred,
}

/// Builds the body of one `tile_map`.
struct Tiler<'f> {
    f: &'f mut Function,
    lanes: usize,
    /// The new block's values, in order.
    body: Vec<ValueId>,
    /// Original body value → its form in the new block.
    lane: HashMap<ValueId, Lane>,
    /// Uniform value → its broadcast over the lanes.
    spread: HashMap<ValueId, ValueId>,
    /// Original body value → its sum over the real lanes.
    sums: HashMap<ValueId, ValueId>,
    mask: Option<ValueId>,
    count: Option<ValueId>,
    /// Loops entered by [`Tiler::tile_nested`] around the value being rewritten.
    depth: usize,
}

impl<'f> Tiler<'f> {
    fn new(f: &'f mut Function, lanes: usize) -> Tiler<'f> {
        Tiler {
            f,
            lanes,
            body: Vec::new(),
            lane: HashMap::new(),
            spread: HashMap::new(),
            sums: HashMap::new(),
            mask: None,
            count: None,
            depth: 0,
        }
    }

    /// The tiled block of a map body; `reduce`: the block yields the tile's sum over real
    /// lanes instead of the tile.
    fn run(mut self, body: &Block, reduce: bool) -> Res<Block> {
        let mut args = Vec::with_capacity(body.args.len() + 1);
        for (k, &a) in body.args.iter().enumerate() {
            let ty = self.ty(a)?;
            let arg = self.raw(Op::Arg(k), self.tile_type(&ty));
            self.lane.insert(a, Lane::Tiled(arg));
            args.push(arg);
        }
        let mask = self.raw(Op::Arg(body.args.len()), Type::boolean(vec![self.lanes]));
        self.mask = Some(mask);
        args.push(mask);
        for &id in &body.body {
            self.value(id)?;
        }
        let result = if reduce {
            self.lane_sum(body.result)?
        } else {
            self.tiled(body.result)?
        };
        Ok(Block {
            args,
            body: self.body,
            result,
        })
    }

    fn ty(&self, id: ValueId) -> Res<Type> {
        self.f
            .values
            .get(id)
            .map(|v| v.ty.clone())
            .ok_or(Untileable)
    }

    fn tile_type(&self, t: &Type) -> Type {
        let mut shape = t.shape.clone();
        shape.push(self.lanes);
        Type::tensor(t.dtype, shape)
    }

    /// A new value not placed in any block (block arguments, nested blocks).
    fn raw(&mut self, op: Op, ty: Type) -> ValueId {
        self.f.values.push(Value { op, ty, name: None })
    }

    /// A new value of the tile block.
    fn push(&mut self, op: Op, ty: Type) -> ValueId {
        let id = self.raw(op, ty);
        self.body.push(id);
        id
    }

    /// The form of an original value: outer values are uniform.
    fn get(&self, id: ValueId) -> Lane {
        self.lane.get(&id).copied().unwrap_or(Lane::Uniform(id))
    }

    /// The tile of an original value (a uniform one broadcast over the lanes).
    fn tiled(&mut self, id: ValueId) -> Res<ValueId> {
        match self.get(id) {
            Lane::Tiled(t) => Ok(t),
            Lane::Uniform(u) => self.spread(u),
            Lane::Deferred => Err(Untileable),
        }
    }

    /// A uniform (new) value broadcast over the lanes: `S` → `S ++ [lanes]`.
    fn spread(&mut self, u: ValueId) -> Res<ValueId> {
        if let Some(t) = self.spread.get(&u) {
            return Ok(*t);
        }
        let ty = self.ty(u)?;
        let mut ones = ty.shape.clone();
        ones.push(1);
        let column = if ty.shape.is_empty() {
            u
        } else {
            self.push(Op::Reshape(u), Type::tensor(ty.dtype, ones))
        };
        let t = self.push(Op::Broadcast(column), self.tile_type(&ty));
        self.spread.insert(u, t);
        Ok(t)
    }

    /// Rewrites one value of the original body; a value without a tile form is deferred
    /// (the rewrite fails only if something needs its tile).
    fn value(&mut self, id: ValueId) -> Res<()> {
        if self.tile_value(id).is_err() {
            self.lane.insert(id, Lane::Deferred);
        }
        Ok(())
    }

    fn tile_value(&mut self, id: ValueId) -> Res<()> {
        let v = self.f.values.get(id).cloned().ok_or(Untileable)?;
        let operands = v.op.operands();
        let uniform = operands
            .iter()
            .all(|o| matches!(self.get(*o), Lane::Uniform(_)));
        if let Some(block) = v.op.block() {
            // A nested loop that depends on the point runs over tiles itself.
            if !uniform || !self.captures_uniform(block, 0)? {
                return self.tile_nested(id, &v);
            }
            let mut op = v.op.clone();
            let inner = self.clone_block(block, 0)?;
            if let Some(b) = op.block_mut() {
                *b = inner;
            }
            op.map_operands(|x| self.uniform_of(x));
            let new = self.push(op, v.ty.clone());
            self.lane.insert(id, Lane::Uniform(new));
            return Ok(());
        }
        if uniform {
            let mut op = v.op.clone();
            op.map_operands(|x| self.uniform_of(x));
            let new = self.push(op, v.ty.clone());
            self.lane.insert(id, Lane::Uniform(new));
            return Ok(());
        }
        let ty = self.tile_type(&v.ty);
        let new = match &v.op {
            Op::Unary(op, a) => {
                let a = self.tiled(*a)?;
                self.push(Op::Unary(*op, a), ty)
            }
            Op::Binary(op, a, b) => {
                let (a, b) = (self.tiled(*a)?, self.tiled(*b)?);
                self.push(Op::Binary(*op, a, b), ty)
            }
            Op::Powi(a, n) => {
                let a = self.tiled(*a)?;
                self.push(Op::Powi(a, *n), ty)
            }
            Op::Compare(op, a, b) => {
                let (a, b) = (self.tiled(*a)?, self.tiled(*b)?);
                self.push(Op::Compare(*op, a, b), ty)
            }
            Op::Select(c, a, b) => {
                let (c, a, b) = (self.tiled(*c)?, self.tiled(*a)?, self.tiled(*b)?);
                self.push(Op::Select(c, a, b), ty)
            }
            Op::Cast(a) => {
                let a = self.tiled(*a)?;
                self.push(Op::Cast(a), ty)
            }
            // Trailing-axis broadcasting keeps the lane axis last: `S_a ++ [L]` → `S ++ [L]`.
            Op::Broadcast(a) => {
                let a = self.tiled(*a)?;
                self.push(Op::Broadcast(a), ty)
            }
            // Row-major with the lanes innermost: a reshape of `S` is one of `S ++ [L]`.
            Op::Reshape(a) => {
                let a = self.tiled(*a)?;
                self.push(Op::Reshape(a), ty)
            }
            Op::Slice { array, start, len } => {
                let array = self.tiled(*array)?;
                self.push(
                    Op::Slice {
                        array,
                        start: *start,
                        len: *len,
                    },
                    ty,
                )
            }
            Op::Index {
                array,
                indices,
                fill,
            } => {
                let mut uniform_indices = Vec::with_capacity(indices.len());
                for i in indices {
                    match self.get(*i) {
                        Lane::Uniform(u) => uniform_indices.push(u),
                        _ => return Err(Untileable),
                    }
                }
                let array = self.tiled(*array)?;
                self.push(
                    Op::Index {
                        array,
                        indices: uniform_indices,
                        fill: *fill,
                    },
                    ty,
                )
            }
            Op::Concat(parts) => {
                let mut tiles = Vec::with_capacity(parts.len());
                for p in parts {
                    let t = self.tiled(*p)?;
                    let pt = self.ty(*p)?;
                    // A scalar counts as a one-element vector: its tile `[L]` becomes `[1, L]`.
                    let t = if pt.shape.is_empty() {
                        self.push(Op::Reshape(t), Type::tensor(pt.dtype, vec![1, self.lanes]))
                    } else {
                        t
                    };
                    tiles.push(t);
                }
                self.push(Op::Concat(tiles), ty)
            }
            // `W x` per point with `W` shared: `W X` over the tile.
            Op::MatVec(w, x) => match self.get(*w) {
                Lane::Uniform(w) => {
                    let x = self.tiled(*x)?;
                    self.push(Op::MatMul(w, x), ty)
                }
                _ => return Err(Untileable),
            },
            Op::Dot(a, b) => self.dot(*a, *b, &v.ty)?,
            // Reductions over a per-point tensor: over its leading axes, per lane.
            Op::Reduce(ReduceOp::Sum, a) => {
                let at = self.ty(*a)?;
                let a = self.tiled(*a)?;
                self.sum_leading(a, &at)?
            }
            _ => return Err(Untileable),
        };
        self.lane.insert(id, Lane::Tiled(new));
        Ok(())
    }

    /// A `tabulate` or `fold` whose body depends on the point: the same loop with its body
    /// tiled. A tabulate over extents `E` of a body yielding the tile `S ++ [L]` builds
    /// `E ++ S ++ [L]`, the tile of its per-point value `E ++ S`; a fold combines the
    /// body's tiles elementwise, lane by lane, as it combined the per-point values.
    fn tile_nested(&mut self, id: ValueId, v: &Value) -> Res<()> {
        if !matches!(v.op, Op::Tabulate { .. } | Op::Fold { .. }) || self.depth >= MAX_NESTING {
            return Err(Untileable);
        }
        let block = v.op.block().ok_or(Untileable)?;
        // The loop's values belong to its block: nothing built inside (a broadcast of a
        // uniform value) may be reused after it.
        let outer_body = std::mem::take(&mut self.body);
        let outer_spread = self.spread.clone();
        self.depth += 1;
        let tiled = self.tile_block(block);
        self.depth -= 1;
        let body = std::mem::replace(&mut self.body, outer_body);
        self.spread = outer_spread;
        let (args, result) = tiled?;
        let mut op = v.op.clone();
        if let Some(b) = op.block_mut() {
            *b = Block { args, body, result };
        }
        let new = self.push(op, self.tile_type(&v.ty));
        self.lane.insert(id, Lane::Tiled(new));
        Ok(())
    }

    /// The values of a nested loop body rewritten into `self.body`: its index arguments are
    /// uniform, its result is tiled.
    fn tile_block(&mut self, block: &Block) -> Res<(Vec<ValueId>, ValueId)> {
        let args = self.uniform_args(block)?;
        for &id in &block.body {
            self.value(id)?;
        }
        let result = self.tiled(block.result)?;
        Ok((args, result))
    }

    /// Fresh copies of a nested block's arguments (loop indices: the same for every lane).
    fn uniform_args(&mut self, block: &Block) -> Res<Vec<ValueId>> {
        let mut args = Vec::with_capacity(block.args.len());
        for &a in &block.args {
            let v = self.f.values.get(a).cloned().ok_or(Untileable)?;
            let new = self.raw(v.op, v.ty);
            self.lane.insert(a, Lane::Uniform(new));
            args.push(new);
        }
        Ok(args)
    }

    /// The new form of an original value known to be uniform.
    fn uniform_of(&self, x: ValueId) -> ValueId {
        match self.get(x) {
            Lane::Uniform(u) => u,
            Lane::Tiled(t) => t,
            Lane::Deferred => x,
        }
    }

    /// True when every value a nested block uses from outside itself is uniform.
    fn captures_uniform(&self, block: &Block, depth: usize) -> Res<bool> {
        if depth > 64 {
            return Err(Untileable);
        }
        let inside: Vec<ValueId> = block.args.iter().chain(&block.body).copied().collect();
        for &id in &block.body {
            let v = self.f.values.get(id).ok_or(Untileable)?;
            for o in v.op.operands() {
                if !inside.contains(&o) && !matches!(self.get(o), Lane::Uniform(_)) {
                    return Ok(false);
                }
            }
            if let Some(inner) = v.op.block()
                && !self.captures_uniform(inner, depth + 1)?
            {
                return Ok(false);
            }
        }
        Ok(matches!(self.get(block.result), Lane::Uniform(_)) || inside.contains(&block.result))
    }

    /// A copy of a nested block with fresh values (values of a block belong to it alone).
    fn clone_block(&mut self, block: &Block, depth: usize) -> Res<Block> {
        if depth > 64 {
            return Err(Untileable);
        }
        let args = self.uniform_args(block)?;
        let mut body = Vec::with_capacity(block.body.len());
        for &id in &block.body {
            let v = self.f.values.get(id).cloned().ok_or(Untileable)?;
            let mut op = v.op.clone();
            if let Some(inner) = v.op.block() {
                let copy = self.clone_block(inner, depth + 1)?;
                if let Some(b) = op.block_mut() {
                    *b = copy;
                }
            }
            op.map_operands(|x| self.uniform_of(x));
            let new = self.raw(op, v.ty);
            self.lane.insert(id, Lane::Uniform(new));
            body.push(new);
        }
        Ok(Block {
            args,
            body,
            result: self.uniform_of(block.result),
        })
    }

    /// `dot a b` per lane.
    fn dot(&mut self, a: ValueId, b: ValueId, ty: &Type) -> Res<ValueId> {
        let n = self.ty(a)?.shape.first().copied().ok_or(Untileable)?;
        let lanes = self.lanes;
        match (self.get(a), self.get(b)) {
            (Lane::Uniform(u), Lane::Tiled(x)) | (Lane::Tiled(x), Lane::Uniform(u)) => {
                // uᵀ X: a [1, n] × [n, L] product.
                let row = self.push(Op::Reshape(u), Type::f64(vec![1, n]));
                let p = self.push(Op::MatMul(row, x), Type::f64(vec![1, lanes]));
                Ok(self.push(Op::Reshape(p), self.tile_type(ty)))
            }
            _ => {
                let at = self.ty(a)?;
                let (x, y) = (self.tiled(a)?, self.tiled(b)?);
                let p = self.push(Op::Binary(BinaryOp::Mul, x, y), self.tile_type(&at));
                self.sum_leading(p, &at)
            }
        }
    }

    /// The sum over the per-point axes of a tile `S ++ [L]`, giving `[L]`.
    fn sum_leading(&mut self, tile: ValueId, per_point: &Type) -> Res<ValueId> {
        let n = per_point.element_count().ok_or(Untileable)?;
        let lanes = self.lanes;
        if n == 1 {
            return Ok(self.push(Op::Reshape(tile), Type::f64(vec![lanes])));
        }
        let flat = self.push(Op::Reshape(tile), Type::f64(vec![n, lanes]));
        let one = self.push(Op::Const(1.0), Type::scalar());
        let ones = self.push(Op::Broadcast(one), Type::f64(vec![1, n]));
        let s = self.push(Op::MatMul(ones, flat), Type::f64(vec![1, lanes]));
        Ok(self.push(Op::Reshape(s), Type::f64(vec![lanes])))
    }

    /// The number of real lanes of the tile, as `f64`.
    fn count(&mut self) -> Res<ValueId> {
        if let Some(c) = self.count {
            return Ok(c);
        }
        let mask = self.mask.ok_or(Untileable)?;
        let lanes = self.lanes;
        let m = self.push(Op::Cast(mask), Type::f64(vec![lanes]));
        let c = self.push(Op::Reduce(ReduceOp::Sum, m), Type::scalar());
        self.count = Some(c);
        Ok(c)
    }

    /// The tile of `id` with the padded lanes set to zero.
    fn masked(&mut self, id: ValueId) -> Res<ValueId> {
        let t = self.tiled(id)?;
        let ty = self.ty(id)?;
        let tile_ty = self.tile_type(&ty);
        let mask = self.mask.ok_or(Untileable)?;
        let m = if ty.shape.is_empty() {
            mask
        } else {
            self.push(Op::Broadcast(mask), Type::boolean(tile_ty.shape.clone()))
        };
        let zero = self.push(Op::Const(0.0), Type::scalar());
        let zeros = self.push(Op::Broadcast(zero), tile_ty.clone());
        Ok(self.push(Op::Select(m, t, zeros), tile_ty))
    }

    /// The sum over the real lanes of an original body value (per-point shape), pushed
    /// through linear ops so that sums of outer products become matrix products.
    fn lane_sum(&mut self, id: ValueId) -> Res<ValueId> {
        if let Some(s) = self.sums.get(&id) {
            return Ok(*s);
        }
        let ty = self.ty(id)?;
        if ty.dtype != DType::F64 {
            return Err(Untileable);
        }
        let s = match self.get(id) {
            Lane::Uniform(u) => {
                if self.is_zero(u) {
                    u
                } else {
                    let c = self.count()?;
                    let c = if ty.shape.is_empty() {
                        c
                    } else {
                        self.push(Op::Broadcast(c), ty.clone())
                    };
                    self.push(Op::Binary(BinaryOp::Mul, u, c), ty.clone())
                }
            }
            Lane::Tiled(_) | Lane::Deferred => self.lane_sum_tiled(id, &ty)?,
        };
        self.sums.insert(id, s);
        Ok(s)
    }

    fn lane_sum_tiled(&mut self, id: ValueId, ty: &Type) -> Res<ValueId> {
        let op = self
            .f
            .values
            .get(id)
            .map(|v| v.op.clone())
            .ok_or(Untileable)?;
        let is_uniform = |t: &Tiler<'_>, x: ValueId| matches!(t.get(x), Lane::Uniform(_));
        let ty = ty.clone();
        Ok(match op {
            Op::Binary(op @ (BinaryOp::Add | BinaryOp::Sub), a, b) => {
                let (a, b) = (self.lane_sum(a)?, self.lane_sum(b)?);
                self.push(Op::Binary(op, a, b), ty)
            }
            Op::Binary(BinaryOp::Mul, a, b) if is_uniform(self, b) => {
                let s = self.lane_sum(a)?;
                let u = self.uniform_of(b);
                self.push(Op::Binary(BinaryOp::Mul, s, u), ty)
            }
            Op::Binary(BinaryOp::Mul, a, b) if is_uniform(self, a) => {
                let s = self.lane_sum(b)?;
                let u = self.uniform_of(a);
                self.push(Op::Binary(BinaryOp::Mul, u, s), ty)
            }
            Op::Unary(UnaryOp::Neg, a) => {
                let s = self.lane_sum(a)?;
                self.push(Op::Unary(UnaryOp::Neg, s), ty)
            }
            Op::Concat(parts) => {
                let mut sums = Vec::with_capacity(parts.len());
                for p in parts {
                    sums.push(self.lane_sum(p)?);
                }
                self.push(Op::Concat(sums), ty)
            }
            Op::Reshape(a) => {
                let s = self.lane_sum(a)?;
                self.push(Op::Reshape(s), ty)
            }
            Op::Broadcast(a) => {
                let s = self.lane_sum(a)?;
                self.push(Op::Broadcast(s), ty)
            }
            Op::Slice { array, start, len } => {
                let s = self.lane_sum(array)?;
                self.push(
                    Op::Slice {
                        array: s,
                        start,
                        len,
                    },
                    ty,
                )
            }
            Op::MatVec(w, x) if is_uniform(self, w) => {
                let s = self.lane_sum(x)?;
                let w = self.uniform_of(w);
                self.push(Op::MatVec(w, s), ty)
            }
            // Products with a uniform factor are linear in the other one.
            Op::MatMul(a, u) if is_uniform(self, u) => {
                let s = self.lane_sum(a)?;
                let u = self.uniform_of(u);
                self.push(Op::MatMul(s, u), ty)
            }
            Op::MatMul(u, b) if is_uniform(self, u) => {
                let s = self.lane_sum(b)?;
                let u = self.uniform_of(u);
                self.push(Op::MatMul(u, s), ty)
            }
            // Σ_l a_l b_l with a: [m, 1], b: [1, n] per point: A Bᵀ with A: [m, L], B: [n, L].
            Op::MatMul(a, b) if self.is_outer(a, b)? => {
                let (m, n, lanes) = (ty.shape[0], ty.shape[1], self.lanes);
                let am = self.masked(a)?;
                let am = self.push(Op::Reshape(am), Type::f64(vec![m, lanes]));
                let bt = self.tiled(b)?;
                let bt = self.push(Op::Reshape(bt), Type::f64(vec![n, lanes]));
                let btt = self.push(Op::Transpose(bt), Type::f64(vec![lanes, n]));
                self.push(Op::MatMul(am, btt), ty)
            }
            _ => self.lane_sum_generic(id, &ty)?,
        })
    }

    fn is_outer(&self, a: ValueId, b: ValueId) -> Res<bool> {
        let (at, bt) = (self.ty(a)?, self.ty(b)?);
        Ok(at.shape.len() == 2
            && bt.shape.len() == 2
            && at.shape[1] == 1
            && bt.shape[0] == 1
            && !matches!(self.get(a), Lane::Uniform(_))
            && !matches!(self.get(b), Lane::Uniform(_)))
    }

    /// Σ over real lanes of any tiled value: mask, then a matrix–vector product with ones.
    fn lane_sum_generic(&mut self, id: ValueId, ty: &Type) -> Res<ValueId> {
        let masked = self.masked(id)?;
        let lanes = self.lanes;
        if ty.shape.is_empty() {
            return Ok(self.push(Op::Reduce(ReduceOp::Sum, masked), Type::scalar()));
        }
        let n = ty.element_count().ok_or(Untileable)?;
        let flat = self.push(Op::Reshape(masked), Type::f64(vec![n, lanes]));
        let one = self.push(Op::Const(1.0), Type::scalar());
        let ones = self.push(Op::Broadcast(one), Type::f64(vec![lanes]));
        let s = self.push(Op::MatVec(flat, ones), Type::f64(vec![n]));
        Ok(self.push(Op::Reshape(s), ty.clone()))
    }

    /// True for a (new) value that is the constant zero or a broadcast of it.
    fn is_zero(&self, u: ValueId) -> bool {
        match self.f.values.get(u).map(|v| &v.op) {
            Some(Op::Const(c)) => *c == 0.0 && c.is_sign_positive(),
            Some(Op::Broadcast(a)) => self.is_zero(*a),
            _ => false,
        }
    }
}
