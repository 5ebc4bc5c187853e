//! A module with every structured op, and inputs for it with edge values, empty and large
//! batches, and the run-time failures.

use sci_ir::random::random_inputs;
use sci_ir::{FuncId, Module, Tensor};

/// One module with every structured op in loops, nested loops, sub-tensor bodies, fills,
/// f32, a frame too large for the stack, and the run-time failures (index out of range,
/// batch mismatch, empty batch).
pub const STRUCTURED: &str = r#"
module Structured

func tab_sin(%x: f64[20]) -> f64[20] {
  %t: f64[20] = tabulate [20] (%i: i64) {
    %xi: f64 = index %x[%i]
    %s: f64 = sin %xi
    %m: f64 = mul %s, %xi
    yield %m
  }
  return %t
}

func tab_transpose(%a: f64[3, 12]) -> f64[12, 3] {
  %t: f64[12, 3] = tabulate [12, 3] (%j: i64, %i: i64) {
    %v: f64 = index %a[%i, %j]
    yield %v
  }
  return %t
}

func tab_rows(%a: f64[10, 4]) -> f64[10, 4] {
  %t: f64[10, 4] = tabulate [10] (%i: i64) {
    %row: f64[4] = index %a[%i]
    %sq: f64[4] = mul %row, %row
    yield %sq
  }
  return %t
}

func stencil(%u: f64[16]) -> f64[16] {
  %t: f64[16] = tabulate [16] (%i: i64) {
    %one: i64 = const 1
    %im1: i64 = sub %i, %one
    %ip1: i64 = add %i, %one
    %l: f64 = index %u[%im1] fill 0
    %r: f64 = index %u[%ip1] fill 0
    %rows: f64 = index %u[%i]
    %s: f64 = add %l, %r
    %d: f64 = sub %s, %rows
    yield %d
  }
  return %t
}

func fold_sum(%x: f64[32]) -> f64 {
  %s: f64 = fold sum 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    %e: f64 = exp %xi
    yield %e
  }
  return %s
}

func fold_prod(%x: f64[32]) -> f64 {
  %s: f64 = fold prod 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    yield %xi
  }
  return %s
}

func fold_max(%x: f64[32]) -> f64 {
  %s: f64 = fold max 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    yield %xi
  }
  return %s
}

func fold_min(%x: f64[32]) -> f64 {
  %s: f64 = fold min 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    yield %xi
  }
  return %s
}

func fold_mean(%x: f64[32]) -> f64 {
  %s: f64 = fold mean 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    %t: f64 = tanh %xi
    yield %t
  }
  return %s
}

func fold_cols(%a: f64[9, 3]) -> f64[3] {
  %m: f64[3] = fold max 9 (%i: i64) {
    %row: f64[3] = index %a[%i]
    yield %row
  }
  return %m
}

func fold_rows_sum(%a: f64[12, 10]) -> f64[10] {
  %m: f64[10] = fold sum 12 (%i: i64) {
    %row: f64[10] = index %a[%i]
    yield %row
  }
  return %m
}

func row_sums(%a: f64[10, 10]) -> f64[10] {
  %t: f64[10] = tabulate [10] (%i: i64) {
    %s: f64 = fold sum 10 (%j: i64) {
      %v: f64 = index %a[%i, %j]
      yield %v
    }
    yield %s
  }
  return %t
}

func linalg(%a: f64[4, 3], %b: f64[3, 5], %x: f64[3]) -> f64[30] {
  %m: f64[4, 5] = matmul %a, %b
  %v: f64[4] = matvec %a, %x
  %d: f64 = dot %x, %x
  %at: f64[3, 4] = transpose %a
  %mf: f64[20] = reshape %m
  %af: f64[12] = reshape %at
  %c: f64[39] = concat %mf, %v, %d, %af, %d, %d
  %s: f64[30] = slice %c, 9, 30
  return %s
}

func casts(%x: f64[8]) -> f64[8] {
  %i: i64[8] = cast %x
  %b: bool[8] = cast %x
  %fi: f64[8] = cast %i
  %fb: f64[8] = cast %b
  %n: bool[8] = not %b
  %fn: f64[8] = cast %n
  %s: f64[8] = add %fi, %fb
  %t: f64[8] = add %s, %fn
  return %t
}

func map_scale(%x: batch f64, %y: batch f64[3]) -> batch f64[3] {
  %r: batch f64[3] = map %x, %y (%xi: f64, %yi: f64[3]) {
    %b: f64[3] = broadcast %xi
    %p: f64[3] = mul %b, %yi
    yield %p
  }
  return %r
}

func map_loss(%θ: f64[2], %x: batch f64) -> f64 {
  %c0: i64 = const 0
  %c1: i64 = const 1
  %a: f64 = index %θ[%c0]
  %b: f64 = index %θ[%c1]
  %r: batch f64 = map %x (%xi: f64) {
    %ax: f64 = mul %a, %xi
    %p: f64 = add %ax, %b
    %s: f64 = sigmoid %p
    %sq: f64 = mul %s, %s
    yield %sq
  }
  %l: f64 = reduce_batch mean %r
  return %l
}

func map_index(%v: f64[4], %k: batch i64) -> batch f64 {
  %r: batch f64 = map %k (%ki: i64) {
    %e: f64 = index %v[%ki]
    %s: f64 = softplus %e
    yield %s
  }
  return %r
}

func rb_sum(%x: batch f64[3]) -> f64[3] {
  %r: f64[3] = reduce_batch sum %x
  return %r
}

func rb_prod(%x: batch f64) -> f64 {
  %r: f64 = reduce_batch prod %x
  return %r
}

func rb_max(%x: batch f64[3]) -> f64[3] {
  %r: f64[3] = reduce_batch max %x
  return %r
}

func rb_min(%x: batch f64) -> f64 {
  %r: f64 = reduce_batch min %x
  return %r
}

func rb_mean(%x: batch f64[12]) -> f64[12] {
  %r: f64[12] = reduce_batch mean %x
  return %r
}

func pick(%x: f64[4], %i: i64) -> f64 {
  %v: f64 = index %x[%i]
  return %v
}

func pick_row(%a: f64[3, 4], %i: i64) -> f64[4] {
  %v: f64[4] = index %a[%i] fill -1
  %w: f64[4] = add %v, %v
  return %w
}

func pick_strict_row(%a: f64[3, 4], %i: i64) -> f64[4] {
  %v: f64[4] = index %a[%i]
  %w: f64[4] = mul %v, %v
  return %w
}

func f32_tab(%x: f32[10]) -> f32[10] {
  %t: f32[10] = tabulate [10] (%i: i64) {
    %xi: f32 = index %x[%i]
    %third: f32 = const 0.3333333333333333
    %m: f32 = mul %xi, %third
    %e: f32 = exp %m
    yield %e
  }
  return %t
}

func f32_batch(%x: batch f32) -> f32 {
  %r: batch f32 = map %x (%xi: f32) {
    %t: f32 = const 0.1
    %m: f32 = mul %xi, %t
    yield %m
  }
  %s: f32 = reduce_batch sum %r
  return %s
}

func big_frame(%x: f64[5000]) -> f64 {
  %t: f64[5000] = tabulate [5000] (%i: i64) {
    %xi: f64 = index %x[%i]
    %c: f64 = cos %xi
    yield %c
  }
  %s: f64 = reduce sum %t
  return %s
}

func literal_and_calls(%x: f64[3], %b: batch f64) -> batch f64[3] {
  %l: f64[3] = literal [1.5, -0.0, 0.25]
  %y: f64[3] = mul %x, %l
  %c: f64[3] = call @tab_part(%y)
  %r: batch f64 = map %b (%bi: f64) {
    %w: f64[3] = broadcast %bi
    %p: f64[3] = mul %w, %c
    %s: f64 = reduce sum %p
    yield %s
  }
  %y3: batch f64[3] = map %b (%bj: f64) {
    %v: f64[3] = broadcast %bj
    %q: f64[3] = add %v, %c
    yield %q
  }
  %again: batch f64[3] = call @map_scale(%r, %y3)
  return %again
}

func tab_part(%x: f64[3]) -> f64[3] {
  %t: f64[3] = tabulate [3] (%i: i64) {
    %xi: f64 = index %x[%i]
    %a: f64 = atan2 %xi, %xi
    %p: f64 = pow %xi, %a
    %q: f64 = powi %p, 3
    yield %q
  }
  return %t
}
"#;

/// Edge values for min/max/NaN handling.
const EDGES: [f64; 8] = [
    0.0,
    -0.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e300,
    -1e-300,
    2.5,
];

/// Inputs for `func`: random sets, sets salted with edge values, batches of 0 and 1000
/// points, mismatched batches and indices out of range.
pub fn structured_inputs(module: &Module, func: FuncId) -> Vec<Vec<Tensor>> {
    let name = module.functions.get(func).unwrap().name.as_str();
    let mut sets: Vec<Vec<Tensor>> = (0..4).map(|s| random_inputs(module, func, s)).collect();
    let indexed = name.starts_with("pick") || name == "map_index";
    for salt in 0..EDGES.len() {
        let mut set = random_inputs(module, func, 100 + salt as u64);
        for t in &mut set {
            for (k, x) in t.data.iter_mut().enumerate() {
                if k % 3 == salt % 3 {
                    *x = EDGES[(k + salt) % EDGES.len()];
                }
            }
        }
        if !indexed {
            sets.push(set);
        }
    }
    let batch = |per: usize, points: usize, scale: f64| Tensor {
        shape: if per == 1 { vec![] } else { vec![per] },
        batch: Some(points),
        data: (0..per * points)
            .map(|k| ((k as f64) * 0.37).sin() * scale)
            .collect(),
    };
    let indices = |values: &[f64]| Tensor {
        shape: vec![],
        batch: Some(values.len()),
        data: values.to_vec(),
    };
    match name {
        "rb_sum" => {
            sets.push(vec![batch(3, 0, 1.0)]);
            sets.push(vec![batch(3, 1000, 1e3)]);
        }
        "rb_prod" | "rb_min" => {
            sets.push(vec![batch(1, 0, 1.0)]);
            sets.push(vec![batch(1, 1000, 1.5)]);
        }
        "rb_max" => {
            sets.push(vec![batch(3, 0, 1.0)]);
            sets.push(vec![batch(3, 1000, 1.0)]);
        }
        "rb_mean" => {
            sets.push(vec![batch(12, 0, 1.0)]);
            sets.push(vec![batch(12, 1000, 1e5)]);
        }
        "map_scale" => {
            sets.push(vec![batch(1, 5, 1.0), batch(3, 4, 1.0)]);
            sets.push(vec![batch(1, 0, 1.0), batch(3, 0, 1.0)]);
            sets.push(vec![batch(1, 300, 1.0), batch(3, 300, 2.0)]);
        }
        "map_loss" => {
            let theta = Tensor {
                shape: vec![2],
                batch: None,
                data: vec![0.5, -0.25],
            };
            sets.push(vec![theta.clone(), batch(1, 0, 1.0)]);
            sets.push(vec![theta, batch(1, 777, 3.0)]);
        }
        "map_index" => {
            let v = Tensor::vector(vec![1.0, -2.0, 30.0, 0.5]);
            sets.push(vec![v.clone(), indices(&[0.0, 3.0, 1.0, 2.0])]);
            sets.push(vec![v.clone(), indices(&[0.0, 4.0, 1.0])]);
            sets.push(vec![v, indices(&[-1.0])]);
        }
        "literal_and_calls" => {
            let x = Tensor::vector(vec![0.5, 2.0, 1.25]);
            sets.push(vec![x, batch(1, 17, 1.0)]);
        }
        "f32_batch" => {
            sets.push(vec![batch(1, 100, 3.3)]);
        }
        "pick" | "pick_row" | "pick_strict_row" => {
            for i in [-1.0, 0.0, 2.0, 3.0, 4.0, 7.0] {
                let mut set = random_inputs(module, func, 7);
                set[1].data[0] = i;
                sets.push(set);
            }
        }
        _ => {}
    }
    sets
}
