//! The built-in functions, operators and constants of sci, as one table.
//!
//! Each entry has the name as written, what it does ([`BuiltinKind`]), its unit rule, the
//! module it belongs to, a signature and a one-line doc (shown by the language server on
//! hover and listed in `docs/checking.md`). The checker turns calls of these into HIR; it
//! never matches on names anywhere else.
//!
//! Modules: everything in `math` (functions, reductions, linear algebra, derivative
//! operators, data sources, constants) is in scope without a `use`. The network
//! constructor `mlp` lives in `nn` and needs `use nn.{mlp}`; the activations are in both
//! `math` and `nn`, so `use nn.{mlp, softplus}` is accepted. Functions written in sci
//! itself (`lerp`, `silu`, …) are not here but in [`crate::prelude`]; the modules export
//! them too ([`module_exports`]).

use crate::hir::{Activation, Binary, Reduction, Unary};

/// Where a built-in lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Module {
    /// Always in scope (`math` may still be named in a `use`).
    Math,
    /// Neural-network constructors; needs `use nn.{…}`.
    Nn,
}

impl Module {
    /// The module's name in `use` declarations.
    pub fn name(self) -> &'static str {
        match self {
            Module::Math => "math",
            Module::Nn => "nn",
        }
    }
}

/// The names of the modules that exist, for `use` and its error messages.
pub const MODULES: &[&str] = &["math", "nn"];

/// How a one-argument elementwise function treats units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitRule {
    /// The argument must be dimensionless (scale 1); the result is dimensionless.
    Dimensionless,
    /// The result has the argument's unit (`abs`, `floor`, `relu`).
    Same,
    /// The result has the square root of the argument's unit.
    Sqrt,
}

/// Derivative operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DerivOp {
    /// `der(x)`: the time derivative of a state (its right-hand side).
    Der,
    /// `d(f, x, y, …)` / `∂(f, x)`: partial derivative, in order.
    Partial,
    /// `grad(f, x)`: gradient of a scalar with respect to a variable.
    Grad,
    /// `jacobian(f, x)`: derivative of a vector with respect to a variable.
    Jacobian,
    /// `hessian(f, x)`: second derivative of a scalar.
    Hessian,
    /// `laplacian(f)` / `laplacian(f, x, y)`: sum of the unmixed second derivatives.
    Laplacian,
}

/// Linear-algebra functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Linalg {
    Dot,
    MatMul,
    Transpose,
    Norm,
    /// `rfft(x, modes)`: the real discrete Fourier transform along the last axis.
    Rfft,
    /// `irfft(X, n)`: its inverse onto `n` points.
    Irfft,
    /// `rfft2(x, m1, m2)`: the 2-D real discrete Fourier transform over the last two axes.
    Rfft2,
    /// `irfft2(X, n1, n2)`: its inverse onto `n1 × n2` points.
    Irfft2,
}

/// Data-set file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataFormat {
    Csv,
    Npy,
}

/// What a built-in name denotes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BuiltinKind {
    /// A named number (`pi`, `e`).
    Constant(f64),
    /// Elementwise function of one argument.
    Unary(Unary, UnitRule),
    /// `log10(x)`: `log(x) / log(10)`.
    Log10,
    /// An activation written in terms of other ops (`relu`, `gelu`).
    Activation(Activation),
    /// Elementwise function of two arguments with equal units (`atan2`).
    Binary(Binary),
    /// `min`/`max`: elementwise of two arguments, or a reduction of one.
    MinMax(Binary, Reduction),
    /// `sum`, `prod`, `mean` of one argument (all elements, or over a batch).
    Reduction(Reduction),
    Linalg(Linalg),
    Deriv(DerivOp),
    /// The multilayer-perceptron constructor of `net` declarations.
    Mlp,
    /// The Fourier-neural-operator constructor of `net` declarations.
    Fno,
    /// The DeepONet constructor of `net` declarations.
    DeepOnet,
    /// A data source of `data` declarations.
    Data(DataFormat),
    /// `interp(data.column, t, method: …)`: a data column as a function of time.
    Interp,
}

/// One built-in.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    pub name: &'static str,
    pub kind: BuiltinKind,
    pub module: Module,
    /// How it is called, for hover text: `atan2(y, x)`.
    pub signature: &'static str,
    /// One line saying what it computes and its unit rule.
    pub doc: &'static str,
}

const fn b(
    name: &'static str,
    kind: BuiltinKind,
    signature: &'static str,
    doc: &'static str,
) -> Builtin {
    Builtin {
        name,
        kind,
        module: Module::Math,
        signature,
        doc,
    }
}

const fn unary(
    name: &'static str,
    op: Unary,
    rule: UnitRule,
    sig: &'static str,
    doc: &'static str,
) -> Builtin {
    b(name, BuiltinKind::Unary(op, rule), sig, doc)
}

use UnitRule::{Dimensionless as Dimless, Same, Sqrt};

/// Every built-in, in the order the documentation lists them.
pub const BUILTINS: &[Builtin] = &[
    // Constants.
    b(
        "pi",
        BuiltinKind::Constant(std::f64::consts::PI),
        "pi",
        "The number π = 3.14159…; dimensionless.",
    ),
    b(
        "π",
        BuiltinKind::Constant(std::f64::consts::PI),
        "π",
        "The number π = 3.14159…; dimensionless.",
    ),
    b(
        "e",
        BuiltinKind::Constant(std::f64::consts::E),
        "e",
        "Euler's number e = 2.71828…; dimensionless.",
    ),
    // Elementwise functions.
    unary(
        "exp",
        Unary::Exp,
        Dimless,
        "exp(x)",
        "Exponential; x must be dimensionless.",
    ),
    unary(
        "log",
        Unary::Log,
        Dimless,
        "log(x)",
        "Natural logarithm; x must be dimensionless.",
    ),
    unary(
        "ln",
        Unary::Log,
        Dimless,
        "ln(x)",
        "Natural logarithm (same as log); x must be dimensionless.",
    ),
    b(
        "log10",
        BuiltinKind::Log10,
        "log10(x)",
        "Base-10 logarithm; x must be dimensionless.",
    ),
    unary(
        "sqrt",
        Unary::Sqrt,
        Sqrt,
        "sqrt(x)",
        "Square root; the unit is the square root of x's unit (sqrt(m^2) = m).",
    ),
    unary(
        "abs",
        Unary::Abs,
        Same,
        "abs(x)",
        "Absolute value; keeps x's unit.",
    ),
    unary(
        "floor",
        Unary::Floor,
        Same,
        "floor(x)",
        "Largest whole number ≤ x; keeps x's unit.",
    ),
    unary(
        "sin",
        Unary::Sin,
        Dimless,
        "sin(x)",
        "Sine of an angle in radians; x must be dimensionless (rad).",
    ),
    unary(
        "cos",
        Unary::Cos,
        Dimless,
        "cos(x)",
        "Cosine of an angle in radians; x must be dimensionless (rad).",
    ),
    unary(
        "tan",
        Unary::Tan,
        Dimless,
        "tan(x)",
        "Tangent of an angle in radians; x must be dimensionless (rad).",
    ),
    unary(
        "asin",
        Unary::Asin,
        Dimless,
        "asin(x)",
        "Arcsine, in radians; x must be dimensionless.",
    ),
    unary(
        "acos",
        Unary::Acos,
        Dimless,
        "acos(x)",
        "Arccosine, in radians; x must be dimensionless.",
    ),
    unary(
        "atan",
        Unary::Atan,
        Dimless,
        "atan(x)",
        "Arctangent, in radians; x must be dimensionless.",
    ),
    b(
        "atan2",
        BuiltinKind::Binary(Binary::Atan2),
        "atan2(y, x)",
        "Angle of the point (x, y) in radians; y and x must have the same unit.",
    ),
    unary(
        "sinh",
        Unary::Sinh,
        Dimless,
        "sinh(x)",
        "Hyperbolic sine; x must be dimensionless.",
    ),
    unary(
        "cosh",
        Unary::Cosh,
        Dimless,
        "cosh(x)",
        "Hyperbolic cosine; x must be dimensionless.",
    ),
    unary(
        "tanh",
        Unary::Tanh,
        Dimless,
        "tanh(x)",
        "Hyperbolic tangent (also an activation); x must be dimensionless.",
    ),
    unary(
        "erf",
        Unary::Erf,
        Dimless,
        "erf(x)",
        "Error function; x must be dimensionless.",
    ),
    unary(
        "sigmoid",
        Unary::Sigmoid,
        Dimless,
        "sigmoid(x)",
        "Logistic function 1 / (1 + exp(-x)); x must be dimensionless.",
    ),
    unary(
        "softplus",
        Unary::Softplus,
        Dimless,
        "softplus(x)",
        "log(1 + exp(x)), without overflow; x must be dimensionless.",
    ),
    b(
        "relu",
        BuiltinKind::Activation(Activation::Relu),
        "relu(x)",
        "max(x, 0); keeps x's unit.",
    ),
    b(
        "gelu",
        BuiltinKind::Activation(Activation::Gelu),
        "gelu(x)",
        "x · (1 + erf(x / √2)) / 2; x must be dimensionless.",
    ),
    b(
        "min",
        BuiltinKind::MinMax(Binary::Min, Reduction::Min),
        "min(a, b) | min(v)",
        "Smaller of two values (same unit), or the smallest element of an array or batch.",
    ),
    b(
        "max",
        BuiltinKind::MinMax(Binary::Max, Reduction::Max),
        "max(a, b) | max(v)",
        "Larger of two values (same unit), or the largest element of an array or batch.",
    ),
    // Reductions.
    b(
        "sum",
        BuiltinKind::Reduction(Reduction::Sum),
        "sum(v) | sum(i in a..b: f)",
        "Sum of the elements of an array, of a batch (residual points, data rows), or of f over an index range.",
    ),
    b(
        "prod",
        BuiltinKind::Reduction(Reduction::Prod),
        "prod(v) | prod(i in a..b: f)",
        "Product of the elements; the unit is raised to the number of factors.",
    ),
    b(
        "mean",
        BuiltinKind::Reduction(Reduction::Mean),
        "mean(v) | mean(i in a..b: f)",
        "Mean of the elements of an array, of a batch, or of f over an index range.",
    ),
    // Linear algebra.
    b(
        "dot",
        BuiltinKind::Linalg(Linalg::Dot),
        "dot(a, b)",
        "Inner product of two vectors of equal length; units multiply.",
    ),
    b(
        "matmul",
        BuiltinKind::Linalg(Linalg::MatMul),
        "matmul(A, B)",
        "Matrix product [m, k]·[k, n] → [m, n], or matrix-vector product [m, k]·[k] → [m]; units multiply.",
    ),
    b(
        "transpose",
        BuiltinKind::Linalg(Linalg::Transpose),
        "transpose(A)",
        "Swaps the two axes of a matrix.",
    ),
    b(
        "rfft",
        BuiltinKind::Linalg(Linalg::Rfft),
        "rfft(x, modes)",
        "The first `modes` frequencies of the real discrete Fourier transform of x along its last axis (numpy's rfft, unnormalised): [..., n] → [2, ..., modes], the real parts then the imaginary parts; keeps x's unit.",
    ),
    b(
        "irfft",
        BuiltinKind::Linalg(Linalg::Irfft),
        "irfft(X, n)",
        "The inverse of rfft onto n points (numpy's irfft, normalised by 1/n): [2, ..., m] → [..., n], the frequencies above m taken as zero; keeps X's unit.",
    ),
    b(
        "rfft2",
        BuiltinKind::Linalg(Linalg::Rfft2),
        "rfft2(x, m1, m2)",
        "The 2-D real discrete Fourier transform of x over its last two axes (numpy's rfft2, unnormalised), keeping the m1 lowest and the m1 highest (negative) frequencies of the first and the m2 lowest of the second: [..., n1, n2] → [2, ..., 2·m1, m2], the real parts then the imaginary parts; keeps x's unit.",
    ),
    b(
        "irfft2",
        BuiltinKind::Linalg(Linalg::Irfft2),
        "irfft2(X, n1, n2)",
        "The inverse of rfft2 onto n1 × n2 points (numpy's irfft2, normalised by 1/(n1·n2)): [2, ..., 2·m1, m2] → [..., n1, n2], the frequencies not given taken as zero; keeps X's unit.",
    ),
    b(
        "norm",
        BuiltinKind::Linalg(Linalg::Norm),
        "norm(v)",
        "Euclidean norm sqrt(sum(v^2)) over every element (a matrix's Frobenius norm); keeps v's unit.",
    ),
    // Derivative operators.
    b(
        "der",
        BuiltinKind::Deriv(DerivOp::Der),
        "der(x)",
        "Time derivative of the state x (its right-hand side); unit of x per second.",
    ),
    b(
        "d",
        BuiltinKind::Deriv(DerivOp::Partial),
        "d(f, x, …)",
        "Partial derivative of f with respect to x (then …), in order; unit of f divided by the units of the variables.",
    ),
    b(
        "∂",
        BuiltinKind::Deriv(DerivOp::Partial),
        "∂(f, x, …)",
        "Partial derivative (same as d).",
    ),
    b(
        "grad",
        BuiltinKind::Deriv(DerivOp::Grad),
        "grad(f, x)",
        "Gradient of the scalar f with respect to x; shape of x.",
    ),
    b(
        "jacobian",
        BuiltinKind::Deriv(DerivOp::Jacobian),
        "jacobian(f, x)",
        "Jacobian of f with respect to x; shape shape(f) ++ shape(x).",
    ),
    b(
        "hessian",
        BuiltinKind::Deriv(DerivOp::Hessian),
        "hessian(f, x)",
        "Hessian of the scalar f with respect to x; shape shape(x) ++ shape(x).",
    ),
    b(
        "laplacian",
        BuiltinKind::Deriv(DerivOp::Laplacian),
        "laplacian(f) | laplacian(f, x, y, …)",
        "Sum of the second derivatives of f: over the domain's coordinates except t, or over the listed variables.",
    ),
    // Data sources.
    b(
        "csv",
        BuiltinKind::Data(DataFormat::Csv),
        "csv(\"path\")",
        "A data set read from a CSV file with a header row, relative to the model file.",
    ),
    b(
        "npy",
        BuiltinKind::Data(DataFormat::Npy),
        "npy(\"path\")",
        "A data set read from a 2-D NumPy .npy file (one column per declared column).",
    ),
    Builtin {
        name: "interp",
        kind: BuiltinKind::Interp,
        module: Module::Math,
        signature: "interp(data.column, t, method: linear)",
        doc: "A column of a data set as a function of the set's first (time) column, interpolated at `t`: `method: linear` (default), `cubic` (a natural cubic spline) or `previous` (the last value at or before `t`). Measured inputs that drive the equations: `der(T) = k * (interp(weather.temp, t) - T)`. The values are read when compiling; the solve must stay inside the data's time range.",
    },
    // Networks.
    Builtin {
        name: "mlp",
        kind: BuiltinKind::Mlp,
        module: Module::Nn,
        signature: "mlp(hidden: [n1, n2, …], activation: tanh, outputs: 1, seed: 0)",
        doc: "A multilayer perceptron; activation is one of tanh, sigmoid, softplus, relu, gelu, sin, rbf (exp(−x²)), identity; `init: glorot` (default) or `init: he` chooses the initial weights. Needs `use nn.{mlp}`.",
    },
    Builtin {
        name: "deeponet",
        kind: BuiltinKind::DeepOnet,
        module: Module::Nn,
        signature: "deeponet(branch: [128, 128], trunk: [128, 128], features: 128, activation: tanh, seed: 0)",
        doc: "A DeepONet (Lu et al. 2021): maps a function on a grid, `G(a)` with `a: real[s]`, to a function on the same grid. The branch network reads the s values (its sensors), the trunk network the coordinate x_j = j/(s−1) of each output point; each ends in `features` outputs (the trunk with the activation), and the output is their inner product plus a bias. `branch` and `trunk` are the hidden layer sizes. Needs `use nn.{deeponet}`.",
    },
    Builtin {
        name: "fno",
        kind: BuiltinKind::Fno,
        module: Module::Nn,
        signature: "fno(modes: 16, width: 64, layers: 4, projection: 128, seed: 0)",
        doc: "A Fourier neural operator (Li et al. 2021): maps a function on a grid, `G(a)` with `a: real[s]` (or `real[s1, s2]`), to a function on the same grid. The input and the grid coordinates are lifted to `width` channels; each of the `layers` Fourier layers mixes the channels of the lowest `modes` frequencies (complex weights) and adds a pointwise linear map, with GELU between layers; a projection through `projection` channels gives the output. The weights do not depend on the grid: a trained operator evaluates on other resolutions. Needs `use nn.{fno}`.",
    },
];

/// The names the module `nn` exports (the activations are also in `math`).
pub const NN_EXPORTS: &[&str] = &[
    "mlp", "fno", "deeponet", "tanh", "sigmoid", "softplus", "relu", "gelu", "sin",
];

/// The built-in called `name`, if any.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names a module exports, for `use` checking; `None` for an unknown module. The
/// built-ins come first, then the module's prelude functions ([`crate::prelude`]).
pub fn module_exports(module: &str) -> Option<Vec<&'static str>> {
    let (mut names, module): (Vec<&'static str>, Module) = match module {
        "nn" => (NN_EXPORTS.to_vec(), Module::Nn),
        "math" => (
            BUILTINS
                .iter()
                .filter(|b| b.module == Module::Math)
                .map(|b| b.name)
                .collect(),
            Module::Math,
        ),
        _ => return None,
    };
    names.extend(crate::prelude::exports(module));
    Some(names)
}

/// Activation names accepted by `mlp(activation: …)`.
pub const ACTIVATIONS: &[(&str, Activation)] = &[
    ("tanh", Activation::Tanh),
    ("sigmoid", Activation::Sigmoid),
    ("softplus", Activation::Softplus),
    ("relu", Activation::Relu),
    ("gelu", Activation::Gelu),
    ("sin", Activation::Sin),
    ("rbf", Activation::Rbf),
    ("identity", Activation::Identity),
    ("linear", Activation::Identity),
];

/// The activation called `name`.
pub fn activation(name: &str) -> Option<Activation> {
    ACTIVATIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

/// Named arguments of `mlp`.
pub const MLP_OPTIONS: &[&str] = &["hidden", "activation", "outputs", "seed", "init"];

/// Named arguments of `deeponet`.
pub const DEEPONET_OPTIONS: &[&str] = &["branch", "trunk", "features", "activation", "seed"];

/// Named arguments of `fno`.
pub const FNO_OPTIONS: &[&str] = &["modes", "width", "layers", "projection", "seed"];

/// Weight initialisations accepted by `mlp(init: …)`.
pub const INITS: &[(&str, crate::hir::Init)] = &[
    ("glorot", crate::hir::Init::Glorot),
    ("he", crate::hir::Init::He),
];

/// The initialisation called `name`.
pub fn init(name: &str) -> Option<crate::hir::Init> {
    INITS.iter().find(|(n, _)| *n == name).map(|(_, i)| *i)
}

/// Options of residuals (`points 256`, `weight 10`, `sampling sobol`).
pub const RESIDUAL_OPTIONS: &[&str] = &["points", "weight", "sampling"];

/// Sampling schemes for residual points, by name.
pub const SAMPLINGS: &[(&str, crate::hir::Sampling)] = &[
    ("uniform", crate::hir::Sampling::Uniform),
    ("lhs", crate::hir::Sampling::LatinHypercube),
    ("latin", crate::hir::Sampling::LatinHypercube),
    ("sobol", crate::hir::Sampling::Sobol),
];

/// Collocation points per residual when `points` is not given.
pub const DEFAULT_POINTS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = BUILTINS.iter().map(|b| b.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn every_builtin_is_documented() {
        for b in BUILTINS {
            assert!(!b.doc.is_empty() && b.doc.ends_with('.'), "{}", b.name);
            assert!(b.signature.starts_with(b.name), "{}", b.name);
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            lookup("π").unwrap().kind,
            BuiltinKind::Constant(std::f64::consts::PI)
        );
        assert_eq!(lookup("mlp").unwrap().module, Module::Nn);
        assert!(lookup("nope").is_none());
        assert_eq!(activation("tanh"), Some(Activation::Tanh));
        assert!(module_exports("nn").unwrap().contains(&"softplus"));
        assert!(module_exports("math").unwrap().contains(&"exp"));
        assert!(module_exports("torch").is_none());
    }

    #[test]
    fn nn_exports_exist() {
        for name in NN_EXPORTS {
            assert!(
                lookup(name).is_some() || activation(name).is_some(),
                "{name}"
            );
        }
    }
}
