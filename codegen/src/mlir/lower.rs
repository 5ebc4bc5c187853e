//! Lowering of one IR function to MLIR text: value representation, the status word, the
//! frame, memory and loop helpers, and the dispatch over ops (the ops themselves are in
//! `ops.rs` and `structured.rs`).
//!
//! Representation (as in the native back ends): a value with shape `[]` is an `f64` SSA
//! value; an unbatched tensor is a region of a flat `memref<?xf64>` (a buffer name and an
//! element offset); a batched value is a region plus a point count (`index`). Every dtype is
//! carried as `f64` (`i64`/`bool` hold integral values, `f32` values are rounded through
//! `f32` after every op), so results agree with the interpreter bit for bit.
//!
//! Structured control flow (`scf`) cannot leave a loop early, so failures do not branch:
//! they record the first failure code in a one-element status buffer and evaluation goes
//! on with safe values (an out-of-range index reads element 0; mismatched batches run no
//! point), and the function returns the status at its end. The interpreter stops at the
//! first failure, which is the one recorded. A failed heap allocation skips the rest of
//! the function (the code after it sits in the `else` of an `scf.if`).

use super::emit::Region;
use super::layout::{Layout, Place};
use super::text::f64_literal;
use crate::CodegenError;
use crate::abi::Status;
use crate::lower::Values;
use sci_ir::{DType, Function, Module, ValueId};
use std::collections::{BTreeSet, HashMap};

/// Frames up to this many elements (32 KiB) live on the stack; larger ones are
/// heap-allocated (CPU only: GPU frames are always thread-private stack).
const STACK_FRAME_LIMIT: usize = 4096;

/// The flat buffer type of every tensor.
pub(super) const MEM: &str = "memref<?xf64>";

pub(super) type Res<T> = Result<T, CodegenError>;

pub(super) fn internal(what: &str) -> CodegenError {
    CodegenError::new(format!(
        "internal error in the MLIR back end: {what} (the IR validated, so this is a bug)"
    ))
}

/// Where the code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// The host, through MLIR's execution engine: math calls the `libm` shims.
    Cpu,
    /// An NVIDIA GPU: math is the `math` dialect, lowered to libdevice's `__nv_*`.
    Gpu,
}

/// What the functions of one MLIR module share.
#[derive(Debug)]
pub(super) struct Shared {
    pub target: Target,
    /// The math functions called, with arity (CPU: declarations of `@sci_libm_NAME`; GPU:
    /// the libdevice functions needed).
    pub math: BTreeSet<(&'static str, usize)>,
    /// `memref.global` definitions of literal tensors.
    pub globals: Vec<String>,
}

impl Shared {
    pub fn new(target: Target) -> Shared {
        Shared {
            target,
            math: BTreeSet::new(),
            globals: Vec::new(),
        }
    }
}

/// How a value is held: an `f64` SSA value, a region of a buffer, or a region and a point
/// count (`index`).
pub(super) type Repr = crate::lower::Repr<String, String, Region>;

/// An element index: a compile-time constant or an SSA value of type `index`.
pub(super) type Ix = crate::lower::Ix<String>;

/// The MLIR symbol of IR function number `k`.
pub(super) fn func_symbol(k: usize) -> String {
    format!("sci_f{k}")
}

/// The state of lowering one function (or one kernel body).
pub(super) struct FnLower<'a> {
    pub ir: &'a Module,
    pub f: &'a Function,
    pub cx: &'a mut Shared,
    pub layout: Layout,
    /// Distinguishes this function's module-level symbols (literals) from others'.
    pub tag: String,
    pub values: Values<String, String, Region>,
    /// The caller's output buffer and offset (functions; kernels store their own).
    pub out: Option<(String, Ix)>,
    /// Constants and allocations at the entry, which dominates every use.
    prologue: Vec<String>,
    body: Vec<String>,
    indent: usize,
    next: usize,
    consts: HashMap<String, String>,
    /// Code that closes the `else` regions opened by heap allocations, innermost last.
    closers: Vec<String>,
}

impl<'a> FnLower<'a> {
    /// A lowering of `f` (or of a kernel body of `f`) with the given layout. The status
    /// buffer `%st` and the frame `%frame` are allocated in the prologue.
    pub fn new(ir: &'a Module, f: &'a Function, cx: &'a mut Shared, layout: Layout) -> Self {
        FnLower {
            ir,
            f,
            cx,
            values: Values::new(f.values.len()),
            layout,
            tag: String::new(),
            out: None,
            prologue: Vec::new(),
            body: Vec::new(),
            indent: 2,
            next: 0,
            consts: HashMap::new(),
            closers: Vec::new(),
        }
    }

    pub fn target(&self) -> Target {
        self.cx.target
    }

    // ----- text -----

    /// A fresh SSA name.
    pub fn fresh(&mut self) -> String {
        self.next += 1;
        format!("%t{}", self.next)
    }

    /// Appends one line of the body.
    pub fn line(&mut self, s: impl AsRef<str>) {
        let pad = "  ".repeat(self.indent);
        self.body.push(format!("{pad}{}", s.as_ref()));
    }

    /// Appends `NAME = rhs` and returns the fresh name.
    pub fn def(&mut self, rhs: impl AsRef<str>) -> String {
        let n = self.fresh();
        self.line(format!("{n} = {}", rhs.as_ref()));
        n
    }

    /// Appends a line to the prologue (the entry block, before the body).
    pub fn prologue_line(&mut self, s: impl AsRef<str>) {
        self.prologue.push(format!("    {}", s.as_ref()));
    }

    fn constant(&mut self, lit: String, ty: &str) -> String {
        let key = format!("{lit} : {ty}");
        if let Some(n) = self.consts.get(&key) {
            return n.clone();
        }
        let n = self.fresh();
        self.prologue_line(format!("{n} = arith.constant {key}"));
        self.consts.insert(key, n.clone());
        n
    }

    /// An `index` constant.
    pub fn cidx(&mut self, c: usize) -> String {
        self.constant(c.to_string(), "index")
    }

    /// An `f64` constant.
    pub fn cf64(&mut self, x: f64) -> String {
        self.constant(f64_literal(x), "f64")
    }

    /// An `i32` constant.
    pub fn ci32(&mut self, c: i32) -> String {
        self.constant(c.to_string(), "i32")
    }

    /// An `i1` constant.
    pub fn cbool(&mut self, b: bool) -> String {
        self.constant(u8::from(b).to_string(), "i1")
    }

    /// Closes the regions opened by heap allocations and returns the status: the finished
    /// prologue and body lines of a function.
    pub fn finish_function(mut self) -> (Vec<String>, Vec<String>) {
        self.close_allocations();
        let st = self.status();
        self.line(format!("return {st} : i32"));
        (self.prologue, self.body)
    }

    /// The finished prologue and body lines of a kernel (which allocates nothing).
    pub fn finish_kernel(mut self) -> (Vec<String>, Vec<String>) {
        self.close_allocations();
        (self.prologue, self.body)
    }

    fn close_allocations(&mut self) {
        while let Some(c) = self.closers.pop() {
            self.line(c);
            self.indent -= 1;
            self.line("}");
        }
    }

    /// Opens a region: `head {`.
    pub fn open(&mut self, head: impl AsRef<str>) {
        self.line(format!("{} {{", head.as_ref()));
        self.indent += 1;
    }

    /// Closes the region opened last.
    pub fn close(&mut self) {
        self.indent -= 1;
        self.line("}");
    }

    // ----- values -----

    /// The region planned for unbatched `v` (frame or `out`).
    pub fn planned(&mut self, v: ValueId) -> Res<(String, Ix)> {
        match self.layout.of(v) {
            Place::Out => self.out.clone().ok_or_else(|| internal("no output buffer")),
            Place::OutPart(offset) => {
                let (mem, at) = self
                    .out
                    .clone()
                    .ok_or_else(|| internal("no output buffer"))?;
                Ok((mem, self.add(&at, &Ix::C(offset))))
            }
            Place::Frame(offset) => Ok(("%frame".to_string(), Ix::C(offset))),
            _ => Err(internal("no buffer planned for a tensor value")),
        }
    }

    /// The buffer of batched value `v`, `n` points of `per` elements: `out`, or a new heap
    /// buffer. A failed allocation records `OutOfMemory` and skips the rest of the
    /// function, whose code goes into the `else` region opened here.
    pub fn batch_buffer(&mut self, v: ValueId, n: &str, per: usize) -> Res<(String, Ix)> {
        match self.layout.of(v) {
            Place::Out => self.out.clone().ok_or_else(|| internal("no output buffer")),
            Place::Heap if self.target() == Target::Cpu => {
                let per_c = self.cidx(per);
                let count = self.def(format!("arith.muli {n}, {per_c} : index"));
                // malloc(0) may return null; ask for at least one element.
                let one = self.cidx(1);
                let count = self.def(format!("arith.maxui {count}, {one} : index"));
                let mem = self.heap_alloc(None, &count);
                Ok((mem, Ix::C(0)))
            }
            _ => Err(internal("no heap buffer planned for a batched value")),
        }
    }

    /// `memref.alloc` of `count` elements (named `name`, or a fresh name), checked; the
    /// rest of the function runs only when it succeeded and frees the buffer at its end.
    pub fn heap_alloc(&mut self, name: Option<&str>, count: &str) -> String {
        let mem = match name {
            Some(n) => n.to_string(),
            None => self.fresh(),
        };
        self.line(format!("{mem} = memref.alloc({count}) : {MEM}"));
        let addr = self.def(format!(
            "memref.extract_aligned_pointer_as_index {mem} : {MEM} -> index"
        ));
        let zero = self.cidx(0);
        let null = self.def(format!("arith.cmpi eq, {addr}, {zero} : index"));
        self.record_failure(&null, Status::OutOfMemory);
        self.line(format!("scf.if {null} {{"));
        self.line("} else {");
        self.indent += 1;
        self.closers.push(format!("memref.dealloc {mem} : {MEM}"));
        mem
    }

    /// Allocates the frame (`%frame`) and the status word (`%st`, 0) at the entry.
    pub fn allocate_frame(&mut self) {
        self.prologue_line("%st = memref.alloca() : memref<1xi32>");
        let zero = self.ci32(0);
        let c0 = self.cidx(0);
        self.prologue_line(format!("memref.store {zero}, %st[{c0}] : memref<1xi32>"));
        let len = self.layout.frame_len.max(1);
        if len <= STACK_FRAME_LIMIT || self.target() == Target::Gpu {
            self.prologue_line(format!("%frame_s = memref.alloca() : memref<{len}xf64>"));
            self.prologue_line(format!(
                "%frame = memref.cast %frame_s : memref<{len}xf64> to {MEM}"
            ));
        } else {
            let n = self.cidx(len);
            self.heap_alloc(Some("%frame"), &n);
        }
    }

    /// The status code recorded so far (an `i32`).
    pub fn status(&mut self) -> String {
        let c0 = self.cidx(0);
        self.def(format!("memref.load %st[{c0}] : memref<1xi32>"))
    }

    /// Records failure `status` when `cond` (an `i1`) holds and nothing failed before.
    pub fn record_failure(&mut self, cond: &str, status: Status) {
        let code = self.ci32(status as i32);
        self.record(cond, &code);
    }

    /// Records a callee's nonzero status code (an `i32`) unless something failed before.
    pub fn fail_on_status(&mut self, code: &str) {
        let zero = self.ci32(0);
        let bad = self.def(format!("arith.cmpi ne, {code}, {zero} : i32"));
        self.record(&bad, code);
    }

    fn record(&mut self, cond: &str, code: &str) {
        let old = self.status();
        let zero = self.ci32(0);
        let clean = self.def(format!("arith.cmpi eq, {old}, {zero} : i32"));
        let set = self.def(format!("arith.andi {clean}, {cond} : i1"));
        let new = self.def(format!("arith.select {set}, {code}, {old} : i32"));
        let c0 = self.cidx(0);
        self.line(format!("memref.store {new}, %st[{c0}] : memref<1xi32>"));
    }

    // ----- memory -----

    /// The `index` value of `i`.
    pub fn ix(&mut self, i: &Ix) -> String {
        match i {
            Ix::C(c) => self.cidx(*c),
            Ix::V(v) => v.clone(),
        }
    }

    /// `a + b`.
    pub fn add(&mut self, a: &Ix, b: &Ix) -> Ix {
        match (a, b) {
            (Ix::C(x), Ix::C(y)) => Ix::C(x + y),
            (Ix::C(0), v) | (v, Ix::C(0)) => v.clone(),
            _ => {
                let (x, y) = (self.ix(a), self.ix(b));
                Ix::V(self.def(format!("arith.addi {x}, {y} : index")))
            }
        }
    }

    /// `a * c`.
    pub fn mul(&mut self, a: &Ix, c: usize) -> Ix {
        match a {
            Ix::C(x) => Ix::C(x * c),
            _ if c == 1 => a.clone(),
            Ix::V(v) => {
                let k = self.cidx(c);
                Ix::V(self.def(format!("arith.muli {v}, {k} : index")))
            }
        }
    }

    /// `base + i * scale`.
    pub fn at(&mut self, base: &Ix, i: &Ix, scale: usize) -> Ix {
        let s = self.mul(i, scale);
        self.add(base, &s)
    }

    /// Element `off` of `mem`.
    pub fn load_at(&mut self, mem: &str, off: &Ix) -> String {
        let i = self.ix(off);
        self.def(format!("memref.load {mem}[{i}] : {MEM}"))
    }

    /// Stores `x` at element `off` of `mem`.
    pub fn store_at(&mut self, x: &str, mem: &str, off: &Ix) {
        let i = self.ix(off);
        self.line(format!("memref.store {x}, {mem}[{i}] : {MEM}"));
    }

    /// Copies `len` elements.
    pub fn copy_at(&mut self, src: (&str, &Ix), dst: (&str, &Ix), len: usize) -> Res<()> {
        self.each_c(len, |s, i| {
            let a = s.add(src.1, &i);
            let x = s.load_at(src.0, &a);
            let b = s.add(dst.1, &i);
            s.store_at(&x, dst.0, &b);
            Ok(())
        })
    }

    /// Writes `r` (a scalar or a tensor of `len` elements) at `dst`.
    pub fn store_repr_at(&mut self, r: &Repr, dst: (&str, &Ix), len: usize) -> Res<()> {
        match r {
            Repr::Scalar(x) => {
                self.store_at(x, dst.0, dst.1);
                Ok(())
            }
            Repr::Buf(Region { mem, off }) => self.copy_at((mem, off), dst, len),
            Repr::Batch { .. } => Err(internal("a batched value inside a block")),
        }
    }

    /// `x` rounded through `f32` when `dtype` is `f32`.
    pub fn round_to(&mut self, x: &str, dtype: DType) -> String {
        if dtype == DType::F32 {
            let s = self.def(format!("arith.truncf {x} : f64 to f32"));
            self.def(format!("arith.extf {s} : f32 to f64"))
        } else {
            x.to_string()
        }
    }

    /// `c ? a : b` on values of type `ty`.
    pub fn select_ty(&mut self, c: &str, a: &str, b: &str, ty: &str) -> String {
        self.def(format!("arith.select {c}, {a}, {b} : {ty}"))
    }

    // ----- loops -----

    /// An `scf.for` over `lo..hi` carrying `f64` values `inits`; `body` gets the counter
    /// and the carried values and returns their next values. Returns the final values.
    pub fn scf_for(
        &mut self,
        lo: &Ix,
        hi: &Ix,
        inits: &[String],
        body: impl FnOnce(&mut Self, &str, &[String]) -> Res<Vec<String>>,
    ) -> Res<Vec<String>> {
        let (lo, hi) = (self.ix(lo), self.ix(hi));
        let one = self.cidx(1);
        let iv = self.fresh();
        let iters: Vec<String> = inits.iter().map(|_| self.fresh()).collect();
        let result = self.fresh();
        let head = format!("scf.for {iv} = {lo} to {hi} step {one}");
        if inits.is_empty() {
            self.line(format!("{head} {{"));
        } else {
            let args: Vec<String> = iters
                .iter()
                .zip(inits)
                .map(|(a, i)| format!("{a} = {i}"))
                .collect();
            let tys = vec!["f64"; inits.len()].join(", ");
            let lhs = if inits.len() == 1 {
                result.clone()
            } else {
                format!("{result}:{}", inits.len())
            };
            self.line(format!(
                "{lhs} = {head} iter_args({}) -> ({tys}) {{",
                args.join(", ")
            ));
        }
        self.indent += 1;
        let next = body(self, &iv, &iters)?;
        if next.len() != inits.len() {
            return Err(internal("loop yields the wrong number of values"));
        }
        if !inits.is_empty() {
            let tys = vec!["f64"; inits.len()].join(", ");
            self.line(format!("scf.yield {} : {tys}", next.join(", ")));
        }
        self.indent -= 1;
        self.line("}");
        Ok(match inits.len() {
            0 => Vec::new(),
            1 => vec![result],
            k => (0..k).map(|j| format!("{result}#{j}")).collect(),
        })
    }

    /// An `scf.for` over `lo..hi` with no carried values.
    pub fn for_range(
        &mut self,
        lo: &Ix,
        hi: &Ix,
        body: impl FnOnce(&mut Self, &str) -> Res<()>,
    ) -> Res<()> {
        self.scf_for(lo, hi, &[], |s, i, _| {
            body(s, i)?;
            Ok(Vec::new())
        })?;
        Ok(())
    }

    /// A loop over `i` in `0..n` (`n` static) with no carried values.
    pub fn repeat_c(&mut self, n: usize, body: impl FnOnce(&mut Self, &str) -> Res<()>) -> Res<()> {
        if n == 0 {
            return Ok(());
        }
        self.for_range(&Ix::C(0), &Ix::C(n), body)
    }

    /// Runs `body` for `i` in `0..n`: one element with a constant index when `n` is 1,
    /// else a loop (LLVM unrolls and vectorises small ones).
    pub fn each_c(&mut self, n: usize, body: impl FnOnce(&mut Self, Ix) -> Res<()>) -> Res<()> {
        match n {
            0 => Ok(()),
            1 => body(self, Ix::C(0)),
            _ => self.repeat_c(n, |s, i| body(s, Ix::V(i.to_string()))),
        }
    }

    // ----- the function -----
}
