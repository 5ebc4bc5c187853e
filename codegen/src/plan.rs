//! Where each value of a function lives: the frame plan, shared by the native back ends
//! (Cranelift and LLVM lay out memory alike).
//!
//! Scalars live in registers. Tensors are buffers of `f64` with static sizes, so every
//! buffer a function needs is known before code is generated: each value that makes a new
//! tensor gets its own region of one per-call *frame* (a stack slot when small, one `malloc`
//! otherwise). Slices, reshapes, indices and inputs are views and need nothing. The value the
//! function returns is built in the caller's `out` buffer when it is a new tensor. Batched
//! values (sizes known only at run time) get one `malloc` each, freed when the call returns.
//! Buffers are not reused: frames are small for the models this compiler sees.

use crate::CodegenError;
use sci_ir::types::element_count;
use sci_ir::{DType, Function, Op, ValueId};

/// Largest number of elements one value may have (as in the interpreter).
pub(crate) const MAX_ELEMENTS: usize = 1 << 26;

/// Largest frame, in elements (1 GiB), so that every offset fits a 32-bit displacement.
const MAX_FRAME: usize = 1 << 27;

/// Where a value's elements are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// A register (scalar) or a view of another buffer: no storage of its own.
    None,
    /// `len` elements of the frame from element `offset`.
    Frame { offset: usize },
    /// The caller's `out` buffer (the function's result).
    Out,
    /// A `malloc`ed buffer, remembered in heap slot `slot` and freed on return.
    Heap { slot: usize },
}

/// The storage of every value of one function.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Indexed by `ValueId::index()`.
    pub storage: Vec<Storage>,
    /// Frame size in elements.
    pub frame_len: usize,
    /// Number of heap slots.
    pub heap_slots: usize,
}

impl Plan {
    /// The storage of `v`.
    pub fn of(&self, v: ValueId) -> Storage {
        self.storage
            .get(v.index())
            .copied()
            .unwrap_or(Storage::None)
    }
}

/// Plans the storage of every value of `f` (a validated function).
pub(crate) fn plan(f: &Function) -> Result<Plan, CodegenError> {
    let mut p = Plan {
        storage: vec![Storage::None; f.values.len()],
        frame_len: 0,
        heap_slots: 0,
    };
    let result = f.body.result;
    let mut top = vec![false; f.values.len()];
    for id in f.body.args.iter().chain(&f.body.body) {
        if let Some(t) = top.get_mut(id.index()) {
            *t = true;
        }
    }
    // The arguments of a `tile_map` block are tiles the loop gathers into the frame.
    let mut tile_args = vec![false; f.values.len()];
    for (_, v) in f.values.iter() {
        if let Op::TileMap { body, .. } = &v.op {
            for a in &body.args {
                if let Some(t) = tile_args.get_mut(a.index()) {
                    *t = true;
                }
            }
        }
    }
    for (id, v) in f.values.iter() {
        let elements = element_count(&v.ty.shape)
            .filter(|n| *n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                CodegenError::new(format!(
                    "A value of `{}` has type {}, more than the {MAX_ELEMENTS} elements compiled \
                     code supports.",
                    f.name, v.ty
                ))
            })?;
        let at_top = top.get(id.index()).copied().unwrap_or(false);
        let is_input = at_top && matches!(v.op, Op::Arg(_));
        let operand_is_scalar = |a: &ValueId| {
            f.values
                .get(*a)
                .is_some_and(|o| o.ty.shape.is_empty() && !o.ty.batched)
        };
        let fresh = match &v.op {
            Op::Unary(..)
            | Op::Binary(..)
            | Op::Powi(..)
            | Op::Compare(..)
            | Op::Select(..)
            | Op::Cast(..)
            | Op::Broadcast(..)
            | Op::Concat(..)
            | Op::Transpose(..)
            | Op::MatVec(..)
            | Op::MatMul(..)
            | Op::Tabulate { .. }
            | Op::Fold { .. }
            | Op::ReduceBatch(..)
            | Op::Map { .. }
            | Op::TileMap { .. } => !v.ty.shape.is_empty() || v.ty.batched,
            Op::Call { .. } => true,
            Op::Reshape(a) => !v.ty.shape.is_empty() && operand_is_scalar(a),
            // f32 inputs are rounded on entry, into a copy.
            Op::Arg(_) => {
                (is_input && v.ty.dtype == DType::F32 && (!v.ty.shape.is_empty() || v.ty.batched))
                    || tile_args.get(id.index()).copied().unwrap_or(false)
            }
            // The fill buffer of a sub-tensor index with a fill value.
            Op::Index { fill: Some(_), .. } => !v.ty.shape.is_empty(),
            _ => false,
        };
        if !fresh {
            continue;
        }
        let storage = if id == result && at_top && !is_input && !matches!(v.op, Op::Index { .. }) {
            Storage::Out
        } else if v.ty.batched {
            p.heap_slots += 1;
            Storage::Heap {
                slot: p.heap_slots - 1,
            }
        } else {
            let offset = p.frame_len;
            // A call with a scalar result still needs one element for the callee to write.
            p.frame_len = p.frame_len.saturating_add(elements.max(1));
            Storage::Frame { offset }
        };
        if let Some(s) = p.storage.get_mut(id.index()) {
            *s = storage;
        }
    }
    if p.frame_len > MAX_FRAME {
        return Err(CodegenError::new(format!(
            "`{}` needs {} elements of work space, more than the {MAX_FRAME} compiled code \
             supports.",
            f.name, p.frame_len
        )));
    }
    Ok(p)
}
