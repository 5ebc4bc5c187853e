//! Where each value lives in the MLIR lowering: the native back ends' frame plan
//! (`plan.rs`), plus scratch regions this back end needs, and a compact variant for GPU
//! kernels whose per-thread frame holds only the values of one `map` body.
//!
//! Every buffer is a region of a flat `memref<?xf64>` (the frame, the caller's `out`, a
//! heap buffer, an input), addressed by an element offset, so views (slices, sub-tensor
//! indices, reshapes) cost nothing and need no strided memref types.

use crate::CodegenError;
use crate::plan::{Storage, plan};
use sci_ir::types::element_count;
use sci_ir::{Block, DType, Function, Op, ValueId};

/// The storage of one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    /// A register, or a view of another buffer.
    None,
    /// Elements of the frame from this offset.
    Frame(usize),
    /// The caller's `out` buffer.
    Out,
    /// Elements of the caller's `out` buffer from this offset (a part of the result
    /// `concat`, built in place).
    OutPart(usize),
    /// A heap buffer allocated where the (batched) value is defined.
    Heap,
}

/// The storage of every value of one function (or one kernel body).
#[derive(Clone, Debug)]
pub(super) struct Layout {
    place: Vec<Place>,
    /// Extra frame regions, by value index: a readable stand-in for a sub-tensor `index`
    /// of an empty array (never read on success), or the rounded copy of an `f32` kernel
    /// argument.
    scratch: Vec<Option<usize>>,
    /// Frame size in elements.
    pub frame_len: usize,
    /// The `concat` operands the plan built in place (`Plan::in_place`), by value index.
    in_place: Vec<bool>,
}

impl Layout {
    /// The storage of `v`.
    pub fn of(&self, v: ValueId) -> Place {
        self.place.get(v.index()).copied().unwrap_or(Place::None)
    }

    /// Whether `concat` operand `v` was built in the concatenation's own region.
    pub fn in_place(&self, v: ValueId) -> bool {
        self.in_place.get(v.index()).copied().unwrap_or(false)
    }

    /// The scratch region of `v`, if it has one.
    pub fn scratch(&self, v: ValueId) -> Option<usize> {
        self.scratch.get(v.index()).copied().flatten()
    }

    /// The layout of a whole function: the native frame plan plus scratch regions.
    pub fn function(f: &Function) -> Result<Layout, CodegenError> {
        let p = plan(f)?;
        let place = f
            .values
            .iter()
            .map(|(id, _)| match p.of(id) {
                Storage::None => Place::None,
                Storage::Frame { offset } => Place::Frame(offset),
                Storage::Out => Place::Out,
                Storage::OutPart { offset } => Place::OutPart(offset),
                Storage::Heap { .. } => Place::Heap,
            })
            .collect();
        let mut layout = Layout {
            place,
            scratch: vec![None; f.values.len()],
            frame_len: p.frame_len,
            in_place: p.in_place,
        };
        let all: Vec<ValueId> = f.values.iter().map(|(id, _)| id).collect();
        layout.add_scratch(f, &all, &[]);
        Ok(layout)
    }

    /// The per-thread layout of the kernel for the `map` whose body is `body`: the body's
    /// values packed from offset 0, and rounded copies of its `f32` tensor arguments.
    pub fn kernel(f: &Function, body: &Block) -> Result<Layout, CodegenError> {
        let whole = Layout::function(f)?;
        let mut values = Vec::new();
        collect(f, body, &mut values);
        values.sort_by_key(|v| v.index());
        // A kernel's values are packed anew: nothing in it is inside another's region.
        let mut layout = Layout {
            place: vec![Place::None; f.values.len()],
            scratch: vec![None; f.values.len()],
            frame_len: 0,
            in_place: Vec::new(),
        };
        for &v in &values {
            if let Place::Frame(_) = whole.of(v) {
                let len = len_of(f, v)?.max(1);
                layout.place[v.index()] = Place::Frame(layout.frame_len);
                layout.frame_len += len;
            }
        }
        layout.add_scratch(f, &values, &body.args);
        Ok(layout)
    }

    fn add_scratch(&mut self, f: &Function, values: &[ValueId], f32_args: &[ValueId]) {
        for &v in values {
            let Some(value) = f.values.get(v) else {
                continue;
            };
            let need = match &value.op {
                Op::Index {
                    array,
                    indices,
                    fill: None,
                } if !value.ty.shape.is_empty() => {
                    let shape = f
                        .values
                        .get(*array)
                        .map(|a| a.ty.shape.clone())
                        .unwrap_or_default();
                    let total = element_count(&shape).unwrap_or(0);
                    let sub = element_count(shape.get(indices.len()..).unwrap_or(&[])).unwrap_or(0);
                    if total == 0 { sub } else { 0 }
                }
                Op::Arg(_)
                    if f32_args.contains(&v)
                        && value.ty.dtype == DType::F32
                        && !value.ty.shape.is_empty() =>
                {
                    element_count(&value.ty.shape).unwrap_or(0)
                }
                _ => 0,
            };
            if need > 0
                && let Some(slot) = self.scratch.get_mut(v.index())
            {
                *slot = Some(self.frame_len);
                self.frame_len += need;
            }
        }
    }
}

/// Elements of `v` (per point when batched).
pub(super) fn len_of(f: &Function, v: ValueId) -> Result<usize, CodegenError> {
    let value = f
        .values
        .get(v)
        .ok_or_else(|| super::lower::internal("value out of range"))?;
    element_count(&value.ty.shape).ok_or_else(|| super::lower::internal("shape overflow"))
}

/// Every value defined in `block` and the blocks inside it (arguments included).
fn collect(f: &Function, block: &Block, out: &mut Vec<ValueId>) {
    out.extend(&block.args);
    for &v in &block.body {
        out.push(v);
        if let Some(inner) = f.values.get(v).and_then(|x| x.op.block()) {
            collect(f, inner, out);
        }
    }
}
