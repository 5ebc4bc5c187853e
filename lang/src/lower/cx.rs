//! The state of lowering one function: the IR builder, what each kind of HIR leaf stands
//! for in this function, and the caches that make every definition computed once.
//!
//! Caching is scoped like the IR: a value computed inside a block (a `tabulate`, `fold` or
//! `map` body) is forgotten when the block closes, because it is not visible outside it.
//! Definitions that do not depend on the current point are computed at the top of the
//! function before any block opens ([`FnCx::prepare`]), so they are computed once.

use super::params::Theta;
use super::walk::{PointDependence, Refs};
use super::{Res, diag};
use crate::hir::{
    BatchKind, BinderId, CircuitId, DataId, FnInstanceId, HExpr, LetId, ModelHir, NetId,
    ObservableId, OutputId, ParamId, Program, ResidualId, Scalar, StateId, Ty,
};
use sci_diag::Span;
use sci_ir::{Block, DType, FuncId, Function, FunctionBuilder, Layout, Op, Type, ValueId};
use std::collections::{HashMap, HashSet};

/// How deeply expressions may nest (counting definitions reached through references).
/// Each level costs a few stack frames; this keeps lowering well inside a 2 MB stack. It
/// sits above the parser's limit (plus room for the few levels the checker adds when it
/// desugars `laplacian` and friends), so every expression the parser accepts lowers.
pub(super) const MAX_DEPTH: usize = crate::parser::MAX_EXPR_DEPTH + 64;

/// A cached quantity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Param(ParamId),
    State(StateId),
    Let(LetId),
    Output(OutputId),
    Der(StateId),
    Residual(ResidualId),
    StateAt(StateId, DataId),
    Net(NetId, Vec<ValueId>),
    Call(FnInstanceId, Vec<ValueId>),
}

/// The per-point arguments of the `map` whose body is being built.
#[derive(Clone, Debug)]
pub(super) enum Point {
    Residual {
        id: ResidualId,
        coords: Vec<ValueId>,
    },
    Data {
        id: DataId,
        row: ValueId,
        traj: Option<ValueId>,
    },
}

/// What the function's inputs are.
#[derive(Clone, Debug, Default)]
pub(super) struct Inputs {
    pub theta: Option<ValueId>,
    pub time: Option<ValueId>,
    pub y: Option<ValueId>,
    /// The parameters of a `fn` instance.
    pub locals: Vec<ValueId>,
    /// The batched inputs of each batch a loss maps over.
    pub batches: HashMap<BatchKind, Vec<ValueId>>,
    /// The loss's expectation-value inputs, per `(circuit, observable)`.
    pub expvals: HashMap<(CircuitId, ObservableId), ValueId>,
}

/// The functions of the module that calls can target.
#[derive(Clone, Debug, Default)]
pub(super) struct Callees {
    pub fns: HashMap<FnInstanceId, FuncId>,
    /// By `NetId` (`None` for an operator).
    pub nets: Vec<Option<FuncId>>,
    /// An operator's function per `(NetId index, grid shape)`.
    pub operators: HashMap<(usize, Vec<usize>), FuncId>,
}

/// What is shared by every function of one module.
pub(super) struct Statics<'a> {
    pub program: &'a Program,
    pub model: Option<&'a ModelHir>,
    pub theta: &'a Theta,
    pub states: &'a Layout,
    pub callees: &'a Callees,
    pub pd: PointDependence,
    /// Where to report problems that have no better place.
    pub span: Span,
}

/// Lowering state of one function.
pub(super) struct FnCx<'s, 'a> {
    b: FunctionBuilder,
    pub st: &'s Statics<'a>,
    pub inputs: Inputs,
    pub point: Option<Point>,
    /// Human-readable description of the function, for diagnostics ("the initial values").
    pub context: &'static str,
    binders: HashMap<BinderId, ValueId>,
    scopes: Vec<HashMap<Key, ValueId>>,
    in_progress: HashSet<Key>,
    names: HashSet<String>,
    pub(super) depth: usize,
}

/// The IR type of an HIR type, per point (lowering never builds batched values except
/// function inputs and `map` results).
pub(super) fn ir_type(ty: &Ty) -> Type {
    let dtype = match ty.scalar {
        Scalar::Real => DType::F64,
        Scalar::Int => DType::I64,
        Scalar::Bool => DType::Bool,
    };
    Type::tensor(dtype, ty.shape.clone()).with_unit(if dtype == DType::F64 {
        ty.unit
    } else {
        None
    })
}

impl<'s, 'a> FnCx<'s, 'a> {
    /// Starts a function with named inputs.
    pub fn new(
        st: &'s Statics<'a>,
        name: &str,
        context: &'static str,
        inputs: Vec<(String, Type)>,
    ) -> FnCx<'s, 'a> {
        let mut names = HashSet::new();
        let inputs: Vec<(String, Type)> = inputs
            .into_iter()
            .map(|(n, t)| (fresh_name(&mut names, &n), t))
            .collect();
        FnCx {
            b: FunctionBuilder::new(name, inputs),
            st,
            inputs: Inputs::default(),
            point: None,
            context,
            binders: HashMap::new(),
            scopes: vec![HashMap::new()],
            in_progress: HashSet::new(),
            names,
            depth: 0,
        }
    }

    /// Input `k` of the function.
    pub fn input(&self, k: usize) -> Res<ValueId> {
        self.b
            .input(k)
            .ok_or_else(|| diag::internal(self.st.span, format!("missing function input {k}")))
    }

    /// Appends a value; `name` (made unique in the function) is what the printer shows.
    pub fn push(&mut self, op: Op, ty: Type, name: Option<&str>) -> ValueId {
        match name {
            Some(n) => {
                let n = fresh_name(&mut self.names, n);
                self.b.push_named(op, ty, n)
            }
            None => self.b.push(op, ty),
        }
    }

    /// The type of a value built so far.
    pub fn ty(&self, v: ValueId) -> Res<Type> {
        self.b
            .ty(v)
            .cloned()
            .ok_or_else(|| diag::internal(self.st.span, "a value was used before it was built"))
    }

    /// Opens a block (a `tabulate`, `fold` or `map` body) and a cache scope for it.
    pub fn begin_block(&mut self, args: Vec<(Option<String>, Type)>) -> Vec<ValueId> {
        let args = args
            .into_iter()
            .map(|(n, t)| (n.map(|n| fresh_name(&mut self.names, &n)), t))
            .collect();
        self.scopes.push(HashMap::new());
        self.b.begin_block(args)
    }

    /// Closes the innermost block and forgets what was cached inside it.
    pub fn end_block(&mut self, result: ValueId) -> Block {
        if self.scopes.len() > 1 {
            self.scopes.pop();
        }
        self.b.end_block(result)
    }

    /// Makes an index variable stand for `value` while its block is built.
    pub fn bind(&mut self, id: BinderId, value: ValueId) {
        self.binders.insert(id, value);
    }

    /// Forgets an index variable when its block closes.
    pub fn unbind(&mut self, id: BinderId) {
        self.binders.remove(&id);
    }

    /// The value an index variable stands for.
    pub fn binder(&self, id: BinderId) -> Option<ValueId> {
        self.binders.get(&id).copied()
    }

    /// A cached value visible from the current block.
    pub fn lookup(&self, key: &Key) -> Option<ValueId> {
        self.scopes.iter().rev().find_map(|s| s.get(key).copied())
    }

    /// Caches a value in the current block's scope.
    pub fn remember(&mut self, key: Key, v: ValueId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(key, v);
        }
    }

    /// Marks `key` as being computed; `false` if it already is (a definition that refers
    /// to itself).
    pub fn start(&mut self, key: &Key) -> bool {
        self.in_progress.insert(key.clone())
    }

    /// Ends [`FnCx::start`].
    pub fn done(&mut self, key: &Key) {
        self.in_progress.remove(key);
    }

    /// The finished function.
    pub fn finish(self, result: ValueId) -> Function {
        self.b.finish(result)
    }

    /// Computes, at the current (top) level, every definition that `roots` use and that does
    /// not depend on the current point, in declaration order, so each is computed once and
    /// is visible in every block built later. Definitions that depend on the point are
    /// computed where they are used.
    pub fn prepare(&mut self, roots: &[&HExpr]) -> Res<()> {
        let Some(model) = self.st.model else {
            return Ok(());
        };
        let refs = Refs::collect(Some(model), roots);
        let span = roots.first().map(|r| r.span).unwrap_or(self.st.span);
        // Parameters are always available; states only where the function has `y`.
        for &p in &refs.params {
            self.entity(Key::Param(ParamId(p)), span)?;
        }
        if self.inputs.y.is_some() {
            for &s in &refs.states {
                self.entity(Key::State(s), span)?;
            }
        }
        for &l in &refs.lets {
            if !self.st.pd.let_(l) {
                let span = model.lets.get(l.index()).map(|d| d.span).unwrap_or(span);
                self.entity(Key::Let(l), span)?;
            }
        }
        if self.inputs.y.is_some() {
            for &s in &refs.ders {
                let span = model.states.get(s.index()).map(|d| d.span).unwrap_or(span);
                self.entity(Key::Der(s), span)?;
            }
        }
        for &o in &refs.outputs {
            if !self.st.pd.output(o) {
                let span = model.outputs.get(o.index()).map(|d| d.span).unwrap_or(span);
                self.entity(Key::Output(o), span)?;
            }
        }
        Ok(())
    }

    /// A constant `i64` index.
    pub fn index_const(&mut self, k: i64) -> ValueId {
        self.push(Op::Const(k as f64), Type::index(), None)
    }
}

/// `base`, or `base.1`, `base.2`, … — the first not yet used in the function.
fn fresh_name(names: &mut HashSet<String>, base: &str) -> String {
    if names.insert(base.to_string()) {
        return base.to_string();
    }
    let mut k = 1usize;
    loop {
        let candidate = format!("{base}.{k}");
        if names.insert(candidate.clone()) {
            return candidate;
        }
        k += 1;
    }
}
