//! Modules, functions, blocks and values.

use crate::arena::{Arena, Handle};
use crate::manifest::{DerivativeKind, InputRole, Manifest, Role};
use crate::op::Op;
use crate::types::{Shape, Type};
use crate::unit::Unit;

/// One IR value: the op that defines it, its type, and an optional readable name
/// (`%prey`) that the printer uses and passes keep where they can.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub op: Op,
    pub ty: Type,
    pub name: Option<String>,
}

/// A handle to a [`Value`] in its function's arena.
pub type ValueId = Handle<Value>;

/// A handle to a [`Function`] in its module.
pub type FuncId = Handle<Function>;

/// A list of values evaluated in order, with arguments and one result.
///
/// Invariant (checked by `validate`): every value is defined before its uses; a value in a
/// block may use the block's arguments, earlier values of the block, and values visible where
/// the block's op is defined. Nothing defined inside a block is visible outside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Values defined by [`Op::Arg`], one per argument, in order.
    pub args: Vec<ValueId>,
    /// The values computed by the block, in evaluation order.
    pub body: Vec<ValueId>,
    /// The value the block yields (an argument, a body value, or an outer value).
    pub result: ValueId,
}

/// A pure function: typed inputs, one result.
///
/// Functions have exactly one result; models with several quantities concatenate them and
/// describe the parts in a [`Layout`].
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: String,
    /// All values of the function, its blocks included.
    pub values: Arena<Value>,
    /// The top-level block; its arguments are the function's inputs.
    pub body: Block,
    /// What the function is for ([`Role::Plain`] for a user's `fn`).
    pub role: Role,
    /// What each input means, one per input; empty when every input is
    /// [`InputRole::Plain`].
    pub input_roles: Vec<InputRole>,
}

impl Function {
    /// A plain function (no role, inputs without meaning).
    pub fn new(name: impl Into<String>, values: Arena<Value>, body: Block) -> Function {
        Function {
            name: name.into(),
            values,
            body,
            role: Role::Plain,
            input_roles: Vec::new(),
        }
    }

    /// A copy of the function to be turned into its `kind` derivative with respect to the
    /// inputs `wrt`: named `name`, with the derivative's role; the inputs keep their
    /// meanings (inputs the derivative adds are given theirs with [`Function::push_input`]).
    pub fn derived(&self, name: String, kind: DerivativeKind, wrt: &[usize]) -> Function {
        let mut g = self.clone();
        g.name = name;
        g.role = Role::derivative(kind, &self.role, wrt);
        g
    }

    /// What input `k` means ([`InputRole::Plain`] when the function does not say).
    pub fn input_role(&self, k: usize) -> &InputRole {
        const PLAIN: InputRole = InputRole::Plain;
        self.input_roles.get(k).unwrap_or(&PLAIN)
    }

    /// The position of the first input with meaning `role`.
    pub fn input_with_role(&self, role: &InputRole) -> Option<usize> {
        self.input_roles.iter().position(|r| r == role)
    }

    /// Appends an input of type `ty` meaning `role` and returns its value.
    pub fn push_input(&mut self, ty: Type, name: Option<String>, role: InputRole) -> ValueId {
        let k = self.body.args.len();
        let id = self.values.push(Value {
            op: Op::Arg(k),
            ty,
            name,
        });
        self.body.args.push(id);
        if !self.input_roles.is_empty() || role != InputRole::Plain {
            self.input_roles.resize(k, InputRole::Plain);
            self.input_roles.push(role);
        }
        id
    }

    /// The input values, in order.
    pub fn inputs(&self) -> &[ValueId] {
        &self.body.args
    }

    /// The type of input `k`.
    pub fn input_type(&self, k: usize) -> Option<&Type> {
        let id = *self.body.args.get(k)?;
        self.values.get(id).map(|v| &v.ty)
    }

    /// The result type.
    pub fn result_type(&self) -> Option<&Type> {
        self.values.get(self.body.result).map(|v| &v.ty)
    }

    /// Number of values defined by ops other than `arg` (a size measure for stats).
    pub fn op_count(&self) -> usize {
        self.values
            .iter()
            .filter(|(_, v)| !matches!(v.op, Op::Arg(_)))
            .count()
    }
}

/// One named slice of a flat vector (θ, the state vector y, the outputs).
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub name: String,
    /// First element in the flat vector.
    pub offset: usize,
    /// Shape of the quantity; it occupies `element_count(shape)` elements.
    pub shape: Shape,
    pub unit: Option<Unit>,
    /// Default values (parameters), empty where there are none (states: see `y0`).
    pub default: Vec<f64>,
    /// A parameter declared `fixed`: training leaves it at its value. Printed as a
    /// trailing `fixed`.
    pub fixed: bool,
}

/// The named slices of one flat `f64` vector.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Layout {
    pub slots: Vec<Slot>,
    /// Total number of elements.
    pub len: usize,
}

impl Layout {
    /// The slot with the given name.
    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }

    /// The defaults of all slots concatenated (zeros where a slot has none).
    pub fn defaults(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.len];
        for slot in &self.slots {
            if let Some(dst) = out.get_mut(slot.offset..slot.offset + slot.default.len()) {
                dst.copy_from_slice(&slot.default);
            }
        }
        out
    }

    /// Appends a slot at the end and returns its offset.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        shape: Shape,
        unit: Option<Unit>,
        default: Vec<f64>,
    ) -> usize {
        let offset = self.len;
        self.len += crate::types::element_count(&shape).unwrap_or(0);
        self.slots.push(Slot {
            name: name.into(),
            offset,
            shape,
            unit,
            default,
            fixed: false,
        });
        offset
    }

    /// Which of the vector's elements belong to a `fixed` slot.
    pub fn fixed_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.len];
        for slot in self.slots.iter().filter(|s| s.fixed) {
            let count = crate::types::element_count(&slot.shape).unwrap_or(0);
            if let Some(dst) = mask.get_mut(slot.offset..slot.offset + count) {
                dst.fill(true);
            }
        }
        mask
    }
}

/// A compiled model (or a set of free functions): functions plus the layouts of the flat
/// vectors they exchange.
///
/// Conventional function names: an ODE model has `rhs(t, y, θ)`, `y0(θ)` and, when it has
/// outputs, `outputs(t, y, θ)`; a loss model has `loss(θ, ...)` and `residual.NAME(θ, points)`;
/// every `fn` of the source has its own name.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Module {
    pub name: String,
    pub functions: Arena<Function>,
    /// Trainable parameters θ.
    pub params: Layout,
    /// The state vector y of an ODE model (empty otherwise).
    pub states: Layout,
    /// The result of `outputs` (empty if the model has none).
    pub outputs: Layout,
    /// What a host needs to fill the functions' inputs (time span, point sets, data).
    pub manifest: Manifest,
}

impl Module {
    /// An empty module.
    pub fn new(name: impl Into<String>) -> Module {
        Module {
            name: name.into(),
            ..Module::default()
        }
    }

    /// The function with the given name.
    pub fn function(&self, name: &str) -> Option<FuncId> {
        self.functions
            .iter()
            .find(|(_, f)| f.name == name)
            .map(|(id, _)| id)
    }

    /// The first function with role `role`.
    pub fn function_with_role(&self, role: &Role) -> Option<FuncId> {
        self.functions
            .iter()
            .find(|(_, f)| &f.role == role)
            .map(|(id, _)| id)
    }
}
