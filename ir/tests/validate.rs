//! One test per validator rule: a builder-made function that breaks the rule, and the
//! message the validator must give. Each case also checks that the correct version passes
//! where one is obvious.

use sci_ir::validate::{CODE_BATCH, CODE_CALL, CODE_HANDLE, CODE_MODULE, CODE_SCOPE, CODE_TYPE};
use sci_ir::*;

fn f64s(shape: &[usize]) -> Type {
    Type::f64(shape.to_vec())
}

fn inputs(types: &[Type]) -> Vec<(String, Type)> {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("x{i}"), t.clone()))
        .collect()
}

/// Builds a one-function module and returns its validation errors as strings with codes.
fn errors_of(m: &Module) -> Vec<String> {
    match validate_module(m) {
        Ok(()) => Vec::new(),
        Err(errs) => errs.iter().map(|e| format!("[{}] {e}", e.code)).collect(),
    }
}

fn module_with(f: Function) -> Module {
    let mut m = Module::new("test");
    m.functions.push(f);
    m
}

fn build(types: &[Type], body: impl FnOnce(&mut FunctionBuilder) -> ValueId) -> Module {
    let mut b = FunctionBuilder::new("f", inputs(types));
    let r = body(&mut b);
    module_with(b.finish(r))
}

#[track_caller]
fn assert_error(m: &Module, code: &str, needle: &str) {
    let errs = errors_of(m);
    assert!(
        errs.iter().any(|e| e.contains(needle) && e.contains(code)),
        "expected an error [{code}] containing {needle:?}, got {errs:#?}"
    );
}

#[track_caller]
fn assert_valid(m: &Module) {
    assert_eq!(errors_of(m), Vec::<String>::new());
}

fn x(b: &FunctionBuilder, k: usize) -> ValueId {
    b.input(k).unwrap()
}

// ---- handles ---------------------------------------------------------------------------

#[test]
fn operand_out_of_range() {
    let m = build(&[Type::scalar()], |b| {
        b.push(
            Op::Unary(UnaryOp::Exp, ValueId::from_index(99)),
            Type::scalar(),
        )
    });
    assert_error(
        &m,
        CODE_HANDLE,
        "The operand %99 is out of range: the function has 2 values.",
    );
}

#[test]
fn result_out_of_range() {
    let m = build(&[Type::scalar()], |_| ValueId::from_index(7));
    assert_error(&m, CODE_HANDLE, "The block result %7 is out of range.");
}

#[test]
fn callee_out_of_range() {
    let m = build(&[Type::scalar()], |b| {
        let a = x(b, 0);
        b.push(
            Op::Call {
                func: FuncId::from_index(5),
                args: vec![a],
            },
            Type::scalar(),
        )
    });
    assert_error(
        &m,
        CODE_CALL,
        "The call refers to function #5 but the module has only 1 functions.",
    );
}

#[test]
fn value_defined_twice() {
    let mut m = build(&[Type::scalar()], |b| {
        let a = x(b, 0);
        b.push(Op::Unary(UnaryOp::Exp, a), Type::scalar())
    });
    let f = m.functions.get_mut(FuncId::from_index(0)).unwrap();
    let v = f.body.body[0];
    f.body.body.push(v);
    assert_error(
        &m,
        CODE_HANDLE,
        "This value is defined at more than one place",
    );
}

#[test]
fn cyclic_block_terminates() {
    // A tabulate whose own block contains the tabulate: must be reported, not loop.
    let mut m = build(&[], |b| {
        let args = b.begin_block(vec![(None, Type::index())]);
        let c = b.push(Op::Const(1.0), Type::scalar());
        let blk = b.end_block(c);
        let _ = args;
        b.push(
            Op::Tabulate {
                extents: vec![2],
                body: blk,
            },
            f64s(&[2]),
        )
    });
    let f = m.functions.get_mut(FuncId::from_index(0)).unwrap();
    let t = f.body.result;
    if let Op::Tabulate { body, .. } = &mut f.values[t].op {
        body.body.push(t);
    }
    assert_error(&m, CODE_HANDLE, "defined at more than one place");
}

#[test]
fn block_argument_must_be_its_own_arg() {
    let mut m = build(&[Type::scalar(), Type::scalar()], |b| x(b, 0));
    let f = m.functions.get_mut(FuncId::from_index(0)).unwrap();
    f.body.args.swap(0, 1);
    assert_error(
        &m,
        CODE_HANDLE,
        "Block argument 0 must be defined by `arg 0`, but it is defined by `arg 1`.",
    );
}

#[test]
fn arg_op_in_a_body() {
    let m = build(&[Type::scalar()], |b| b.push(Op::Arg(0), Type::scalar()));
    assert_error(&m, CODE_HANDLE, "`arg 0` may only define a block argument");
}

#[test]
fn blocks_nested_too_deep() {
    let m = build(&[], |b| {
        let depth = validate::MAX_BLOCK_DEPTH + 1;
        for _ in 0..depth {
            b.begin_block(vec![(None, Type::index())]);
        }
        let mut r = b.push(Op::Const(1.0), Type::scalar());
        let mut ty = Type::scalar();
        for _ in 0..depth {
            let blk = b.end_block(r);
            let mut shape = vec![1];
            shape.extend(ty.shape.clone());
            ty = Type::f64(shape);
            r = b.push(
                Op::Tabulate {
                    extents: vec![1],
                    body: blk,
                },
                ty.clone(),
            );
        }
        r
    });
    assert_error(&m, CODE_HANDLE, "Blocks are nested more than 64 deep.");
}

// ---- scoping ---------------------------------------------------------------------------

#[test]
fn use_before_definition() {
    let mut m = build(&[Type::scalar()], |b| {
        let a = x(b, 0);
        let e = b.push(Op::Unary(UnaryOp::Exp, a), Type::scalar());
        b.push(Op::Unary(UnaryOp::Sin, e), Type::scalar())
    });
    let f = m.functions.get_mut(FuncId::from_index(0)).unwrap();
    f.body.body.swap(0, 1);
    assert_error(&m, CODE_SCOPE, "This value uses %1 before it is defined");
}

#[test]
fn block_value_not_visible_outside() {
    let m = build(&[Type::scalar()], |b| {
        let a = x(b, 0);
        b.begin_block(vec![(None, Type::index())]);
        let inner = b.push(Op::Unary(UnaryOp::Exp, a), Type::scalar());
        let blk = b.end_block(inner);
        b.push(
            Op::Tabulate {
                extents: vec![2],
                body: blk,
            },
            f64s(&[2]),
        );
        b.push(Op::Binary(BinaryOp::Add, inner, a), Type::scalar())
    });
    assert_error(
        &m,
        CODE_SCOPE,
        "uses %2, which is defined inside another block and is not visible here",
    );
}

#[test]
fn block_may_use_outer_values() {
    let m = build(&[f64s(&[3])], |b| {
        let v = x(b, 0);
        let two = b.push(Op::Const(2.0), Type::scalar());
        let i = b.begin_block(vec![(Some("i".into()), Type::index())])[0];
        let e = b.push(
            Op::Index {
                array: v,
                indices: vec![i],
                fill: None,
            },
            Type::scalar(),
        );
        let p = b.push(Op::Binary(BinaryOp::Mul, e, two), Type::scalar());
        let blk = b.end_block(p);
        b.push(
            Op::Tabulate {
                extents: vec![3],
                body: blk,
            },
            f64s(&[3]),
        )
    });
    assert_valid(&m);
}

#[test]
fn deriv_with_respect_to_a_non_argument() {
    let m = build(&[Type::scalar()], |b| {
        let a = x(b, 0);
        let e = b.push(Op::Unary(UnaryOp::Exp, a), Type::scalar());
        b.push(
            Op::Deriv {
                of: e,
                wrt: vec![e],
            },
            Type::scalar(),
        )
    });
    assert_error(
        &m,
        CODE_SCOPE,
        "`deriv` differentiates with respect to %1, which is not an argument",
    );
}

#[test]
fn deriv_with_respect_to_a_tabulate_index_is_rejected() {
    let m = build(&[Type::scalar()], |b| {
        let a = x(b, 0);
        let i = b.begin_block(vec![(None, Type::index())])[0];
        let d = b.push(
            Op::Deriv {
                of: a,
                wrt: vec![i],
            },
            Type::scalar(),
        );
        let blk = b.end_block(d);
        b.push(
            Op::Tabulate {
                extents: vec![2],
                body: blk,
            },
            f64s(&[2]),
        )
    });
    assert_error(
        &m,
        CODE_SCOPE,
        "not an argument of the function or of an enclosing `map`",
    );
}

#[test]
fn deriv_shape_appends_variable_shapes() {
    let good = build(&[f64s(&[2]), f64s(&[3])], |b| {
        let (u, v) = (x(b, 0), x(b, 1));
        b.push(
            Op::Deriv {
                of: u,
                wrt: vec![u, v],
            },
            f64s(&[2, 2, 3]),
        )
    });
    assert_valid(&good);
    let bad = build(&[f64s(&[2]), f64s(&[3])], |b| {
        let (u, v) = (x(b, 0), x(b, 1));
        b.push(
            Op::Deriv {
                of: u,
                wrt: vec![u, v],
            },
            f64s(&[2, 3]),
        )
    });
    assert_error(
        &bad,
        CODE_TYPE,
        "`deriv` gives f64[2, 2, 3] here, but the value is declared f64[2, 3].",
    );
}

#[test]
fn deriv_inside_map_body_is_allowed() {
    let m = build(&[f64s(&[]).batched()], |b| {
        let pts = x(b, 0);
        let p = b.begin_block(vec![(None, Type::scalar())])[0];
        let s = b.push(Op::Unary(UnaryOp::Sin, p), Type::scalar());
        let d = b.push(
            Op::Deriv {
                of: s,
                wrt: vec![p, p],
            },
            Type::scalar(),
        );
        let blk = b.end_block(d);
        b.push(
            Op::Map {
                inputs: vec![pts],
                body: blk,
            },
            Type::scalar().batched(),
        )
    });
    assert_valid(&m);
}

// ---- types -----------------------------------------------------------------------------

#[test]
fn elementwise_operands_must_agree() {
    let m = build(&[f64s(&[2]), f64s(&[3])], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::Binary(BinaryOp::Add, p, q), f64s(&[2]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`add` needs operands of the same dtype and shape, but %0 is f64[2] and %1 is f64[3].",
    );
}

#[test]
fn declared_type_must_match() {
    let m = build(&[f64s(&[2])], |b| {
        let p = x(b, 0);
        b.push(Op::Unary(UnaryOp::Exp, p), f64s(&[3]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`exp` gives f64[2] here, but the value is declared f64[3].",
    );
}

#[test]
fn units_are_never_compared() {
    let metre = Some(Unit::base(0));
    let second = Some(Unit::base(2));
    let m = build(
        &[
            Type::scalar().with_unit(metre),
            Type::scalar().with_unit(second),
        ],
        |b| {
            let (p, q) = (x(b, 0), x(b, 1));
            b.push(
                Op::Binary(BinaryOp::Add, p, q),
                Type::scalar().with_unit(Some(Unit::base(3))),
            )
        },
    );
    assert_valid(&m);
}

#[test]
fn float_only_ops_reject_integers() {
    let m = build(&[Type::index()], |b| {
        let i = x(b, 0);
        b.push(Op::Unary(UnaryOp::Sqrt, i), Type::index())
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`sqrt` needs a floating-point (f64 or f32) operand, but %0 is i64.",
    );
    let m = build(&[Type::index(), Type::index()], |b| {
        let (i, j) = (x(b, 0), x(b, 1));
        b.push(Op::Binary(BinaryOp::Sub, i, j), Type::index())
    });
    assert_valid(&m);
}

#[test]
fn logic_needs_bool() {
    let m = build(&[Type::scalar()], |b| {
        let p = x(b, 0);
        b.push(Op::Unary(UnaryOp::Not, p), Type::scalar())
    });
    assert_error(&m, CODE_TYPE, "`not` needs a bool operand, but %0 is f64.");
}

#[test]
fn compare_gives_bool() {
    let m = build(&[Type::scalar(), Type::scalar()], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::Compare(CmpOp::Lt, p, q), Type::scalar())
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`lt` gives bool here, but the value is declared f64.",
    );
}

#[test]
fn select_needs_a_bool_condition_of_the_same_shape() {
    let m = build(&[Type::scalar(), Type::scalar()], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::Select(p, p, q), Type::scalar())
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`select` needs a bool operand, but %0 is f64.",
    );
    let m = build(
        &[Type::boolean(vec![2]), Type::scalar(), Type::scalar()],
        |b| {
            let (c, p, q) = (x(b, 0), x(b, 1), x(b, 2));
            b.push(Op::Select(c, p, q), Type::scalar())
        },
    );
    assert_error(
        &m,
        CODE_TYPE,
        "`select` needs a condition of the same shape as its branches",
    );
}

#[test]
fn cast_keeps_the_shape() {
    let m = build(&[f64s(&[2])], |b| {
        let p = x(b, 0);
        b.push(Op::Cast(p), Type::tensor(DType::F32, vec![3]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`cast` gives f32[2] here, but the value is declared f32[3].",
    );
}

#[test]
fn broadcast_follows_numpy_rules() {
    let ok = build(&[f64s(&[3, 1])], |b| {
        let p = x(b, 0);
        b.push(Op::Broadcast(p), f64s(&[2, 3, 4]))
    });
    assert_valid(&ok);
    let bad = build(&[f64s(&[3])], |b| {
        let p = x(b, 0);
        b.push(Op::Broadcast(p), f64s(&[3, 2]))
    });
    assert_error(
        &bad,
        CODE_TYPE,
        "%0 of shape [3] cannot be broadcast to [3, 2]",
    );
}

#[test]
fn index_needs_scalar_i64_leading_indices() {
    let m = build(&[f64s(&[2, 3]), Type::scalar()], |b| {
        let (a, i) = (x(b, 0), x(b, 1));
        b.push(
            Op::Index {
                array: a,
                indices: vec![i],
                fill: None,
            },
            f64s(&[3]),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`index` needs scalar i64 indices, but %1 is f64.",
    );
    let m = build(&[f64s(&[2]), Type::index()], |b| {
        let (a, i) = (x(b, 0), x(b, 1));
        b.push(
            Op::Index {
                array: a,
                indices: vec![i, i],
                fill: None,
            },
            Type::scalar(),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`index` uses 2 indices into %0 of shape [2], which has only 1 axes.",
    );
    let m = build(&[f64s(&[2, 3]), Type::index()], |b| {
        let (a, i) = (x(b, 0), x(b, 1));
        b.push(
            Op::Index {
                array: a,
                indices: vec![i],
                fill: Some(0.0),
            },
            f64s(&[3]),
        )
    });
    assert_valid(&m);
}

#[test]
fn index_fill_must_fit_the_dtype() {
    let m = build(&[Type::tensor(DType::I64, vec![2]), Type::index()], |b| {
        let (a, i) = (x(b, 0), x(b, 1));
        b.push(
            Op::Index {
                array: a,
                indices: vec![i],
                fill: Some(0.5),
            },
            Type::index(),
        )
    });
    assert_error(&m, CODE_TYPE, "The fill value 0.5 is not a valid i64");
}

#[test]
fn slice_stays_in_bounds() {
    let m = build(&[f64s(&[4])], |b| {
        let a = x(b, 0);
        b.push(
            Op::Slice {
                array: a,
                start: 3,
                len: 2,
            },
            f64s(&[2]),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`slice` takes elements 3..5 of an axis of length 4.",
    );
    let m = build(&[Type::scalar()], |b| {
        let a = x(b, 0);
        b.push(
            Op::Slice {
                array: a,
                start: 0,
                len: 1,
            },
            f64s(&[1]),
        )
    });
    assert_error(&m, CODE_TYPE, "`slice` needs an array, but %0 is a scalar.");
}

#[test]
fn concat_counts_scalars_as_one() {
    let ok = build(&[Type::scalar(), f64s(&[2])], |b| {
        let (s, v) = (x(b, 0), x(b, 1));
        b.push(Op::Concat(vec![s, v, s]), f64s(&[4]))
    });
    assert_valid(&ok);
    let bad = build(&[f64s(&[2, 2]), f64s(&[2, 3])], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::Concat(vec![p, q]), f64s(&[4, 2]))
    });
    assert_error(
        &bad,
        CODE_TYPE,
        "`concat` needs parts of one dtype whose shapes agree after the first axis",
    );
}

#[test]
fn reshape_keeps_the_element_count() {
    let m = build(&[f64s(&[2, 3])], |b| {
        let p = x(b, 0);
        b.push(Op::Reshape(p), f64s(&[5]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`reshape` cannot turn shape [2, 3] into [5]: the element counts differ.",
    );
}

#[test]
fn transpose_needs_a_matrix() {
    let m = build(&[f64s(&[4])], |b| {
        let p = x(b, 0);
        b.push(Op::Transpose(p), f64s(&[4]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`transpose` needs a matrix (or a batch of them), but %0 has shape [4].",
    );
}

#[test]
fn batched_transpose_and_product_keep_the_batch_axes() {
    let m = build(&[f64s(&[2, 3, 4])], |b| {
        let p = x(b, 0);
        b.push(Op::Transpose(p), f64s(&[4, 3, 2]))
    });
    assert_error(&m, CODE_TYPE, "declared f64[4, 3, 2]");
    let m = build(&[f64s(&[2, 3, 4]), f64s(&[3, 4, 5])], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::MatMul(p, q), f64s(&[2, 3, 5]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`matmul` needs matrices [m, k] and [k, n] (or batches [..., m, k] and [..., k, n] of one shape), but %0 has shape [2, 3, 4] and %1 has shape [3, 4, 5].",
    );
}

#[test]
fn linear_algebra_shapes() {
    let m = build(&[f64s(&[3]), f64s(&[4])], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::Dot(p, q), Type::scalar())
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`dot` needs two vectors of one length, but %0 has shape [3] and %1 has shape [4].",
    );
    let m = build(&[f64s(&[2, 3]), f64s(&[2])], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::MatVec(p, q), f64s(&[2]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`matvec` needs a matrix [m, n] and a vector [n]",
    );
    let m = build(&[f64s(&[2, 3]), f64s(&[3, 5])], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::MatMul(p, q), f64s(&[2, 3]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`matmul` gives f64[2, 5] here, but the value is declared f64[2, 3].",
    );
}

#[test]
fn reduce_gives_a_scalar() {
    let m = build(&[f64s(&[3])], |b| {
        let p = x(b, 0);
        b.push(Op::Reduce(ReduceOp::Sum, p), f64s(&[3]))
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`reduce` gives f64 here, but the value is declared f64[3].",
    );
    let m = build(&[f64s(&[0])], |b| {
        let p = x(b, 0);
        b.push(Op::Reduce(ReduceOp::Max, p), Type::scalar())
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`reduce max` of an empty tensor has no value.",
    );
}

#[test]
fn tabulate_shape_and_index_arguments() {
    let m = build(&[], |b| {
        let args = b.begin_block(vec![(None, Type::index())]);
        let c = b.push(Op::Const(1.0), f64s(&[]));
        let blk = b.end_block(c);
        let _ = args;
        b.push(
            Op::Tabulate {
                extents: vec![2, 3],
                body: blk,
            },
            f64s(&[2, 3]),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "The block of `tabulate` must take 2 index argument(s), but it takes 1.",
    );
    let m = build(&[], |b| {
        b.begin_block(vec![(None, Type::scalar())]);
        let c = b.push(Op::Const(1.0), f64s(&[]));
        let blk = b.end_block(c);
        b.push(
            Op::Tabulate {
                extents: vec![2],
                body: blk,
            },
            f64s(&[2]),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "The index argument %0 of `tabulate` must be a scalar i64, but it is f64.",
    );
    let m = build(&[f64s(&[3])], |b| {
        let v = x(b, 0);
        b.begin_block(vec![(None, Type::index())]);
        let blk = b.end_block(v);
        b.push(
            Op::Tabulate {
                extents: vec![2],
                body: blk,
            },
            f64s(&[3, 2]),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`tabulate` gives f64[2, 3] here, but the value is declared f64[3, 2].",
    );
}

#[test]
fn fold_needs_iterations_for_max() {
    let m = build(&[], |b| {
        b.begin_block(vec![(None, Type::index())]);
        let c = b.push(Op::Const(1.0), f64s(&[]));
        let blk = b.end_block(c);
        b.push(
            Op::Fold {
                op: ReduceOp::Max,
                extent: 0,
                body: blk,
            },
            Type::scalar(),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`fold max` over zero iterations has no value.",
    );
}

#[test]
fn map_inputs_arguments_and_result() {
    let m = build(&[f64s(&[2])], |b| {
        let p = x(b, 0);
        let a = b.begin_block(vec![(None, f64s(&[2]))])[0];
        let blk = b.end_block(a);
        b.push(
            Op::Map {
                inputs: vec![p],
                body: blk,
            },
            f64s(&[2]).batched(),
        )
    });
    assert_error(
        &m,
        CODE_BATCH,
        "`map` needs batched inputs, but %0 is f64[2].",
    );
    let m = build(&[f64s(&[2]).batched()], |b| {
        let p = x(b, 0);
        let a = b.begin_block(vec![(None, f64s(&[3]))])[0];
        let blk = b.end_block(a);
        b.push(
            Op::Map {
                inputs: vec![p],
                body: blk,
            },
            f64s(&[3]).batched(),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "The block argument %1 of `map` is f64[3] but the input %0 has points of type f64[2].",
    );
    let m = build(&[f64s(&[2]).batched()], |b| {
        let p = x(b, 0);
        let a = b.begin_block(vec![(None, f64s(&[2]))])[0];
        let blk = b.end_block(a);
        b.push(
            Op::Map {
                inputs: vec![p],
                body: blk,
            },
            f64s(&[2]),
        )
    });
    assert_error(
        &m,
        CODE_TYPE,
        "`map` gives batch f64[2] here, but the value is declared f64[2].",
    );
}

#[test]
fn reduce_batch_needs_a_batch() {
    let m = build(&[f64s(&[2])], |b| {
        let p = x(b, 0);
        b.push(Op::ReduceBatch(ReduceOp::Sum, p), f64s(&[2]))
    });
    assert_error(
        &m,
        CODE_BATCH,
        "`reduce_batch` needs a batched operand, but %0 is f64[2].",
    );
    let m = build(&[f64s(&[2]).batched()], |b| {
        let p = x(b, 0);
        b.push(Op::ReduceBatch(ReduceOp::Mean, p), f64s(&[2]))
    });
    assert_valid(&m);
}

#[test]
fn batched_values_only_feed_map_and_reduce_batch() {
    let m = build(&[Type::scalar().batched()], |b| {
        let p = x(b, 0);
        b.push(Op::Unary(UnaryOp::Exp, p), Type::scalar().batched())
    });
    assert_error(
        &m,
        CODE_BATCH,
        "`exp` cannot use the batched value %0 directly",
    );
}

#[test]
fn batched_values_stay_out_of_blocks() {
    let m = build(&[Type::scalar().batched()], |b| {
        let p = x(b, 0);
        b.begin_block(vec![(None, Type::index())]);
        let blk = b.end_block(p);
        b.push(
            Op::Tabulate {
                extents: vec![2],
                body: blk,
            },
            f64s(&[2]),
        )
    });
    assert_error(&m, CODE_BATCH, "A block yields the batched value %0");
}

#[test]
fn calls_check_arguments_and_result() {
    let mut m = Module::new("calls");
    let mut g = FunctionBuilder::new("g", inputs(&[f64s(&[2])]));
    let gx = g.input(0).unwrap();
    let s = g.push(Op::Reduce(ReduceOp::Sum, gx), Type::scalar());
    let gid = m.functions.push(g.finish(s));
    let mut f = FunctionBuilder::new("f", inputs(&[f64s(&[3])]));
    let fx = f.input(0).unwrap();
    let r = f.push(
        Op::Call {
            func: gid,
            args: vec![fx],
        },
        Type::scalar(),
    );
    m.functions.push(f.finish(r));
    assert_error(
        &m,
        CODE_CALL,
        "Argument 0 of the call to `g` is f64[3] but the function takes f64[2].",
    );

    let mut f = FunctionBuilder::new("h", inputs(&[f64s(&[2])]));
    let fx = f.input(0).unwrap();
    let r = f.push(
        Op::Call {
            func: gid,
            args: vec![fx, fx],
        },
        Type::scalar(),
    );
    m.functions.push(f.finish(r));
    assert_error(
        &m,
        CODE_CALL,
        "The call passes 2 arguments but `g` takes 1.",
    );
}

#[test]
fn self_call_is_recursion() {
    let m = build(&[Type::scalar()], |b| {
        let p = x(b, 0);
        b.push(
            Op::Call {
                func: FuncId::from_index(0),
                args: vec![p],
            },
            Type::scalar(),
        )
    });
    assert_error(&m, CODE_CALL, "The function `f` calls itself");
}

#[test]
fn constants_fit_their_dtype() {
    let m = build(&[], |b| b.push(Op::Const(1.5), Type::index()));
    assert_error(&m, CODE_TYPE, "The constant 1.5 is not a valid i64");
    let m = build(&[], |b| b.push(Op::Const(2.0), Type::boolean(vec![])));
    assert_error(
        &m,
        CODE_TYPE,
        "The constant 2.0 is not a valid bool (it must be 0 or 1).",
    );
    let m = build(&[], |b| b.push(Op::Literal(vec![1.0, 2.0]), f64s(&[3])));
    assert_error(
        &m,
        CODE_TYPE,
        "The literal has 2 elements but its type f64[3] needs 3.",
    );
}

// ---- module ----------------------------------------------------------------------------

#[test]
fn layouts_are_consistent() {
    let mut m = Module::new("layouts");
    m.params.push("a", vec![2], None, vec![1.0]);
    m.params.slots.push(Slot {
        name: "a".into(),
        offset: 1,
        shape: vec![3],
        unit: None,
        default: vec![],
        fixed: false,
    });
    let errs = errors_of(&m);
    assert!(
        errs.iter().any(|e| e.contains(CODE_MODULE)
            && e.contains("The parameter slot `a` has 2 elements but 1 default values.")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("The parameter slot `a` covers elements 1..4 but the parameter vector has only 2 elements.")), "{errs:?}");
    assert!(
        errs.iter()
            .any(|e| e.contains("Two parameter slots are named `a`.")),
        "{errs:?}"
    );
}

#[test]
fn function_names_are_unique() {
    let mut m = build(&[Type::scalar()], |b| x(b, 0));
    let f = FunctionBuilder::new("f", inputs(&[Type::scalar()]));
    let r = f.input(0).unwrap();
    m.functions.push(f.finish(r));
    assert_error(&m, CODE_MODULE, "Two functions are named `f`.");
}

#[test]
fn errors_render_as_diagnostics() {
    let m = build(&[f64s(&[2]), f64s(&[3])], |b| {
        let (p, q) = (x(b, 0), x(b, 1));
        b.push(Op::Binary(BinaryOp::Add, p, q), f64s(&[2]))
    });
    let errs = validate_module(&m).unwrap_err();
    let d = errs[0].to_diagnostic();
    assert_eq!(d.code, "E0612");
    assert_eq!(
        d.message,
        "invalid IR: in function `f`, value %2: `add` needs operands of the same dtype and shape, but %0 is f64[2] and %1 is f64[3]."
    );
    assert!(d.labels.is_empty());
}
