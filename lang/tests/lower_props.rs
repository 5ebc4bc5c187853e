//! Property test: for random right-hand sides built from arithmetic, functions, comparisons,
//! `if`, integer indices and reductions, the lowered `rhs` is valid IR and the reference
//! interpreter computes what a direct evaluation of the HIR computes.

use proptest::prelude::*;
use sci_diag::Span;
use sci_ir::interp::{Tensor, eval};
use sci_ir::validate::validate_module;
use sci_lang::hir::*;
use sci_lang::lower::lower_model;

const PARAMS: [f64; 2] = [0.7, -1.3];
const STATES: [f64; 3] = [0.4, 1.1, -0.6];
/// The array state `v` and its length.
const V: [f64; 4] = [0.25, -0.5, 1.5, 2.0];

fn ex(kind: HExprKind, ty: Ty) -> HExpr {
    HExpr {
        kind,
        ty,
        span: Span::default(),
    }
}

fn real() -> Ty {
    Ty::real(None)
}

/// Real scalar expressions; `depth` bounds the nesting, `binder` is the index variable in
/// scope (inside a `sum`), if any.
fn real_expr(depth: u32, binder: Option<u32>) -> BoxedStrategy<HExpr> {
    let leaf = prop_oneof![
        (-3.0..3.0f64).prop_map(|c| ex(HExprKind::Const(c), real())),
        (0..2u32).prop_map(|k| ex(HExprKind::Param(ParamId(k)), real())),
        (0..3u32).prop_map(|k| ex(HExprKind::State(StateId(k)), real())),
        // v[i + c] with the Dirichlet fill 0, or v[c] in range.
        (0..4i64, -1..2i64).prop_map(move |(c, off)| {
            let v = ex(
                HExprKind::State(StateId(3)),
                Ty {
                    shape: vec![V.len()],
                    ..real()
                },
            );
            let index = match binder {
                Some(b) => ex(
                    HExprKind::Binary(
                        Binary::Add,
                        Box::new(ex(HExprKind::IndexVar(BinderId(b)), Ty::int())),
                        Box::new(ex(HExprKind::Const(off as f64), Ty::int())),
                    ),
                    Ty::int(),
                ),
                None => ex(HExprKind::Const(c as f64), Ty::int()),
            };
            ex(
                HExprKind::Index {
                    base: Box::new(v),
                    indices: vec![index],
                    fill: binder.map(|_| 0.0),
                },
                real(),
            )
        }),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let sub = move || real_expr(depth - 1, binder);
    let next_binder = binder.map_or(0, |b| b + 1);
    prop_oneof![
        2 => leaf,
        2 => (
            prop::sample::select(vec![Unary::Neg, Unary::Sin, Unary::Cos, Unary::Tanh, Unary::Abs]),
            sub()
        )
            .prop_map(|(op, a)| ex(HExprKind::Unary(op, Box::new(a)), real())),
        3 => (
            prop::sample::select(vec![Binary::Add, Binary::Sub, Binary::Mul, Binary::Min, Binary::Max]),
            sub(),
            sub()
        )
            .prop_map(|(op, a, b)| ex(HExprKind::Binary(op, Box::new(a), Box::new(b)), real())),
        1 => (sub(), 0..4i32).prop_map(|(a, n)| ex(HExprKind::Powi(Box::new(a), n), real())),
        1 => (
            prop::sample::select(vec![Compare::Lt, Compare::Ge, Compare::Eq]),
            sub(),
            sub(),
            sub(),
            sub()
        )
            .prop_map(|(op, l, r, a, b)| {
                let c = ex(HExprKind::Compare(op, Box::new(l), Box::new(r)), Ty::boolean());
                ex(HExprKind::Select(Box::new(c), Box::new(a), Box::new(b)), real())
            }),
        1 => real_expr(depth - 1, Some(next_binder)).prop_map(move |body| {
            let b = Binder {
                id: BinderId(next_binder),
                name: format!("i{next_binder}"),
                start: 0,
                end: V.len() as i64,
                span: Span::default(),
            };
            ex(
                HExprKind::Reduce {
                    op: Reduction::Sum,
                    binders: vec![b],
                    body: Box::new(body),
                },
                real(),
            )
        }),
    ]
    .boxed()
}

/// Direct evaluation of the HIR, the oracle.
fn eval_hir(e: &HExpr, binders: &mut Vec<(u32, i64)>) -> f64 {
    use HExprKind as K;
    match &e.kind {
        K::Const(c) => *c,
        K::Param(p) => PARAMS[p.index()],
        K::State(s) => STATES[s.index()],
        K::IndexVar(b) => binders
            .iter()
            .rev()
            .find(|(id, _)| *id == b.0)
            .map(|(_, v)| *v as f64)
            .unwrap(),
        K::Index { indices, fill, .. } => {
            let i = eval_hir(&indices[0], binders) as i64;
            if i < 0 || i >= V.len() as i64 {
                fill.unwrap()
            } else {
                V[i as usize]
            }
        }
        K::Unary(op, a) => {
            let x = eval_hir(a, binders);
            match op {
                Unary::Neg => -x,
                Unary::Sin => x.sin(),
                Unary::Cos => x.cos(),
                Unary::Tanh => x.tanh(),
                Unary::Abs => x.abs(),
                _ => unreachable!(),
            }
        }
        K::Binary(op, a, b) => {
            let (x, y) = (eval_hir(a, binders), eval_hir(b, binders));
            match op {
                Binary::Add => x + y,
                Binary::Sub => x - y,
                Binary::Mul => x * y,
                Binary::Min => x.min(y),
                Binary::Max => x.max(y),
                _ => unreachable!(),
            }
        }
        K::Powi(a, n) => eval_hir(a, binders).powi(*n),
        K::Select(c, a, b) => {
            let (x, y) = (eval_hir(a, binders), eval_hir(b, binders));
            let K::Compare(op, l, r) = &c.kind else {
                unreachable!()
            };
            let (l, r) = (eval_hir(l, binders), eval_hir(r, binders));
            let cond = match op {
                Compare::Lt => l < r,
                Compare::Ge => l >= r,
                Compare::Eq => l == r,
                _ => unreachable!(),
            };
            if cond { x } else { y }
        }
        K::Reduce {
            binders: bs, body, ..
        } => {
            let b = &bs[0];
            let mut sum = 0.0;
            for i in b.start..b.end {
                binders.push((b.id.0, i));
                sum += eval_hir(body, binders);
                binders.pop();
            }
            sum
        }
        _ => unreachable!(),
    }
}

fn model_with_rhs(rhs: HExpr) -> ModelHir {
    let scalar_state = |name: &str, init: f64, rhs: HExpr| StateHir {
        name: name.to_string(),
        shape: vec![],
        unit: None,
        init: Defn {
            binders: vec![],
            value: ex(HExprKind::Const(init), real()),
        },
        rhs: Some(Defn {
            binders: vec![],
            value: rhs,
        }),
        span: Span::default(),
    };
    let zero = || ex(HExprKind::Const(0.0), real());
    let v_ty = Ty {
        shape: vec![V.len()],
        ..real()
    };
    ModelHir {
        name: "Random".to_string(),
        span: Span::default(),
        consts: vec![],
        params: PARAMS
            .iter()
            .enumerate()
            .map(|(k, v)| ParamHir {
                name: format!("p{k}"),
                shape: vec![],
                unit: None,
                default: vec![*v],
                fixed: false,
                span: Span::default(),
            })
            .collect(),
        states: vec![
            scalar_state("a", 0.0, rhs),
            scalar_state("b", 0.0, zero()),
            scalar_state("c", 0.0, zero()),
            StateHir {
                name: "v".to_string(),
                shape: vec![V.len()],
                unit: None,
                init: Defn {
                    binders: vec![],
                    value: ex(HExprKind::Const(0.0), v_ty.clone()),
                },
                rhs: Some(Defn {
                    binders: vec![],
                    value: ex(HExprKind::Const(0.0), v_ty),
                }),
                span: Span::default(),
            },
        ],
        lets: vec![],
        outputs: vec![],
        domains: vec![],
        nets: vec![],
        residuals: vec![],
        data: vec![],
        loss: None,
        time_unit: None,
        events: vec![],
        inputs: vec![],
        unloaded_inputs: vec![],
        algebraic: vec![],
        algebraic_states: vec![],
        components: vec![],
        circuits: Vec::new(),
        observables: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn lowered_rhs_computes_the_hir(rhs in real_expr(4, None)) {
        let want = eval_hir(&rhs, &mut Vec::new());
        let model = model_with_rhs(rhs);
        let program = Program { models: vec![model.clone()], functions: vec![], consts: vec![] };
        let module = lower_model(&program, &model).expect("lowers");
        prop_assert!(validate_module(&module).is_ok(), "{:?}", validate_module(&module));
        let mut y = STATES.to_vec();
        y.extend(V);
        let rhs = module.function("rhs").expect("rhs");
        let out = eval(
            &module,
            rhs,
            &[Tensor::scalar(0.0), Tensor::vector(y), Tensor::vector(PARAMS.to_vec())],
        )
        .expect("evaluates");
        let got = out.data[0];
        prop_assert!(
            got == want || (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "got {got}, want {want}"
        );
    }
}
