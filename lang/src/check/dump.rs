//! A compact, stable text form of the checked program, for snapshot tests and
//! `sci check --hir`. Spans are left out; names are resolved back to source names.

use crate::hir::{
    BatchKind, Binary, BinderId, Compare, Defn, DiffVar, FnHir, HExpr, HExprKind, ModelHir,
    Program, Scalar, Ty,
};
use std::fmt::Write;

/// Deepest expression printed; deeper parts print as `…`.
const MAX_DEPTH: u32 = 400;

/// The whole program as text.
pub fn dump_program(p: &Program) -> String {
    let mut out = String::new();
    for m in &p.models {
        dump_model(&mut out, m, &p.functions);
    }
    for f in &p.functions {
        dump_fn(&mut out, f, &p.functions);
    }
    out
}

/// A type as `real[3] m/s`, `int`, `bool`, with `per <batch>` when batched.
pub fn ty_text(ty: &Ty) -> String {
    let mut s = match ty.scalar {
        Scalar::Real => "real".to_string(),
        Scalar::Int => "int".to_string(),
        Scalar::Bool => "bool".to_string(),
    };
    if !ty.shape.is_empty() {
        let dims: Vec<String> = ty.shape.iter().map(|d| d.to_string()).collect();
        let _ = write!(s, "[{}]", dims.join(", "));
    }
    if let Some(u) = &ty.unit {
        let _ = write!(s, " {u}");
    }
    match ty.batch {
        Some(BatchKind::Residual(r)) => {
            let _ = write!(s, " per point of residual#{}", r.0);
        }
        Some(BatchKind::Data(d)) => {
            let _ = write!(s, " per row of data#{}", d.0);
        }
        None => {}
    }
    s
}

fn values(v: &[f64]) -> String {
    if v.len() == 1 {
        return num(v[0]);
    }
    let shown: Vec<String> = v.iter().take(6).map(|x| num(*x)).collect();
    if v.len() > 6 {
        format!("[{}, … ({} values)]", shown.join(", "), v.len())
    } else {
        format!("[{}]", shown.join(", "))
    }
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn unit_text(u: &Option<sci_ir::Unit>) -> String {
    u.map(|u| format!(" {u}")).unwrap_or_default()
}

fn shape_text(s: &[usize]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
        format!("[{}]", dims.join(", "))
    }
}

fn dump_model(out: &mut String, m: &ModelHir, fns: &[FnHir]) {
    let _ = writeln!(out, "model {}", m.name);
    if let Some(t) = &m.time_unit {
        let _ = writeln!(out, "  time unit {t}");
    }
    let p = Printer {
        model: Some(m),
        func: None,
        fns,
    };
    for c in &m.consts {
        let _ = writeln!(
            out,
            "  const {}{}{} = {}",
            c.name,
            shape_text(&c.shape),
            unit_text(&c.unit),
            values(&c.value)
        );
    }
    for x in &m.params {
        let _ = writeln!(
            out,
            "  param {}{}{} = {}",
            x.name,
            shape_text(&x.shape),
            unit_text(&x.unit),
            values(&x.default)
        );
    }
    for s in &m.states {
        let _ = writeln!(
            out,
            "  state {}{}{}",
            s.name,
            shape_text(&s.shape),
            unit_text(&s.unit)
        );
        let _ = writeln!(out, "    init = {}", p.defn(&s.init));
        if let Some(r) = &s.rhs {
            let _ = writeln!(out, "    der  = {}", p.defn(r));
        }
    }
    for l in &m.lets {
        let _ = writeln!(
            out,
            "  let {}{}{} = {}",
            l.name,
            shape_text(&l.shape),
            unit_text(&l.unit),
            p.defn(&l.defn)
        );
    }
    for o in &m.outputs {
        let _ = writeln!(
            out,
            "  output {}{}{} = {}",
            o.name,
            shape_text(&o.shape),
            unit_text(&o.unit),
            p.defn(&o.defn)
        );
    }
    for g in &m.algebraic {
        let _ = writeln!(
            out,
            "  0 = {}  : {}",
            p.expr(g, &mut Vec::new(), 0),
            ty_text(&g.ty)
        );
    }
    if !m.algebraic_states.is_empty() {
        let names: Vec<&str> = (m.algebraic_states.iter())
            .filter_map(|s| m.states.get(s.index()).map(|st| st.name.as_str()))
            .collect();
        let _ = writeln!(out, "  algebraic states: {}", names.join(", "));
    }
    for e in &m.events {
        let trigger = match &e.trigger {
            crate::hir::EventTrigger::Crossing { g, rising } => format!(
                "{} crossing of {}",
                if *rising { "rising" } else { "falling" },
                p.expr(g, &mut Vec::new(), 0)
            ),
            crate::hir::EventTrigger::Every { period, start } => match start {
                Some(t0) => format!("every {period} from {t0}"),
                None => format!("every {period}"),
            },
        };
        let _ = writeln!(out, "  when {}: {trigger}", e.label);
        for r in &e.resets {
            let target = m
                .states
                .get(r.state.index())
                .map_or("?", |s| s.name.as_str());
            let element = r
                .element
                .map(|k| format!(" element {k}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    reinit {target}{element} = {}",
                p.expr(&r.value, &mut Vec::new(), 0)
            );
        }
        if e.stop {
            let _ = writeln!(out, "    stop");
        }
    }
    for d in &m.domains {
        let coords: Vec<String> = d
            .coords
            .iter()
            .map(|c| {
                format!(
                    "{} in [{}, {}]{}",
                    c.name,
                    num(c.lo),
                    num(c.hi),
                    unit_text(&c.unit)
                )
            })
            .collect();
        let _ = writeln!(out, "  domain {}: {}", d.name, coords.join(", "));
    }
    for n in &m.nets {
        let list = |sizes: &[usize]| {
            let sizes: Vec<String> = sizes.iter().map(|h| h.to_string()).collect();
            sizes.join(", ")
        };
        let grids: Vec<String> = (n.operator.iter())
            .flat_map(|op| op.grids())
            .map(|g| format!("[{}]", list(g)))
            .collect();
        match &n.operator {
            Some(crate::hir::OperatorHir::Fno(f)) => {
                let _ = writeln!(
                    out,
                    "  net {}({}) = fno(modes {}, width {}, layers {}, projection {}, seed {}) on {}",
                    n.name,
                    n.inputs.join(", "),
                    f.modes,
                    f.width,
                    f.layers,
                    f.projection,
                    n.seed,
                    grids.join(", ")
                );
                continue;
            }
            Some(crate::hir::OperatorHir::DeepOnet(d)) => {
                let _ = writeln!(
                    out,
                    "  net {}({}) = deeponet(branch [{}], trunk [{}], features {}, {:?}, seed {}) on {}",
                    n.name,
                    n.inputs.join(", "),
                    list(&d.branch),
                    list(&d.trunk),
                    d.features,
                    d.activation,
                    n.seed,
                    grids.join(", ")
                );
                continue;
            }
            None => {}
        }
        let hidden: Vec<String> = n.hidden.iter().map(|h| h.to_string()).collect();
        let _ = writeln!(
            out,
            "  net {}({}) = mlp(hidden [{}], {:?}, outputs {}, seed {}{})",
            n.name,
            n.inputs.join(", "),
            hidden.join(", "),
            n.activation,
            n.outputs,
            n.seed,
            // Only a non-default initialisation is shown, so older dumps stay valid.
            match n.init {
                crate::hir::Init::Glorot => "",
                crate::hir::Init::He => ", init He",
            }
        );
    }
    for d in &m.data {
        let cols: Vec<String> = d
            .columns
            .iter()
            .map(|(c, u)| format!("{c}{}", unit_text(u)))
            .collect();
        let _ = writeln!(out, "  data {}({}) = {:?}", d.name, cols.join(", "), d.path);
    }
    for r in &m.residuals {
        let dom = m.domains.get(r.domain.index());
        let fixed: Vec<String> = r
            .fixed
            .iter()
            .map(|f| {
                let alts: Vec<String> = f
                    .alternatives
                    .iter()
                    .map(|(c, v)| {
                        let name = dom
                            .and_then(|d| d.coords.get(*c))
                            .map_or("?", |c| c.name.as_str());
                        format!("{name} = {}", num(*v))
                    })
                    .collect();
                alts.join(" or ")
            })
            .collect();
        let _ = writeln!(
            out,
            "  residual {} on {}{}, points {}, weight {}, {:?}: {}",
            r.name,
            dom.map_or("?", |d| d.name.as_str()),
            if fixed.is_empty() {
                String::new()
            } else {
                format!(" where {}", fixed.join(" and "))
            },
            r.points,
            num(r.weight),
            r.sampling,
            ty_text(&r.value.ty)
        );
        let rp = Printer {
            model: Some(m),
            func: None,
            fns,
        };
        let _ = writeln!(out, "    = {}", rp.expr(&r.value, &mut Vec::new(), 0));
    }
    if let Some(l) = &m.loss {
        let _ = writeln!(
            out,
            "  loss: {} = {}",
            ty_text(&l.ty),
            p.expr(l, &mut Vec::new(), 0)
        );
    }
}

fn dump_fn(out: &mut String, f: &FnHir, fns: &[FnHir]) {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, ty_text(&p.ty)))
        .collect();
    let p = Printer {
        model: None,
        func: Some(f),
        fns,
    };
    let _ = writeln!(
        out,
        "fn {}({}) -> {}",
        f.symbol,
        params.join(", "),
        ty_text(&f.body.ty)
    );
    let _ = writeln!(out, "    = {}", p.expr(&f.body, &mut Vec::new(), 0));
}

struct Printer<'a> {
    model: Option<&'a ModelHir>,
    func: Option<&'a FnHir>,
    fns: &'a [FnHir],
}

impl Printer<'_> {
    fn defn(&self, d: &Defn) -> String {
        let mut names: Vec<(BinderId, String)> =
            d.binders.iter().map(|b| (b.id, b.name.clone())).collect();
        let body = self.expr(&d.value, &mut names, 0);
        if d.binders.is_empty() {
            format!("{body}  : {}", ty_text(&d.value.ty))
        } else {
            let bs: Vec<String> = d
                .binders
                .iter()
                .map(|b| format!("{} in {}..{}", b.name, b.start, b.end))
                .collect();
            format!("for {}: {body}  : {}", bs.join(", "), ty_text(&d.value.ty))
        }
    }

    fn list(&self, items: &[HExpr], names: &mut Vec<(BinderId, String)>, depth: u32) -> String {
        items
            .iter()
            .map(|i| self.expr(i, names, depth + 1))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn expr(&self, h: &HExpr, names: &mut Vec<(BinderId, String)>, depth: u32) -> String {
        if depth > MAX_DEPTH {
            return "…".into();
        }
        let d = depth + 1;
        let m = self.model;
        match &h.kind {
            HExprKind::Const(v) => num(*v),
            HExprKind::ConstArray(v) => values(v),
            HExprKind::Array(items) => format!("[{}]", self.list(items, names, depth)),
            HExprKind::Param(id) => m
                .and_then(|m| m.params.get(id.index()))
                .map_or("param?".into(), |p| p.name.clone()),
            HExprKind::State(id) => m
                .and_then(|m| m.states.get(id.index()))
                .map_or("state?".into(), |s| s.name.clone()),
            HExprKind::Let(id) => m
                .and_then(|m| m.lets.get(id.index()))
                .map_or("let?".into(), |s| s.name.clone()),
            HExprKind::Output(id) => m
                .and_then(|m| m.outputs.get(id.index()))
                .map_or("output?".into(), |s| s.name.clone()),
            HExprKind::Time => "t".into(),
            HExprKind::Coord(i) => format!("coord#{i}"),
            HExprKind::IndexVar(id) => names
                .iter()
                .rev()
                .find(|(b, _)| b == id)
                .map_or(format!("index#{}", id.0), |(_, n)| n.clone()),
            HExprKind::Local(i) => self
                .func
                .and_then(|f| f.params.get(*i))
                .map_or(format!("local#{i}"), |p| p.name.clone()),
            HExprKind::DataColumn { data, column } => m
                .and_then(|m| m.data.get(data.index()))
                .map_or("data?".into(), |d| {
                    format!(
                        "{}.{}",
                        d.name,
                        d.columns.get(*column).map_or("?", |c| c.0.as_str())
                    )
                }),
            HExprKind::StateAt { state, data, .. } => {
                let s = m
                    .and_then(|m| m.states.get(state.index()))
                    .map_or("state?", |s| s.name.as_str());
                let dn = m
                    .and_then(|m| m.data.get(data.index()))
                    .map_or("data?", |d| d.name.as_str());
                format!("{s} at {dn} times")
            }
            HExprKind::Expval {
                circuit,
                observable,
            } => format!(
                "expval({}, {})",
                m.and_then(|m| m.circuits.get(circuit.index()))
                    .map_or("circuit?", |c| c.name.as_str()),
                m.and_then(|m| m.observables.get(observable.index()))
                    .map_or("observable?", |o| o.name.as_str())
            ),
            HExprKind::Residual(id) => m
                .and_then(|m| m.residuals.get(id.index()))
                .map_or("residual?".into(), |r| format!("residual {}", r.name)),
            HExprKind::Der(id) => format!(
                "der({})",
                m.and_then(|m| m.states.get(id.index()))
                    .map_or("state?", |s| s.name.as_str())
            ),
            HExprKind::Unary(op, a) => format!("{}({})", op.name(), self.expr(a, names, d)),
            HExprKind::Binary(op, a, b) => {
                let sym = match op {
                    Binary::Add => Some("+"),
                    Binary::Sub => Some("-"),
                    Binary::Mul => Some("*"),
                    Binary::Div => Some("/"),
                    Binary::Pow => Some("^"),
                    Binary::And => Some("and"),
                    Binary::Or => Some("or"),
                    _ => None,
                };
                let (x, y) = (self.expr(a, names, d), self.expr(b, names, d));
                match sym {
                    Some(s) => format!("({x} {s} {y})"),
                    None => format!("{}({x}, {y})", op.name()),
                }
            }
            HExprKind::Powi(a, n) => format!("powi({}, {n})", self.expr(a, names, d)),
            HExprKind::Compare(op, a, b) => {
                let s = match op {
                    Compare::Eq => "==",
                    Compare::Ne => "!=",
                    Compare::Lt => "<",
                    Compare::Le => "<=",
                    Compare::Gt => ">",
                    Compare::Ge => ">=",
                };
                format!(
                    "({} {s} {})",
                    self.expr(a, names, d),
                    self.expr(b, names, d)
                )
            }
            HExprKind::Select(c, a, b) => format!(
                "select({}, {}, {})",
                self.expr(c, names, d),
                self.expr(a, names, d),
                self.expr(b, names, d)
            ),
            HExprKind::ToReal(a) => format!("real({})", self.expr(a, names, d)),
            HExprKind::Index {
                base,
                indices,
                fill,
            } => {
                let f = fill.map(|f| format!(" or {}", num(f))).unwrap_or_default();
                format!(
                    "{}[{}{f}]",
                    self.expr(base, names, d),
                    self.list(indices, names, depth)
                )
            }
            HExprKind::Reduce { op, binders, body } => {
                let before = names.len();
                names.extend(binders.iter().map(|b| (b.id, b.name.clone())));
                let bs: Vec<String> = binders
                    .iter()
                    .map(|b| format!("{} in {}..{}", b.name, b.start, b.end))
                    .collect();
                let body = self.expr(body, names, d);
                names.truncate(before);
                format!("{}({}: {body})", op.name(), bs.join(", "))
            }
            HExprKind::ReduceAll(op, a) => format!("{}_all({})", op.name(), self.expr(a, names, d)),
            HExprKind::ReduceBatch(op, a) => {
                format!("{}_batch({})", op.name(), self.expr(a, names, d))
            }
            HExprKind::Dot(a, b) => format!(
                "dot({}, {})",
                self.expr(a, names, d),
                self.expr(b, names, d)
            ),
            HExprKind::MatVec(a, b) => format!(
                "matvec({}, {})",
                self.expr(a, names, d),
                self.expr(b, names, d)
            ),
            HExprKind::MatMul(a, b) => format!(
                "matmul({}, {})",
                self.expr(a, names, d),
                self.expr(b, names, d)
            ),
            HExprKind::Transpose(a) => format!("transpose({})", self.expr(a, names, d)),
            HExprKind::Rfft(a, k) => format!("rfft({}, {k})", self.expr(a, names, d)),
            HExprKind::Irfft(a, k) => format!("irfft({}, {k})", self.expr(a, names, d)),
            HExprKind::Rfft2(a, [m1, m2]) => {
                format!("rfft2({}, {m1}, {m2})", self.expr(a, names, d))
            }
            HExprKind::Irfft2(a, [n1, n2]) => {
                format!("irfft2({}, {n1}, {n2})", self.expr(a, names, d))
            }
            HExprKind::Call { func, args } => format!(
                "{}({})",
                self.fns
                    .get(func.index())
                    .map_or("fn?", |f| f.symbol.as_str()),
                self.list(args, names, depth)
            ),
            HExprKind::Net { net, args } => format!(
                "{}({})",
                m.and_then(|m| m.nets.get(net.index()))
                    .map_or("net?", |n| n.name.as_str()),
                self.list(args, names, depth)
            ),
            HExprKind::Deriv { of, wrt } => {
                let vars: Vec<String> = wrt
                    .iter()
                    .map(|v| match v {
                        DiffVar::Coord(i) => format!("coord#{i}"),
                        DiffVar::Local(i) => self
                            .func
                            .and_then(|f| f.params.get(*i))
                            .map_or(format!("local#{i}"), |p| p.name.clone()),
                    })
                    .collect();
                format!("d({}; {})", self.expr(of, names, d), vars.join(", "))
            }
        }
    }
}
