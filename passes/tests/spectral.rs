//! `expand-spectral`: real DFTs expanded into matrix products compute what the
//! interpreter's defining sums compute (to 1e-12), their derivatives too, and the expanded
//! IR validates with no spectral op left.

mod ad_util;

use ad_util::*;
use sci_ir::interp::Tensor;
use sci_ir::random::SplitMix64;
use sci_ir::{Op, validate_module};
use sci_passes::ad;
use sci_passes::spectral::expand_spectral;

const LAYER: &str = r#"
func layer(%x: f64[2, 3, 16], %w: f64[2, 3, 5]) -> f64[3, 2, 16] {
  %s: f64[2, 2, 3, 5] = rfft %x, 5
  %wb: f64[2, 2, 3, 5] = broadcast %w
  %p: f64[2, 2, 3, 5] = mul %s, %wb
  %y: f64[2, 3, 16] = irfft %p, 16
  %r: f64[3, 2, 16] = reshape %y
  return %r
}

func points(%x: f64[4]) -> f64[3] {
  %s: f64[2, 3] = rfft %x, 3
  %r: f64[6] = reshape %s
  %y: f64[3] = slice %r, 0, 3
  return %y
}
"#;

fn random(shape: &[usize], rng: &mut SplitMix64) -> Tensor {
    let n: usize = shape.iter().product();
    let data = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    Tensor::new(shape.to_vec(), data).unwrap()
}

/// `m` with its `count` spectral ops expanded: valid IR with no spectral op left.
fn expanded(m: &sci_ir::Module, count: usize) -> sci_ir::Module {
    let mut expanded = m.clone();
    assert_eq!(expand_spectral(&mut expanded), count);
    validate_module(&expanded).unwrap();
    for (_, f) in expanded.functions.iter() {
        assert!(f.values.iter().all(|(_, v)| !matches!(
            v.op,
            Op::Rfft { .. } | Op::Irfft { .. } | Op::Rfft2 { .. } | Op::Irfft2 { .. }
        )));
    }
    expanded
}

#[test]
fn expanded_transforms_match_the_defining_sums() {
    let m = read(LAYER);
    let expanded = expanded(&m, 3);
    let mut rng = SplitMix64::new(11);
    let (x, w) = (random(&[2, 3, 16], &mut rng), random(&[2, 3, 5], &mut rng));
    let func = m.function("layer").unwrap();
    let want = eval(&m, func, &[x.clone(), w.clone()]);
    let got = eval(&expanded, expanded.function("layer").unwrap(), &[x, w]);
    assert_close(&got.data, &want.data, 1e-12, "expanded layer");
    let x = random(&[4], &mut rng);
    let want = eval(&m, m.function("points").unwrap(), std::slice::from_ref(&x));
    let got = eval(&expanded, expanded.function("points").unwrap(), &[x]);
    assert_close(&got.data, &want.data, 1e-12, "expanded rfft of 4 points");
}

#[test]
fn derivatives_expand_too() {
    let m = read(LAYER);
    let func = m.function("layer").unwrap();
    let vjp = ad::vjp(&m, func, &[0, 1]).unwrap();
    let (with, id) = with_fn(&m, &vjp);
    let mut expanded = with.clone();
    expand_spectral(&mut expanded);
    validate_module(&expanded).unwrap();
    let mut rng = SplitMix64::new(5);
    let args = [
        random(&[2, 3, 16], &mut rng),
        random(&[2, 3, 5], &mut rng),
        random(&[3, 2, 16], &mut rng),
    ];
    let want = eval(&with, id, &args);
    let got = eval(&expanded, id, &args);
    assert_close(&got.data, &want.data, 1e-12, "expanded vjp");
}

const LAYER_2D: &str = r#"
func layer(%x: f64[3, 6, 8], %w: f64[2, 3, 4, 3]) -> f64[3, 6, 8] {
  %s: f64[2, 3, 4, 3] = rfft2 %x, 2, 3
  %p: f64[2, 3, 4, 3] = mul %s, %w
  %y: f64[3, 6, 8] = irfft2 %p, 6, 8
  return %y
}

func single(%x: f64[5, 6]) -> f64[5, 6] {
  %s: f64[2, 4, 4] = rfft2 %x, 2, 4
  %t: f64[2, 4, 4] = tanh %s
  %y: f64[5, 6] = irfft2 %t, 5, 6
  return %y
}
"#;

/// The 2-D transforms expand into the 1-D ones and products over the first axis, then into
/// products only; values and reverse-mode derivatives equal the defining sums to 1e-12.
#[test]
fn two_dimensional_transforms_expand() {
    let m = read(LAYER_2D);
    let expanded = expanded(&m, 8);
    let mut rng = SplitMix64::new(17);
    let (x, w) = (
        random(&[3, 6, 8], &mut rng),
        random(&[2, 3, 4, 3], &mut rng),
    );
    let want = eval(&m, m.function("layer").unwrap(), &[x.clone(), w.clone()]);
    let got = eval(&expanded, expanded.function("layer").unwrap(), &[x, w]);
    assert_close(&got.data, &want.data, 1e-12, "expanded 2-D layer");
    let x = random(&[5, 6], &mut rng);
    let want = eval(&m, m.function("single").unwrap(), std::slice::from_ref(&x));
    let got = eval(&expanded, expanded.function("single").unwrap(), &[x]);
    assert_close(&got.data, &want.data, 1e-12, "expanded 2-D single signal");

    let func = m.function("layer").unwrap();
    let vjp = ad::vjp(&m, func, &[0, 1]).unwrap();
    let (with, id) = with_fn(&m, &vjp);
    let mut expanded = with.clone();
    expand_spectral(&mut expanded);
    validate_module(&expanded).unwrap();
    let args = [
        random(&[3, 6, 8], &mut rng),
        random(&[2, 3, 4, 3], &mut rng),
        random(&[3, 6, 8], &mut rng),
    ];
    let want = eval(&with, id, &args);
    let got = eval(&expanded, id, &args);
    assert_close(&got.data, &want.data, 1e-12, "expanded 2-D vjp");
}
