//! The emitter: appends new values to an existing function's arena, with nested blocks.
//!
//! It is [`sci_ir::FunctionBuilder`] for a function that already exists: every transform
//! writes its new values through it, into a list that the caller splices into a block (or
//! makes the body of a new function). Helpers build the small idioms derivative rules need
//! (constants of a type, elementwise arithmetic, batched arithmetic through `map`).

use super::AdError;
use sci_ir::{Arena, BinaryOp, Block, CmpOp, DType, Op, ReduceOp, Type, UnaryOp, Value, ValueId};

/// Appends values to an arena; see the module documentation.
pub(crate) struct Emitter<'a> {
    pub values: &'a mut Arena<Value>,
    /// Bodies of the blocks being built, innermost last; the first is the caller's list.
    open: Vec<Vec<ValueId>>,
}

/// The type of a new value: the layout of `ty` without its unit (derivatives have other
/// units, and units are metadata).
pub(crate) fn plain(ty: &Type) -> Type {
    Type {
        dtype: ty.dtype,
        shape: ty.shape.clone(),
        batched: ty.batched,
        unit: None,
    }
}

impl<'a> Emitter<'a> {
    /// An emitter writing into `values`, with an empty list of new top values.
    pub fn new(values: &'a mut Arena<Value>) -> Emitter<'a> {
        Emitter {
            values,
            open: vec![Vec::new()],
        }
    }

    /// The values emitted at the outermost level, in order (consumes the emitter).
    pub fn finish(mut self) -> Vec<ValueId> {
        self.open.truncate(1);
        self.open.pop().unwrap_or_default()
    }

    /// The value behind a handle.
    pub fn value(&self, id: ValueId) -> Result<&Value, AdError> {
        self.values
            .get(id)
            .ok_or_else(|| AdError::internal(format!("value %{} does not exist", id.index())))
    }

    /// The type of a value.
    pub fn ty(&self, id: ValueId) -> Result<Type, AdError> {
        Ok(self.value(id)?.ty.clone())
    }

    /// The shape of a value.
    pub fn shape(&self, id: ValueId) -> Result<Vec<usize>, AdError> {
        Ok(self.value(id)?.ty.shape.clone())
    }

    /// Appends a value to the innermost open block.
    pub fn push(&mut self, op: Op, ty: Type) -> ValueId {
        self.push_value(Value { op, ty, name: None })
    }

    /// Appends a complete value (with its name) to the innermost open block.
    pub fn push_value(&mut self, value: Value) -> ValueId {
        let id = self.values.push(value);
        if let Some(list) = self.open.last_mut() {
            list.push(id);
        }
        id
    }

    /// Opens a block with arguments of the given types; returns the arguments.
    pub fn begin(&mut self, arg_types: &[Type]) -> Vec<ValueId> {
        let args = arg_types
            .iter()
            .enumerate()
            .map(|(k, ty)| {
                self.values.push(Value {
                    op: Op::Arg(k),
                    ty: ty.clone(),
                    name: None,
                })
            })
            .collect();
        self.open.push(Vec::new());
        args
    }

    /// Opens a block whose arguments copy the given values (types and names).
    pub fn begin_like(&mut self, args: &[ValueId]) -> Result<Vec<ValueId>, AdError> {
        let mut out = Vec::with_capacity(args.len());
        for (k, &a) in args.iter().enumerate() {
            let v = self.value(a)?;
            let copy = Value {
                op: Op::Arg(k),
                ty: v.ty.clone(),
                name: v.name.clone(),
            };
            out.push(self.values.push(copy));
        }
        self.open.push(Vec::new());
        Ok(out)
    }

    /// Closes the innermost block.
    pub fn end(&mut self, args: Vec<ValueId>, result: ValueId) -> Result<Block, AdError> {
        if self.open.len() <= 1 {
            return Err(AdError::internal("closing a block that was never opened"));
        }
        let body = self.open.pop().unwrap_or_default();
        Ok(Block { args, body, result })
    }

    // ---- constants -------------------------------------------------------------------

    /// A scalar constant of the given dtype.
    pub fn scalar(&mut self, x: f64, dtype: DType) -> ValueId {
        self.push(Op::Const(x), Type::tensor(dtype, Vec::new()))
    }

    /// `x` in every element of an unbatched type (a constant, broadcast when not scalar).
    pub fn full(&mut self, x: f64, ty: &Type) -> Result<ValueId, AdError> {
        if ty.batched {
            return Err(AdError::internal("a constant cannot be batched"));
        }
        let c = self.scalar(x, ty.dtype);
        if ty.shape.is_empty() {
            Ok(c)
        } else {
            Ok(self.push(Op::Broadcast(c), Type::tensor(ty.dtype, ty.shape.clone())))
        }
    }

    /// `x` in every element of `like`'s type; batched types become a `map` over `like`.
    pub fn full_like(&mut self, x: f64, like: ValueId) -> Result<ValueId, AdError> {
        let ty = self.ty(like)?;
        if !ty.batched {
            return self.full(x, &ty);
        }
        let point = plain(&ty.per_point());
        let args = self.begin(std::slice::from_ref(&point));
        let c = self.full(x, &point)?;
        let block = self.end(args, c)?;
        Ok(self.push(
            Op::Map {
                inputs: vec![like],
                body: block,
            },
            plain(&ty),
        ))
    }

    /// Broadcasts `a` to `shape` (a no-op when the shape already matches).
    pub fn broadcast(&mut self, a: ValueId, shape: &[usize]) -> Result<ValueId, AdError> {
        let ty = self.ty(a)?;
        if ty.shape == shape {
            return Ok(a);
        }
        Ok(self.push(Op::Broadcast(a), Type::tensor(ty.dtype, shape.to_vec())))
    }

    /// Reshapes `a` (a no-op when the shape already matches).
    pub fn reshape(&mut self, a: ValueId, shape: &[usize]) -> Result<ValueId, AdError> {
        let ty = self.ty(a)?;
        if ty.shape == shape {
            return Ok(a);
        }
        Ok(self.push(
            Op::Reshape(a),
            Type {
                shape: shape.to_vec(),
                ..plain(&ty)
            },
        ))
    }

    /// Converts to a dtype (a no-op when it already has it).
    pub fn cast(&mut self, a: ValueId, dtype: DType) -> Result<ValueId, AdError> {
        let ty = self.ty(a)?;
        if ty.dtype == dtype {
            return Ok(a);
        }
        Ok(self.push(
            Op::Cast(a),
            Type {
                dtype,
                ..plain(&ty)
            },
        ))
    }

    // ---- elementwise arithmetic (unbatched operands of one layout) ----------------------

    /// `op(a)`, typed like `a`.
    pub fn unary(&mut self, op: UnaryOp, a: ValueId) -> Result<ValueId, AdError> {
        let ty = plain(&self.ty(a)?);
        Ok(self.push(Op::Unary(op, a), ty))
    }

    /// `op(a, b)`, typed like `a`; batched operands are combined inside a `map`.
    pub fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        let ty = plain(&self.ty(a)?);
        if ty.batched {
            let point = ty.per_point();
            let args = self.begin(&[point.clone(), point.clone()]);
            let (x, y) = match args.as_slice() {
                [x, y] => (*x, *y),
                _ => return Err(AdError::internal("map arguments")),
            };
            let r = self.push(Op::Binary(op, x, y), point);
            let block = self.end(args, r)?;
            return Ok(self.push(
                Op::Map {
                    inputs: vec![a, b],
                    body: block,
                },
                ty,
            ));
        }
        Ok(self.push(Op::Binary(op, a, b), ty))
    }

    /// `a + b`.
    pub fn add(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        self.binary(BinaryOp::Add, a, b)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        self.binary(BinaryOp::Sub, a, b)
    }

    /// `a * b`.
    pub fn mul(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        self.binary(BinaryOp::Mul, a, b)
    }

    /// `a / b`.
    pub fn div(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        self.binary(BinaryOp::Div, a, b)
    }

    /// `-a`.
    pub fn neg(&mut self, a: ValueId) -> Result<ValueId, AdError> {
        self.unary(UnaryOp::Neg, a)
    }

    /// `a * x` for a number `x` (skipped when `x` is 1).
    pub fn scale(&mut self, a: ValueId, x: f64) -> Result<ValueId, AdError> {
        if x == 1.0 {
            return Ok(a);
        }
        if x == -1.0 {
            return self.neg(a);
        }
        let ty = self.ty(a)?;
        let c = self.full(x, &ty)?;
        self.mul(c, a)
    }

    /// `a^n`.
    pub fn powi(&mut self, a: ValueId, n: i32) -> Result<ValueId, AdError> {
        if n == 1 {
            return Ok(a);
        }
        let ty = plain(&self.ty(a)?);
        Ok(self.push(Op::Powi(a, n), ty))
    }

    /// Elementwise comparison.
    pub fn compare(&mut self, op: CmpOp, a: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        let ty = self.ty(a)?;
        Ok(self.push(Op::Compare(op, a, b), Type::boolean(ty.shape)))
    }

    /// `if c then a else b`, typed like `a`.
    pub fn select(&mut self, c: ValueId, a: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        let ty = plain(&self.ty(a)?);
        Ok(self.push(Op::Select(c, a, b), ty))
    }

    /// `c ? a : 0`.
    pub fn select_or_zero(&mut self, c: ValueId, a: ValueId) -> Result<ValueId, AdError> {
        let ty = self.ty(a)?;
        let z = self.full(0.0, &ty)?;
        self.select(c, a, z)
    }

    /// `c ? 0 : b`.
    pub fn zero_or_select(&mut self, c: ValueId, b: ValueId) -> Result<ValueId, AdError> {
        let ty = self.ty(b)?;
        let z = self.full(0.0, &ty)?;
        self.select(c, z, b)
    }

    /// Reduction of all elements to a scalar.
    pub fn reduce(&mut self, op: ReduceOp, a: ValueId) -> Result<ValueId, AdError> {
        let ty = self.ty(a)?;
        Ok(self.push(Op::Reduce(op, a), Type::tensor(ty.dtype, Vec::new())))
    }

    /// A bool as a float of the given dtype (1 or 0).
    pub fn indicator(&mut self, c: ValueId, dtype: DType) -> Result<ValueId, AdError> {
        self.cast(c, dtype)
    }

    /// `Some(a + b)` where absent operands are zero.
    pub fn add_opt(
        &mut self,
        a: Option<ValueId>,
        b: Option<ValueId>,
    ) -> Result<Option<ValueId>, AdError> {
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(self.add(a, b)?),
            (a, None) => a,
            (None, b) => b,
        })
    }

    /// Flattens a value to `f64[n]` for packing several values into one vector.
    pub fn flatten_f64(&mut self, a: ValueId) -> Result<ValueId, AdError> {
        let ty = self.ty(a)?;
        let n = ty.element_count().unwrap_or(0);
        let a = self.cast(a, DType::F64)?;
        self.reshape(a, &[n])
    }

    /// Concatenates flattened values into one `f64` vector.
    pub fn pack(&mut self, parts: &[ValueId]) -> Result<ValueId, AdError> {
        let mut flat = Vec::with_capacity(parts.len());
        let mut total = 0usize;
        for &p in parts {
            let f = self.flatten_f64(p)?;
            total += self.ty(f)?.element_count().unwrap_or(0);
            flat.push(f);
        }
        match flat.as_slice() {
            [one] => Ok(*one),
            _ => Ok(self.push(Op::Concat(flat), Type::f64(vec![total]))),
        }
    }

    /// The part of a packed vector starting at `offset`, shaped and typed like `ty`.
    pub fn unpack(
        &mut self,
        packed: ValueId,
        offset: usize,
        ty: &Type,
    ) -> Result<ValueId, AdError> {
        let n = ty.element_count().unwrap_or(0);
        let total = self.ty(packed)?.element_count().unwrap_or(0);
        let part = if offset == 0 && n == total {
            packed
        } else {
            self.push(
                Op::Slice {
                    array: packed,
                    start: offset,
                    len: n,
                },
                Type::f64(vec![n]),
            )
        };
        let part = self.reshape(part, &ty.shape)?;
        self.cast(part, ty.dtype)
    }
}
