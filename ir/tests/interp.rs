//! The interpreter's semantics and error paths: each test builds or reads a small program
//! and checks the numbers (or the error) exactly.

use sci_diag::FileId;
use sci_ir::*;

fn module(text: &str) -> Module {
    read_module(FileId(0), text).unwrap()
}

fn run(text: &str, name: &str, args: &[Tensor]) -> Result<Tensor, EvalError> {
    let m = module(text);
    let interp = Interpreter::new(&m)?;
    interp.call_named(name, args)
}

fn batch(shape: &[usize], points: usize, data: &[f64]) -> Tensor {
    Tensor::batch(shape.to_vec(), points, data.to_vec()).unwrap()
}

const PAIRS: &str = "
func sum(%a: batch f64, %b: batch f64) -> batch f64 {
  %s: batch f64 = map %a, %b (%x: f64, %y: f64) {
    %z: f64 = add %x, %y
    yield %z
  }
  return %s
}

func biggest(%a: batch f64[2]) -> f64[2] {
  %m: f64[2] = reduce_batch max %a
  return %m
}

func average(%a: batch f64[2]) -> f64[2] {
  %m: f64[2] = reduce_batch mean %a
  return %m
}
";

#[test]
fn map_runs_per_point_and_reduce_batch_is_elementwise() {
    let a = batch(&[], 3, &[1.0, 2.0, 3.0]);
    let b = batch(&[], 3, &[10.0, 20.0, 30.0]);
    assert_eq!(
        run(PAIRS, "sum", &[a, b]).unwrap(),
        batch(&[], 3, &[11.0, 22.0, 33.0])
    );
    let pts = batch(&[2], 3, &[1.0, 9.0, 5.0, 2.0, 3.0, 4.0]);
    assert_eq!(
        run(PAIRS, "biggest", std::slice::from_ref(&pts)).unwrap(),
        Tensor::vector(vec![5.0, 9.0])
    );
    assert_eq!(
        run(PAIRS, "average", &[pts]).unwrap(),
        Tensor::vector(vec![3.0, 5.0])
    );
}

#[test]
fn batch_size_mismatch_is_an_error() {
    let a = batch(&[], 3, &[1.0, 2.0, 3.0]);
    let b = batch(&[], 2, &[10.0, 20.0]);
    let e = run(PAIRS, "sum", &[a, b]).unwrap_err();
    assert_eq!(
        e.message,
        "`map` inputs have different numbers of points (3 and 2); batch size mismatch."
    );
}

#[test]
fn empty_batches() {
    let empty = batch(&[2], 0, &[]);
    let e = run(PAIRS, "average", &[empty]).unwrap_err();
    assert_eq!(
        e.message,
        "`reduce_batch mean` of an empty batch has no value."
    );
    let a = batch(&[], 0, &[]);
    assert_eq!(
        run(PAIRS, "sum", &[a.clone(), a]).unwrap(),
        batch(&[], 0, &[])
    );
}

#[test]
fn unbatched_argument_for_a_batched_input() {
    let e = run(PAIRS, "biggest", &[Tensor::vector(vec![1.0, 2.0])]).unwrap_err();
    assert_eq!(
        e.message,
        "Argument 0 of `biggest` must have a batch of points of shape [2], but it has shape [2] with 2 elements."
    );
}

#[test]
fn index_fill_covers_sub_tensors() {
    let text = "
func row(%a: f64[2, 2], %i: i64) -> f64[2] {
  %r: f64[2] = index %a[%i] fill -1
  return %r
}
";
    let a = Tensor::new(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(
        run(text, "row", &[a.clone(), Tensor::scalar(1.0)]).unwrap(),
        Tensor::vector(vec![3.0, 4.0])
    );
    assert_eq!(
        run(text, "row", &[a, Tensor::scalar(5.0)]).unwrap(),
        Tensor::vector(vec![-1.0, -1.0])
    );
}

#[test]
fn f32_values_are_rounded_after_every_op() {
    let text = "
func f(%x: f32) -> f32 {
  %t: f32 = const 0.1
  %y: f32 = add %x, %t
  return %y
}
";
    let out = run(text, "f", &[Tensor::scalar(0.2)]).unwrap();
    assert_eq!(out.data[0], (0.2f32 + 0.1f32) as f64);
}

#[test]
fn numerics_of_special_functions() {
    let text = "
func f(%x: f64[4]) -> f64[4] {
  %y: f64[4] = softplus %x
  return %y
}

func g(%x: f64[3]) -> f64[3] {
  %y: f64[3] = erf %x
  return %y
}
";
    let out = run(text, "f", &[Tensor::vector(vec![-800.0, 0.0, 30.0, 800.0])]).unwrap();
    assert_eq!(out.data[0], 0.0);
    assert!((out.data[1] - std::f64::consts::LN_2).abs() < 1e-16);
    assert_eq!(out.data[3], 800.0);
    let out = run(text, "g", &[Tensor::vector(vec![0.5, -2.0, 6.0])]).unwrap();
    assert!((out.data[0] - 0.520_499_877_813_046_5).abs() < 1e-16);
    assert!((out.data[1] + 0.995_322_265_018_952_7).abs() < 1e-16);
    assert_eq!(out.data[2], 1.0);
}

#[test]
fn step_limit_stops_long_loops() {
    let text = "
func f(%x: f64) -> f64 {
  %s: f64 = fold sum 1000000 (%i: i64) {
    %y: f64 = cast %i
    yield %y
  }
  return %s
}
";
    let m = module(text);
    let interp = Interpreter::new(&m).unwrap().with_step_limit(1000);
    let e = interp.call_named("f", &[Tensor::scalar(0.0)]).unwrap_err();
    assert_eq!(
        e.message,
        "Evaluation stopped after 1000 ops (the step limit)."
    );
}

#[test]
fn deep_call_chains_hit_the_depth_limit() {
    // f0 calls f1 calls ... f199: valid IR, but deeper than the interpreter follows.
    let mut text = String::new();
    let n = 200;
    for k in 0..n {
        if k + 1 < n {
            text.push_str(&format!(
                "func f{k}(%x: f64) -> f64 {{\n  %y: f64 = call @f{}(%x)\n  return %y\n}}\n",
                k + 1
            ));
        } else {
            text.push_str(&format!("func f{k}(%x: f64) -> f64 {{\n  return %x\n}}\n"));
        }
    }
    let e = run(&text, "f0", &[Tensor::scalar(1.0)]).unwrap_err();
    assert!(e.message.contains("stack depth limit"), "{}", e.message);
    assert_eq!(
        run(&text, "f150", &[Tensor::scalar(1.0)]).unwrap(),
        Tensor::scalar(1.0)
    );
}

#[test]
fn invalid_ir_is_refused() {
    let text = "
func f(%x: f64[2], %y: f64[3]) -> f64[2] {
  %s: f64[2] = add %x, %y
  return %s
}
";
    let e = run(text, "f", &[]).unwrap_err();
    assert!(
        e.message
            .starts_with("The module is not valid IR, so it cannot be evaluated:"),
        "{}",
        e.message
    );
}

#[test]
fn eval_by_id_matches_call_named() {
    let m = module(PAIRS);
    let a = batch(&[], 1, &[1.0]);
    let out = eval(&m, FuncId::from_index(0), &[a.clone(), a]).unwrap();
    assert_eq!(out, batch(&[], 1, &[2.0]));
    let e = eval(&m, FuncId::from_index(9), &[]).unwrap_err();
    assert_eq!(e.message, "There is no function #9 in the module.");
}

#[test]
fn tensor_constructors_check_sizes() {
    assert_eq!(
        Tensor::new(vec![2, 2], vec![1.0]).unwrap_err().message,
        "A tensor of shape [2, 2] needs 4 elements but 1 were given."
    );
    assert!(Tensor::batch(vec![2], 3, vec![0.0; 6]).is_ok());
    assert_eq!(Tensor::vector(vec![1.0, 2.0]).shape, vec![2]);
    assert!(Tensor::scalar(1.0).approx_eq(&Tensor::scalar(1.0 + 1e-13), 1e-12, 0.0));
}

#[test]
fn module_display_is_the_printer() {
    let m = module(PAIRS);
    assert_eq!(m.to_string(), print_module(&m));
}
