//! Nested and higher-order derivatives: Hessians, Hessian-vector products, dense Jacobians
//! both ways, `deriv` expansion to third order against closed forms, the gradient of a
//! third derivative with respect to network weights (what a PINN loss needs), and Taylor
//! mode against nested forward mode.

mod ad_util;

use ad_util::*;
use sci_ir::interp::Tensor;
use sci_ir::random::SplitMix64;
use sci_ir::{Module, validate_module};
use sci_passes::ad::{self, ExpandOptions, SecondOrder};

const NET: &str = r#"
func net(%θ: f64[10], %x: f64) -> f64 {
  %w1: f64[3] = slice %θ, 0, 3
  %b1: f64[3] = slice %θ, 3, 3
  %w2: f64[3] = slice %θ, 6, 3
  %b2s: f64[1] = slice %θ, 9, 1
  %b2: f64 = reshape %b2s
  %xb: f64[3] = broadcast %x
  %z: f64[3] = mul %w1, %xb
  %z2: f64[3] = add %z, %b1
  %h: f64[3] = tanh %z2
  %o: f64 = dot %w2, %h
  %r: f64 = add %o, %b2
  return %r
}

func d1(%θ: f64[10], %x: f64) -> f64 {
  %u: f64 = call @net(%θ, %x)
  %d: f64 = deriv %u wrt %x
  return %d
}

func d2(%θ: f64[10], %x: f64) -> f64 {
  %u: f64 = call @net(%θ, %x)
  %d: f64 = deriv %u wrt %x, %x
  return %d
}

func d3(%θ: f64[10], %x: f64) -> f64 {
  %u: f64 = call @net(%θ, %x)
  %d: f64 = deriv %u wrt %x, %x, %x
  return %d
}

func gradθ(%θ: f64[10], %x: f64) -> f64[10] {
  %u: f64 = call @net(%θ, %x)
  %d: f64[10] = deriv %u wrt %θ
  return %d
}

func hessθ(%θ: f64[10], %x: f64) -> f64[10, 10] {
  %u: f64 = call @net(%θ, %x)
  %d: f64[10, 10] = deriv %u wrt %θ, %θ
  return %d
}

func mixed(%θ: f64[10], %x: f64) -> f64[10] {
  %u: f64 = call @net(%θ, %x)
  %d: f64[10] = deriv %u wrt %x, %θ
  return %d
}
"#;

fn theta() -> Vec<f64> {
    vec![0.7, -1.2, 0.4, 0.1, 0.3, -0.5, 1.1, -0.8, 0.6, 0.05]
}

fn expanded(text: &str, second: SecondOrder) -> Module {
    let mut m = read(text);
    ad::expand_derivatives_with(
        &mut m,
        &ExpandOptions {
            second_order: second,
        },
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    validate_module(&m).unwrap_or_else(|e| panic!("{e:?}\n{}", sci_ir::print_module(&m)));
    m
}

/// The k-th derivative of the network in x, in closed form.
fn closed_form(th: &[f64], x: f64, k: usize) -> f64 {
    (0..3)
        .map(|j| {
            let (a, b, w) = (th[j], th[3 + j], th[6 + j]);
            let y = (a * x + b).tanh();
            let s = 1.0 - y * y;
            let dk = match k {
                1 => s,
                2 => -2.0 * y * s,
                _ => -2.0 * s * (1.0 - 3.0 * y * y),
            };
            w * a.powi(k as i32) * dk
        })
        .sum()
}

#[test]
fn derivatives_of_a_network_up_to_third_order_match_closed_forms() {
    for second in [SecondOrder::Auto, SecondOrder::Nested, SecondOrder::Taylor] {
        let m = expanded(NET, second);
        for x in [-0.7, 0.2, 1.3] {
            let args = [Tensor::vector(theta()), Tensor::scalar(x)];
            for (name, k) in [("d1", 1), ("d2", 2), ("d3", 3)] {
                let got = eval(&m, m.function(name).unwrap(), &args).data[0];
                let want = closed_form(&theta(), x, k);
                assert!(
                    (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                    "{name} ({second:?}) at {x}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn gradient_of_the_third_derivative_with_respect_to_the_weights() {
    let m = expanded(NET, SecondOrder::Auto);
    let d3 = m.function("d3").unwrap();
    let g = ad::grad(&m, d3, &[0]).unwrap();
    let args = [Tensor::vector(theta()), Tensor::scalar(0.4)];
    let got = eval_fn(&m, &g, &args);
    for k in 0..10 {
        let mut e = vec![0.0; 10];
        e[k] = 1.0;
        let fd = fd_directional(
            &|a| eval(&m, d3, a),
            &args,
            &[Some(Tensor::vector(e)), None],
            1e-3,
        );
        assert!(
            (got.data[k] - fd[0]).abs() <= 1e-7 * (1.0 + fd[0].abs()),
            "∂(d³u/dx³)/∂θ[{k}]: {} vs {}",
            got.data[k],
            fd[0]
        );
    }
    // And in forward mode (jvp) in a random direction.
    let j = ad::jvp(&m, d3, &[0]).unwrap();
    let v = random_like(&args[0], &mut SplitMix64::new(3));
    let mut a = args.to_vec();
    a.push(v.clone());
    let got = eval_fn(&m, &j, &a).data[0];
    let fd = fd_directional(&|a| eval(&m, d3, a), &args, &[Some(v), None], 1e-3)[0];
    assert!((got - fd).abs() <= 1e-7 * (1.0 + fd.abs()), "{got} vs {fd}");
}

#[test]
fn gradients_hessians_and_mixed_derivatives_by_expansion() {
    let m = expanded(NET, SecondOrder::Auto);
    let args = [Tensor::vector(theta()), Tensor::scalar(-0.3)];
    let net = m.function("net").unwrap();
    let grad = eval(&m, m.function("gradθ").unwrap(), &args);
    let hess = eval(&m, m.function("hessθ").unwrap(), &args);
    let mixed = eval(&m, m.function("mixed").unwrap(), &args);
    assert_eq!(hess.shape, vec![10, 10]);
    for k in 0..10 {
        let mut e = vec![0.0; 10];
        e[k] = 1.0;
        let dir = [Some(Tensor::vector(e)), None];
        let fd = fd_directional(&|a| eval(&m, net, a), &args, &dir, 1e-3)[0];
        assert!((grad.data[k] - fd).abs() < 1e-8, "grad[{k}]");
        // Column k of the Hessian: finite differences of the gradient.
        let fdg = fd_directional(
            &|a| eval(&m, m.function("gradθ").unwrap(), a),
            &args,
            &dir,
            1e-3,
        );
        let col: Vec<f64> = (0..10).map(|r| hess.data[r * 10 + k]).collect();
        assert_close(&col, &fdg, 1e-7, "Hessian column");
        // ∂²u/∂x∂θ_k: finite differences of d1 in θ.
        let fdm = fd_directional(
            &|a| eval(&m, m.function("d1").unwrap(), a),
            &args,
            &dir,
            1e-3,
        )[0];
        assert!(
            (mixed.data[k] - fdm).abs() < 1e-8,
            "mixed[{k}]: {} vs {fdm}",
            mixed.data[k]
        );
    }
    // The Hessian is symmetric.
    for r in 0..10 {
        for c in 0..10 {
            assert!((hess.data[r * 10 + c] - hess.data[c * 10 + r]).abs() < 1e-12);
        }
    }
}

const QUAD: &str = r#"
func f(%x: f64[4], %p: f64) -> f64 {
  %s: f64 = fold sum 3 (%i: i64) {
    %one: i64 = const 1
    %j: i64 = add %i, %one
    %a: f64 = index %x[%i]
    %b: f64 = index %x[%j]
    %a2: f64 = powi %a, 2
    %d: f64 = sub %b, %a2
    %d2: f64 = powi %d, 2
    %h: f64 = const 100
    %t: f64 = mul %h, %d2
    %o: f64 = const 1
    %e: f64 = sub %o, %a
    %e2: f64 = powi %e, 2
    %r: f64 = add %t, %e2
    %sp: f64 = sin %p
    %rr: f64 = mul %r, %sp
    yield %rr
  }
  return %s
}

func v(%x: f64[4], %p: f64) -> f64[3] {
  %t: f64[3] = tabulate [3] (%i: i64) {
    %one: i64 = const 1
    %j: i64 = add %i, %one
    %a: f64 = index %x[%i]
    %b: f64 = index %x[%j]
    %c: f64 = mul %a, %b
    %d: f64 = exp %c
    %e: f64 = mul %d, %p
    yield %e
  }
  return %t
}
"#;

/// The Rosenbrock function times sin(p): its Hessian in x in closed form.
fn rosenbrock_hessian(x: &[f64], scale: f64) -> Vec<f64> {
    let n = x.len();
    let mut h = vec![0.0; n * n];
    for i in 0..n - 1 {
        let (a, b) = (x[i], x[i + 1]);
        h[i * n + i] += (1200.0 * a * a - 400.0 * b + 2.0) * scale;
        h[i * n + i + 1] += -400.0 * a * scale;
        h[(i + 1) * n + i] += -400.0 * a * scale;
        h[(i + 1) * n + i + 1] += 200.0 * scale;
    }
    h
}

#[test]
fn hessian_and_hessian_vector_products() {
    let m = read(QUAD);
    let f = m.function("f").unwrap();
    let x = vec![0.3, -0.8, 1.2, 0.5];
    let p = 0.9f64;
    let args = [Tensor::vector(x.clone()), Tensor::scalar(p)];
    let h = ad::hessian(&m, f, 0).unwrap();
    let got = eval_fn(&m, &h, &args);
    assert_eq!(got.shape, vec![4, 4]);
    let want = rosenbrock_hessian(&x, p.sin());
    assert_close(&got.data, &want, 1e-12, "Hessian");
    let hv = ad::hvp(&m, f, 0).unwrap();
    let v = vec![0.5, -1.0, 0.25, 2.0];
    let mut a = args.to_vec();
    a.push(Tensor::vector(v.clone()));
    let got = eval_fn(&m, &hv, &a);
    let want: Vec<f64> = (0..4)
        .map(|r| (0..4).map(|c| want[r * 4 + c] * v[c]).sum())
        .collect();
    assert_close(&got.data, &want, 1e-12, "Hessian-vector product");
    // Mixed Hessian block ∂²f/∂x∂p through the gradient's Jacobian in p.
    let g = ad::grad(&m, f, &[0]).unwrap();
    let jp = ad::jacobian_function(&m, &g, 1).unwrap();
    let got = eval_fn(&m, &jp, &args);
    let fd = fd_directional(
        &|a| eval_fn(&m, &g, a),
        &args,
        &[None, Some(Tensor::scalar(1.0))],
        1e-3,
    );
    assert_close(&got.data, &fd, 1e-8, "∂²f/∂x∂p");
}

#[test]
fn dense_jacobians_forward_and_reverse_agree() {
    let m = read(QUAD);
    let v = m.function("v").unwrap();
    let fv = m.functions.get(v).unwrap();
    let args = [
        Tensor::vector(vec![0.3, -0.8, 1.2, 0.5]),
        Tensor::scalar(0.9),
    ];
    for wrt in [0, 1] {
        let fwd = eval_fn(&m, &ad::jacobian_forward(&m, fv, wrt).unwrap(), &args);
        let rev = eval_fn(&m, &ad::jacobian_reverse(&m, fv, wrt).unwrap(), &args);
        let auto = eval_fn(&m, &ad::jacobian(&m, v, wrt).unwrap(), &args);
        assert_close(&fwd.data, &rev.data, 1e-13, "forward vs reverse");
        assert_close(&fwd.data, &auto.data, 1e-13, "forward vs automatic choice");
        let n = args[wrt].data.len();
        let rows = 3;
        assert_eq!(fwd.shape, if wrt == 0 { vec![3, 4] } else { vec![3] });
        for c in 0..n {
            let mut e = vec![0.0; n];
            e[c] = 1.0;
            let mut dirs = vec![None, None];
            dirs[wrt] = Some(Tensor::new(args[wrt].shape.clone(), e).unwrap());
            let fd = fd_directional(&|a| eval(&m, v, a), &args, &dirs, 1e-3);
            let col: Vec<f64> = (0..rows).map(|r| fwd.data[r * n + c]).collect();
            assert_close(&col, &fd, 1e-8, "Jacobian column vs FD");
            let col: Vec<f64> = (0..rows).map(|r| auto.data[r * n + c]).collect();
            assert_close(&col, &fd, 1e-8, "Jacobian column vs FD");
        }
    }
}

const PINN: &str = r#"
func net(%θ: f64[13], %x: f64, %y: f64) -> f64 {
  %in: f64[2] = concat %x, %y
  %w1s: f64[6] = slice %θ, 0, 6
  %w1: f64[3, 2] = reshape %w1s
  %b1: f64[3] = slice %θ, 6, 3
  %w2: f64[3] = slice %θ, 9, 3
  %b2s: f64[1] = slice %θ, 12, 1
  %b2: f64 = reshape %b2s
  %z: f64[3] = matvec %w1, %in
  %z2: f64[3] = add %z, %b1
  %h: f64[3] = sigmoid %z2
  %o: f64 = dot %w2, %h
  %r: f64 = add %o, %b2
  return %r
}

func residual(%θ: f64[13], %x: batch f64, %y: batch f64) -> batch f64 {
  %m: batch f64 = map %x, %y (%xi: f64, %yi: f64) {
    %u: f64 = call @net(%θ, %xi, %yi)
    %uxx: f64 = deriv %u wrt %xi, %xi
    %uyy: f64 = deriv %u wrt %yi, %yi
    %lap: f64 = add %uxx, %uyy
    %ux: f64 = deriv %u wrt %xi
    %p: f64 = mul %u, %ux
    %r: f64 = add %lap, %p
    yield %r
  }
  return %m
}

func loss(%θ: f64[13], %x: batch f64, %y: batch f64) -> f64 {
  %r: batch f64 = call @residual(%θ, %x, %y)
  %s: batch f64 = map %r (%ri: f64) {
    %q: f64 = powi %ri, 2
    yield %q
  }
  %l: f64 = reduce_batch mean %s
  return %l
}
"#;

fn pinn_theta() -> Vec<f64> {
    (0..13).map(|k| ((k * 7 % 11) as f64 - 5.0) / 6.0).collect()
}

#[test]
fn pinn_residual_and_loss_gradient_with_taylor_and_nested_modes() {
    check_pinn(PINN);
}

/// The same with GELU (`gelu`: its rules give `dgelu`, whose own rules give the second
/// and third derivatives that the Laplacian and its gradient in θ need).
#[test]
fn a_gelu_pinn_has_the_same_derivatives_in_every_mode() {
    check_pinn(&PINN.replace("sigmoid", "gelu"));
}

fn check_pinn(pinn: &str) {
    let pts_x = Tensor::batch(vec![], 3, vec![0.1, -0.4, 0.8]).unwrap();
    let pts_y = Tensor::batch(vec![], 3, vec![0.5, 0.2, -0.6]).unwrap();
    let args = [Tensor::vector(pinn_theta()), pts_x.clone(), pts_y.clone()];
    let mut results = Vec::new();
    for second in [SecondOrder::Nested, SecondOrder::Taylor, SecondOrder::Auto] {
        let m = expanded(pinn, second);
        let r = eval(&m, m.function("residual").unwrap(), &args);
        // Reference: second differences of the network itself.
        let net = m.function("net").unwrap();
        let h = 1e-3;
        let u = |x: f64, y: f64| {
            eval(
                &m,
                net,
                &[
                    Tensor::vector(pinn_theta()),
                    Tensor::scalar(x),
                    Tensor::scalar(y),
                ],
            )
            .data[0]
        };
        for p in 0..3 {
            let (x, y) = (pts_x.data[p], pts_y.data[p]);
            let d2 = |f: &dyn Fn(f64) -> f64, h: f64| (f(h) - 2.0 * f(0.0) + f(-h)) / (h * h);
            let rich = |f: &dyn Fn(f64) -> f64| (4.0 * d2(f, h / 2.0) - d2(f, h)) / 3.0;
            let uxx = rich(&|s| u(x + s, y));
            let uyy = rich(&|s| u(x, y + s));
            let ux = (u(x + h, y) - u(x - h, y)) / (2.0 * h);
            let want = uxx + uyy + u(x, y) * ux;
            assert!(
                (r.data[p] - want).abs() < 1e-6,
                "{second:?} point {p}: {} vs {want}",
                r.data[p]
            );
        }
        // The loss gradient in θ (reverse over Taylor or nested forward) against FD.
        let loss = m.function("loss").unwrap();
        let g = ad::grad(&m, loss, &[0]).unwrap();
        let got = eval_fn(&m, &g, &args);
        let v = random_like(&args[0], &mut SplitMix64::new(11));
        let fd = fd_directional(
            &|a| eval(&m, loss, a),
            &args,
            &[Some(v.clone()), None, None],
            1e-3,
        )[0];
        let dot = inner(&got.data, &v.data);
        assert!(
            (dot - fd).abs() < 1e-7 * (1.0 + fd.abs()),
            "{second:?}: ∇loss·v = {dot} vs {fd}"
        );
        results.push(r.data);
    }
    assert_close(&results[0], &results[1], 1e-12, "Taylor vs nested");
}
