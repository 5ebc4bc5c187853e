//! Collocation points: inside the box, fixed coordinates set and split evenly,
//! reproducible, stratified (Latin hypercube), low-discrepancy (Sobol), and never a panic.

use proptest::prelude::*;
use sci_stdlib::ErrorKind;
use sci_stdlib::sample::{SampleSpec, Sampling, sample};

const ALL: [Sampling; 3] = [Sampling::Uniform, Sampling::LatinHypercube, Sampling::Sobol];

fn spec(bounds: &[(f64, f64)], points: usize, sampling: Sampling) -> SampleSpec {
    SampleSpec {
        bounds: bounds.to_vec(),
        fixed: Vec::new(),
        points,
        sampling,
    }
}

#[test]
fn points_lie_inside_the_box() {
    let bounds = [(-1.0, 1.0), (0.0, 10.0), (1e-3, 2e-3), (-1e300, 1e300)];
    for sampling in ALL {
        let out = sample(&spec(&bounds, 500, sampling), 7, 0).unwrap();
        assert_eq!(out.len(), 4);
        for (c, &(lo, hi)) in bounds.iter().enumerate() {
            assert_eq!(out[c].len(), 500);
            assert!(
                out[c].iter().all(|x| (lo..=hi).contains(x)),
                "{sampling:?} {c}"
            );
        }
        // Not degenerate: the points spread over the box.
        let (min, max) = out[1]
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(min < 0.5 && max > 9.5, "{sampling:?} {min} {max}");
    }
}

#[test]
fn fixed_coordinates_are_set_and_split_evenly() {
    for sampling in ALL {
        let s = SampleSpec {
            bounds: vec![(-1.0, 1.0), (0.0, 2.0), (0.0, 1.0)],
            // x == -1 or x == 1, and (t == 0 or y == 0 or y == 1).
            fixed: vec![
                vec![(0, -1.0), (0, 1.0)],
                vec![(1, 0.0), (2, 0.0), (2, 1.0)],
            ],
            points: 11,
            sampling,
        };
        let out = sample(&s, 3, 1).unwrap();
        let count = |c: usize, v: f64| out[c].iter().filter(|&&x| x == v).count();
        // 11 = 6 + 5: the remainder goes to the first alternative, in order.
        assert_eq!(out[0][..6], [-1.0; 6]);
        assert_eq!(out[0][6..], [1.0; 5]);
        // 11 = 4 + 4 + 3 between t == 0, y == 0, y == 1.
        assert_eq!(count(1, 0.0), 4, "{sampling:?} {out:?}");
        assert_eq!(count(2, 0.0), 4, "{sampling:?} {out:?}");
        assert_eq!(count(2, 1.0), 3, "{sampling:?} {out:?}");
        // The points with t == 0 have a free y and vice versa.
        for k in 0..11 {
            let fixed_t = out[1][k] == 0.0;
            let fixed_y = out[2][k] == 0.0 || out[2][k] == 1.0;
            assert!(fixed_t != fixed_y, "point {k}: {out:?}");
        }
    }
}

#[test]
fn same_seed_and_round_same_points() {
    for sampling in ALL {
        let s = SampleSpec {
            fixed: vec![vec![(1, 0.0), (1, 1.0)]],
            ..spec(&[(0.0, 1.0), (0.0, 1.0), (-3.0, 3.0)], 64, sampling)
        };
        let a = sample(&s, 42, 0).unwrap();
        assert_eq!(a, sample(&s, 42, 0).unwrap(), "{sampling:?}");
        let next_round = sample(&s, 42, 1).unwrap();
        let other_seed = sample(&s, 43, 0).unwrap();
        for other in [&next_round, &other_seed] {
            assert_ne!(a[0], other[0], "{sampling:?}");
            assert_ne!(a[2], other[2], "{sampling:?}");
            // Independent, not merely shifted: no coordinate value repeats.
            assert!(a[0].iter().all(|x| !other[0].contains(x)), "{sampling:?}");
        }
    }
}

#[test]
fn points_are_the_same_on_every_platform() {
    // Fixed values from this implementation: a change here changes every seeded run.
    let s = spec(&[(0.0, 1.0)], 3, Sampling::Uniform);
    let u = sample(&s, 1, 2).unwrap();
    let s = spec(&[(0.0, 1.0)], 3, Sampling::Sobol);
    let sobol = sample(&s, 1, 2).unwrap();
    let s = spec(&[(0.0, 1.0)], 3, Sampling::LatinHypercube);
    let lhs = sample(&s, 1, 2).unwrap();
    assert_eq!(
        u,
        [[0.32974949809459964, 0.2765173344564946, 0.4777702592979496]]
    );
    assert_eq!(
        sobol,
        [[0.7509126663208008, 0.21580862998962402, 0.6448442935943604]]
    );
    assert_eq!(
        lhs,
        [[0.49259008643264984, 0.746440928081778, 0.005059735246198145]]
    );
}

#[test]
fn latin_hypercube_puts_one_point_in_each_stratum() {
    let bounds = [(0.0, 1.0), (-2.0, 3.0), (10.0, 10.5)];
    for points in [1, 2, 7, 100, 1000] {
        let s = SampleSpec {
            fixed: vec![vec![(1, -2.0)]],
            ..spec(&bounds, points, Sampling::LatinHypercube)
        };
        let out = sample(&s, 9, 4).unwrap();
        for c in [0, 2] {
            let (lo, hi) = bounds[c];
            let mut seen = vec![false; points];
            for &x in &out[c] {
                let j = (((x - lo) / (hi - lo)) * points as f64).floor() as usize;
                let j = j.min(points - 1);
                assert!(!seen[j], "stratum {j} of coordinate {c} holds two points");
                seen[j] = true;
            }
        }
        assert!(out[1].iter().all(|&t| t == -2.0));
    }
}

/// The largest gap between the empirical CDF of `xs` (in [0, 1)) and the uniform CDF.
fn ks_statistic(xs: &[f64]) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    xs.iter()
        .enumerate()
        .map(|(i, &x)| (x - i as f64 / n).abs().max(((i + 1) as f64 / n - x).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn sobol_points_are_more_even_than_uniform_ones() {
    let bounds = [(0.0, 1.0), (0.0, 1.0)];
    let n = 1024;
    for seed in 0..4 {
        let sobol = sample(&spec(&bounds, n, Sampling::Sobol), seed, 0).unwrap();
        let uniform = sample(&spec(&bounds, n, Sampling::Uniform), seed, 0).unwrap();
        for c in 0..2 {
            let (ks_sobol, ks_uniform) = (ks_statistic(&sobol[c]), ks_statistic(&uniform[c]));
            assert!(ks_sobol < 2.0 / n as f64, "{ks_sobol}");
            assert!(ks_sobol * 4.0 < ks_uniform, "{ks_sobol} vs {ks_uniform}");
        }
        // In 2-D: the share of points in [0, a) × [0, b) against its area, on a grid.
        let star = |pts: &[Vec<f64>]| {
            let mut worst: f64 = 0.0;
            for i in 1..=16 {
                for j in 1..=16 {
                    let (a, b) = (i as f64 / 16.0, j as f64 / 16.0);
                    let inside = (0..n).filter(|&k| pts[0][k] < a && pts[1][k] < b).count();
                    worst = worst.max((inside as f64 / n as f64 - a * b).abs());
                }
            }
            worst
        };
        assert!(star(&sobol) * 4.0 < star(&uniform));
    }
}

#[test]
fn sobol_goes_beyond_its_table_sizes() {
    // More points than one scrambled sequence holds, more coordinates than its table.
    let out = sample(&spec(&[(0.0, 1.0)], 70_000, Sampling::Sobol), 5, 0).unwrap();
    assert_eq!(out[0].len(), 70_000);
    assert_ne!(out[0][..4], out[0][65_536..65_540]);
    let bounds = vec![(0.0, 1.0); 300];
    let out = sample(&spec(&bounds, 4, Sampling::Sobol), 5, 0).unwrap();
    assert_eq!(out.len(), 300);
    assert_ne!(out[3], out[259]);
}

#[test]
fn bad_specs_are_input_errors() {
    let good = SampleSpec {
        fixed: vec![vec![(0, 0.5)]],
        ..spec(&[(0.0, 1.0), (0.0, 1.0)], 10, Sampling::Uniform)
    };
    let cases: Vec<(SampleSpec, &str)> = vec![
        (
            SampleSpec {
                points: 0,
                ..good.clone()
            },
            "At least one collocation point is needed, not 0.",
        ),
        (
            SampleSpec {
                bounds: vec![(0.0, 1.0), (1.0, 1.0)],
                ..good.clone()
            },
            "Coordinate 1 of the domain runs from 1 to 1; the lower bound must be below the upper one.",
        ),
        (
            SampleSpec {
                bounds: vec![(f64::NEG_INFINITY, 1.0), (0.0, 1.0)],
                ..good.clone()
            },
            "Coordinate 0 of the domain has bounds -inf and 1; both must be finite.",
        ),
        (
            SampleSpec {
                bounds: vec![(0.0, f64::NAN), (0.0, 1.0)],
                ..good.clone()
            },
            "Coordinate 0 of the domain has bounds 0 and NaN; both must be finite.",
        ),
        (
            SampleSpec {
                fixed: vec![vec![(2, 0.0)]],
                ..good.clone()
            },
            "A condition fixes coordinate 2, but the domain has only 2 coordinates.",
        ),
        (
            SampleSpec {
                fixed: vec![vec![(0, 0.0), (1, 1.5)]],
                ..good.clone()
            },
            "A condition fixes coordinate 1 to 1.5, outside its range [0, 1].",
        ),
        (
            SampleSpec {
                fixed: vec![vec![(1, f64::NAN)]],
                ..good.clone()
            },
            "A condition fixes coordinate 1 to NaN, outside its range [0, 1].",
        ),
        (
            SampleSpec {
                fixed: vec![vec![]],
                ..good.clone()
            },
            "A fixed-coordinate condition has no alternatives to choose from.",
        ),
    ];
    assert!(sample(&good, 0, 0).is_ok());
    for (s, message) in cases {
        let err = sample(&s, 0, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Input);
        assert_eq!(err.message, message);
    }
}

fn any_sampling() -> impl Strategy<Value = Sampling> {
    prop_oneof![
        Just(Sampling::Uniform),
        Just(Sampling::LatinHypercube),
        Just(Sampling::Sobol)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any spec, valid or not: no panic; a valid one gives `dims` columns of `points`
    /// values inside the box, an invalid one an input error.
    #[test]
    fn any_spec_samples_or_is_rejected(
        bounds in proptest::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 0..5),
        fixed in proptest::collection::vec(
            proptest::collection::vec((0usize..6, -1e3f64..1e3), 0..3), 0..3),
        points in 0usize..50,
        sampling in any_sampling(),
        seed in any::<u64>(),
        round in any::<u64>(),
    ) {
        let s = SampleSpec { bounds: bounds.clone(), fixed: fixed.clone(), points, sampling };
        match sample(&s, seed, round) {
            Ok(out) => {
                prop_assert_eq!(out.len(), bounds.len());
                for (c, &(lo, hi)) in bounds.iter().enumerate() {
                    prop_assert_eq!(out[c].len(), points);
                    prop_assert!(out[c].iter().all(|x| (lo..=hi).contains(x)));
                }
            }
            Err(e) => prop_assert_eq!(e.kind, ErrorKind::Input),
        }
    }
}
