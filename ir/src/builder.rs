//! Building functions value by value, with nested blocks.
//!
//! The builder keeps a stack of open blocks: `push` appends to the innermost one,
//! `begin_block` opens a block (defining its arguments), `end_block` closes it and returns
//! the [`Block`] to put into a structured op, which is then pushed into the enclosing block.

use crate::arena::Arena;
use crate::module::{Block, Function, Value, ValueId};
use crate::op::Op;
use crate::types::Type;

struct OpenBlock {
    args: Vec<ValueId>,
    body: Vec<ValueId>,
}

/// Builds one [`Function`].
pub struct FunctionBuilder {
    name: String,
    values: Arena<Value>,
    open: Vec<OpenBlock>,
}

impl FunctionBuilder {
    /// A function named `name` with the given named inputs.
    pub fn new(name: impl Into<String>, inputs: Vec<(String, Type)>) -> FunctionBuilder {
        let mut values = Arena::new();
        let args = inputs
            .into_iter()
            .enumerate()
            .map(|(k, (name, ty))| {
                values.push(Value {
                    op: Op::Arg(k),
                    ty,
                    name: Some(name),
                })
            })
            .collect();
        FunctionBuilder {
            name: name.into(),
            values,
            open: vec![OpenBlock {
                args,
                body: Vec::new(),
            }],
        }
    }

    /// Input `k` of the function.
    pub fn input(&self, k: usize) -> Option<ValueId> {
        self.open.first().and_then(|b| b.args.get(k).copied())
    }

    /// The type of a value built so far.
    pub fn ty(&self, id: ValueId) -> Option<&Type> {
        self.values.get(id).map(|v| &v.ty)
    }

    /// The op of a value built so far.
    pub fn op(&self, id: ValueId) -> Option<&Op> {
        self.values.get(id).map(|v| &v.op)
    }

    /// Appends a value to the innermost open block.
    pub fn push(&mut self, op: Op, ty: Type) -> ValueId {
        self.push_value(Value { op, ty, name: None })
    }

    /// Appends a value with a readable name.
    pub fn push_named(&mut self, op: Op, ty: Type, name: impl Into<String>) -> ValueId {
        self.push_value(Value {
            op,
            ty,
            name: Some(name.into()),
        })
    }

    fn push_value(&mut self, value: Value) -> ValueId {
        let id = self.values.push(value);
        if let Some(block) = self.open.last_mut() {
            block.body.push(id);
        }
        id
    }

    /// Opens a block whose arguments have the given types; returns the argument values.
    pub fn begin_block(&mut self, arg_types: Vec<(Option<String>, Type)>) -> Vec<ValueId> {
        let args: Vec<ValueId> = arg_types
            .into_iter()
            .enumerate()
            .map(|(k, (name, ty))| {
                self.values.push(Value {
                    op: Op::Arg(k),
                    ty,
                    name,
                })
            })
            .collect();
        self.open.push(OpenBlock {
            args: args.clone(),
            body: Vec::new(),
        });
        args
    }

    /// Closes the innermost block, yielding `result`. The top-level block cannot be closed
    /// this way; it is closed by [`FunctionBuilder::finish`].
    pub fn end_block(&mut self, result: ValueId) -> Block {
        if self.open.len() <= 1 {
            return Block {
                args: Vec::new(),
                body: Vec::new(),
                result,
            };
        }
        let block = self.open.pop().unwrap_or(OpenBlock {
            args: Vec::new(),
            body: Vec::new(),
        });
        Block {
            args: block.args,
            body: block.body,
            result,
        }
    }

    /// Depth of open blocks (1 at the top level).
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    /// Finishes the function with `result` as its result. Blocks still open are closed and
    /// dropped (their values stay in the arena but are unreachable; `validate` accepts that).
    pub fn finish(mut self, result: ValueId) -> Function {
        self.open.truncate(1);
        let top = self.open.pop().unwrap_or(OpenBlock {
            args: Vec::new(),
            body: Vec::new(),
        });
        Function::new(
            self.name,
            self.values,
            Block {
                args: top.args,
                body: top.body,
                result,
            },
        )
    }
}
