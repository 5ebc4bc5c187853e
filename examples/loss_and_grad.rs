//! A Rust host evaluating a model's training loss and its gradient, as `sci train` does on
//! its first step: collocation points drawn with a seed, data files read, ODEs solved.
//!
//! ```text
//! cargo run --example loss_and_grad -- examples/burgers_pinn.sci [SEED]
//! ```
//!
//! Prints one JSON object: `{"loss": L, "grad": [...]}`, every number written so that it
//! reads back to the same bits. The Python package's tests compare `Model.loss_and_grad`
//! against it (`python/tests/test_training.py`).

use std::error::Error;

use sci::runtime::{TrainSetup, Trainer};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: loss_and_grad MODEL.sci [SEED]")?;
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    // With the adjoint's products, as the Python package compiles: a fit with many
    // parameters then takes its gradient by the adjoint (`TrainSetup::sensitivity`, auto).
    let compiled = sci::Compiler::new().adjoint(true).compile_file(&path)?;
    let name = compiled
        .models()
        .find(|m| m.function_with_role(&sci::ir::Role::Loss).is_some())
        .map(|m| m.name.clone())
        .ok_or("the file has no model with a loss")?;
    let setup = TrainSetup {
        seed,
        data_dir: sci::model_dir(path.as_ref()),
        ..TrainSetup::default()
    };
    let mut trainer = Trainer::new(&compiled, &name, setup)?;
    let p = trainer.model().params();
    let mut grad = vec![0.0; p.len()];
    let loss = trainer.loss_and_grad(&p, &mut grad)?;
    // `{:?}` writes the shortest text that reads back to the same f64.
    let grad: Vec<String> = grad.iter().map(|g| format!("{g:?}")).collect();
    println!("{{\"loss\": {loss:?}, \"grad\": [{}]}}", grad.join(", "));
    Ok(())
}
