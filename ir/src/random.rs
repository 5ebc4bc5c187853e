//! A deterministic generator of random, valid IR programs and inputs for them.
//!
//! Used by property tests (validate/print/read round trips, the interpreter never panics)
//! and by differential tests of back ends against the interpreter. The same seed and
//! options always give the same module. Arguments of `log`, `sqrt`, `asin`, `pow`, `div`
//! and friends are guarded (`abs(x) + 1`, `tanh(x)`) so that most programs compute finite
//! numbers on the inputs of [`random_inputs`]; NaN and infinities can still appear.

use crate::builder::FunctionBuilder;
use crate::interp::Tensor;
use crate::module::{FuncId, Module, ValueId};
use crate::op::{BinaryOp, CmpOp, Op, ReduceOp, UnaryOp};
use crate::types::{DType, Type, element_count};
use crate::unit::{Rational, Unit};

/// What the generator may produce.
#[derive(Clone, Debug)]
pub struct RandomOptions {
    /// Roughly how many ops the top-level block gets.
    pub ops: usize,
    /// Deepest nesting of `tabulate`/`fold`/`map` blocks.
    pub max_depth: usize,
    /// Largest extent of a `tabulate` or `fold` axis.
    pub max_extent: usize,
    /// Generate batched inputs, `map` and `reduce_batch`.
    pub batch: bool,
    /// Generate a helper function and calls to it.
    pub calls: bool,
    /// Attach random names and units to values (exercises the printer).
    pub decorate: bool,
}

impl Default for RandomOptions {
    fn default() -> RandomOptions {
        RandomOptions {
            ops: 24,
            max_depth: 2,
            max_extent: 4,
            batch: true,
            calls: true,
            decorate: true,
        }
    }
}

/// The splitmix64 generator: tiny, fast, and good enough for test programs.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform(0.0, 1.0) < p
    }

    /// A random element of a non-empty slice.
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// A module with a function `f` (and, with `options.calls`, a helper `g` that `f` calls)
/// built from random ops. The module validates.
pub fn random_function(seed: u64, options: &RandomOptions) -> Module {
    let mut rng = SplitMix64::new(seed);
    let mut m = Module::new(format!("random{seed}"));
    let helper = if options.calls {
        let small = RandomOptions {
            ops: options.ops / 3 + 1,
            batch: false,
            calls: false,
            ..options.clone()
        };
        let inputs = random_inputs_types(&mut rng, &small);
        let g = Gen::new(&mut rng, &small, &m, None).build("g", inputs);
        Some(m.functions.push(g))
    } else {
        None
    };
    let inputs = random_inputs_types(&mut rng, options);
    let f = Gen::new(&mut rng, options, &m, helper).build("f", inputs);
    m.functions.push(f);
    if options.decorate && rng.chance(0.5) {
        m.params.push(
            "θ",
            vec![2],
            Some(Unit::base(2).powr(Rational::int(-1)).unwrap_or_default()),
            vec![0.5, 1.5],
        );
        m.params.push("w", vec![2, 2], None, Vec::new());
    }
    m
}

/// Random inputs for `func` of `module`: f64 values in [-2, 2], i64 in 0..4, bools, and
/// 1 to 4 points for batched inputs (the same number for all of them).
pub fn random_inputs(module: &Module, func: FuncId, seed: u64) -> Vec<Tensor> {
    let mut rng = SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_5EED);
    let Some(f) = module.functions.get(func) else {
        return Vec::new();
    };
    let points = 1 + rng.below(4);
    (0..f.inputs().len())
        .filter_map(|k| f.input_type(k))
        .map(|ty| {
            let n = element_count(&ty.shape).unwrap_or(0) * if ty.batched { points } else { 1 };
            let data = (0..n)
                .map(|_| match ty.dtype {
                    DType::F64 | DType::F32 => {
                        let x = rng.uniform(-2.0, 2.0);
                        if ty.dtype == DType::F32 {
                            x as f32 as f64
                        } else {
                            x
                        }
                    }
                    DType::I64 => rng.below(4) as f64,
                    DType::Bool => rng.below(2) as f64,
                })
                .collect();
            Tensor {
                shape: ty.shape.clone(),
                batch: ty.batched.then_some(points),
                data,
            }
        })
        .collect()
}

const SHAPES: [&[usize]; 5] = [&[], &[], &[2], &[3], &[2, 3]];

fn random_inputs_types(rng: &mut SplitMix64, options: &RandomOptions) -> Vec<Type> {
    let n = 1 + rng.below(3);
    let mut types: Vec<Type> = (0..n)
        .map(|_| Type::f64(rng.choose(&SHAPES).copied().unwrap_or(&[]).to_vec()))
        .collect();
    if options.batch && rng.chance(0.6) {
        let shape = if rng.chance(0.5) { vec![] } else { vec![2] };
        types.push(Type::f64(shape).batched());
    }
    types
}

/// A value the generator may use, with its type.
#[derive(Clone)]
struct Entry {
    id: ValueId,
    ty: Type,
}

struct Gen<'a> {
    rng: &'a mut SplitMix64,
    options: &'a RandomOptions,
    module: &'a Module,
    helper: Option<FuncId>,
    b: FunctionBuilder,
    /// Visible values per open block, innermost last.
    scopes: Vec<Vec<Entry>>,
    /// How many blocks are open around the current step.
    depth: usize,
}

const NAMES: [&str; 6] = ["x", "y", "θ", "tmp", "u_xx", "12"];

impl<'a> Gen<'a> {
    fn new(
        rng: &'a mut SplitMix64,
        options: &'a RandomOptions,
        module: &'a Module,
        helper: Option<FuncId>,
    ) -> Gen<'a> {
        Gen {
            rng,
            options,
            module,
            helper,
            b: FunctionBuilder::new("", Vec::new()),
            scopes: Vec::new(),
            depth: 0,
        }
    }

    fn build(mut self, name: &str, inputs: Vec<Type>) -> crate::module::Function {
        let named: Vec<(String, Type)> = inputs
            .iter()
            .enumerate()
            .map(|(k, t)| (format!("in{k}"), t.clone()))
            .collect();
        self.b = FunctionBuilder::new(name, named);
        let top: Vec<Entry> = inputs
            .iter()
            .enumerate()
            .filter_map(|(k, ty)| self.b.input(k).map(|id| Entry { id, ty: ty.clone() }))
            .collect();
        self.scopes.push(top);
        for _ in 0..self.options.ops {
            self.step();
        }
        let result = self.result_value();
        let b = std::mem::replace(&mut self.b, FunctionBuilder::new("", Vec::new()));
        b.finish(result)
    }

    /// The last plain f64 value of the innermost scope, else a new constant.
    fn result_value(&mut self) -> ValueId {
        let last = self
            .scopes
            .last()
            .and_then(|s| s.iter().rev().find(|e| !e.ty.batched || self.depth == 0))
            .map(|e| e.id);
        match last {
            Some(id) => id,
            None => self.constant(),
        }
    }

    fn decorate(&mut self, mut ty: Type) -> (Type, Option<String>) {
        if !self.options.decorate {
            return (ty, None);
        }
        if self.rng.chance(0.2) {
            let units = [
                Unit::base(0),
                Unit::base(2).powr(Rational::int(-1)).unwrap_or_default(),
                Unit::base(1).scaled(1e-3),
                Unit::DIMENSIONLESS,
                Unit::base(0)
                    .powr(Rational { num: 1, den: 2 })
                    .unwrap_or_default(),
            ];
            ty.unit = self.rng.choose(&units).copied();
        }
        let name = if self.rng.chance(0.3) {
            self.rng.choose(&NAMES).map(|s| s.to_string())
        } else {
            None
        };
        (ty, name)
    }

    fn push(&mut self, op: Op, ty: Type) -> ValueId {
        let (decorated, name) = self.decorate(ty.clone());
        let id = match name {
            Some(n) => self.b.push_named(op, decorated, n),
            None => self.b.push(op, decorated),
        };
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(Entry { id, ty });
        }
        id
    }

    /// A visible plain (unbatched) f64 value satisfying `pred`.
    fn pick(&mut self, pred: impl Fn(&Type) -> bool) -> Option<Entry> {
        let candidates: Vec<Entry> = self
            .scopes
            .iter()
            .flatten()
            .filter(|e| !e.ty.batched && e.ty.dtype == DType::F64 && pred(&e.ty))
            .cloned()
            .collect();
        self.rng.choose(&candidates).cloned()
    }

    fn any_f64(&mut self) -> Entry {
        match self.pick(|_| true) {
            Some(e) => e,
            None => {
                let id = self.constant();
                Entry {
                    id,
                    ty: Type::scalar(),
                }
            }
        }
    }

    fn constant(&mut self) -> ValueId {
        let x = (self.rng.uniform(-2.0, 2.0) * 8.0).round() / 8.0;
        self.push(Op::Const(x), Type::scalar())
    }

    fn index_const(&mut self, i: usize) -> ValueId {
        self.push(Op::Const(i as f64), Type::index())
    }

    fn unary(&mut self, op: UnaryOp, a: &Entry) -> Entry {
        let id = self.push(Op::Unary(op, a.id), a.ty.clone());
        Entry {
            id,
            ty: a.ty.clone(),
        }
    }

    fn binary(&mut self, op: BinaryOp, a: &Entry, b: ValueId) -> Entry {
        let id = self.push(Op::Binary(op, a.id, b), a.ty.clone());
        Entry {
            id,
            ty: a.ty.clone(),
        }
    }

    /// A value of `a`'s shape filled with `x`.
    fn filled(&mut self, a: &Entry, x: f64) -> ValueId {
        let c = self.push(Op::Const(x), Type::scalar());
        if a.ty.shape.is_empty() {
            c
        } else {
            self.push(Op::Broadcast(c), Type::f64(a.ty.shape.clone()))
        }
    }

    /// `abs(a) + 1`, positive and at least 1.
    fn positive(&mut self, a: &Entry) -> Entry {
        let abs = self.unary(UnaryOp::Abs, a);
        let one = self.filled(a, 1.0);
        self.binary(BinaryOp::Add, &abs, one)
    }

    /// Another value of `a`'s shape (or `a` itself).
    fn partner(&mut self, a: &Entry) -> ValueId {
        let shape = a.ty.shape.clone();
        self.pick(|t| t.shape == shape)
            .map(|e| e.id)
            .unwrap_or(a.id)
    }

    fn step(&mut self) {
        let choice = self.rng.below(22);
        match choice {
            0 => {
                self.constant();
            }
            1 => {
                let n = 1 + self.rng.below(4);
                let xs: Vec<f64> = (0..n).map(|_| self.rng.uniform(-2.0, 2.0)).collect();
                self.push(Op::Literal(xs), Type::f64(vec![n]));
            }
            2 | 3 => self.random_unary(),
            4 | 5 => {
                let ops = [
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Min,
                    BinaryOp::Max,
                    BinaryOp::Atan2,
                ];
                let op = self.rng.choose(&ops).copied().unwrap_or(BinaryOp::Add);
                let a = self.any_f64();
                let b = self.partner(&a);
                self.binary(op, &a, b);
            }
            6 => {
                let a = self.any_f64();
                let b = self.partner(&a);
                let b = Entry {
                    id: b,
                    ty: a.ty.clone(),
                };
                let d = self.positive(&b);
                self.binary(BinaryOp::Div, &a, d.id);
            }
            7 => {
                let a = self.any_f64();
                let base = self.positive(&a);
                let e = self.any_f64_of(&a.ty.shape);
                let t = self.unary(UnaryOp::Tanh, &e);
                self.binary(BinaryOp::Pow, &base, t.id);
            }
            8 => {
                let a = self.any_f64();
                let n = self.rng.below(7) as i32 - 3;
                let base = if n < 0 { self.positive(&a) } else { a };
                self.push(Op::Powi(base.id, n), base.ty.clone());
            }
            9 => {
                let a = self.any_f64();
                let b = self.partner(&a);
                let op = self.rng.choose(&CmpOp::ALL).copied().unwrap_or(CmpOp::Lt);
                let c = self.push(Op::Compare(op, a.id, b), Type::boolean(a.ty.shape.clone()));
                let c = if self.rng.chance(0.3) {
                    self.push(
                        Op::Unary(UnaryOp::Not, c),
                        Type::boolean(a.ty.shape.clone()),
                    )
                } else {
                    c
                };
                self.push(Op::Select(c, a.id, b), a.ty.clone());
            }
            10 => self.random_broadcast(),
            11 => {
                let a = self.any_f64();
                let op = self
                    .rng
                    .choose(&ReduceOp::ALL)
                    .copied()
                    .unwrap_or(ReduceOp::Sum);
                self.push(Op::Reduce(op, a.id), Type::scalar());
            }
            12 => self.random_index(),
            13 => self.random_shape_op(),
            14 => self.random_linear_algebra(),
            15 | 16 => self.random_tabulate(),
            17 => self.random_fold(),
            18 | 19 => self.random_batch(),
            20 => self.random_call(),
            _ => {
                let a = self.any_f64();
                let dtype = if self.rng.chance(0.5) {
                    DType::F32
                } else {
                    DType::I64
                };
                let c = self.push(Op::Cast(a.id), Type::tensor(dtype, a.ty.shape.clone()));
                self.push(Op::Cast(c), a.ty.clone());
            }
        }
    }

    fn any_f64_of(&mut self, shape: &[usize]) -> Entry {
        let want = shape.to_vec();
        match self.pick(|t| t.shape == want) {
            Some(e) => e,
            None => {
                let c = self.constant();
                let id = if want.is_empty() {
                    c
                } else {
                    self.push(Op::Broadcast(c), Type::f64(want.clone()))
                };
                Entry {
                    id,
                    ty: Type::f64(want),
                }
            }
        }
    }

    fn random_unary(&mut self) {
        let a = self.any_f64();
        let op = match self.rng.below(17) {
            0 => UnaryOp::Neg,
            1 => UnaryOp::Abs,
            2 => UnaryOp::Sqrt,
            3 => UnaryOp::Exp,
            4 => UnaryOp::Log,
            5 => UnaryOp::Sin,
            6 => UnaryOp::Cos,
            7 => UnaryOp::Tan,
            8 => UnaryOp::Asin,
            9 => UnaryOp::Acos,
            10 => UnaryOp::Atan,
            11 => UnaryOp::Sinh,
            12 => UnaryOp::Cosh,
            13 => UnaryOp::Tanh,
            14 => UnaryOp::Erf,
            15 => UnaryOp::Floor,
            _ => {
                if self.rng.chance(0.5) {
                    if self.rng.chance(0.5) {
                        UnaryOp::Sigmoid
                    } else {
                        UnaryOp::Softplus
                    }
                } else if self.rng.chance(0.5) {
                    UnaryOp::Gelu
                } else {
                    UnaryOp::Dgelu
                }
            }
        };
        // Guard the domains: positive for sqrt/log, (-1, 1) for asin/acos, bounded for the
        // fast-growing ones, away from the poles of tan.
        let arg = match op {
            UnaryOp::Sqrt | UnaryOp::Log => self.positive(&a),
            UnaryOp::Asin
            | UnaryOp::Acos
            | UnaryOp::Exp
            | UnaryOp::Sinh
            | UnaryOp::Cosh
            | UnaryOp::Tan => self.unary(UnaryOp::Tanh, &a),
            _ => a,
        };
        self.unary(op, &arg);
    }

    fn random_broadcast(&mut self) {
        let a = self.any_f64();
        let target = match a.ty.shape[..] {
            [] => vec![1 + self.rng.below(3)],
            [n] => vec![1 + self.rng.below(3), n],
            _ => {
                let mut s = vec![2];
                s.extend(a.ty.shape.iter().copied());
                s
            }
        };
        self.push(Op::Broadcast(a.id), Type::f64(target));
    }

    fn random_index(&mut self) {
        let Some(a) = self.pick(|t| !t.shape.is_empty()) else {
            self.constant();
            return;
        };
        let n = a.ty.shape.first().copied().unwrap_or(1);
        let fill = self.rng.chance(0.5);
        let i = if fill {
            self.rng.below(n + 2)
        } else {
            self.rng.below(n)
        };
        let i = self.index_const(i);
        let rest = a.ty.shape.get(1..).unwrap_or(&[]).to_vec();
        self.push(
            Op::Index {
                array: a.id,
                indices: vec![i],
                fill: fill.then_some(0.0),
            },
            Type::f64(rest),
        );
    }

    fn random_shape_op(&mut self) {
        match self.rng.below(4) {
            0 => {
                let Some(a) = self.pick(|t| !t.shape.is_empty()) else {
                    return;
                };
                let n = a.ty.shape.first().copied().unwrap_or(0);
                let start = self.rng.below(n);
                let len = self.rng.below(n - start) + 1;
                let mut shape = vec![len];
                shape.extend(a.ty.shape.iter().skip(1));
                self.push(
                    Op::Slice {
                        array: a.id,
                        start,
                        len,
                    },
                    Type::f64(shape),
                );
            }
            1 => {
                let parts: Vec<Entry> = (0..2 + self.rng.below(2))
                    .filter_map(|_| self.pick(|t| t.shape.len() <= 1))
                    .collect();
                if parts.is_empty() {
                    return;
                }
                let total: usize = parts
                    .iter()
                    .map(|p| p.ty.shape.first().copied().unwrap_or(1))
                    .sum();
                self.push(
                    Op::Concat(parts.iter().map(|p| p.id).collect()),
                    Type::f64(vec![total]),
                );
            }
            2 => {
                let a = self.any_f64();
                let n = a.ty.element_count().unwrap_or(1);
                let shape = if self.rng.chance(0.5) {
                    vec![n, 1]
                } else {
                    vec![1, n]
                };
                self.push(Op::Reshape(a.id), Type::f64(shape));
            }
            _ => {
                let Some(a) = self.pick(|t| t.shape.len() == 2) else {
                    return;
                };
                let shape = vec![a.ty.shape[1], a.ty.shape[0]];
                self.push(Op::Transpose(a.id), Type::f64(shape));
            }
        }
    }

    fn random_linear_algebra(&mut self) {
        match self.rng.below(4) {
            0 => {
                let Some(a) = self.pick(|t| t.shape.len() == 1) else {
                    return;
                };
                let b = self.partner(&a);
                self.push(Op::Dot(a.id, b), Type::scalar());
            }
            1 => {
                let Some(a) = self.pick(|t| t.shape.len() == 2) else {
                    return;
                };
                let (m, n) = (a.ty.shape[0], a.ty.shape[1]);
                let v = self.any_f64_of(&[n]);
                self.push(Op::MatVec(a.id, v.id), Type::f64(vec![m]));
            }
            2 => {
                let Some(a) = self.pick(|t| t.shape.len() == 2) else {
                    return;
                };
                let (m, n) = (a.ty.shape[0], a.ty.shape[1]);
                let t = self.push(Op::Transpose(a.id), Type::f64(vec![n, m]));
                self.push(Op::MatMul(a.id, t), Type::f64(vec![m, m]));
            }
            _ => {
                // A batch of two products: the matrix's halves, each times its transpose.
                let Some(a) = self.pick(|t| t.shape.len() == 2 && t.shape[0] % 2 == 0) else {
                    return;
                };
                let (m, n) = (a.ty.shape[0] / 2, a.ty.shape[1]);
                let x = self.push(Op::Reshape(a.id), Type::f64(vec![2, m, n]));
                let t = self.push(Op::Transpose(x), Type::f64(vec![2, n, m]));
                self.push(Op::MatMul(x, t), Type::f64(vec![2, m, m]));
            }
        }
    }

    /// A few random ops inside an open block, then the block's result.
    fn block_body(&mut self, index_args: &[ValueId]) -> ValueId {
        // Use the index arguments: as numbers, and to read outer arrays.
        let mut last = None;
        for &i in index_args {
            let x = self.push(Op::Cast(i), Type::scalar());
            last = Some(x);
            if let Some(a) = self.pick(|t| t.shape.len() == 1) {
                let v = self.push(
                    Op::Index {
                        array: a.id,
                        indices: vec![i],
                        fill: Some(0.0),
                    },
                    Type::scalar(),
                );
                let e = Entry {
                    id: x,
                    ty: Type::scalar(),
                };
                last = Some(self.binary(BinaryOp::Add, &e, v).id);
            }
        }
        self.depth += 1;
        for _ in 0..1 + self.rng.below(4) {
            self.step();
        }
        self.depth -= 1;
        let result = self
            .scopes
            .last()
            .and_then(|s| {
                s.iter()
                    .rev()
                    .find(|e| e.ty.dtype == DType::F64 && !e.ty.batched)
            })
            .map(|e| e.id);
        match result.or(last) {
            Some(r) => r,
            None => self.constant(),
        }
    }

    fn result_type(&self, id: ValueId) -> Type {
        self.b
            .ty(id)
            .map(|t| t.clone().with_unit(None))
            .unwrap_or_else(Type::scalar)
    }

    fn random_tabulate(&mut self) {
        if self.depth >= self.options.max_depth {
            return;
        }
        let dims = 1 + self.rng.below(2);
        let extents: Vec<usize> = (0..dims)
            .map(|_| 1 + self.rng.below(self.options.max_extent.max(1)))
            .collect();
        let args = self.b.begin_block(
            extents
                .iter()
                .map(|_| (Some("i".to_string()), Type::index()))
                .collect(),
        );
        self.scopes.push(Vec::new());
        let r = self.block_body(&args);
        self.scopes.pop();
        let rt = self.result_type(r);
        let body = self.b.end_block(r);
        let mut shape = extents.clone();
        shape.extend(rt.shape);
        self.push(Op::Tabulate { extents, body }, Type::f64(shape));
    }

    fn random_fold(&mut self) {
        if self.depth >= self.options.max_depth {
            return;
        }
        let extent = 1 + self.rng.below(self.options.max_extent.max(1));
        let op = self
            .rng
            .choose(&ReduceOp::ALL)
            .copied()
            .unwrap_or(ReduceOp::Sum);
        let args = self
            .b
            .begin_block(vec![(Some("k".to_string()), Type::index())]);
        self.scopes.push(Vec::new());
        let r = self.block_body(&args);
        self.scopes.pop();
        let rt = self.result_type(r);
        let body = self.b.end_block(r);
        self.push(Op::Fold { op, extent, body }, Type::f64(rt.shape));
    }

    fn batched(&self) -> Vec<Entry> {
        self.scopes
            .first()
            .map(|s| s.iter().filter(|e| e.ty.batched).cloned().collect())
            .unwrap_or_default()
    }

    fn random_batch(&mut self) {
        if !self.options.batch || self.depth > 0 || self.scopes.len() > 1 {
            return;
        }
        let batched = self.batched();
        let Some(input) = self.rng.choose(&batched).cloned() else {
            return;
        };
        if self.rng.chance(0.4) {
            let op = self
                .rng
                .choose(&ReduceOp::ALL)
                .copied()
                .unwrap_or(ReduceOp::Sum);
            self.push(Op::ReduceBatch(op, input.id), input.ty.per_point());
            return;
        }
        let mut inputs = vec![input.clone()];
        if let Some(other) = self.rng.choose(&batched).cloned()
            && self.rng.chance(0.5)
        {
            inputs.push(other);
        }
        let args = self.b.begin_block(
            inputs
                .iter()
                .map(|e| (Some("p".to_string()), e.ty.per_point()))
                .collect(),
        );
        self.scopes.push(
            args.iter()
                .zip(&inputs)
                .map(|(&id, e)| Entry {
                    id,
                    ty: e.ty.per_point(),
                })
                .collect(),
        );
        self.depth += 1;
        for _ in 0..1 + self.rng.below(4) {
            self.step();
        }
        self.depth -= 1;
        let r = self
            .scopes
            .last()
            .and_then(|s| s.iter().rev().find(|e| e.ty.dtype == DType::F64))
            .map(|e| e.id)
            .or_else(|| args.first().copied());
        self.scopes.pop();
        let Some(r) = r else {
            return;
        };
        let rt = self.result_type(r);
        let body = self.b.end_block(r);
        self.push(
            Op::Map {
                inputs: inputs.iter().map(|e| e.id).collect(),
                body,
            },
            rt.batched(),
        );
    }

    fn random_call(&mut self) {
        let Some(g) = self.helper else {
            return;
        };
        let Some(callee) = self.module.functions.get(g) else {
            return;
        };
        let types: Vec<Type> = (0..callee.inputs().len())
            .filter_map(|k| callee.input_type(k).cloned())
            .collect();
        let result = callee.result_type().cloned().unwrap_or_else(Type::scalar);
        let mut args = Vec::new();
        for t in &types {
            let id = if t.batched {
                match self.batched().into_iter().find(|e| e.ty.same_layout(t)) {
                    Some(e) if self.depth == 0 => e.id,
                    _ => return,
                }
            } else {
                self.any_f64_of(&t.shape).id
            };
            args.push(id);
        }
        if result.batched && self.depth > 0 {
            return;
        }
        self.push(Op::Call { func: g, args }, result.with_unit(None));
    }
}
