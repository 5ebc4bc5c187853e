//! Forward and reverse mode on hand-written IR covering every op: each `jvp` agrees with
//! central finite differences, each `vjp` satisfies `⟨u, J v⟩ = ⟨Jᵀ u, v⟩` against the
//! `jvp`, and every transformed function validates.

mod ad_util;

use ad_util::*;
use sci_ir::interp::Tensor;
use sci_ir::random::SplitMix64;
use sci_ir::{Module, UnaryOp};
use sci_passes::ad;

fn t(shape: &[usize], data: &[f64]) -> Tensor {
    Tensor::new(shape.to_vec(), data.to_vec()).unwrap()
}

fn s(x: f64) -> Tensor {
    Tensor::scalar(x)
}

fn b(shape: &[usize], points: usize, data: &[f64]) -> Tensor {
    Tensor::batch(shape.to_vec(), points, data.to_vec()).unwrap()
}

/// Checks every float input of `name`, one at a time and all together.
fn check(m: &Module, name: &str, inputs: &[Tensor], tol: f64) {
    let func = m
        .function(name)
        .unwrap_or_else(|| panic!("no function {name}"));
    let f = m.functions.get(func).unwrap();
    let float_inputs: Vec<usize> = (0..f.inputs().len())
        .filter(|&k| f.input_type(k).unwrap().dtype.is_float())
        .collect();
    let mut sets: Vec<Vec<usize>> = float_inputs.iter().map(|&k| vec![k]).collect();
    let any_batched = (0..f.inputs().len()).any(|k| f.input_type(k).unwrap().batched);
    if float_inputs.len() > 1 && !any_batched {
        sets.push(float_inputs.clone());
    }
    let mut rng = SplitMix64::new(7);
    let out = eval(m, func, inputs);
    for wrt in sets {
        let dirs: Vec<Option<Tensor>> = (0..inputs.len())
            .map(|k| wrt.contains(&k).then(|| random_like(&inputs[k], &mut rng)))
            .collect();
        let g = ad::jvp(m, func, &wrt).unwrap_or_else(|e| panic!("{name}: jvp: {e}"));
        let mut args = inputs.to_vec();
        args.extend(wrt.iter().map(|&k| dirs[k].clone().unwrap()));
        let got = eval_fn(m, &g, &args);
        let fd = fd_directional(&|x| eval(m, func, x), inputs, &dirs, 1e-3);
        assert_close(
            &got.data,
            &fd,
            tol,
            &format!("{name}: jvp wrt {wrt:?} vs finite differences"),
        );
        // vjp: ⟨u, J v⟩ = Σ_k ⟨(Jᵀ u)_k, v_k⟩
        let h = ad::vjp(m, func, &wrt).unwrap_or_else(|e| panic!("{name}: vjp: {e}"));
        let u = random_like(&out, &mut rng);
        let mut args = inputs.to_vec();
        args.push(u.clone());
        let back = eval_fn(m, &h, &args);
        let lhs = inner(&u.data, &got.data);
        let v_flat: Vec<f64> = wrt
            .iter()
            .flat_map(|&k| dirs[k].clone().unwrap().data)
            .collect();
        let rhs = inner(&back.data, &v_flat);
        assert!(
            (lhs - rhs).abs() <= 1e-10 * (1.0 + lhs.abs()),
            "{name}: ⟨u, Jv⟩ = {lhs} but ⟨Jᵀu, v⟩ = {rhs} (wrt {wrt:?})"
        );
    }
}

#[test]
fn every_unary_op() {
    for op in UnaryOp::ALL {
        if op == UnaryOp::Not {
            continue;
        }
        let text = format!(
            "func f(%x: f64[3]) -> f64[3] {{\n  %y: f64[3] = {} %x\n  return %y\n}}\n",
            op.name()
        );
        let m = read(&text);
        check(&m, "f", &[t(&[3], &[0.3, 0.55, 0.7])], 1e-7);
    }
    // Negative arguments for the ops that are defined there.
    for name in [
        "neg", "abs", "exp", "sin", "cos", "atan", "sinh", "cosh", "tanh", "erf", "sigmoid",
        "softplus", "gelu", "dgelu", "floor",
    ] {
        let text =
            format!("func f(%x: f64[2]) -> f64[2] {{\n  %y: f64[2] = {name} %x\n  return %y\n}}\n");
        check(&read(&text), "f", &[t(&[2], &[-1.3, -0.45])], 1e-7);
    }
}

#[test]
fn every_binary_op_and_powi() {
    for op in ["add", "sub", "mul", "div", "pow", "min", "max", "atan2"] {
        let text = format!(
            "func f(%a: f64[3], %b: f64[3]) -> f64[3] {{\n  %y: f64[3] = {op} %a, %b\n  return %y\n}}\n"
        );
        let m = read(&text);
        check(
            &m,
            "f",
            &[t(&[3], &[0.3, 1.5, 0.7]), t(&[3], &[0.8, 0.4, -0.6])],
            1e-7,
        );
        // The same operand twice.
        let text = format!(
            "func g(%a: f64[2]) -> f64[2] {{\n  %y: f64[2] = {op} %a, %a\n  return %y\n}}\n"
        );
        check(&read(&text), "g", &[t(&[2], &[0.3, 1.5])], 1e-7);
    }
    for n in [-3, -1, 0, 1, 2, 3, 5] {
        let text = format!(
            "func f(%a: f64[2]) -> f64[2] {{\n  %y: f64[2] = powi %a, {n}\n  return %y\n}}\n"
        );
        check(&read(&text), "f", &[t(&[2], &[0.7, -1.3])], 1e-7);
    }
}

const TENSOR_OPS: &str = r#"
func sel(%a: f64[3], %b: f64[3]) -> f64[3] {
  %c: bool[3] = lt %a, %b
  %y: f64[3] = select %c, %a, %b
  %z: f64[3] = mul %y, %b
  return %z
}

func casts(%a: f64[2]) -> f64 {
  %c0: i64 = const 1
  %x: f64 = index %a[%c0]
  %i: i64 = cast %x
  %r: f64 = cast %i
  %y: f64 = mul %x, %r
  %z: f32 = cast %y
  %w: f64 = cast %z
  %q: f64 = mul %w, %x
  return %y
}

func bcast(%s: f64, %v: f64[3], %c: f64[2, 1]) -> f64[2, 3] {
  %a: f64[2, 3] = broadcast %s
  %b: f64[2, 3] = broadcast %v
  %d: f64[2, 3] = broadcast %c
  %e: f64[2, 3] = mul %a, %b
  %f: f64[2, 3] = mul %e, %d
  return %f
}

func idx(%m: f64[3, 2], %v: f64[4]) -> f64[5] {
  %i: i64 = const 2
  %j: i64 = const 7
  %k: i64 = const -1
  %one: i64 = const 1
  %row: f64[2] = index %m[%i]
  %e: f64 = index %m[%one, %one]
  %out: f64 = index %v[%j] fill 0.5
  %neg: f64 = index %v[%k] fill 0
  %x: f64 = index %v[%one]
  %p: f64 = mul %e, %x
  %q: f64 = add %out, %neg
  %r: f64[5] = concat %row, %p, %q, %x
  return %r
}

func shapes(%v: f64[6], %s: f64) -> f64[3, 4] {
  %a: f64[4] = slice %v, 1, 4
  %b: f64[2, 3] = reshape %v
  %c: f64[3, 2] = transpose %b
  %d: f64[3, 2] = slice %c, 0, 3
  %e: f64[6] = reshape %d
  %f: f64[11] = concat %a, %s, %s, %a, %s
  %g: f64[12] = concat %f, %s
  %h: f64[3, 4] = reshape %g
  %k: f64[3, 4] = broadcast %s
  %l: f64[3, 4] = mul %h, %k
  return %l
}

func concat2(%a: f64[2, 3], %b: f64[1, 3]) -> f64[3, 3] {
  %c: f64[3, 3] = concat %a, %b
  %d: f64[3, 3] = mul %c, %c
  return %d
}

func linalg(%a: f64[2, 3], %b: f64[3, 2], %x: f64[3]) -> f64[9] {
  %c: f64[2, 2] = matmul %a, %b
  %d: f64[2] = matvec %a, %x
  %e: f64 = dot %x, %x
  %f: f64[4] = reshape %c
  %g: f64[9] = concat %f, %d, %e, %d
  return %g
}

func reductions(%v: f64[4], %w: f64[2, 2]) -> f64[6] {
  %a: f64 = reduce sum %v
  %b: f64 = reduce prod %v
  %c: f64 = reduce mean %w
  %d: f64 = reduce max %v
  %e: f64 = reduce min %w
  %z: f64 = reduce prod %w
  %r: f64[6] = concat %a, %b, %c, %d, %e, %z
  return %r
}

func prod_zero(%v: f64[3], %s: f64) -> f64 {
  %c0: i64 = const 0
  %x: f64 = index %v[%c0]
  %k: f64[3] = broadcast %x
  %w: f64[3] = sub %v, %k
  %p: f64 = reduce prod %w
  %q: f64 = mul %p, %s
  return %q
}
"#;

#[test]
fn select_cast_broadcast_index_slice_concat_reshape_transpose() {
    let m = read(TENSOR_OPS);
    check(
        &m,
        "sel",
        &[t(&[3], &[0.3, 1.5, 0.7]), t(&[3], &[0.8, 0.4, -0.6])],
        1e-7,
    );
    check(&m, "casts", &[t(&[2], &[0.3, 2.6])], 1e-7);
    check(
        &m,
        "bcast",
        &[s(0.7), t(&[3], &[0.3, 1.5, 0.7]), t(&[2, 1], &[0.8, -0.4])],
        1e-7,
    );
    check(
        &m,
        "idx",
        &[
            t(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            t(&[4], &[0.1, 0.2, 0.3, 0.4]),
        ],
        1e-7,
    );
    check(
        &m,
        "shapes",
        &[t(&[6], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), s(-0.5)],
        1e-7,
    );
    check(
        &m,
        "concat2",
        &[
            t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            t(&[1, 3], &[0.1, 0.2, 0.3]),
        ],
        1e-7,
    );
}

#[test]
fn linear_algebra_and_reductions() {
    let m = read(TENSOR_OPS);
    check(
        &m,
        "linalg",
        &[
            t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            t(&[3, 2], &[0.5, -1.0, 0.25, 2.0, -0.75, 1.5]),
            t(&[3], &[0.3, -0.2, 0.9]),
        ],
        1e-7,
    );
    check(
        &m,
        "reductions",
        &[
            t(&[4], &[0.3, -1.2, 0.9, 0.5]),
            t(&[2, 2], &[1.5, -0.5, 0.25, 2.0]),
        ],
        1e-7,
    );
    // A product with exactly one zero factor (v[0] − v[0]): the derivative is exact.
    check(&m, "prod_zero", &[t(&[3], &[0.5, 1.5, -2.0]), s(1.3)], 1e-7);
}

const LOOPS: &str = r#"
func stencil(%u: f64[5], %k: f64) -> f64[5] {
  %s: f64[5] = tabulate [5] (%i: i64) {
    %one: i64 = const 1
    %l: i64 = sub %i, %one
    %r: i64 = add %i, %one
    %a: f64 = index %u[%l] fill 0
    %b: f64 = index %u[%i]
    %c: f64 = index %u[%r] fill 0
    %two: f64 = const 2
    %d: f64 = mul %two, %b
    %e: f64 = sub %a, %d
    %f: f64 = add %e, %c
    %g: f64 = mul %k, %f
    %h: f64 = mul %g, %b
    yield %h
  }
  return %s
}

func grid(%u: f64[3, 4]) -> f64[3, 4, 2] {
  %s: f64[3, 4, 2] = tabulate [3, 4] (%i: i64, %j: i64) {
    %x: f64 = index %u[%i, %j]
    %c: f64 = cast %j
    %y: f64 = mul %x, %c
    %z: f64 = sin %x
    %v: f64[2] = concat %y, %z
    yield %v
  }
  return %s
}

func folds(%v: f64[4], %w: f64) -> f64[5] {
  %a: f64 = fold sum 4 (%i: i64) {
    %x: f64 = index %v[%i]
    %y: f64 = mul %x, %w
    %z: f64 = exp %y
    yield %z
  }
  %b: f64 = fold prod 4 (%i: i64) {
    %x: f64 = index %v[%i]
    %y: f64 = add %x, %w
    yield %y
  }
  %c: f64 = fold max 4 (%i: i64) {
    %x: f64 = index %v[%i]
    %y: f64 = mul %x, %w
    yield %y
  }
  %d: f64 = fold min 4 (%i: i64) {
    %x: f64 = index %v[%i]
    yield %x
  }
  %e: f64 = fold mean 4 (%i: i64) {
    %x: f64 = index %v[%i]
    %y: f64 = mul %x, %x
    yield %y
  }
  %r: f64[5] = concat %a, %b, %c, %d, %e
  return %r
}

func vecfold(%m: f64[3, 2]) -> f64[2] {
  %a: f64[2] = fold prod 3 (%i: i64) {
    %x: f64[2] = index %m[%i]
    yield %x
  }
  %b: f64[2] = fold max 3 (%i: i64) {
    %x: f64[2] = index %m[%i]
    yield %x
  }
  %c: f64[2] = add %a, %b
  return %c
}

func nested(%v: f64[3], %w: f64[2]) -> f64[3] {
  %t: f64[3] = tabulate [3] (%i: i64) {
    %x: f64 = index %v[%i]
    %f: f64 = fold sum 2 (%j: i64) {
      %y: f64 = index %w[%j]
      %z: f64 = mul %x, %y
      %q: f64 = tanh %z
      yield %q
    }
    %g: f64 = mul %f, %x
    yield %g
  }
  return %t
}

func stencil2d(%u: f64[3, 4], %w: f64[4, 3]) -> f64[3, 4] {
  %s: f64[3, 4] = tabulate [3, 4] (%i: i64, %j: i64) {
    %one: i64 = const 1
    %two: i64 = const 2
    %l: i64 = sub %i, %one
    %r: i64 = add %two, %j
    %a: f64 = index %u[%l, %j] fill 0
    %b: f64 = index %u[%i, %r] fill 0.5
    %c: f64 = index %w[%j, %i]
    %d: f64 = mul %a, %b
    %e: f64 = mul %d, %c
    %f: f64 = index %u[%i, %j]
    %g: f64 = sin %f
    %h: f64 = add %e, %g
    yield %h
  }
  return %s
}

func mixed_reads(%v: f64[4]) -> f64 {
  %s: f64 = fold sum 3 (%i: i64) {
    %one: i64 = const 1
    %j: i64 = add %i, %one
    %a: f64 = index %v[%j]
    %z: i64 = const 0
    %b: f64 = index %v[%z]
    %c: f64 = mul %a, %b
    yield %c
  }
  %m: f64 = fold max 4 (%i: i64) {
    %a: f64 = index %v[%i]
    %b: f64 = sin %a
    yield %b
  }
  %r: f64 = add %s, %m
  return %r
}

func outer_only(%v: f64[3], %w: f64) -> f64[3] {
  %e: f64 = exp %w
  %t: f64[3] = tabulate [3] (%i: i64) {
    yield %e
  }
  %r: f64[3] = mul %t, %v
  return %r
}
"#;

#[test]
fn tabulate_and_fold() {
    let m = read(LOOPS);
    check(
        &m,
        "stencil",
        &[t(&[5], &[0.1, 0.5, -0.3, 0.8, 0.2]), s(0.7)],
        1e-7,
    );
    let u: Vec<f64> = (0..12).map(|k| 0.1 * k as f64 - 0.4).collect();
    check(&m, "grid", &[t(&[3, 4], &u)], 1e-7);
    check(
        &m,
        "folds",
        &[t(&[4], &[0.1, 0.5, -0.3, 0.8]), s(0.7)],
        1e-7,
    );
    check(
        &m,
        "vecfold",
        &[t(&[3, 2], &[0.1, 0.5, -0.3, 0.8, 0.6, -0.2])],
        1e-7,
    );
    check(
        &m,
        "nested",
        &[t(&[3], &[0.1, 0.5, -0.3]), t(&[2], &[0.7, -1.1])],
        1e-7,
    );
    check(
        &m,
        "outer_only",
        &[t(&[3], &[0.1, 0.5, -0.3]), s(0.2)],
        1e-7,
    );
}

const BATCH: &str = r#"
func g(%p: f64[2], %x: f64) -> f64 {
  %c0: i64 = const 0
  %c1: i64 = const 1
  %a: f64 = index %p[%c0]
  %b: f64 = index %p[%c1]
  %y: f64 = mul %a, %x
  %z: f64 = add %y, %b
  %r: f64 = tanh %z
  return %r
}

func per_point(%p: f64[2], %x: batch f64, %y: batch f64[2]) -> batch f64 {
  %m: batch f64 = map %x, %y (%xi: f64, %yi: f64[2]) {
    %u: f64 = call @g(%p, %xi)
    %c: i64 = const 1
    %v: f64 = index %yi[%c]
    %w: f64 = mul %u, %v
    yield %w
  }
  return %m
}

func losses(%p: f64[2], %x: batch f64) -> f64[5] {
  %m: batch f64 = map %x (%xi: f64) {
    %u: f64 = call @g(%p, %xi)
    %e: f64 = sub %u, %xi
    %s: f64 = powi %e, 2
    yield %s
  }
  %a: f64 = reduce_batch mean %m
  %b: f64 = reduce_batch sum %m
  %c: f64 = reduce_batch max %m
  %d: f64 = reduce_batch min %m
  %e: f64 = reduce_batch prod %m
  %r: f64[5] = concat %a, %b, %c, %d, %e
  return %r
}

func passthrough(%x: batch f64[2], %k: f64) -> batch f64[2] {
  %m: batch f64[2] = map %x (%xi: f64[2]) {
    %b: f64[2] = broadcast %k
    %y: f64[2] = mul %xi, %b
    yield %y
  }
  return %m
}
"#;

#[test]
fn map_reduce_batch_and_call() {
    let m = read(BATCH);
    let p = t(&[2], &[0.8, -0.3]);
    check(&m, "g", &[p.clone(), s(0.4)], 1e-7);
    check(
        &m,
        "per_point",
        &[
            p.clone(),
            b(&[], 3, &[0.1, -0.5, 0.9]),
            b(&[2], 3, &[1.0, 2.0, 3.0, -1.0, 0.5, 0.25]),
        ],
        1e-7,
    );
    check(
        &m,
        "losses",
        &[p.clone(), b(&[], 4, &[0.1, -0.5, 0.9, 0.3])],
        1e-7,
    );
    check(
        &m,
        "passthrough",
        &[b(&[2], 2, &[1.0, 2.0, 3.0, -1.0]), s(0.5)],
        1e-7,
    );
}

#[test]
fn gradients_and_errors() {
    let m = read(LOOPS);
    let func = m.function("stencil").unwrap();
    // A vector result has no gradient.
    let e = ad::grad(&m, func, &[0]).unwrap_err();
    assert!(e.message.contains("real scalar result"), "{e}");
    // Inputs out of range and repeated inputs are errors, not panics.
    assert!(ad::jvp(&m, func, &[7]).is_err());
    assert!(ad::jvp(&m, func, &[0, 0]).is_err());
    assert!(ad::vjp(&m, func, &[]).is_err());
    // Invalid IR (a function calling itself) is an error, not a crash.
    let m = read(
        "func f(%x: f64) -> f64 {\n  %y: f64 = call @f(%x)\n  %z: f64 = sin %y\n  return %z\n}\n",
    );
    let f = m.function("f").unwrap();
    assert!(ad::jvp(&m, f, &[0]).is_err());
    assert!(ad::vjp(&m, f, &[0]).is_err());
    assert!(sci_passes::sparsity::jacobian_pattern(&m, f, 0).is_err());
    assert!(ad::inline_calls(&m).is_err());
    let mut bad = m.clone();
    assert!(ad::expand_derivatives(&mut bad).is_ok() || bad == m);
    // The gradient of a scalar function equals the vjp with cotangent 1.
    let m = read(BATCH);
    let g = m.function("g").unwrap();
    let gr = ad::grad(&m, g, &[0, 1]).unwrap();
    let x = [t(&[2], &[0.8, -0.3]), s(0.4)];
    let got = eval_fn(&m, &gr, &x);
    let fd0 = fd_directional(
        &|a| eval(&m, g, a),
        &x,
        &[Some(t(&[2], &[1.0, 0.0])), None],
        1e-3,
    );
    let fd1 = fd_directional(
        &|a| eval(&m, g, a),
        &x,
        &[Some(t(&[2], &[0.0, 1.0])), None],
        1e-3,
    );
    let fd2 = fd_directional(&|a| eval(&m, g, a), &x, &[None, Some(s(1.0))], 1e-3);
    assert_close(&got.data, &[fd0[0], fd1[0], fd2[0]], 1e-8, "grad g");
}

/// The real DFTs, alone and composed into a spectral layer (transform, scale the kept
/// modes, transform back onto another grid), with even and odd lengths so the Nyquist
/// frequency is both kept and absent.
const SPECTRAL: &str = r#"
func forward(%x: f64[3, 8]) -> f64[2, 3, 5] {
  %y: f64[2, 3, 5] = rfft %x, 5
  return %y
}

func inverse(%s: f64[2, 2, 3]) -> f64[2, 5] {
  %y: f64[2, 5] = irfft %s, 5
  return %y
}

func layer(%x: f64[2, 7], %w: f64[2, 2, 3]) -> f64[2, 12] {
  %s: f64[2, 2, 3] = rfft %x, 3
  %p: f64[2, 2, 3] = mul %s, %w
  %sq: f64[2, 2, 3] = mul %p, %p
  %y: f64[2, 12] = irfft %sq, 12
  return %y
}
"#;

#[test]
fn real_fourier_transforms() {
    let m = read(SPECTRAL);
    let mut rng = SplitMix64::new(3);
    let mut random = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        t(
            shape,
            &(0..n).map(|_| rng.uniform(-1.0, 1.0)).collect::<Vec<_>>(),
        )
    };
    check(&m, "forward", &[random(&[3, 8])], 1e-8);
    check(&m, "inverse", &[random(&[2, 2, 3])], 1e-8);
    check(&m, "layer", &[random(&[2, 7]), random(&[2, 2, 3])], 1e-8);
    let m = read(
        r#"
func layer2(%x: f64[2, 6, 7], %w: f64[2, 2, 4, 3]) -> f64[2, 6, 7] {
  %s: f64[2, 2, 4, 3] = rfft2 %x, 2, 3
  %p: f64[2, 2, 4, 3] = mul %s, %w
  %t: f64[2, 2, 4, 3] = tanh %p
  %y: f64[2, 6, 7] = irfft2 %t, 6, 7
  return %y
}
"#,
    );
    check(
        &m,
        "layer2",
        &[random(&[2, 6, 7]), random(&[2, 2, 4, 3])],
        1e-8,
    );
}

/// Batched matrix products and transposes (leading batch axes): forward and reverse mode
/// against finite differences and each other.
#[test]
fn batched_matrix_products() {
    let m = read(
        r#"
func bmm(%a: f64[2, 2, 3], %b: f64[2, 3, 2]) -> f64[2, 2, 2] {
  %c: f64[2, 2, 2] = matmul %a, %b
  %t: f64[2, 2, 2] = transpose %c
  %s: f64[2, 2, 2] = tanh %t
  %bt: f64[2, 2, 3] = transpose %b
  %d: f64[2, 2, 2] = matmul %bt, %b
  %e: f64[2, 2, 2] = transpose %d
  %y: f64[2, 2, 2] = mul %s, %e
  return %y
}
"#,
    );
    let a: Vec<f64> = (0..12).map(|k| 0.1 * k as f64 - 0.5).collect();
    let b: Vec<f64> = (0..12).map(|k| 0.3 - 0.07 * k as f64).collect();
    check(&m, "bmm", &[t(&[2, 2, 3], &a), t(&[2, 3, 2], &b)], 1e-7);
}
