//! Modules without their source: a model printed as `.sir` text (the IR with its manifest)
//! and compiled back with `Compiler::compile_ir` solves and trains exactly as the source
//! does — the runtime works from the IR alone — and bad IR text is a diagnostic.

use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::ode::{Method, SolveOptions};
use sci::stdlib::optim::Objective;

fn example(name: &str) -> String {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

/// The source compiled, and its first model's module printed and compiled back from text.
fn both(name: &str) -> (sci::Compiled, sci::Compiled) {
    let from_source = sci::Compiler::new()
        .compile_source(name, &example(name))
        .unwrap_or_else(|e| panic!("{name}:\n{e}"));
    let text = sci::ir::print_module(&from_source.modules[0]);
    let from_ir = sci::Compiler::new()
        .compile_ir("model.sir", &text)
        .unwrap_or_else(|e| panic!("{name} as IR:\n{e}\n{text}"));
    (from_source, from_ir)
}

#[test]
fn a_stiff_model_read_from_ir_solves_to_the_same_bits() {
    let (source, ir) = both("robertson.sci");
    let name = &source.modules[0].name;
    let (a, b) = (source.model(name).unwrap(), ir.model(name).unwrap());
    assert_eq!(b.time_span(), a.time_span());
    assert_eq!(a.time_span(), Some((0.0, 1e5)));
    let options = SolveOptions {
        method: Method::Bdf,
        span: Some((0.0, 40.0)),
        rtol: 1e-8,
        atol: 1e-10,
        sensitivities: true,
        ..SolveOptions::default()
    };
    let (ta, tb) = (
        a.simulate(&a.params(), &options).unwrap(),
        b.simulate(&b.params(), &options).unwrap(),
    );
    assert_eq!(ta.t, tb.t);
    assert_eq!(ta.states, tb.states);
    assert_eq!(ta.sensitivities, tb.sensitivities);
    assert!(ta.sensitivities.is_some());
}

#[test]
fn a_pinn_read_from_ir_draws_the_same_points_and_trains_alike() {
    let (source, ir) = both("burgers_pinn.sci");
    let name = source.modules[0].name.clone();
    let mut a = Trainer::new(&source, &name, TrainSetup::default()).unwrap();
    let mut b = Trainer::new(&ir, &name, TrainSetup::default()).unwrap();
    let p = a.model().params();
    let (mut ga, mut gb) = (vec![0.0; p.len()], vec![0.0; p.len()]);
    assert_eq!(
        a.value_and_grad(&p, &mut ga).unwrap(),
        b.value_and_grad(&p, &mut gb).unwrap()
    );
    assert_eq!(ga, gb);
    a.resample(3).unwrap();
    b.resample(3).unwrap();
    assert_eq!(a.loss(&p).unwrap(), b.loss(&p).unwrap());
}

#[test]
fn a_universal_differential_equation_read_from_ir_fits_its_data() {
    let (source, ir) = both("lv_ude.sci");
    let name = source.modules[0].name.clone();
    let setup = || TrainSetup {
        data_dir: format!("{}/examples", env!("CARGO_MANIFEST_DIR")).into(),
        ..TrainSetup::default()
    };
    let mut a = Trainer::new(&source, &name, setup()).unwrap();
    let mut b = Trainer::new(&ir, &name, setup()).unwrap();
    let p = a.model().params();
    let (mut ga, mut gb) = (vec![0.0; p.len()], vec![0.0; p.len()]);
    let la = a.value_and_grad(&p, &mut ga).unwrap();
    assert_eq!(la, b.value_and_grad(&p, &mut gb).unwrap());
    assert_eq!(ga, gb);
    assert!(la.is_finite() && ga.iter().any(|g| *g != 0.0));
}

#[test]
fn derivative_functions_in_the_text_are_rebuilt_not_duplicated() {
    let source = sci::Compiler::new()
        .compile_source("lv.sci", &example("lotka_volterra.sci"))
        .unwrap();
    // The runtime's module: rhs, its Jacobians and products, all with roles.
    let full = sci::jit::runtime_module(&source.modules[0]).unwrap();
    let text = sci::ir::print_module(&full);
    assert!(text.contains("role jvp[1](rhs)"), "{text}");
    let ir = sci::Compiler::new().compile_ir("lv.sir", &text).unwrap();
    let name = &source.modules[0].name;
    let (a, b) = (source.model(name).unwrap(), ir.model(name).unwrap());
    let (p, y) = (a.params(), vec![1.5, 0.5]);
    let (mut ja, mut jb) = (vec![0.0; 4], vec![0.0; 4]);
    a.jacobian(0.3, &y, &p, &mut ja).unwrap();
    b.jacobian(0.3, &y, &p, &mut jb).unwrap();
    assert_eq!(ja, jb);
}

#[test]
fn bad_ir_text_is_a_diagnostic_and_generics_need_a_source() {
    let err = sci::Compiler::new()
        .compile_ir(
            "bad.sir",
            "module M\nfunc f(%x: f64 as stat) -> f64 {\n  return %x\n}\n",
        )
        .unwrap_err();
    let text = err.render();
    assert!(text.contains("There is no input role `stat`"), "{text}");
    assert!(text.contains("bad.sir"), "{text}");
    let err = sci::Compiler::new()
        .compile_ir(
            "bad.sir",
            "module M\nfunc rhs(%t: f64 as time) -> f64 role rhs {\n  return %t\n}\n\
             func g(%t: f64) -> f64 role rhs {\n  return %t\n}\n",
        )
        .unwrap_err();
    assert!(
        err.render().contains("Two functions have the role `rhs`"),
        "{}",
        err.render()
    );
    let ir = sci::Compiler::new()
        .compile_ir("f.sir", "module functions\nfunc twice(%x: f64[2]) -> f64[2] {\n  %y: f64[2] = add %x, %x\n  return %y\n}\n")
        .unwrap();
    let f = ir.function("twice").unwrap();
    assert_eq!(f.call(&[&[1.0, 2.0]]).unwrap(), vec![2.0, 4.0]);
    assert!(ir.function("norm").is_err());
}
