//! Property tests on random IR programs (`sci_ir::random`): every `jvp` and `vjp`
//! validates and evaluates, `⟨u, J v⟩ = ⟨Jᵀ u, v⟩` holds, `jvp` agrees with finite
//! differences wherever the program is smooth at the sample point, and second-order
//! transforms (`jvp` of `vjp`) agree with finite differences of the first-order ones.

mod ad_util;

use ad_util::*;
use sci_ir::interp::Tensor;
use sci_ir::random::{RandomOptions, SplitMix64, random_function, random_inputs};
use sci_ir::{Function, Module};
use sci_passes::ad;

/// Central differences at two step sizes that disagree mean the program is not smooth at
/// the point (a `floor`, a cast to an integer, a `select` switching, f32 rounding).
fn smooth_fd(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    dirs: &[Option<Tensor>],
) -> Option<Vec<f64>> {
    let a = fd_directional(f, inputs, dirs, 1e-3);
    let b = fd_directional(f, inputs, dirs, 2.5e-4);
    if a.iter().chain(&b).any(|x| !x.is_finite()) {
        return None;
    }
    (rel_err(&a, &b, 1.0) < 1e-7).then_some(b)
}

fn float_inputs(f: &Function) -> Vec<usize> {
    (0..f.inputs().len())
        .filter(|&k| f.input_type(k).is_some_and(|t| t.dtype.is_float()))
        .collect()
}

struct Counts {
    programs: usize,
    fd_checked: usize,
    dot_checked: usize,
}

fn check_program(m: &Module, seed: u64, counts: &mut Counts) {
    let func = m.function("f").unwrap();
    let f = m.functions.get(func).unwrap();
    let inputs = random_inputs(m, func, seed);
    let Ok(out) = sci_ir::eval(m, func, &inputs) else {
        return;
    };
    if out.data.iter().any(|x| !x.is_finite()) {
        return;
    }
    counts.programs += 1;
    let mut rng = SplitMix64::new(seed);
    for k in float_inputs(f) {
        let wrt = [k];
        let dirs: Vec<Option<Tensor>> = (0..inputs.len())
            .map(|j| (j == k).then(|| random_like(&inputs[j], &mut rng)))
            .collect();
        let g = ad::jvp(m, func, &wrt).unwrap_or_else(|e| panic!("seed {seed}: jvp: {e}"));
        let mut args = inputs.clone();
        args.push(dirs[k].clone().unwrap());
        let (mg, gid) = with_fn(m, &g);
        let tangent = sci_ir::eval(&mg, gid, &args).unwrap_or_else(|e| {
            panic!(
                "seed {seed}: jvp wrt {k} fails: {e}\n{}",
                sci_ir::print_module(&mg)
            )
        });
        if let Some(fd) = smooth_fd(&|x| eval(m, func, x), &inputs, &dirs) {
            let e = rel_err(&tangent.data, &fd, 1.0);
            assert!(
                e < 1e-6,
                "seed {seed}: jvp wrt {k} differs from finite differences by {e:e}\n got {:?}\nwant {fd:?}\n{}",
                tangent.data,
                sci_ir::print_module(m)
            );
            counts.fd_checked += 1;
        }
        let h = ad::vjp(m, func, &wrt).unwrap_or_else(|e| panic!("seed {seed}: vjp: {e}"));
        let u = random_like(&out, &mut rng);
        let mut args = inputs.clone();
        args.push(u.clone());
        let (mh, hid) = with_fn(m, &h);
        let back = sci_ir::eval(&mh, hid, &args).unwrap_or_else(|e| {
            panic!(
                "seed {seed}: vjp wrt {k} fails: {e}\n{}",
                sci_ir::print_module(&mh)
            )
        });
        let v = dirs[k].clone().unwrap();
        let lhs = inner(&u.data, &tangent.data);
        let rhs = inner(&back.data, &v.data);
        if lhs.is_finite() && rhs.is_finite() {
            // f32 intermediate values round tangents and cotangents differently.
            let scale: f64 = u
                .data
                .iter()
                .zip(&tangent.data)
                .map(|(a, b)| (a * b).abs())
                .sum::<f64>()
                + back
                    .data
                    .iter()
                    .zip(&v.data)
                    .map(|(a, b)| (a * b).abs())
                    .sum::<f64>();
            assert!(
                (lhs - rhs).abs() <= 1e-6 * (1.0 + scale),
                "seed {seed}: ⟨u, Jv⟩ = {lhs} but ⟨Jᵀu, v⟩ = {rhs} (wrt {k})\n{}",
                sci_ir::print_module(m)
            );
            counts.dot_checked += 1;
        }
    }
}

#[test]
fn jvp_and_vjp_of_random_programs() {
    let options = RandomOptions {
        decorate: false,
        ..RandomOptions::default()
    };
    let mut counts = Counts {
        programs: 0,
        fd_checked: 0,
        dot_checked: 0,
    };
    for seed in 0..160 {
        let m = random_function(seed, &options);
        check_program(&m, seed, &mut counts);
    }
    assert!(
        counts.programs > 100,
        "only {} programs evaluated",
        counts.programs
    );
    assert!(
        counts.fd_checked > 150,
        "only {} jvps checked against FD",
        counts.fd_checked
    );
    assert!(
        counts.dot_checked > 200,
        "only {} vjps checked",
        counts.dot_checked
    );
}

#[test]
fn random_programs_with_deep_loops() {
    let options = RandomOptions {
        ops: 16,
        max_depth: 3,
        max_extent: 3,
        decorate: false,
        ..RandomOptions::default()
    };
    let mut counts = Counts {
        programs: 0,
        fd_checked: 0,
        dot_checked: 0,
    };
    for seed in 1000..1060 {
        check_program(&random_function(seed, &options), seed, &mut counts);
    }
    assert!(
        counts.dot_checked > 40,
        "only {} vjps checked",
        counts.dot_checked
    );
}

/// Second order: the jvp of a vjp (forward over reverse) against finite differences of the
/// vjp, and the vjp of a jvp against the dot-product identity.
#[test]
fn second_order_transforms_of_random_programs() {
    let options = RandomOptions {
        ops: 14,
        batch: false,
        decorate: false,
        ..RandomOptions::default()
    };
    let mut checked = 0;
    for seed in 2000..2060 {
        let m = random_function(seed, &options);
        let func = m.function("f").unwrap();
        let f = m.functions.get(func).unwrap();
        let inputs = random_inputs(&m, func, seed);
        let Ok(out) = sci_ir::eval(&m, func, &inputs) else {
            continue;
        };
        if out.data.iter().any(|x| !x.is_finite()) {
            continue;
        }
        let Some(&k) = float_inputs(f).first() else {
            continue;
        };
        let mut rng = SplitMix64::new(seed);
        let u = random_like(&out, &mut rng);
        let v = random_like(&inputs[k], &mut rng);
        // h(x, u) = Jᵀ(x) u; its jvp in x along v against finite differences.
        let h = ad::vjp(&m, func, &[k]).unwrap();
        let hv = ad::jvp_function(&m, &h, &[k]).unwrap();
        let mut args = inputs.clone();
        args.push(u.clone());
        let mut dirs: Vec<Option<Tensor>> = vec![None; args.len()];
        dirs[k] = Some(v.clone());
        let Some(fd) = smooth_fd(&|x| eval_fn(&m, &h, x), &args, &dirs) else {
            continue;
        };
        let mut args2 = args.clone();
        args2.push(v.clone());
        let got = eval_fn(&m, &hv, &args2);
        let e = rel_err(&got.data, &fd, 1.0);
        assert!(
            e < 1e-6,
            "seed {seed}: jvp of vjp differs from FD by {e:e}\n{}",
            sci_ir::print_module(&m)
        );
        checked += 1;
    }
    assert!(checked > 25, "only {checked} second-order checks ran");
}
