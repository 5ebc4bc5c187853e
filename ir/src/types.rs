//! Value types: element dtype, static shape, batch flag and (as metadata) physical unit.

use crate::unit::Unit;
use std::fmt;

/// Element type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE double: the default for all model arithmetic.
    F64,
    /// IEEE single: for GPU kernels that ask for it.
    F32,
    /// Signed index arithmetic (loop variables of `tabulate`/`fold`, dynamic indices).
    I64,
    /// Results of comparisons, conditions of `select`.
    Bool,
}

impl DType {
    /// The spelling used by the text format.
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::F32 => "f32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }

    /// True for `f64` and `f32`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F64 | DType::F32)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A static shape: the extent of each axis, row-major. `[]` is a scalar.
pub type Shape = Vec<usize>;

/// Number of elements of a shape (1 for a scalar); `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n))
}

/// The type of an IR value.
///
/// `batched` marks a value that holds one element of `shape` per point of a batch whose size
/// is only known at run time (collocation points, observations). Batched values are produced
/// by function inputs and `map`, and consumed only by `map` and `reduce_batch`; see
/// [`crate::Op::Map`].
///
/// `unit` is metadata: it is printed and read back, but two types that differ only in unit
/// have the same layout ([`Type::same_layout`]) and back ends never look at it.
#[derive(Clone, Debug, PartialEq)]
pub struct Type {
    pub dtype: DType,
    pub shape: Shape,
    pub batched: bool,
    pub unit: Option<Unit>,
}

impl Type {
    /// An `f64` scalar.
    pub fn scalar() -> Type {
        Type::tensor(DType::F64, Vec::new())
    }

    /// An `f64` tensor of the given shape.
    pub fn f64(shape: Shape) -> Type {
        Type::tensor(DType::F64, shape)
    }

    /// An unbatched tensor with no unit.
    pub fn tensor(dtype: DType, shape: Shape) -> Type {
        Type {
            dtype,
            shape,
            batched: false,
            unit: None,
        }
    }

    /// An `i64` scalar (an index).
    pub fn index() -> Type {
        Type::tensor(DType::I64, Vec::new())
    }

    /// A `bool` of the given shape.
    pub fn boolean(shape: Shape) -> Type {
        Type::tensor(DType::Bool, shape)
    }

    /// The same type with a unit attached.
    pub fn with_unit(mut self, unit: Option<Unit>) -> Type {
        self.unit = unit;
        self
    }

    /// The same type, batched.
    pub fn batched(mut self) -> Type {
        self.batched = true;
        self
    }

    /// The per-point type of a batched type (the type itself if unbatched).
    pub fn per_point(&self) -> Type {
        Type {
            batched: false,
            ..self.clone()
        }
    }

    /// True for a scalar (shape `[]`), batched or not.
    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    /// Elements per point.
    pub fn element_count(&self) -> Option<usize> {
        element_count(&self.shape)
    }

    /// Same dtype, shape and batching; units are ignored.
    pub fn same_layout(&self, other: &Type) -> bool {
        self.dtype == other.dtype && self.shape == other.shape && self.batched == other.batched
    }
}

impl fmt::Display for Type {
    /// The text-format spelling: `f64`, `f64[3]`, `batch f64[2]`, `f64 [m/s]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.batched {
            f.write_str("batch ")?;
        }
        f.write_str(self.dtype.name())?;
        if !self.shape.is_empty() {
            let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
            write!(f, "[{}]", dims.join(", "))?;
        }
        if let Some(unit) = &self.unit {
            write!(f, " [{unit}]")?;
        }
        Ok(())
    }
}
