//! The one lowering of IR functions to machine code, shared by every code-generating back
//! end (Cranelift, LLVM, MLIR for the CPU and the GPU).
//!
//! The idea is rustc's `codegen_ssa`: the semantics of each IR op — the order of a sum, how
//! `min` treats NaN, the bounds check of an `index`, the compensated batch sum — are written
//! once here, generic over [`Emit`], a small set of primitives each back end implements:
//! constants, `f64`/index arithmetic, compares and selects, calls of the shared libm table,
//! loads and stores, counted loops with carried values, and a failure status. The
//! primitives are shaped for the most constrained back end, MLIR's structured control flow:
//! loops carry their values explicitly (no mutable variables), and a failure need not leave
//! the function ([`Emit::FAILURE_EXITS`]): where it does not, the shared code continues with
//! safe values (an out-of-range index reads element 0), so every back end computes the same
//! bits and reports the same first failure.
//!
//! What stays in a back end is what is really its own: its value and address types, how it
//! lays out memory (the frame plan), and optional fast paths it offers through hooks
//! ([`Emit::matmul_kernel`]) — the JITs link sci's kernels, objects and GPU kernels do not.

mod dispatch;
pub(crate) mod function;
mod scalar;
mod stencil;
pub(crate) mod structured;
pub(crate) mod tensor;

pub(crate) use dispatch::Lower;
pub(crate) use scalar::Scalars;
pub(crate) use tensor::Tensors;

use crate::CodegenError;
use crate::abi::Status;
use sci_ir::types::element_count;
use sci_ir::{FuncId, Function, Module, Op, Type, ValueId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

pub(crate) type Res<T> = Result<T, CodegenError>;

/// An element index: a compile-time constant or an index value of the back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ix<I> {
    C(usize),
    V(I),
}

/// How a value is held during lowering: `F` an `f64` value, `I` an index, `P` an address.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Repr<F, I, P> {
    /// A scalar.
    Scalar(F),
    /// An unbatched tensor: the address of its first element.
    Buf(P),
    /// A batched value: the address of its first point and the number of points.
    Batch { ptr: P, n: I },
}

/// The representation of values for emitter `E`.
pub(crate) type ReprOf<E> = Repr<<E as Kinds>::F, <E as Kinds>::I, <E as Kinds>::P>;

/// `f64` arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FBin {
    Add,
    Sub,
    Mul,
    Div,
}

/// Exact (correctly rounded) `f64` functions, machine instructions on every target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FUn {
    Neg,
    Abs,
    Sqrt,
    Floor,
}

/// `f64` comparisons: ordered (false on NaN) except `Ne` (true on NaN, as `!=`) and `Uno`
/// (true when either operand is NaN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FCmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Uno,
}

/// Truth-value logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BBin {
    And,
    Or,
    Xor,
}

/// Index comparisons (unsigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ICmp {
    Eq,
    Ne,
    Ult,
}

/// One word of a tile descriptor.
#[derive(Clone, Debug)]
pub(crate) enum DescWord<I, P> {
    Int(I),
    Ptr(P),
    /// The address of a tile function's packed entry.
    Entry(FuncId),
}

/// What the lowering of one function knows about its values, kept by the back end.
#[derive(Debug)]
pub(crate) struct Values<F, I, P> {
    env: Vec<Option<Repr<F, I, P>>>,
    /// The index form of `f64` values that are loop counters (block arguments of
    /// `tabulate`/`fold`), so indexing with them skips a conversion and a range check.
    int_of: HashMap<F, I>,
    /// What is known about the values of the `tabulate` piece being lowered
    /// (`stencil::split`).
    facts: stencil::Facts,
    /// Tensors built where their consumer wants them rather than in their planned buffer:
    /// a `tabulate` body's `concat` result, in the point's slot of the output.
    targets: Vec<(ValueId, P)>,
    /// `i64` copies of integer literal tensors ([`Emit::index_data`]), by literal.
    index_tables: Vec<(ValueId, P)>,
}

impl<F: Clone + Eq + Hash, I: Clone, P: Clone> Values<F, I, P> {
    /// Nothing lowered yet, for a function of `count` values.
    pub fn new(count: usize) -> Self {
        Values {
            env: vec![None; count],
            int_of: HashMap::new(),
            facts: stencil::Facts::new(),
            targets: Vec::new(),
            index_tables: Vec::new(),
        }
    }
}

/// A loop body: gets the counter and the carried values, returns their next values.
pub(crate) type LoopBody<'b, E> =
    dyn FnMut(&mut E, <E as Kinds>::I, Vec<<E as Kinds>::F>) -> Res<Vec<<E as Kinds>::F>> + 'b;

/// An elementwise function of the operands' elements.
pub(crate) type ElementFn<'b, E> = dyn Fn(&mut E, &[<E as Kinds>::F]) -> Res<<E as Kinds>::F> + 'b;
/// A body run for each element index.
pub(crate) type EachBody<'b, E> = dyn FnMut(&mut E, Ix<<E as Kinds>::I>) -> Res<()> + 'b;
/// The term of a sum at an element index.
pub(crate) type TermFn<'b, E> = dyn FnMut(&mut E, Ix<<E as Kinds>::I>) -> Res<<E as Kinds>::F> + 'b;
/// A body threading values through element indices.
pub(crate) type FoldBody<'b, E> =
    dyn FnMut(&mut E, Ix<<E as Kinds>::I>, Vec<<E as Kinds>::F>) -> Res<Vec<<E as Kinds>::F>> + 'b;
/// The body of a loop nest: gets the counters, outermost first.
pub(crate) type NestBody<'b, E> = dyn FnMut(&mut E, &[<E as Kinds>::I]) -> Res<()> + 'b;

/// The kinds of values of one back end.
pub(crate) trait Kinds {
    /// An `f64` value.
    type F: Clone + Eq + Hash + Debug;
    /// An index value (`i64` or MLIR's `index`).
    type I: Clone + Debug;
    /// A truth value (`i1`/`i8`).
    type B: Clone + Debug;
    /// The address of an `f64` element.
    type P: Clone + Debug;
}

/// The primitives of one back end (see the module header).
pub(crate) trait Emit<'a>: Kinds + Sized {
    /// The back end's name, for internal errors.
    const NAME: &'static str;
    /// Whether [`Emit::fail_if`] leaves the function (native code) or records the status
    /// while evaluation goes on (MLIR's structured control flow).
    const FAILURE_EXITS: bool;
    /// Loops over at most this many elements are unrolled with constant indices.
    const UNROLL: usize;
    /// Whether the back end compiles `tile_map`s (MLIR's kernels are per point instead).
    const TILE_MAPS: bool = true;

    /// The function being lowered.
    fn function(&self) -> &'a Function;
    fn values(&self) -> &Values<Self::F, Self::I, Self::P>;
    fn values_mut(&mut self) -> &mut Values<Self::F, Self::I, Self::P>;

    // ----- constants -----
    fn f64c(&mut self, x: f64) -> Res<Self::F>;
    fn ic(&mut self, n: usize) -> Res<Self::I>;
    fn bc(&mut self, b: bool) -> Res<Self::B>;

    // ----- arithmetic -----
    fn fbin(&mut self, op: FBin, a: Self::F, b: Self::F) -> Res<Self::F>;
    fn fun(&mut self, op: FUn, x: Self::F) -> Res<Self::F>;
    fn fcmp(&mut self, op: FCmp, a: Self::F, b: Self::F) -> Res<Self::B>;
    fn bbin(&mut self, op: BBin, a: Self::B, b: Self::B) -> Res<Self::B>;
    fn select_f(&mut self, c: Self::B, a: Self::F, b: Self::F) -> Res<Self::F>;
    fn select_i(&mut self, c: Self::B, a: Self::I, b: Self::I) -> Res<Self::I>;
    /// 1.0 if `c` holds, else 0.0.
    fn bool_to_f64(&mut self, c: Self::B) -> Res<Self::F>;
    /// `x` rounded through `f32`.
    fn round_f32(&mut self, x: Self::F) -> Res<Self::F>;
    /// Rust's `(x as i64) as f64`: toward zero, saturating, NaN → 0.
    fn trunc_to_int(&mut self, x: Self::F) -> Res<Self::F>;
    /// An index from `x`, integral and in range (the caller makes it so).
    fn f64_to_index(&mut self, x: Self::F) -> Res<Self::I>;
    fn index_to_f64(&mut self, i: Self::I) -> Res<Self::F>;
    /// A point count (unsigned) as an `f64`.
    fn count_to_f64(&mut self, n: Self::I) -> Res<Self::F>;
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Res<Self::I>;
    /// `a - b` (`a ≥ b`).
    fn isub(&mut self, a: Self::I, b: Self::I) -> Res<Self::I>;
    /// `a / c`, unsigned.
    fn idiv(&mut self, a: Self::I, c: usize) -> Res<Self::I>;
    /// `a * c`.
    fn imul(&mut self, a: Self::I, c: usize) -> Res<Self::I>;
    fn icmp(&mut self, op: ICmp, a: Self::I, b: Self::I) -> Res<Self::B>;
    /// A function of the shared libm table (`crate::libm::MATH`) by C name.
    fn math(&mut self, name: &'static str, args: &[Self::F]) -> Res<Self::F>;

    // ----- memory -----
    /// `p + i * scale` elements.
    fn addr(&mut self, p: Self::P, i: Ix<Self::I>, scale: usize) -> Res<Self::P>;
    fn load(&mut self, p: Self::P, i: Ix<Self::I>) -> Res<Self::F>;
    fn store(&mut self, p: Self::P, i: Ix<Self::I>, x: Self::F) -> Res<()>;
    /// Read-only data holding `xs` (already rounded to the value's dtype); at least one
    /// element.
    fn literal_data(&mut self, id: ValueId, xs: &[f64]) -> Res<Self::P>;
    /// Read-only `i64` data holding `xs` for [`Emit::load_index`], or `None` where the back
    /// end keeps no such tables. Indices read from a table (the gather of a sparse
    /// Jacobian into CSR order) then need no conversion from `f64` and no range check of it.
    fn index_data(&mut self, xs: &[usize]) -> Res<Option<Self::P>> {
        let _ = xs;
        Ok(None)
    }
    /// Element `i` of a table made by [`Emit::index_data`].
    fn load_index(&mut self, table: Self::P, i: Ix<Self::I>) -> Res<Self::I> {
        let _ = (table, i);
        Err(internal::<Self>("no index tables in this back end"))
    }
    /// The buffer planned for unbatched tensor `v` (a frame region or the output).
    fn dest(&mut self, v: ValueId) -> Res<Self::P>;
    /// The buffer of batched value `v`: `n` points of `per` elements (the output, or a new
    /// heap buffer freed when the call returns; failing to allocate fails the call).
    fn alloc_batch(&mut self, v: ValueId, n: Self::I, per: usize) -> Res<Self::P>;
    /// `words` 8-byte cells on the stack (scratch that lives until the call returns).
    fn stack_cells(&mut self, words: usize) -> Res<Self::P> {
        let _ = words;
        Err(internal::<Self>("no stack cells in this back end"))
    }
    /// Whether `concat` operand `v` was built in place, in the concatenation's own buffer
    /// (the frame plan does this for parts read by nothing else), so the `concat` copies
    /// nothing for it. Copying a part onto itself would be correct, only slower.
    fn in_place(&self, v: ValueId) -> bool {
        let _ = v;
        false
    }
    /// Somewhere an `index` of an empty array may point, where failures do not exit.
    fn scratch(&mut self, v: ValueId) -> Res<Self::P> {
        let _ = v;
        Err(internal::<Self>(
            "no scratch buffer in a back end whose failures exit",
        ))
    }

    // ----- control -----
    /// A counted loop over `lo..hi` carrying `f64` values `inits`; returns their final
    /// values.
    fn for_loop(
        &mut self,
        lo: Ix<Self::I>,
        hi: Ix<Self::I>,
        inits: Vec<Self::F>,
        body: &mut LoopBody<'_, Self>,
    ) -> Res<Vec<Self::F>>;
    /// Fails the call with `status` if `cond` holds (see [`Emit::FAILURE_EXITS`]).
    fn fail_if(&mut self, cond: Self::B, status: Status) -> Res<()>;
    /// Whether `reduce_batch sum`/`mean` use Neumaier's compensated summation (else left
    /// to right, bit-identical to the interpreter).
    fn compensated_batch_sums(&self) -> bool;

    // ----- back-end lowerings -----
    /// The IR module of the function being lowered (callees' signatures).
    fn module(&self) -> &'a Module;
    /// Calls IR function `func` under the back end's calling convention with `args` (each
    /// as held: scalars, tensors, batches) and result buffer `out`; a failure status fails
    /// the call.
    fn call_code(&mut self, func: FuncId, args: &[ReprOf<Self>], out: Self::P) -> Res<()>;

    // ----- the tile runtime (JIT only) -----
    /// How many threads the tile runtime (`parallel::sci_tile_map`) may use for the tiles
    /// of outlined tile function `func` (0: all cores), or `None` where it cannot run them
    /// (object files link without sci; the function needs a packed entry).
    fn tile_runtime(&self, func: FuncId) -> Option<usize> {
        let _ = func;
        None
    }
    /// Stores one word of a tile descriptor (8-byte words from `desc`).
    fn store_word(&mut self, desc: Self::P, k: usize, w: DescWord<Self::I, Self::P>) -> Res<()> {
        let _ = (desc, k, w);
        Err(internal::<Self>("no tile runtime in this back end"))
    }
    /// Calls the tile runtime on a filled descriptor; its failure fails the call.
    fn call_tile_runtime(&mut self, desc: Self::P) -> Res<()> {
        let _ = desc;
        Err(internal::<Self>("no tile runtime in this back end"))
    }

    // ----- fast paths (hooks) -----
    /// The back end's own code for a whole-tensor elementwise op (a vector kernel, SIMD
    /// lanes), with the same bits as the shared element loop; `None` leaves it to the loop.
    fn fast_elementwise(&mut self, id: ValueId, op: &Op) -> Res<Option<ReprOf<Self>>> {
        let _ = (id, op);
        Ok(None)
    }
    /// `dst = a × b` for `f64` matrices `[m, k] × [k, n]` by a kernel, if the back end
    /// links one and finds it worth calling; `false` leaves it to the generated loops.
    fn matmul_kernel(
        &mut self,
        dims: [usize; 3],
        a: Self::P,
        b: Self::P,
        dst: Self::P,
    ) -> Res<bool> {
        let _ = (dims, a, b, dst);
        Ok(false)
    }
}

/// `x` as an index, where it is one exactly: integral, non-negative and below 2^52 (so
/// every such `f64` is a distinct integer).
pub(crate) fn exact_index(x: f64) -> Option<usize> {
    (x >= 0.0 && x < 2f64.powi(52) && x.fract() == 0.0).then_some(x as usize)
}

/// An internal error of back end `E`: the IR validated, so reaching it is a bug.
pub(crate) fn internal<'a, E: Emit<'a>>(what: &str) -> CodegenError {
    CodegenError::new(format!(
        "internal error in the {} back end: {what} (the IR validated, so this is a bug)",
        E::NAME
    ))
}

/// Access to the values of the function being lowered.
pub(crate) trait Env<'a>: Emit<'a> {
    /// The IR type of a value.
    fn ty(&self, v: ValueId) -> Res<&'a Type> {
        self.function()
            .values
            .get(v)
            .map(|v| &v.ty)
            .ok_or_else(|| internal::<Self>("value out of range"))
    }

    /// Elements per point of a value.
    fn len_of(&self, v: ValueId) -> Res<usize> {
        element_count(&self.ty(v)?.shape).ok_or_else(|| internal::<Self>("shape overflow"))
    }

    fn repr(&self, v: ValueId) -> Res<ReprOf<Self>> {
        self.values()
            .env
            .get(v.index())
            .cloned()
            .flatten()
            .ok_or_else(|| internal::<Self>(&format!("%{} used before it is lowered", v.index())))
    }

    fn set(&mut self, v: ValueId, r: ReprOf<Self>) {
        if let Some(slot) = self.values_mut().env.get_mut(v.index()) {
            *slot = Some(r);
        }
    }

    /// Where tensor `v` is built: the place its consumer gave it, else its planned buffer.
    fn target(&mut self, v: ValueId) -> Res<Self::P> {
        let given = self.values().targets.iter().rev().find(|(k, _)| *k == v);
        match given {
            Some((_, p)) => Ok(p.clone()),
            None => self.dest(v),
        }
    }

    /// The `i64` copy of integer literal `v`, if it has one.
    fn index_table(&self, v: ValueId) -> Option<Self::P> {
        let tables = &self.values().index_tables;
        tables.iter().find(|(k, _)| *k == v).map(|(_, p)| p.clone())
    }

    /// Element `lin` of `array` as a scalar: from its `i64` copy where it has one (the
    /// value's index form is then remembered, and its `f64` form is only a conversion the
    /// back end drops when nothing uses it), else loaded from `at[i]`, its address.
    fn element(
        &mut self,
        array: ValueId,
        lin: Ix<Self::I>,
        at: Self::P,
        i: Ix<Self::I>,
    ) -> Res<Self::F> {
        match self.index_table(array) {
            Some(table) => {
                let i = self.load_index(table, lin)?;
                self.index_value(i)
            }
            None => self.load(at, i),
        }
    }

    /// Runs `lower` with tensor `v` built at `at` (see [`Env::target`]).
    fn with_target<T>(
        &mut self,
        v: ValueId,
        at: Self::P,
        lower: impl FnOnce(&mut Self) -> Res<T>,
    ) -> Res<T> {
        self.values_mut().targets.push((v, at));
        let r = lower(self);
        self.values_mut().targets.pop();
        r
    }

    /// The scalar value of `v`.
    fn scalar(&mut self, v: ValueId) -> Res<Self::F> {
        match self.repr(v)? {
            Repr::Scalar(x) => Ok(x),
            Repr::Buf(p) => self.load(p, Ix::C(0)),
            Repr::Batch { .. } => Err(internal::<Self>("batched value used as a scalar")),
        }
    }

    /// The address of the elements of unbatched tensor `v`.
    fn buf(&self, v: ValueId) -> Res<Self::P> {
        match self.repr(v)? {
            Repr::Buf(p) => Ok(p),
            _ => Err(internal::<Self>("expected a tensor")),
        }
    }

    /// The index form of `x`, if it is a loop counter.
    fn int_of(&self, x: &Self::F) -> Option<Self::I> {
        self.values().int_of.get(x).cloned()
    }

    /// Remembers `i` as the index form of `x`.
    fn remember_index(&mut self, x: Self::F, i: Self::I) {
        self.values_mut().int_of.insert(x, i);
    }

    /// An index as an `f64` value (block arguments of `tabulate`/`fold`), remembering its
    /// index form.
    fn index_value(&mut self, i: Self::I) -> Res<Self::F> {
        let x = self.index_to_f64(i.clone())?;
        self.values_mut().int_of.insert(x.clone(), i);
        Ok(x)
    }

    // ----- loops -----

    /// Runs `body` for `i` in `0..n`: unrolled with constant indices when `n` is at most
    /// [`Emit::UNROLL`], else as a loop.
    fn each(&mut self, n: usize, body: &mut EachBody<'_, Self>) -> Res<()> {
        if n <= Self::UNROLL {
            for i in 0..n {
                body(self, Ix::C(i))?;
            }
            Ok(())
        } else {
            self.repeat(Ix::C(n), &mut |s, i| body(s, Ix::V(i)))
        }
    }

    /// Threads values `init` through `body` for `i` in `0..n`: unrolled with constant
    /// indices when `n` is at most [`Emit::UNROLL`], else as a loop carrying them.
    fn fold_each(
        &mut self,
        n: usize,
        init: Vec<Self::F>,
        body: &mut FoldBody<'_, Self>,
    ) -> Res<Vec<Self::F>> {
        if n <= Self::UNROLL {
            let mut acc = init;
            for i in 0..n {
                acc = body(self, Ix::C(i), acc)?;
            }
            Ok(acc)
        } else {
            self.for_loop(Ix::C(0), Ix::C(n), init, &mut |s, i, acc| {
                body(s, Ix::V(i), acc)
            })
        }
    }

    /// A loop over `i` in `0..n` with no carried values; the body is emitted once.
    fn repeat(
        &mut self,
        n: Ix<Self::I>,
        body: &mut dyn FnMut(&mut Self, Self::I) -> Res<()>,
    ) -> Res<()> {
        if matches!(n, Ix::C(0)) {
            return Ok(());
        }
        self.for_loop(Ix::C(0), n, Vec::new(), &mut |s, i, _| {
            body(s, i)?;
            Ok(Vec::new())
        })?;
        Ok(())
    }

    /// Nested loops over `extents` (outermost first); `body` gets the counters.
    fn nest(
        &mut self,
        extents: &[usize],
        idx: &mut Vec<Self::I>,
        body: &mut NestBody<'_, Self>,
    ) -> Res<()> {
        match extents.split_first() {
            None => body(self, idx),
            Some((&e, rest)) => self.repeat(Ix::C(e), &mut |s, i| {
                idx.push(i);
                s.nest(rest, idx, body)?;
                idx.pop();
                Ok(())
            }),
        }
    }

    /// The row-major linear index of `idx` in `extents`.
    fn linear(&mut self, extents: &[usize], idx: &[Self::I]) -> Res<Ix<Self::I>> {
        let mut lin = Ix::C(0);
        for (&e, i) in extents.iter().zip(idx) {
            lin = match lin {
                Ix::C(0) => Ix::V(i.clone()),
                Ix::C(c) => {
                    let base = self.ic(c * e)?;
                    Ix::V(self.iadd(base, i.clone())?)
                }
                Ix::V(v) => {
                    let scaled = self.imul(v, e)?;
                    Ix::V(self.iadd(scaled, i.clone())?)
                }
            };
        }
        Ok(lin)
    }

    /// `a + b` on indices.
    fn ix_add(&mut self, a: Ix<Self::I>, b: Ix<Self::I>) -> Res<Ix<Self::I>> {
        Ok(match (a, b) {
            (Ix::C(x), Ix::C(y)) => Ix::C(x + y),
            (Ix::C(0), v) | (v, Ix::C(0)) => v,
            (Ix::C(x), Ix::V(v)) | (Ix::V(v), Ix::C(x)) => {
                let c = self.ic(x)?;
                Ix::V(self.iadd(v, c)?)
            }
            (Ix::V(x), Ix::V(y)) => Ix::V(self.iadd(x, y)?),
        })
    }

    /// `a * c` on indices.
    fn ix_mul(&mut self, a: Ix<Self::I>, c: usize) -> Res<Ix<Self::I>> {
        Ok(match a {
            Ix::C(x) => Ix::C(x * c),
            Ix::V(v) if c == 1 => Ix::V(v),
            Ix::V(v) => Ix::V(self.imul(v, c)?),
        })
    }

    /// An index as a value.
    fn ix_value(&mut self, i: Ix<Self::I>) -> Res<Self::I> {
        match i {
            Ix::C(c) => self.ic(c),
            Ix::V(v) => Ok(v),
        }
    }

    // ----- memory -----

    /// Copies `len` elements from `src` to `dst`.
    fn copy(&mut self, src: Self::P, dst: Self::P, len: usize) -> Res<()> {
        self.each(len, &mut |s, i| {
            let x = s.load(src.clone(), i.clone())?;
            s.store(dst.clone(), i, x)
        })
    }

    /// Writes `r` (a scalar or a tensor of `len` elements) at `dst`.
    fn store_repr(&mut self, r: ReprOf<Self>, dst: Self::P, len: usize) -> Res<()> {
        match r {
            Repr::Scalar(x) => self.store(dst, Ix::C(0), x),
            Repr::Buf(p) => self.copy(p, dst, len),
            Repr::Batch { .. } => Err(internal::<Self>("a batched value inside a block")),
        }
    }

    /// `x` rounded to `dtype` (through `f32` for `f32`; other dtypes are exact).
    fn round(&mut self, x: Self::F, dtype: sci_ir::DType) -> Res<Self::F> {
        if dtype == sci_ir::DType::F32 {
            self.round_f32(x)
        } else {
            Ok(x)
        }
    }
}

impl<'a, E: Emit<'a>> Env<'a> for E {}
