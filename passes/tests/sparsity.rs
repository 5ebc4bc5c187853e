//! Sparsity detection, colouring and compressed evaluation on hand-written IR and on
//! random programs: the pattern contains every non-zero of the dense Jacobian (and is
//! exact where the structure is), colour counts are minimal for banded patterns, and the
//! CSR values equal the dense Jacobian.

mod ad_util;

use ad_util::*;
use sci_ir::interp::Tensor;
use sci_ir::random::{RandomOptions, random_function, random_inputs};
use sci_ir::{DType, Function, Module, Op};
use sci_passes::ad;
use sci_passes::sparsity::{self, Direction, Pattern};

const STENCILS: &str = r#"
func heat(%t: f64, %y: f64[8], %θ: f64[1]) -> f64[8] {
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
    %o: f64 = mul %k, %s2
    yield %o
  }
  return %d
}

func periodic(%y: f64[16]) -> f64[16] {
  %u: f64[4, 4] = reshape %y
  %d: f64[4, 4] = tabulate [4, 4] (%i: i64, %j: i64) {
    %zero: i64 = const 0
    %one: i64 = const 1
    %last: i64 = const 3
    %first: bool = eq %i, %zero
    %up: i64 = sub %i, %one
    %a: f64 = index %u[%last, %j]
    %b: f64 = index %u[%up, %j] fill 0
    %n: f64 = select %first, %a, %b
    %c: f64 = index %u[%i, %j]
    %c2: f64 = powi %c, 2
    %o: f64 = add %n, %c2
    yield %o
  }
  %r: f64[16] = reshape %d
  return %r
}

func ring(%y: f64[2]) -> f64[2] {
  %d: f64[2] = tabulate [2] (%i: i64) {
    %zero: i64 = const 0
    %one: i64 = const 1
    %first: bool = eq %i, %zero
    %last: bool = eq %i, %one
    %im: i64 = sub %i, %one
    %ip: i64 = add %i, %one
    %wl: f64 = index %y[%one]
    %l0: f64 = index %y[%im] fill 0
    %l: f64 = select %first, %wl, %l0
    %wr: f64 = index %y[%zero]
    %r0: f64 = index %y[%ip] fill 0
    %r: f64 = select %last, %wr, %r0
    %c: f64 = index %y[%i]
    %s: f64 = add %l, %r
    %c3: f64 = powi %c, 3
    %o: f64 = sub %s, %c3
    yield %o
  }
  return %d
}

func mirror(%y: f64[4]) -> f64[4] {
  %d: f64[4] = tabulate [4] (%i: i64) {
    %three: i64 = const 3
    %k: i64 = sub %three, %i
    %a: f64 = index %y[%k]
    %b: f64 = index %y[%i]
    %o: f64 = mul %a, %b
    yield %o
  }
  return %d
}

func nested(%y: f64[5]) -> f64[5] {
  %d: f64[5] = tabulate [5] (%i: i64) {
    %s: f64 = fold sum 2 (%k: i64) {
      %j: i64 = add %i, %k
      %a: f64 = index %y[%j] fill 0
      %b: f64 = sin %a
      yield %b
    }
    yield %s
  }
  return %d
}

func react(%t: f64, %y: f64[12], %θ: f64[2]) -> f64[12] {
  %a1: f64[1] = slice %θ, 0, 1
  %a: f64 = reshape %a1
  %u1: f64[6] = slice %y, 0, 6
  %v1: f64[6] = slice %y, 6, 6
  %u: f64[2, 3] = reshape %u1
  %v: f64[2, 3] = reshape %v1
  %lap: f64[2, 3] = tabulate [2, 3] (%i: i64, %j: i64) {
    %one: i64 = const 1
    %jm: i64 = sub %j, %one
    %jp: i64 = add %j, %one
    %l: f64 = index %u[%i, %jm] fill 0
    %r: f64 = index %u[%i, %jp] fill 0
    %c: f64 = index %u[%i, %j]
    %two: f64 = const 2
    %c2: f64 = mul %two, %c
    %s: f64 = sub %l, %c2
    %s2: f64 = add %s, %r
    yield %s2
  }
  %du: f64[2, 3] = tabulate [2, 3] (%i2: i64, %j2: i64) {
    %x: f64 = index %u[%i2, %j2]
    %w: f64 = index %v[%i2, %j2]
    %lp: f64 = index %lap[%i2, %j2]
    %th: f64 = tanh %x
    %e: f64 = exp %w
    %q: f64 = div %th, %e
    %sq: f64 = mul %x, %x
    %uno: f64 = const 1
    %sq1: f64 = add %sq, %uno
    %rt: f64 = sqrt %sq1
    %p3: f64 = powi %w, 3
    %sn: f64 = sin %x
    %cs: f64 = cos %w
    %lg: f64 = log %sq1
    %ng: f64 = neg %lg
    %o1: f64 = mul %a, %lp
    %o2: f64 = add %o1, %q
    %rp: f64 = mul %rt, %p3
    %o3: f64 = add %o2, %rp
    %sc: f64 = mul %sn, %cs
    %o4: f64 = add %o3, %sc
    %o5: f64 = add %o4, %ng
    yield %o5
  }
  %dv: f64[2, 3] = tabulate [2, 3] (%i3: i64, %j3: i64) {
    %zero: i64 = const 0
    %top: bool = eq %i3, %zero
    %une: i64 = const 1
    %im: i64 = sub %i3, %une
    %wrap: f64 = index %v[%une, %j3]
    %up: f64 = index %v[%im, %j3] fill 0
    %n: f64 = select %top, %wrap, %up
    %xx: f64 = index %u[%i3, %j3]
    %o: f64 = mul %n, %xx
    yield %o
  }
  %ru: f64[6] = reshape %du
  %rv: f64[6] = reshape %dv
  %res: f64[12] = concat %ru, %rv
  return %res
}

func scaled(%y: f64[4], %θ: f64[1]) -> f64[4] {
  %k1: f64[1] = slice %θ, 0, 1
  %k: f64 = reshape %k1
  %k2: f64 = mul %k, %k
  %d: f64[4] = tabulate [4] (%i: i64) {
    %a: f64 = index %y[%i]
    %o: f64 = mul %k2, %a
    yield %o
  }
  return %d
}

func arrow(%x: f64[6]) -> f64[7] {
  %s: f64 = reduce sum %x
  %e: f64[6] = exp %x
  %r: f64[7] = concat %s, %e
  return %r
}

func dynamic(%x: f64[4], %p: f64) -> f64[2] {
  %c: bool = gt %p, %p
  %zero: i64 = const 0
  %two: i64 = const 2
  %i: i64 = cast %p
  %a: f64 = index %x[%i] fill 0
  %b: f64 = index %x[%zero]
  %q: f64 = index %x[%two]
  %s: f64 = select %c, %b, %q
  %f: f64 = floor %b
  %g: f64 = mul %f, %a
  %r: f64[2] = concat %g, %s
  return %r
}
"#;

/// Whether element-local values `f` read its entries through a gather table (an integer
/// literal) rather than making them in CSR order.
fn gathers(f: &Function) -> bool {
    f.values
        .iter()
        .any(|(_, v)| matches!(v.op, Op::Literal(_)) && v.ty.dtype == DType::I64)
}

fn dense_pattern(p: &Pattern) -> Vec<Vec<usize>> {
    p.rows().iter().map(|r| r.to_vec()).collect()
}

fn pattern(m: &Module, name: &str, wrt: usize) -> Pattern {
    sparsity::jacobian_pattern(m, m.function(name).unwrap(), wrt).unwrap()
}

#[test]
fn stencil_patterns_are_exact() {
    let m = read(STENCILS);
    let p = pattern(&m, "heat", 1);
    let want: Vec<Vec<usize>> = (0..8usize)
        .map(|i| (i.saturating_sub(1)..=(i + 1).min(7)).collect())
        .collect();
    assert_eq!(dense_pattern(&p), want);
    // With respect to θ: every row depends on κ.
    assert_eq!(dense_pattern(&pattern(&m, "heat", 2)), vec![vec![0]; 8]);
    // Periodic wrap by `if`: row (0, j) reads (3, j), never (−1, j).
    let p = pattern(&m, "periodic", 0);
    for i in 0..4 {
        for j in 0..4 {
            let up = if i == 0 { 3 * 4 + j } else { (i - 1) * 4 + j };
            let mut want = vec![up, i * 4 + j];
            want.sort();
            assert_eq!(p.rows()[i * 4 + j], want.as_slice(), "row ({i}, {j})");
        }
    }
    // A nested loop is unrolled, with the same exactness.
    let f = m.functions.get(m.function("nested").unwrap()).unwrap();
    let (p, stats) = sparsity::detect_pattern(&m, f, 0).unwrap();
    assert_eq!(stats.unrolled_loops, 1);
    let want: Vec<Vec<usize>> = (0..5usize).map(|i| (i..(i + 2).min(5)).collect()).collect();
    assert_eq!(dense_pattern(&p), want);
    let f = m.functions.get(m.function("heat").unwrap()).unwrap();
    assert_eq!(
        sparsity::detect_pattern(&m, f, 1).unwrap().1.symbolic_loops,
        1
    );
    // Dynamic index: any element; data-dependent select: both branches; floor: nothing.
    assert_eq!(
        dense_pattern(&pattern(&m, "dynamic", 0)),
        vec![vec![0, 1, 2, 3], vec![0, 2]]
    );
}

#[test]
fn colourings_are_minimal_for_banded_and_arrow_patterns() {
    let m = read(STENCILS);
    let p = pattern(&m, "heat", 1);
    let cols = sparsity::color_columns(&p);
    assert_eq!(sparsity::color_count(&cols), 3);
    // Columns of one colour share no row.
    for r in p.rows() {
        let mut seen = std::collections::HashSet::new();
        assert!(r.iter().all(|c| seen.insert(cols[*c])));
    }
    // An arrow (a dense row): columns need 6 colours, rows 2; reverse is chosen.
    let arrow = m.function("arrow").unwrap();
    let sj = sparsity::sparse_jacobian(&m, arrow, 0).unwrap();
    assert_eq!(
        (sj.direction, sj.n_colors, sj.other_colors),
        (Direction::Reverse, 2, 6)
    );
    let t = p.transpose();
    assert_eq!(t.transpose(), p);
    assert_eq!(t.nnz(), p.nnz());
}

fn dense_jacobian(m: &Module, f: &Function, wrt: usize, args: &[Tensor]) -> Vec<f64> {
    eval_fn(m, &ad::jacobian_function(m, f, wrt).unwrap(), args).data
}

#[test]
fn compressed_evaluation_equals_the_dense_jacobian() {
    let m = read(STENCILS);
    let y: Vec<f64> = (0..8).map(|k| 0.3 * k as f64 - 1.0).collect();
    let cases: Vec<(&str, usize, Vec<Tensor>)> = vec![
        (
            "heat",
            1,
            vec![
                Tensor::scalar(0.0),
                Tensor::vector(y.clone()),
                Tensor::vector(vec![0.7]),
            ],
        ),
        (
            "heat",
            2,
            vec![
                Tensor::scalar(0.0),
                Tensor::vector(y.clone()),
                Tensor::vector(vec![0.7]),
            ],
        ),
        (
            "periodic",
            0,
            vec![Tensor::vector((0..16).map(|k| 0.1 * k as f64).collect())],
        ),
        (
            "nested",
            0,
            vec![Tensor::vector(vec![0.1, 0.2, 0.3, 0.4, 0.5])],
        ),
        (
            "arrow",
            0,
            vec![Tensor::vector(vec![0.1, -0.2, 0.3, 0.4, 0.5, 0.6])],
        ),
    ];
    for (name, wrt, args) in cases {
        let id = m.function(name).unwrap();
        let f = m.functions.get(id).unwrap();
        let sj = sparsity::sparse_jacobian(&m, id, wrt).unwrap();
        let values = eval_fn(&m, &sj.values, &args);
        let compressed = eval_fn(&m, &sj.compressed, &args);
        assert_eq!(sj.decompress(&compressed.data), values.data);
        let dense = dense_jacobian(&m, f, wrt, &args);
        assert_eq!(sj.to_dense(&values.data), dense, "{name} wrt {wrt}");
    }
}

/// A random Jacobian case: the module, its function `f`, the input differentiated, inputs
/// on which `f` evaluates, and the detected pattern.
struct RandomJacobian<'a> {
    seed: u64,
    m: &'a Module,
    f: &'a Function,
    wrt: usize,
    args: &'a [Tensor],
    pattern: Pattern,
}

/// Calls `check` on the Jacobian of every real input of the random programs of `seeds`
/// that evaluate on their random inputs.
fn for_each_random_jacobian(
    seeds: std::ops::Range<u64>,
    mut check: impl FnMut(RandomJacobian<'_>),
) {
    let options = RandomOptions {
        batch: false,
        decorate: false,
        ..RandomOptions::default()
    };
    for seed in seeds {
        let m = random_function(seed, &options);
        let id = m.function("f").unwrap();
        let f = m.functions.get(id).unwrap();
        let args = random_inputs(&m, id, seed);
        if sci_ir::eval(&m, id, &args).is_err() {
            continue;
        }
        for wrt in 0..f.inputs().len() {
            if !f.input_type(wrt).unwrap().dtype.is_float() {
                continue;
            }
            let pattern = sparsity::jacobian_pattern(&m, id, wrt).unwrap();
            check(RandomJacobian {
                seed,
                m: &m,
                f,
                wrt,
                args: &args,
                pattern,
            });
        }
    }
}

/// On random programs the detected pattern contains every non-zero of the dense Jacobian.
#[test]
fn patterns_of_random_programs_cover_the_dense_jacobian() {
    let mut checked = 0;
    for_each_random_jacobian(0..120, |c| {
        let (seed, wrt, p) = (c.seed, c.wrt, &c.pattern);
        let dense = dense_jacobian(c.m, c.f, wrt, c.args);
        let allowed = p.to_dense();
        assert_eq!(dense.len(), allowed.len(), "seed {seed}");
        for (k, (x, ok)) in dense.iter().zip(&allowed).enumerate() {
            assert!(
                *ok || *x == 0.0 || x.is_nan(),
                "seed {seed}, wrt {wrt}: non-zero {x} at ({}, {}) outside the pattern\n{}",
                k / p.n_cols.max(1),
                k % p.n_cols.max(1),
                sci_ir::print_module(c.m)
            );
        }
        checked += 1;
    });
    assert!(checked > 150, "only {checked} patterns checked");
}

/// Element-local values (each entry from the body's derivative per read, gathered in
/// pattern order) equal the dense Jacobian: on a stencil, on periodic neighbours chosen by
/// a select, and on two grids whose bodies inline a third and use every derivative rule.
/// Where they do not apply (the parameters read outside the body, a `fold` in the body, a
/// result not made of grids) there are none, and the compressed values are used.
#[test]
fn element_local_values_equal_the_dense_jacobian() {
    let m = read(STENCILS);
    let y: Vec<f64> = (0..12).map(|k| 0.25 * k as f64 - 1.3).collect();
    let ode = |n: usize| {
        vec![
            Tensor::scalar(0.0),
            Tensor::vector(y[..n].to_vec()),
            Tensor::vector(vec![0.7, -0.4]),
        ]
    };
    let heat_args = vec![
        Tensor::scalar(0.0),
        Tensor::vector(y[..8].to_vec()),
        Tensor::vector(vec![0.7]),
    ];
    let cases: Vec<(&str, usize, Vec<Tensor>)> = vec![
        ("heat", 1, heat_args.clone()),
        (
            "periodic",
            0,
            vec![Tensor::vector((0..16).map(|k| 0.1 * k as f64).collect())],
        ),
        ("react", 1, ode(12)),
        ("ring", 0, vec![Tensor::vector(vec![0.3, -1.1])]),
        ("mirror", 0, vec![Tensor::vector(vec![0.3, -1.1, 2.0, 0.7])]),
        // With respect to θ: scalar parameters sliced from θ outside the bodies are reads
        // of the same element at every point.
        ("heat", 2, heat_args.clone()),
        ("react", 2, ode(12)),
    ];
    for (name, wrt, args) in cases {
        let id = m.function(name).unwrap();
        let f = m.functions.get(id).unwrap();
        let p = sparsity::jacobian_pattern(&m, id, wrt).unwrap();
        let local = sparsity::element_local_values(f, wrt, &p)
            .unwrap_or_else(|| panic!("{name} wrt {wrt}: element-local values apply"));
        sci_ir::validate_function(&m, &local).unwrap();
        // Rows of one length whose entries the body's own index tests assign are written
        // in CSR order; rows of several lengths (Dirichlet boundaries) or an assignment the
        // tests do not decide (`mirror`: y[3 - i] sorts first from i = 2 on) are gathered.
        let gathered = matches!((name, wrt), ("heat" | "react" | "mirror", 0 | 1));
        assert_eq!(
            gathers(&local),
            gathered,
            "{name}: gathered (an integer table) or made in CSR order"
        );
        let values = eval_fn(&m, &local, &args);
        let sj = sparsity::sparse_jacobian(&m, id, wrt).unwrap();
        let got = sj.to_dense(&values.data);
        let dense = dense_jacobian(&m, f, wrt, &args);
        assert_eq!(got.len(), dense.len());
        for (k, (a, b)) in got.iter().zip(&dense).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "{name}: entry {k}: element-local {a} vs dense {b}"
            );
        }
    }
    // A parameter used through a value computed from it outside the body (`k²`) is a
    // read the bodies cannot see.
    for (name, wrt) in [("nested", 0), ("arrow", 0), ("scaled", 1)] {
        let id = m.function(name).unwrap();
        let f = m.functions.get(id).unwrap();
        let p = sparsity::jacobian_pattern(&m, id, wrt).unwrap();
        assert!(
            sparsity::element_local_values(f, wrt, &p).is_none(),
            "{name} wrt {wrt}: element-local values should not apply"
        );
        assert!(
            !sparsity::sparse_jacobian(&m, id, wrt)
                .unwrap()
                .element_local
        );
    }
}

/// The dense `∂f/∂θ` made element-locally equals forward/reverse mode, has the same shape,
/// and is chosen where it costs fewer FLOPs.
#[test]
fn element_local_dense_jacobians_equal_automatic_differentiation() {
    let m = read(STENCILS);
    let y: Vec<f64> = (0..12).map(|k| 0.25 * k as f64 - 1.3).collect();
    let cases: Vec<(&str, usize, Vec<Tensor>)> = vec![
        (
            "heat",
            2,
            vec![
                Tensor::scalar(0.0),
                Tensor::vector(y[..8].to_vec()),
                Tensor::vector(vec![0.7]),
            ],
        ),
        (
            "react",
            2,
            vec![
                Tensor::scalar(0.0),
                Tensor::vector(y.clone()),
                Tensor::vector(vec![0.7, -0.4]),
            ],
        ),
        (
            "scaled",
            0,
            vec![Tensor::vector(y[..4].to_vec()), Tensor::vector(vec![1.5])],
        ),
    ];
    for (name, wrt, args) in cases {
        let id = m.function(name).unwrap();
        let f = m.functions.get(id).unwrap();
        let local = sparsity::element_local_dense(f, wrt)
            .unwrap_or_else(|| panic!("{name} wrt {wrt}: element-local applies"));
        sci_ir::validate_function(&m, &local).unwrap();
        let by_ad = ad::jacobian_function(&m, f, wrt).unwrap();
        let result = |g: &Function| g.values[g.body.result].ty.clone();
        assert_eq!(result(&local), result(&by_ad), "{name}: shape");
        let got = eval_fn(&m, &local, &args).data;
        let want = eval_fn(&m, &by_ad, &args).data;
        assert_eq!(got.len(), want.len());
        for (k, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "{name} wrt {wrt}: entry {k}: element-local {a} vs AD {b}"
            );
        }
        let chosen = sparsity::dense_jacobian(&m, id, wrt).unwrap();
        let flops = |g: &Function| ad::cost::flops(&m, g);
        assert_eq!(
            flops(&chosen),
            flops(&local).min(flops(&by_ad)),
            "{name}: the cheaper Jacobian is chosen"
        );
    }
    let id = m.function("scaled").unwrap();
    assert!(sparsity::element_local_dense(m.functions.get(id).unwrap(), 1).is_none());
}

/// On random programs, wherever element-local values apply they equal the dense Jacobian.
#[test]
fn element_local_values_of_random_programs_equal_the_dense_jacobian() {
    let mut applied = 0;
    for_each_random_jacobian(0..400, |c| {
        let (seed, wrt) = (c.seed, c.wrt);
        let Some(local) = sparsity::element_local_values(c.f, wrt, &c.pattern) else {
            return;
        };
        let values = eval_fn(c.m, &local, c.args);
        let id = c.m.function("f").unwrap();
        let sj = sparsity::sparse_jacobian(c.m, id, wrt).unwrap();
        let got = sj.to_dense(&values.data);
        let dense = dense_jacobian(c.m, c.f, wrt, c.args);
        for (k, (a, b)) in got.iter().zip(&dense).enumerate() {
            assert!(
                (a - b).abs() <= 1e-10 * (1.0 + b.abs()) || (a.is_nan() && b.is_nan()),
                "seed {seed}, wrt {wrt}: entry {k}: element-local {a} vs dense {b}\n{}",
                sci_ir::print_module(c.m)
            );
        }
        applied += 1;
    });
    // Few random results are grids of `tabulate`s; the hand-written cases above cover
    // stencils, this the odd shapes the generator makes.
    assert!(
        applied >= 3,
        "element-local values applied to only {applied} random Jacobians"
    );
}
