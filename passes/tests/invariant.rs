//! Solve-invariant parts of functions over grids (`sparsity::split_invariant`): the
//! update fed the invariant function's result equals the values it was split from,
//! bit for bit, in the interpreter; the work that depends on θ alone leaves the update;
//! nothing is split where it would not pay.

mod ad_util;

use ad_util::*;
use sci_ir::interp::Tensor;
use sci_ir::{Function, Module, Op, UnaryOp};
use sci_passes::sparsity;

/// 1-D heat in a heterogeneous rod with a source, Dirichlet ends (rows of several lengths:
/// the values are gathered) and periodic (one row length: made in CSR order). The
/// conductivity at a face, `exp(c · sin(x))`, depends on the point and θ only.
const RODS: &str = r#"
func dirichlet(%t: f64, %y: f64[8], %θ: f64[2]) -> f64[8] {
  %l1: f64[1] = slice %θ, 0, 1
  %lam: f64 = reshape %l1
  %c1: f64[1] = slice %θ, 1, 1
  %c: f64 = reshape %c1
  %d: f64[8] = tabulate [8] (%i: i64) {
    %one: i64 = const 1
    %l: i64 = sub %i, %one
    %r: i64 = add %i, %one
    %a: f64 = index %y[%l] fill 0
    %b: f64 = index %y[%i]
    %e: f64 = index %y[%r] fill 0
    %x: f64 = cast %i
    %s: f64 = sin %x
    %cs: f64 = mul %c, %s
    %kl: f64 = exp %cs
    %x2: f64 = cast %r
    %s2: f64 = sin %x2
    %cs2: f64 = mul %c, %s2
    %kr: f64 = exp %cs2
    %da: f64 = sub %a, %b
    %db: f64 = sub %e, %b
    %fl: f64 = mul %kl, %da
    %fr: f64 = mul %kr, %db
    %sum: f64 = add %fl, %fr
    %eb: f64 = exp %b
    %src: f64 = mul %lam, %eb
    %o: f64 = add %sum, %src
    yield %o
  }
  return %d
}

func periodic(%t: f64, %y: f64[8], %θ: f64[2]) -> f64[8] {
  %l1: f64[1] = slice %θ, 0, 1
  %lam: f64 = reshape %l1
  %c1: f64[1] = slice %θ, 1, 1
  %c: f64 = reshape %c1
  %d: f64[8] = tabulate [8] (%i: i64) {
    %zero: i64 = const 0
    %one: i64 = const 1
    %last: i64 = const 7
    %first: bool = eq %i, %zero
    %end: bool = eq %i, %last
    %l: i64 = sub %i, %one
    %r: i64 = add %i, %one
    %a0: f64 = index %y[%last]
    %a1: f64 = index %y[%l] fill 0
    %a: f64 = select %first, %a0, %a1
    %b: f64 = index %y[%i]
    %e0: f64 = index %y[%zero]
    %e1: f64 = index %y[%r] fill 0
    %e: f64 = select %end, %e0, %e1
    %x: f64 = cast %i
    %s: f64 = sin %x
    %cs: f64 = mul %c, %s
    %kl: f64 = exp %cs
    %x2: f64 = cast %r
    %s2: f64 = sin %x2
    %cs2: f64 = mul %c, %s2
    %kr: f64 = exp %cs2
    %da: f64 = sub %a, %b
    %db: f64 = sub %e, %b
    %fl: f64 = mul %kl, %da
    %fr: f64 = mul %kr, %db
    %sum: f64 = add %fl, %fr
    %tb: f64 = mul %t, %b
    %src: f64 = mul %lam, %tb
    %o: f64 = add %sum, %src
    yield %o
  }
  return %d
}

func coefficients(%t: f64, %y: f64[8], %θ: f64[1]) -> f64[8] {
  %c1: f64[1] = slice %θ, 0, 1
  %c: f64 = reshape %c1
  %k: f64[9] = tabulate [9] (%i: i64) {
    %x: f64 = cast %i
    %s: f64 = sin %x
    %cs: f64 = mul %c, %s
    %e: f64 = exp %cs
    yield %e
  }
  %d: f64[8] = tabulate [8] (%i: i64) {
    %one: i64 = const 1
    %l: i64 = sub %i, %one
    %r: i64 = add %i, %one
    %a: f64 = index %y[%l] fill 0
    %b: f64 = index %y[%i]
    %e: f64 = index %y[%r] fill 0
    %kl: f64 = index %k[%i]
    %kr: f64 = index %k[%r]
    %da: f64 = sub %a, %b
    %db: f64 = sub %e, %b
    %fl: f64 = mul %kl, %da
    %fr: f64 = mul %kr, %db
    %o: f64 = add %fl, %fr
    yield %o
  }
  return %d
}

func uniform(%t: f64, %y: f64[8], %θ: f64[1]) -> f64[8] {
  %k1: f64[1] = slice %θ, 0, 1
  %k: f64 = reshape %k1
  %d: f64[8] = tabulate [8] (%i: i64) {
    %one: i64 = const 1
    %l: i64 = sub %i, %one
    %r: i64 = add %i, %one
    %a: f64 = index %y[%l] fill 0
    %b: f64 = index %y[%i]
    %c: f64 = index %y[%r] fill 0
    %two: f64 = const 2
    %m: f64 = mul %two, %b
    %s: f64 = sub %a, %m
    %s2: f64 = add %s, %c
    %ek: f64 = exp %k
    %o: f64 = mul %ek, %s2
    yield %o
  }
  return %d
}
"#;

/// The element-local values of `name`'s Jacobian with respect to the state (input 1).
fn local_values(m: &Module, name: &str) -> Function {
    let id = m.function(name).unwrap();
    let f = m.functions.get(id).unwrap();
    let p = sparsity::jacobian_pattern(m, id, 1).unwrap();
    sparsity::element_local_values(f, 1, &p).unwrap()
}

/// How many elementary functions (`exp`, `sin`, …) a function evaluates per call.
fn elementary_ops(f: &Function) -> usize {
    f.values
        .iter()
        .filter(
            |(_, v)| matches!(v.op, Op::Unary(op, _) if !matches!(op, UnaryOp::Neg | UnaryOp::Abs)),
        )
        .count()
}

/// A split function at `(t, y, θ)` as a host calls it: its update fed its invariant part.
fn eval_split(m: &Module, split: &sparsity::InvariantSplit, args: &[Tensor]) -> Tensor {
    let mut with = args.to_vec();
    with.push(eval_fn(m, &split.invariant, &args[2..]));
    eval_fn(m, &split.update, &with)
}

fn bits(t: &Tensor) -> Vec<u64> {
    t.data.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn update_with_the_invariant_values_equals_the_values() {
    let m = read(RODS);
    for name in ["dirichlet", "periodic"] {
        let local = local_values(&m, name);
        let split = sparsity::split_invariant(&local, 2)
            .unwrap_or_else(|| panic!("{name}: the conductivities are worth hoisting"));
        sci_ir::validate_function(&m, &split.invariant).unwrap();
        sci_ir::validate_function(&m, &split.update).unwrap();
        assert_eq!(split.invariant.inputs().len(), 1, "{name}: θ alone");
        assert_eq!(split.update.inputs().len(), 4, "{name}: t, y, θ, invariant");
        // Both faces' conductivities (exp ∘ sin) leave the update; the source's exp of
        // the state stays where it is (Dirichlet), and nothing else is elementary.
        let stays = usize::from(name == "dirichlet");
        assert_eq!(elementary_ops(&split.update), stays, "{name}: update");
        assert!(elementary_ops(&split.invariant) >= 4, "{name}: invariant");
        for (seed, theta) in [(1, [0.7, 0.3]), (2, [-1.2, 2.0]), (3, [0.0, -0.5])] {
            let y: Vec<f64> = (0..8).map(|k| (0.37 * (k + seed) as f64).sin()).collect();
            let args = vec![
                Tensor::scalar(0.25 * seed as f64),
                Tensor::vector(y),
                Tensor::vector(theta.to_vec()),
            ];
            assert_eq!(
                eval_fn(&m, &split.invariant, &args[2..]).data.len(),
                split.len
            );
            assert_eq!(
                bits(&eval_split(&m, &split, &args)),
                bits(&eval_fn(&m, &local, &args)),
                "{name}, θ = {theta:?}: update ≠ values"
            );
        }
    }
}

/// A grid of coefficients that depends on θ alone (`k[i] = exp(c · sin i)`, read by the
/// stencil) is the invariant values themselves: the update reads them in place, with no
/// copy and no elementary function left, and computes the same bits.
#[test]
fn a_grid_that_depends_on_theta_alone_is_read_in_place() {
    let m = read(RODS);
    let id = m.function("coefficients").unwrap();
    let f = m.functions.get(id).unwrap();
    let split = sparsity::split_invariant(f, 2).unwrap();
    sci_ir::validate_function(&m, &split.invariant).unwrap();
    sci_ir::validate_function(&m, &split.update).unwrap();
    assert_eq!(split.len, 9);
    assert_eq!(elementary_ops(&split.update), 0);
    let tabulates = |f: &Function| {
        f.values
            .iter()
            .filter(|(_, v)| matches!(v.op, Op::Tabulate { .. }))
            .count()
    };
    assert_eq!(tabulates(&split.update), 1, "the stencil alone");
    assert_eq!(
        split.update.input_role(3),
        &sci_ir::InputRole::Invariant,
        "the update's last input is the invariant values"
    );
    assert_eq!(
        sci_ir::print::format_role(&split.update.role),
        "update(plain)"
    );
    let args = vec![
        Tensor::scalar(0.0),
        Tensor::vector((0..8).map(|k| 0.1 * k as f64).collect()),
        Tensor::vector(vec![0.8]),
    ];
    assert_eq!(
        bits(&eval_split(&m, &split, &args)),
        bits(&eval_fn(&m, f, &args))
    );
    let mut module = m.clone();
    module.functions.push(split.invariant);
    module.functions.push(split.update);
    let text = sci_ir::print_module(&module);
    assert_eq!(
        sci_ir::print_module(&read(&text)),
        text,
        "the roles read back"
    );
    insta::assert_snapshot!("coefficients_split", text);
}

#[test]
fn nothing_is_split_where_it_does_not_pay() {
    let m = read(RODS);
    // `exp(k)` is the same at every point: the lowering computes it once per call already.
    let local = local_values(&m, "uniform");
    assert!(sparsity::split_invariant(&local, 2).is_none());
}
