//! The pass pipeline (`sci_passes::pipeline`) is the one route to compiled code: the JIT
//! and the PTX writer see the same functions in the same order with the same roles, and
//! simplification changes no result's bits, whatever it selects.

use sci::Simplify;
use sci::passes::pipeline::{PIPELINE, Pass, Stage};

fn example(name: &str) -> String {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn compile(name: &str, simplify: Simplify) -> sci::Compiled {
    sci::Compiler::new()
        .simplify(simplify)
        .compile_source(name, &example(name))
        .unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

#[test]
fn the_pipeline_is_one_ordered_list() {
    let names: Vec<(Stage, &str)> = PIPELINE.iter().map(|(s, p)| (*s, p.name())).collect();
    assert_eq!(
        names,
        [
            (Stage::Front, "expand-derivatives"),
            (Stage::Front, "share-point-work"),
            (Stage::Back, "add-derivatives"),
            (Stage::Back, "share-point-work"),
            (Stage::Back, "simplify"),
            (Stage::Back, "expand-spectral"),
            (Stage::Back, "cleanup"),
            (Stage::Back, "validate"),
        ]
    );
    assert_eq!(PIPELINE.last().map(|(_, p)| *p), Some(Pass::Validate));
}

#[test]
fn the_jit_and_the_ptx_writer_see_the_same_functions() {
    for name in ["burgers_pinn.sci", "lv_ude.sci", "brusselator.sci"] {
        let compiled = compile(name, Simplify::Training);
        let module = &compiled.modules[0];
        let jit = compiled.model(&module.name).unwrap();
        let for_ptx = sci::jit::runtime_module(module).unwrap();
        let listing = |m: &sci::Module| -> Vec<(String, String)> {
            m.functions
                .iter()
                .map(|(_, f)| (f.name.clone(), f.role.to_string()))
                .collect()
        };
        assert_eq!(listing(jit.ir()), listing(&for_ptx), "{name}");
        assert_eq!(jit.ir(), &for_ptx, "{name}");
    }
}

#[test]
fn simplification_changes_no_bits() {
    let runs: Vec<(f64, Vec<f64>)> = [Simplify::Off, Simplify::Training, Simplify::All]
        .into_iter()
        .map(|s| {
            let compiled = compile("burgers_pinn.sci", s);
            let model = compiled.model("BurgersPINN").unwrap();
            let points: Vec<f64> = (0..64).map(|k| (k as f64 * 0.37).sin()).collect();
            let mut batch = sci::Batch::new();
            for (input, _) in model.loss_inputs().unwrap() {
                batch.set(&input, &points);
            }
            model.loss_and_grad(&model.params(), &batch).unwrap()
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);

    let jacobians: Vec<Vec<f64>> = [Simplify::Off, Simplify::All]
        .into_iter()
        .map(|s| {
            let compiled = compile("brusselator2d.sci", s);
            let model = compiled.model("Brusselator2D").unwrap();
            let p = model.params();
            let y: Vec<f64> = (0..model.n_states())
                .map(|k| 1.0 + 0.1 * (k as f64).cos())
                .collect();
            let nnz = model.jacobian_sparsity().unwrap().col_idx.len();
            let mut values = vec![0.0; nnz];
            model.jacobian_csr(0.5, &y, &p, &mut values).unwrap();
            values
        })
        .collect();
    assert_eq!(jacobians[0], jacobians[1]);
}
