//! The sci side of `bench/wasm.sh`: the 2-D Brusselator's right-hand side (N = 32, 2048
//! states; `examples/brusselator2d.sci`) per call in WebAssembly under wasmtime
//! (`sci::wasm::Runtime`) against the native JITs (Cranelift, the default back end, and
//! LLVM), measured in one run; and what a WebAssembly module costs before its first call:
//! sci's compile to wasm (LLVM + wasm-ld), wasmtime's compile of the module, instantiation.
//!
//! `cargo bench --features wasmtime --bench wasm` prints one JSON object per line.

#[path = "timing/mod.rs"]
mod timing;

use serde_json::json;
use std::hint::black_box;
use std::time::Instant;
use timing::time_calls;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The grid size the benchmark measures; the example must declare it.
const N: usize = 32;

fn main() {
    if let Err(e) = run() {
        eprintln!("wasm benchmark: {e}");
        std::process::exit(1);
    }
}

fn emit(v: serde_json::Value) {
    println!("{v}");
}

fn run() -> Res<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/brusselator2d.sci");
    let text = std::fs::read_to_string(&path)?;
    if !text.contains(&format!("const n = {N}")) {
        return Err(
            format!("examples/brusselator2d.sci no longer declares `const n = {N}`").into(),
        );
    }
    let name = "brusselator2d.sci";

    // Native JITs.
    let cranelift = sci::Compiler::new().compile_source(name, &text)?;
    let llvm = sci::Compiler::new()
        .backend(sci::BackendKind::Llvm)
        .compile_source(name, &text)?;
    let mc = cranelift.model("Brusselator2D")?;
    let ml = llvm.model("Brusselator2D")?;
    let p = mc.params();
    // A state without the initial condition's symmetries (as benches/peers.rs).
    let y: Vec<f64> = mc
        .y0(&p)?
        .iter()
        .enumerate()
        .map(|(k, v)| v * (1.0 + 0.1 * (k as f64).sin()) + 0.01)
        .collect();
    let n_states = mc.n_states();
    let t = 0.0;
    let mut dy_c = vec![0.0; n_states];
    let mut dy_l = vec![0.0; n_states];
    mc.rhs(t, &y, &p, &mut dy_c)?;
    ml.rhs(t, &y, &p, &mut dy_l)?;

    // WebAssembly: sci's compile (front end, derivatives, LLVM wasm32, wasm-ld), then
    // wasmtime's compile and instantiation, each timed on its own.
    let t0 = Instant::now();
    let analysis = sci::analyze(sci::diag::FileId(0), &text);
    if analysis.has_errors() {
        return Err("brusselator2d.sci has errors".into());
    }
    let package = sci::wasm::compile(&analysis.modules, name, "model.wasm")?;
    let sci_compile_s = t0.elapsed().as_secs_f64();
    let engine = sci::wasm::runtime::engine()?;
    let mut compile_s = Vec::new();
    let mut module = None;
    for _ in 0..5 {
        let t0 = Instant::now();
        module = Some(sci::wasm::runtime::compile_module(&engine, &package.wasm)?);
        compile_s.push(t0.elapsed().as_secs_f64());
    }
    let module = module.ok_or("no module")?;
    let mut instantiate_s = Vec::new();
    let mut first_call_s = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let mut rt = sci::wasm::Runtime::instantiate(&engine, &module, &package.description)?;
        instantiate_s.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        black_box(rt.call("Brusselator2D", "rhs", &[&[t], &y, &p])?);
        first_call_s.push(t0.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    emit(json!({
        "what": "startup",
        "n": N,
        "wasm_bytes": package.wasm.len(),
        "sci_compile_s": sci_compile_s,
        "wasmtime_compile_s": median(&mut compile_s),
        "instantiate_s": median(&mut instantiate_s),
        "first_call_s": median(&mut first_call_s),
    }));

    let mut rt = sci::wasm::Runtime::instantiate(&engine, &module, &package.description)?;
    let dy_w = rt.call("Brusselator2D", "rhs", &[&[t], &y, &p])?;
    let diff = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / y.abs().max(1e-300))
            .fold(0.0f64, f64::max)
    };
    let rel_cranelift = diff(&dy_w, &dy_c);
    let rel_llvm = diff(&dy_w, &dy_l);

    // Per call, in one run: the native handles (`Model::rhs`: slices in, slice out) and wasm
    // through a prepared call that copies `y` in and `dy` out as the handles do (and the call
    // alone, inputs already in linear memory).
    let cr = time_calls(11, 2.0, || {
        mc.rhs(t, black_box(&y), &p, &mut dy_c).unwrap();
    });
    let ll = time_calls(11, 2.0, || {
        ml.rhs(t, black_box(&y), &p, &mut dy_l).unwrap();
    });
    let mut call = rt.prepare("Brusselator2D", "rhs", &[&[t], &y, &p])?;
    let mut dy = vec![0.0; n_states];
    let wasm_copy = time_calls(11, 2.0, || {
        call.set_input(1, black_box(&y)).unwrap();
        call.run().unwrap();
        call.result_into(&mut dy).unwrap();
    });
    let wasm_call = time_calls(11, 2.0, || {
        call.run().unwrap();
    });
    drop(call);
    let wasm_alloc = time_calls(11, 2.0, || {
        black_box(
            rt.call("Brusselator2D", "rhs", &[&[t], black_box(&y), &p])
                .unwrap(),
        );
    });
    for (backend, timing) in [
        ("cranelift", &cr),
        ("llvm", &ll),
        ("wasm", &wasm_copy),
        ("wasm_call_only", &wasm_call),
        ("wasm_runtime_call", &wasm_alloc),
    ] {
        let mut v = timing.json();
        v["what"] = json!("rhs");
        v["backend"] = json!(backend);
        v["n"] = json!(N);
        v["states"] = json!(n_states);
        emit(v);
    }
    emit(json!({
        "what": "agreement",
        "max_rel_vs_cranelift": rel_cranelift,
        "max_rel_vs_llvm": rel_llvm,
    }));
    Ok(())
}
