//! The abstract syntax tree of a `.sci` file, exactly as written (no names resolved).
//!
//! Parsing never fails: where the source is broken the parser inserts [`ExprKind::Error`]
//! or drops the broken member and reports a diagnostic, so later stages always get a tree.
//! Every node has a [`Span`]; every expression also has an [`ExprId`] (dense, assigned after
//! parsing in source order) that the checker and the language server use as a key for side
//! tables (types, units, resolved names).
//!
//! Unicode spellings are kept as written in identifiers (`α`, `π`, `∂`); operators written in
//! Unicode (`·`, `×`, `−`, `≤`, `≥`, `≠`, `∧`, `∨`, `¬`, `²`, `³`, `∈`) become the same
//! nodes as their ASCII spellings, so the formatter prints the ASCII form.

use sci_diag::Span;

/// A name as written, with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SourceFile {
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

/// What a top-level item is.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `use nn.{mlp, softplus}` or `use nn.mlp`.
    Use(UseDecl),
    /// `fn name(params) = body`.
    Fn(FnDecl),
    /// `const name = value` visible to every model of the file.
    Const(Decl),
    /// `model Name { members }`.
    Model(Model),
}

/// `use path.{names}`: brings library items into scope.
#[derive(Clone, Debug, PartialEq)]
pub struct UseDecl {
    /// The module path (`nn`, or `nn.layers`).
    pub path: Vec<Ident>,
    /// The imported names; empty means the `{}` list was empty or missing.
    pub names: Vec<Ident>,
}

/// `fn name(x: real[n], v: m/s) -> unit = body`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<FnParam>,
    /// Optional declared result type (`-> real m/s`).
    pub result: Option<TypeAnn>,
    pub body: Expr,
}

/// One parameter of a `fn`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnParam {
    pub name: Ident,
    pub ty: Option<TypeAnn>,
}

/// A type annotation after `:`: an optional tensor type and an optional unit.
///
/// `real`, `real[3]`, `real[n, m]`, `m/s^2`, `real[3] m/s`. Dimensions that are names not
/// bound to constants are shape variables of a generic `fn`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeAnn {
    /// `Some(dims)` when `real` was written (`dims` empty for a scalar `real`).
    pub tensor: Option<Vec<Expr>>,
    pub unit: Option<UnitExpr>,
    pub span: Span,
}

/// A unit expression as written: `m/s^2`, `kg·m^2/s^2`, `1`, `(m/s)^2`.
#[derive(Clone, Debug, PartialEq)]
pub enum UnitExpr {
    /// A unit symbol, possibly prefixed (`m`, `km`, `μs`, `N`, `rad`).
    Name(Ident),
    /// The dimensionless unit `1`.
    One(Span),
    Mul(Box<UnitExpr>, Box<UnitExpr>),
    Div(Box<UnitExpr>, Box<UnitExpr>),
    /// Integer or fractional power: `s^2`, `s^-1`, `m^(1/2)`, `s²`.
    Pow(Box<UnitExpr>, UnitPower),
}

/// The exponent of a unit power, `num/den` as written.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitPower {
    pub num: i64,
    pub den: i64,
    pub span: Span,
}

impl UnitExpr {
    /// The span covering the whole unit expression.
    pub fn span(&self) -> Span {
        match self {
            UnitExpr::Name(id) => id.span,
            UnitExpr::One(span) => *span,
            UnitExpr::Mul(a, b) | UnitExpr::Div(a, b) => a.span().to(b.span()),
            UnitExpr::Pow(a, p) => a.span().to(p.span),
        }
    }
}

/// `model Name { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: Ident,
    pub members: Vec<Member>,
}

/// One line of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub kind: MemberKind,
    pub span: Span,
}

/// What a model member is.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberKind {
    /// `const name: unit = value` — a compile-time constant.
    Const(Decl),
    /// `param name: unit = default` — a trainable/fittable parameter.
    Param(Decl),
    /// `state name[i in 0..n]: unit = initial` — a state of an ODE model.
    State(Decl),
    /// `let name[i in 0..n] = value` — a named intermediate quantity.
    Let(Decl),
    /// `output name = value` — a derived quantity recorded by `sci run`.
    Output(Decl),
    /// `der(name[i]) = value` — the time derivative of a state.
    Der(DerEquation),
    /// `when condition { reinit(x, value) … }` or `when condition { stop }` — an event.
    When(When),
    /// `0 = value` — an algebraic equation: with the states that have no `der`, the model
    /// is a differential-algebraic system.
    Algebraic(Expr),
    /// `component name = Model(param: value, …)` — another model's members, flattened into
    /// this one under `name.` (see `crate::flatten`).
    Component(Component),
    /// `circuit psi(qubits: n) { h(0); for i in 0..n { ry(theta[i], i) } }` — a
    /// parametrised quantum circuit.
    Circuit(Circuit),
    /// `observable H = -Z(0) * Z(1) + 0.5 * X(0)` — a weighted sum of Pauli strings.
    Observable(Observable),
    /// `domain omega: t in [0, 1], x in [-1, 1]`.
    Domain(Domain),
    /// `net u(t, x) = mlp(hidden: [20, 20], activation: tanh)`.
    Net(Net),
    /// `residual name on domain where cond, points 256: value`.
    Residual(Residual),
    /// `loss = value` or `loss name = value`.
    Loss(Loss),
    /// `data obs(t: s, prey, pred) = csv("file.csv")`.
    Data(Data),
    /// A `fn` local to the model (sees the model's constants).
    Fn(FnDecl),
    /// A `use` inside the model.
    Use(UseDecl),
}

/// A named definition: `const`, `param`, `state`, `let`, `output`.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    pub name: Ident,
    /// Index binders of an array definition: `u[i in 0..n]`; empty for scalars.
    pub index: Vec<IndexBinder>,
    pub ty: Option<TypeAnn>,
    pub value: Expr,
    /// `fixed` after the value (parameters only): the span of the word.
    pub fixed: Option<Span>,
}

/// `i in start..end` (end exclusive).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexBinder {
    pub var: Ident,
    pub start: Expr,
    pub end: Expr,
    pub span: Span,
}

/// `der(target[indices]) = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct DerEquation {
    pub target: Ident,
    /// Index expressions as written on the left (`u[i]`): each must be a bare index variable.
    pub indices: Vec<Ident>,
    pub value: Expr,
}

/// `when condition { actions }`: when `condition` (a comparison such as `h < 0`, or
/// `every(period)`) becomes true, the actions run: `reinit(state, value)` sets a state,
/// `stop` ends the solve. The checker gives the actions their meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct When {
    pub condition: Expr,
    /// The statements of the block as written, in order.
    pub actions: Vec<Expr>,
}

/// `component name = Model(param: value, …)`: the bindings give the component's
/// parameters (or constants) values from this model.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    pub name: Ident,
    pub model: Ident,
    /// Each binding is named (`rate: 2.0`).
    pub bindings: Vec<Arg>,
}

/// `circuit name(qubits: n) { statements }`: gates applied in order to `n` qubits that
/// start in `|0…0⟩`. The checker unrolls the loops and gives the gates their meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct Circuit {
    pub name: Ident,
    /// The named options in the parentheses (`qubits: n`).
    pub options: Vec<Arg>,
    pub body: Vec<CircuitStmt>,
}

/// One statement of a circuit.
#[derive(Clone, Debug, PartialEq)]
pub enum CircuitStmt {
    /// A gate: a call such as `rzz(theta[0], i, i + 1)` (angles first, then qubits).
    Gate(Expr),
    /// `for i in 0..n { … }`: the body once per index value.
    For {
        binder: IndexBinder,
        body: Vec<CircuitStmt>,
        span: Span,
    },
}

impl CircuitStmt {
    /// The statement's gates and loop bounds, in source order.
    pub fn exprs_mut<'a>(&'a mut self, out: &mut Vec<&'a mut Expr>) {
        match self {
            CircuitStmt::Gate(e) => out.push(e),
            CircuitStmt::For { binder, body, .. } => {
                out.push(&mut binder.start);
                out.push(&mut binder.end);
                for s in body {
                    s.exprs_mut(out);
                }
            }
        }
    }

    /// The statement's gates and loop bounds, in source order.
    pub fn exprs<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            CircuitStmt::Gate(e) => out.push(e),
            CircuitStmt::For { binder, body, .. } => {
                out.push(&binder.start);
                out.push(&binder.end);
                for s in body {
                    s.exprs(out);
                }
            }
        }
    }
}

/// `observable name = value`: a sum of real multiples of products of the Pauli operators
/// `X(q)`, `Y(q)`, `Z(q)` (and `I()`, the identity).
#[derive(Clone, Debug, PartialEq)]
pub struct Observable {
    pub name: Ident,
    pub value: Expr,
}

/// `domain name: v in [lo, hi], ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    pub name: Ident,
    pub dims: Vec<DomainDim>,
}

/// One coordinate of a domain: `x in [-1, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainDim {
    pub var: Ident,
    pub lo: Expr,
    pub hi: Expr,
    /// `t in [0, 160] day`: the unit of the coordinate (the model's time unit).
    pub unit: Option<UnitExpr>,
    pub span: Span,
}

/// `net name(args) = constructor`.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    pub name: Ident,
    pub args: Vec<Ident>,
    /// The architecture, a call such as `mlp(hidden: [20, 20], activation: tanh)`.
    pub arch: Expr,
}

/// `residual name on domain [where cond] [, key value]*: value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Residual {
    pub name: Ident,
    pub domain: Ident,
    pub condition: Option<Expr>,
    /// Options such as `points 2048`, `weight 10`, `sampling sobol`.
    pub options: Vec<ResidualOption>,
    pub value: Expr,
}

/// One `key value` option of a residual.
#[derive(Clone, Debug, PartialEq)]
pub struct ResidualOption {
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `loss [name] = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Loss {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// `data name(col: unit, ...) = source`.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    pub name: Ident,
    pub columns: Vec<FnParam>,
    /// Where the data comes from, e.g. `csv("lv_obs.csv")`.
    pub source: Expr,
}

/// Dense id of an expression node, assigned in source order after parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ExprId(pub u32);

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    pub id: ExprId,
}

/// What an expression is.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number literal; `text` is kept as written for the formatter.
    Number {
        value: f64,
        text: String,
    },
    /// A string literal (file names of data sources), without quotes, escapes resolved.
    Str(String),
    /// A name.
    Name(Ident),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `callee(args)`; derivative operators (`der`, `d`, `∂`, `grad`, `jacobian`, `hessian`,
    /// `laplacian`) and built-in functions are calls too, resolved by the checker.
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `base[indices]`.
    Index {
        base: Box<Expr>,
        indices: Vec<Expr>,
    },
    /// `base.field` (a data column: `obs.t`).
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    /// `if cond then a else b`.
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `op(i in a..b, j in c..d: body)` with `op` one of `sum`, `prod`, `max`, `min`, `mean`.
    Reduce {
        op: Ident,
        binders: Vec<IndexBinder>,
        body: Box<Expr>,
    },
    /// `[a, b, c]`.
    Array(Vec<Expr>),
    /// Placeholder for a part of the source that did not parse; a diagnostic was reported.
    Error,
}

/// One argument of a call, positional (`x`) or named (`hidden: [20, 20]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x` (also `−x`).
    Neg,
    /// `+x`.
    Plus,
    /// `not x` (also `¬x`).
    Not,
}

/// Infix operators, by increasing precedence: `or`; `and`; comparisons (non-associative);
/// `+ -`; `* /`; prefix `- + not`; `^` (right-associative, binds tighter than prefix minus,
/// so `-x^2 = -(x^2)`); postfix calls, indexing and fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinaryOp {
    /// The ASCII spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
        }
    }

    /// True for `== != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

impl Expr {
    /// An error placeholder at `span`.
    pub fn error(span: Span) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span,
            id: ExprId::default(),
        }
    }

    /// A new expression (its id is assigned by [`number_exprs`]).
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span,
            id: ExprId::default(),
        }
    }

    /// Calls `f` on this expression and every sub-expression, parents first.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Number { .. } | ExprKind::Str(_) | ExprKind::Name(_) | ExprKind::Error => {}
            ExprKind::Unary(_, a) => a.walk(f),
            ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.value.walk(f)),
            ExprKind::Index { base, indices } => {
                base.walk(f);
                indices.iter().for_each(|e| e.walk(f));
            }
            ExprKind::Field { base, .. } => base.walk(f),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                cond.walk(f);
                then.walk(f);
                otherwise.walk(f);
            }
            ExprKind::Reduce { binders, body, .. } => {
                for b in binders {
                    b.start.walk(f);
                    b.end.walk(f);
                }
                body.walk(f);
            }
            ExprKind::Array(items) => items.iter().for_each(|e| e.walk(f)),
        }
    }

    /// Mutable pre-order traversal, as [`Expr::walk`].
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        f(self);
        match &mut self.kind {
            ExprKind::Number { .. } | ExprKind::Str(_) | ExprKind::Name(_) | ExprKind::Error => {}
            ExprKind::Unary(_, a) => a.walk_mut(f),
            ExprKind::Binary(_, a, b) => {
                a.walk_mut(f);
                b.walk_mut(f);
            }
            ExprKind::Call { args, .. } => args.iter_mut().for_each(|a| a.value.walk_mut(f)),
            ExprKind::Index { base, indices } => {
                base.walk_mut(f);
                indices.iter_mut().for_each(|e| e.walk_mut(f));
            }
            ExprKind::Field { base, .. } => base.walk_mut(f),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                cond.walk_mut(f);
                then.walk_mut(f);
                otherwise.walk_mut(f);
            }
            ExprKind::Reduce { binders, body, .. } => {
                for b in binders {
                    b.start.walk_mut(f);
                    b.end.walk_mut(f);
                }
                body.walk_mut(f);
            }
            ExprKind::Array(items) => items.iter_mut().for_each(|e| e.walk_mut(f)),
        }
    }
}

/// Every top-level expression of the file, in source order (each is the root of a tree).
pub fn root_exprs_mut(file: &mut SourceFile) -> Vec<&mut Expr> {
    let mut out: Vec<&mut Expr> = Vec::new();
    for item in &mut file.items {
        match &mut item.kind {
            ItemKind::Use(_) => {}
            ItemKind::Fn(f) => fn_exprs_mut(f, &mut out),
            ItemKind::Const(d) => decl_exprs_mut(d, &mut out),
            ItemKind::Model(m) => {
                for member in &mut m.members {
                    member_exprs_mut(&mut member.kind, &mut out);
                }
            }
        }
    }
    out
}

fn fn_exprs_mut<'a>(f: &'a mut FnDecl, out: &mut Vec<&'a mut Expr>) {
    for p in &mut f.params {
        if let Some(ty) = &mut p.ty {
            type_exprs_mut(ty, out);
        }
    }
    if let Some(ty) = &mut f.result {
        type_exprs_mut(ty, out);
    }
    out.push(&mut f.body);
}

fn type_exprs_mut<'a>(ty: &'a mut TypeAnn, out: &mut Vec<&'a mut Expr>) {
    if let Some(dims) = &mut ty.tensor {
        out.extend(dims.iter_mut());
    }
}

fn decl_exprs_mut<'a>(d: &'a mut Decl, out: &mut Vec<&'a mut Expr>) {
    for b in &mut d.index {
        out.push(&mut b.start);
        out.push(&mut b.end);
    }
    if let Some(ty) = &mut d.ty {
        type_exprs_mut(ty, out);
    }
    out.push(&mut d.value);
}

/// The expressions of one member, each the root of a tree.
pub fn member_exprs_mut<'a>(kind: &'a mut MemberKind, out: &mut Vec<&'a mut Expr>) {
    match kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => decl_exprs_mut(d, out),
        MemberKind::Der(eq) => out.push(&mut eq.value),
        MemberKind::When(w) => {
            out.push(&mut w.condition);
            out.extend(w.actions.iter_mut());
        }
        MemberKind::Algebraic(e) => out.push(e),
        MemberKind::Component(c) => out.extend(c.bindings.iter_mut().map(|b| &mut b.value)),
        MemberKind::Circuit(c) => {
            out.extend(c.options.iter_mut().map(|o| &mut o.value));
            for s in &mut c.body {
                s.exprs_mut(out);
            }
        }
        MemberKind::Observable(o) => out.push(&mut o.value),
        MemberKind::Domain(dom) => {
            for d in &mut dom.dims {
                out.push(&mut d.lo);
                out.push(&mut d.hi);
            }
        }
        MemberKind::Net(n) => out.push(&mut n.arch),
        MemberKind::Residual(r) => {
            if let Some(c) = &mut r.condition {
                out.push(c);
            }
            for o in &mut r.options {
                out.push(&mut o.value);
            }
            out.push(&mut r.value);
        }
        MemberKind::Loss(l) => out.push(&mut l.value),
        MemberKind::Data(d) => {
            for c in &mut d.columns {
                if let Some(ty) = &mut c.ty {
                    type_exprs_mut(ty, out);
                }
            }
            out.push(&mut d.source);
        }
        MemberKind::Fn(f) => fn_exprs_mut(f, out),
        MemberKind::Use(_) => {}
    }
}

/// Assigns dense [`ExprId`]s to every expression in source order; returns how many.
pub fn number_exprs(file: &mut SourceFile) -> u32 {
    let mut next = 0u32;
    for root in root_exprs_mut(file) {
        root.walk_mut(&mut |e| {
            e.id = ExprId(next);
            next += 1;
        });
    }
    next
}
