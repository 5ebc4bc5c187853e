//! Where each value of a function lives: the frame plan, shared by the native back ends
//! (Cranelift and LLVM lay out memory alike).
//!
//! Scalars live in registers. Tensors are buffers of `f64` with static sizes, so every
//! buffer a function needs is known before code is generated: each value that makes a new
//! tensor gets its own region of one per-call *frame* (a stack slot when small, one `malloc`
//! otherwise). Slices, reshapes, indices and inputs are views and need nothing. The value the
//! function returns is built in the caller's `out` buffer when it is a new tensor. Batched
//! values (sizes known only at run time) get one `malloc` each, freed when the call returns.
//!
//! Frame regions are reused: a region is free again after the last use of its value and of
//! every view of it (see [`Lifetimes`]). Values inside a structured op's block live for
//! the whole op (they are recomputed each iteration), and an op's result is placed while
//! its operands are still live, so no op ever writes over what it reads. A tiled network's
//! tile function thus needs about as much frame as its widest layer, not the sum of all.

use crate::CodegenError;
use sci_ir::types::element_count;
use sci_ir::{DType, Function, Op, ValueId};

/// Largest number of elements one value may have (as in the interpreter).
pub(crate) const MAX_ELEMENTS: usize = 1 << 26;

/// Largest frame, in elements (1 GiB), so that every offset fits a 32-bit displacement.
const MAX_FRAME: usize = 1 << 27;

/// Frames up to this many bytes live on the stack; larger ones are work memory.
pub(crate) const STACK_FRAME_LIMIT: usize = 32 * 1024;

/// Where a call's work memory comes from: a frame too large for the stack and the buffers
/// of batched values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WorkMemory {
    /// The frame's size in bytes.
    pub frame_bytes: usize,
    /// The frame is work memory (above [`STACK_FRAME_LIMIT`]).
    pub frame_on_heap: bool,
    /// Work memory is a bump of sci's per-thread arena (`arena.rs`: the JIT, which links
    /// sci), with a mark taken on entry.
    pub arena: bool,
    /// Otherwise (the caller's workspace or `malloc`): the entries of the table of what to
    /// free on exit, one per heap slot and one for a frame on the heap.
    pub table_slots: usize,
}

/// Where a value's elements are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// A register (scalar) or a view of another buffer: no storage of its own.
    None,
    /// `len` elements of the frame from element `offset`.
    Frame { offset: usize },
    /// The caller's `out` buffer (the function's result).
    Out,
    /// Elements of the caller's `out` buffer from element `offset`: a part of the result
    /// `concat` built in place.
    OutPart { offset: usize },
    /// A `malloc`ed buffer, remembered in heap slot `slot` and freed on return.
    Heap { slot: usize },
}

/// The storage of every value of one function.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Indexed by `ValueId::index()`.
    pub storage: Vec<Storage>,
    /// The operands of `concat`s that are already in place: their buffer is the part of the
    /// concatenation they fill (see [`concat_parts`]), so the `concat` copies nothing for
    /// them. Indexed by `ValueId::index()`.
    pub in_place: Vec<bool>,
    /// Frame size in elements.
    pub frame_len: usize,
    /// Number of heap slots.
    pub heap_slots: usize,
}

impl Plan {
    /// Where this plan's work memory comes from, in code that links sci's runtime
    /// (`links_runtime`) or not.
    pub fn work_memory(&self, links_runtime: bool) -> WorkMemory {
        let frame_bytes = self.frame_len * 8;
        let frame_on_heap = frame_bytes > STACK_FRAME_LIMIT;
        let arena = links_runtime && (frame_on_heap || self.heap_slots > 0);
        WorkMemory {
            frame_bytes,
            frame_on_heap,
            arena,
            table_slots: if arena {
                0
            } else {
                self.heap_slots + usize::from(frame_on_heap)
            },
        }
    }

    /// The storage of `v`.
    pub fn of(&self, v: ValueId) -> Storage {
        self.storage
            .get(v.index())
            .copied()
            .unwrap_or(Storage::None)
    }

    /// Whether `concat` operand `v` was built in the concatenation's buffer.
    pub fn in_place(&self, v: ValueId) -> bool {
        self.in_place.get(v.index()).copied().unwrap_or(false)
    }
}

/// Plans the storage of every value of `f` (a validated function).
pub(crate) fn plan(f: &Function) -> Result<Plan, CodegenError> {
    let mut p = Plan {
        storage: vec![Storage::None; f.values.len()],
        in_place: vec![false; f.values.len()],
        frame_len: 0,
        heap_slots: 0,
    };
    let result = f.body.result;
    let top = flags(
        f.values.len(),
        f.body.args.iter().chain(&f.body.body).copied(),
    );
    // The arguments of a `tile_map` block are tiles the loop gathers into the frame.
    let tile_args = flags(
        f.values.len(),
        f.values.iter().flat_map(|(_, v)| match &v.op {
            Op::TileMap { body, .. } => body.args.clone(),
            _ => Vec::new(),
        }),
    );
    let mut framed: Vec<(ValueId, usize)> = Vec::new();
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
            // A call with a scalar result still needs one element for the callee to write.
            framed.push((id, elements.max(1)));
            continue;
        };
        if let Some(s) = p.storage.get_mut(id.index()) {
            *s = storage;
        }
    }
    let life = Lifetimes::of(f);
    // Parts built in their concatenation take no region of their own; the concatenation's
    // region is placed when its first such part is made (and lives until its own last read),
    // so nothing made in between overlaps it.
    let framed_ids = flags(f.values.len(), framed.iter().map(|&(id, _)| id));
    let parts = concat_parts(f, &top, &framed_ids, &p.storage);
    let mut birth: Vec<usize> = (0..f.values.len())
        .map(|k| life.step.get(k).copied().unwrap_or(0))
        .collect();
    for part in &parts {
        let at = life.born(part.root);
        if let Some(b) = birth.get_mut(part.concat.index()) {
            *b = (*b).min(at);
        }
    }
    let is_part = flags(f.values.len(), parts.iter().map(|part| part.root));
    framed.retain(|(id, _)| !is_part.get(id.index()).copied().unwrap_or(false));
    let mut frame = FreeList::default();
    // Placed step by step; the regions dying at a step are freed after its results are
    // placed, so no op's result overlaps what it reads.
    let mut born: Vec<Vec<(ValueId, usize)>> = vec![Vec::new(); life.steps() + 1];
    for &(id, len) in &framed {
        if let Some(at) = born.get_mut(birth.get(id.index()).copied().unwrap_or(0)) {
            at.push((id, len));
        }
    }
    let mut dying: Vec<Vec<(usize, usize)>> = vec![Vec::new(); life.steps() + 1];
    for (step, placed) in born.iter().enumerate() {
        for &(id, len) in placed {
            let offset = frame.take(len);
            if let Some(s) = p.storage.get_mut(id.index()) {
                *s = Storage::Frame { offset };
            }
            if let Some(at) = dying.get_mut(life.dies(id)) {
                at.push((offset, len));
            }
        }
        for (offset, len) in dying.get_mut(step).map(std::mem::take).unwrap_or_default() {
            frame.give(offset, len);
        }
    }
    for part in &parts {
        let within = match p.of(part.concat) {
            Storage::Frame { offset } => Storage::Frame {
                offset: offset + part.offset,
            },
            Storage::Out => Storage::OutPart {
                offset: part.offset,
            },
            _ => continue,
        };
        if let Some(s) = p.storage.get_mut(part.root.index()) {
            *s = within;
        }
        if let Some(x) = p.in_place.get_mut(part.operand.index()) {
            *x = true;
        }
    }
    p.frame_len = frame.len;
    if p.frame_len > MAX_FRAME {
        return Err(CodegenError::new(format!(
            "`{}` needs {} elements of work space, more than the {MAX_FRAME} compiled code \
             supports.",
            f.name, p.frame_len
        )));
    }
    Ok(p)
}

/// For `n` values, which are among `ids`.
fn flags(n: usize, ids: impl IntoIterator<Item = ValueId>) -> Vec<bool> {
    let mut out = vec![false; n];
    for id in ids {
        if let Some(x) = out.get_mut(id.index()) {
            *x = true;
        }
    }
    out
}

/// A tensor built directly in the buffer of the `concat` that reads it.
#[derive(Clone, Copy, Debug)]
struct ConcatPart {
    /// The value that makes the tensor (a `tabulate`, an elementwise op …).
    root: ValueId,
    /// The `concat`'s operand: `root` or a reshape of it.
    operand: ValueId,
    concat: ValueId,
    /// Where the part starts in the concatenation, in elements.
    offset: usize,
}

/// The parts of top-level `concat`s that can be built in place: a new frame tensor whose
/// only reader is the `concat` (directly or through reshapes read only by the next link),
/// appearing once among its operands. The `concat` then copies nothing for it — the
/// element-local Jacobian's concatenated grids, for one, are written once instead of twice.
/// Concatenations in blocks or of other concatenations are left as they are.
fn concat_parts(
    f: &Function,
    top: &[bool],
    framed: &[bool],
    storage: &[Storage],
) -> Vec<ConcatPart> {
    let is = |flags: &[bool], v: ValueId| flags.get(v.index()).copied().unwrap_or(false);
    let mut readers = vec![0usize; f.values.len()];
    for (_, v) in f.values.iter() {
        let mut reads = v.op.operands();
        reads.extend(v.op.block().map(|b| b.result));
        for a in reads {
            if let Some(r) = readers.get_mut(a.index()) {
                *r += 1;
            }
        }
    }
    if let Some(r) = readers.get_mut(f.body.result.index()) {
        *r += 1;
    }
    let read_once = |v: ValueId| readers.get(v.index()).copied() == Some(1);
    let mut parts = Vec::new();
    for &c in &f.body.body {
        let Some(Op::Concat(operands)) = f.values.get(c).map(|v| &v.op) else {
            continue;
        };
        let in_out = storage.get(c.index()) == Some(&Storage::Out);
        if !(is(framed, c) || in_out) {
            continue;
        }
        let mut offset = 0;
        for &operand in operands {
            let len = f
                .values
                .get(operand)
                .and_then(|v| element_count(&v.ty.shape))
                .unwrap_or(0);
            let mut root = operand;
            while read_once(root)
                && let Some(Op::Reshape(a)) = f.values.get(root).map(|v| &v.op)
                && f.values.get(*a).is_some_and(|v| !v.ty.shape.is_empty())
            {
                root = *a;
            }
            let builds = f
                .values
                .get(root)
                .is_some_and(|v| !matches!(v.op, Op::Concat(_) | Op::Reshape(_) | Op::Arg(_)));
            // An operand listed twice is read twice, so `read_once` also rules it out.
            if builds && read_once(root) && is(top, root) && is(framed, root) {
                parts.push(ConcatPart {
                    root,
                    operand,
                    concat: c,
                    offset,
                });
            }
            offset += len;
        }
    }
    parts
}

/// When each value's frame region is needed: from the step of the top-level op that makes
/// it (step 0: the inputs) to the last step that reads it or any view of it.
struct Lifetimes {
    /// The step of each value: its top-level op's (values in blocks: their container's).
    step: Vec<usize>,
    /// The last step that reads each buffer (indexed by the value that owns the buffer).
    last: Vec<usize>,
    /// The value owning the buffer each value lives in (itself, or what it is a view of).
    root: Vec<usize>,
    steps: usize,
}

impl Lifetimes {
    fn of(f: &Function) -> Lifetimes {
        let n = f.values.len();
        let mut life = Lifetimes {
            step: vec![0; n],
            last: vec![0; n],
            root: (0..n).collect(),
            steps: f.body.body.len(),
        };
        for (k, &id) in f.body.body.iter().enumerate() {
            life.visit(f, id, k + 1);
        }
        // Roots first (a view is made after what it views, so ids ascend along a chain).
        for (id, v) in f.values.iter() {
            let viewed = match &v.op {
                Op::Slice { array, .. } => Some(*array),
                Op::Index {
                    array, fill: None, ..
                } if !v.ty.shape.is_empty() => Some(*array),
                Op::Reshape(a) if !v.ty.shape.is_empty() => f
                    .values
                    .get(*a)
                    .filter(|o| !o.ty.shape.is_empty())
                    .map(|_| *a),
                _ => None,
            };
            if let Some(a) = viewed {
                let r = life.root_of(a.index());
                if let Some(slot) = life.root.get_mut(id.index()) {
                    *slot = r;
                }
            }
        }
        // Every read, at the reader's step; the result is read after the last step.
        for (id, v) in f.values.iter() {
            let at = life.born(id);
            let mut reads = v.op.operands();
            reads.extend(v.op.block().map(|b| b.result));
            for a in reads {
                life.read(a.index(), at);
            }
        }
        let end = life.steps + 1;
        life.read(f.body.result.index(), end);
        // A value is live at least at its own step (one never read is freed after it).
        for k in 0..n {
            let born = life.step.get(k).copied().unwrap_or(0);
            let r = life.root_of(k);
            if let Some(l) = life.last.get_mut(r) {
                *l = (*l).max(born);
            }
        }
        life
    }

    /// Records the step of `id` and of everything in its block.
    fn visit(&mut self, f: &Function, id: ValueId, at: usize) {
        if let Some(s) = self.step.get_mut(id.index()) {
            *s = at;
        }
        let Some(block) = f.values.get(id).and_then(|v| v.op.block()) else {
            return;
        };
        for &inner in block.args.iter().chain(&block.body) {
            self.visit(f, inner, at);
        }
    }

    fn root_of(&self, k: usize) -> usize {
        self.root.get(k).copied().unwrap_or(k)
    }

    fn read(&mut self, k: usize, at: usize) {
        let r = self.root_of(k);
        if let Some(l) = self.last.get_mut(r) {
            *l = (*l).max(at);
        }
    }

    fn steps(&self) -> usize {
        self.steps
    }

    /// The step at which `id`'s region is placed.
    fn born(&self, id: ValueId) -> usize {
        self.step.get(id.index()).copied().unwrap_or(0)
    }

    /// The step after which `id`'s region is free: its buffer's last read, and never
    /// before the end of its own step.
    fn dies(&self, id: ValueId) -> usize {
        let k = id.index();
        let own = self
            .last
            .get(self.root_of(k))
            .copied()
            .unwrap_or(usize::MAX);
        own.max(self.born(id))
    }
}

/// Free regions of the frame, first fit; the frame grows where none fits.
#[derive(Default)]
struct FreeList {
    /// Free `(offset, len)` regions, by offset, never adjacent.
    free: Vec<(usize, usize)>,
    /// The frame's length so far.
    len: usize,
}

impl FreeList {
    /// A region of `len` elements.
    fn take(&mut self, len: usize) -> usize {
        if let Some(k) = self.free.iter().position(|&(_, l)| l >= len) {
            let (offset, l) = self.free[k];
            if l == len {
                self.free.remove(k);
            } else {
                self.free[k] = (offset + len, l - len);
            }
            return offset;
        }
        // Grow the frame, merging a free region at its end.
        match self.free.last().copied() {
            Some((offset, l)) if offset + l == self.len => {
                self.free.pop();
                self.len = offset.saturating_add(len);
                offset
            }
            _ => {
                let offset = self.len;
                self.len = self.len.saturating_add(len);
                offset
            }
        }
    }

    /// Returns a region.
    fn give(&mut self, offset: usize, len: usize) {
        let k = self.free.partition_point(|&(o, _)| o < offset);
        self.free.insert(k, (offset, len));
        // Merge with the next, then with the previous.
        if let Some(&(o2, l2)) = self.free.get(k + 1)
            && offset + len == o2
        {
            self.free[k].1 += l2;
            self.free.remove(k + 1);
        }
        if k > 0
            && let Some(&(o0, l0)) = self.free.get(k - 1)
            && o0 + l0 == offset
        {
            self.free[k - 1].1 += self.free[k].1;
            self.free.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Storage, plan};
    use sci_ir::Module;

    fn module(text: &str) -> Module {
        match sci_ir::read_module(sci_diag::FileId(0), text) {
            Ok(m) => m,
            Err(e) => panic!("bad test module: {e:?}"),
        }
    }

    fn frame_of(m: &Module, name: &str) -> (usize, Vec<(String, Storage)>) {
        let f = m.functions.iter().find(|(_, f)| f.name == name).unwrap().1;
        let p = plan(f).unwrap();
        let named = f
            .values
            .iter()
            .filter_map(|(id, v)| v.name.clone().map(|n| (n, p.of(id))))
            .collect();
        (p.frame_len, named)
    }

    #[test]
    fn a_chain_reuses_dead_regions() {
        let m = module(
            "module M\n\
             func f(%x: f64[100]) -> f64 {\n\
             %a: f64[100] = sin %x\n\
             %b: f64[100] = cos %a\n\
             %c: f64[100] = exp %b\n\
             %d: f64[100] = tanh %c\n\
             %s: f64 = reduce sum %d\n\
             return %s\n\
             }\n",
        );
        // Each value's operand is live while it is placed, then freed: two regions.
        let (len, _) = frame_of(&m, "f");
        assert_eq!(len, 200);
    }

    #[test]
    fn a_view_keeps_its_buffer_alive() {
        let m = module(
            "module M\n\
             func f(%x: f64[4, 25]) -> f64 {\n\
             %a: f64[4, 25] = sin %x\n\
             %v: f64[2, 25] = slice %a, 1, 3\n\
             %b: f64[4, 25] = cos %x\n\
             %c: f64[4, 25] = exp %b\n\
             %w: f64[2, 25] = tanh %v\n\
             %s: f64 = reduce sum %w\n\
             %t: f64 = reduce sum %c\n\
             %r: f64 = add %s, %t\n\
             return %r\n\
             }\n",
        );
        let (_, named) = frame_of(&m, "f");
        let region = |n: &str| match named.iter().find(|(k, _)| k == n).map(|x| x.1) {
            Some(Storage::Frame { offset }) => offset,
            other => panic!("{n}: {other:?}"),
        };
        // `%a` is read through its view `%v` after `%b` and `%c` are made.
        let a = region("a");
        for other in ["b", "c"] {
            let o = region(other);
            assert!(o + 100 <= a || a + 100 <= o, "{other} overlaps a");
        }
    }

    #[test]
    fn concatenated_parts_are_built_in_place() {
        let m = module(
            "module M\n\
             func f(%x: f64[4]) -> f64 {\n\
             %a: f64[4] = sin %x\n\
             %b: f64[2, 2] = tabulate [2, 2] (%i: i64, %j: i64) {\n\
             %e: f64 = index %x[%i]\n\
             yield %e\n\
             }\n\
             %rb: f64[4] = reshape %b\n\
             %mid: f64[4] = exp %x\n\
             %shared: f64[4] = cos %x\n\
             %c: f64[12] = concat %a, %rb, %shared\n\
             %s: f64 = reduce sum %c\n\
             %t: f64 = reduce sum %shared\n\
             %m: f64 = reduce sum %mid\n\
             %u: f64 = add %s, %t\n\
             %r: f64 = add %u, %m\n\
             return %r\n\
             }\n\
             func g(%x: f64[4]) -> f64[8] {\n\
             %a: f64[4] = sin %x\n\
             %b: f64[4] = cos %x\n\
             %c: f64[8] = concat %a, %b\n\
             return %c\n\
             }\n\
             func twice(%x: f64[4]) -> f64[8] {\n\
             %a: f64[4] = sin %x\n\
             %c: f64[8] = concat %a, %a\n\
             return %c\n\
             }\n",
        );
        let (_, named) = frame_of(&m, "f");
        let at = |n: &str| named.iter().find(|(k, _)| k == n).map(|x| x.1);
        let Some(Storage::Frame { offset: c }) = at("c") else {
            panic!("c: {:?}", at("c"));
        };
        // `%a` and `%b` (through its reshape) are read only by the concat: made in its
        // region. `%shared` is read twice and is copied. `%mid`, made while the concat's
        // region is already taken, does not overlap it.
        assert_eq!(at("a"), Some(Storage::Frame { offset: c }));
        assert_eq!(at("b"), Some(Storage::Frame { offset: c + 4 }));
        let Some(Storage::Frame { offset: shared }) = at("shared") else {
            panic!("shared: {:?}", at("shared"));
        };
        assert!(shared + 4 <= c || c + 12 <= shared);
        let Some(Storage::Frame { offset: mid }) = at("mid") else {
            panic!("mid: {:?}", at("mid"));
        };
        assert!(mid + 4 <= c || c + 12 <= mid, "mid overlaps the concat");
        // The function's result: its parts go straight to `out`.
        let (_, named) = frame_of(&m, "g");
        let at = |n: &str| named.iter().find(|(k, _)| k == n).map(|x| x.1);
        assert_eq!(at("a"), Some(Storage::OutPart { offset: 0 }));
        assert_eq!(at("b"), Some(Storage::OutPart { offset: 4 }));
        assert_eq!(at("c"), Some(Storage::Out));
        // A part listed twice cannot be built in both places: it is copied.
        let (_, named) = frame_of(&m, "twice");
        let at = |n: &str| named.iter().find(|(k, _)| k == n).map(|x| x.1);
        assert!(
            matches!(at("a"), Some(Storage::Frame { .. })),
            "{:?}",
            at("a")
        );
    }
}
