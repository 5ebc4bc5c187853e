//! `sci run` on a model with circuits and no states: the circuits simulated at the model's
//! parameters (declared, overridden with `--param`, or a checkpoint's with `--params-file`),
//! then its outputs (`output energy = expval(psi, H)`), its expectation values and each
//! circuit's likeliest outcomes printed; with `--shots N [--seed S]`, the counts of N
//! seeded measurements of every circuit as well.

use std::process::ExitCode;

use sci::stdlib::Error;

use super::ranks::Ranks;
use super::run::RunArgs;

/// The model `sci run` should simulate as circuits: the one named, when it has circuits and
/// no states; else, when no model of the file has states, the only one with circuits.
pub fn circuit_model(compiled: &sci::Compiled, name: Option<&str>) -> Option<String> {
    let is_circuit = |m: &sci::Module| {
        !m.manifest.circuits.is_empty() && m.function_with_role(&sci::ir::Role::Rhs).is_none()
    };
    let models: Vec<&sci::Module> = compiled.models().collect();
    if let Some(name) = name {
        return models
            .iter()
            .find(|m| m.name == name && is_circuit(m))
            .map(|m| m.name.clone());
    }
    if models
        .iter()
        .any(|m| m.function_with_role(&sci::ir::Role::Rhs).is_some())
    {
        return None;
    }
    match models.iter().filter(|m| is_circuit(m)).collect::<Vec<_>>()[..] {
        [one] => Some(one.name.clone()),
        _ => None,
    }
}

/// Simulates model `name`'s circuits and prints what they give.
pub fn run(
    args: &RunArgs,
    compiled: &sci::Compiled,
    name: &str,
    ranks: &Ranks,
) -> Result<ExitCode, Error> {
    for (flag, given) in [
        ("--out", args.out.is_some()),
        ("--plot", args.plot.is_some()),
        ("--events", args.events.is_some()),
        ("--ensemble", args.ensemble.is_some()),
    ] {
        if given {
            return Err(Error::input(format!(
                "`{flag}` applies to models with states; `{name}` is a circuit model, whose \
                 run prints its outputs, expectation values and outcomes."
            ))
            .with_help("train it with `sci train`, or leave the option out"));
        }
    }
    let model = compiled.model(name)?;
    let theta = super::run::run_params(args, compiled, &model)?;
    if ranks.collective().rank() != 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let module = model.ir();
    outln!(
        "{name}: {} circuit(s) at its parameters",
        module.manifest.circuits.len()
    );
    for line in sci::runtime::quantum::summary(module, &theta, 4)? {
        outln!("  {line}");
    }
    if let Some(shots) = args.shots {
        for (circuit, counts) in
            sci::runtime::quantum::sample_counts(module, &theta, shots, args.seed)?
        {
            let shown: Vec<String> = counts
                .iter()
                .take(8)
                .map(|(bits, n)| format!("{bits} {n}"))
                .collect();
            outln!(
                "  {circuit}: {shots} shots (seed {}), most frequent (qubit 0 first): {}",
                args.seed,
                shown.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
