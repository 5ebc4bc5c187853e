//! Running the WebAssembly modules of [`compile`](super::compile) in-process with wasmtime
//! (feature `wasmtime`): [`Runtime`] instantiates a [`WasmPackage`] (or the bytes of a
//! `model.wasm` and its `model.json` description) and calls its functions by IR name on
//! flat `f64` inputs, as the generated JavaScript loader does in Node and browsers.
//!
//! ```no_run
//! # fn main() -> Result<(), String> {
//! let text = std::fs::read_to_string("examples/lotka_volterra.sci").map_err(|e| e.to_string())?;
//! let analysis = sci::analyze(sci::diag::FileId(0), &text);
//! let package = sci::wasm::compile(&analysis.modules, "lotka_volterra.sci", "lv.wasm")?;
//! let mut rt = sci::wasm::Runtime::new(&package)?;
//! let theta = rt.params_default("LotkaVolterra")?;
//! let y = rt.call("LotkaVolterra", "y0", &[&theta])?;
//! let dy = rt.call("LotkaVolterra", "rhs", &[&[0.0], &y, &theta])?;
//! # let _ = dy; Ok(()) }
//! ```
//!
//! Every call checks its inputs against the description (counts, sizes, whole numbers of
//! points) before any code runs, copies them into linear memory through the module's own
//! `malloc`, and frees them afterwards; a non-zero status is an error naming the status
//! (`SCI_INDEX_OUT_OF_RANGE`), a trap an error naming the function. Nothing panics.
//! [`Prepared`] keeps one call's buffers in linear memory for repeated calls that allocate
//! nothing (benchmarks, solver loops). [`WasmBackend`] is a [`Backend`](crate::codegen::Backend) over this runtime, so
//! `sci_codegen::difftest` checks WebAssembly like any native back end.

use super::WasmPackage;
use description::{Description, StatusSpec};
use wasmtime::{Engine, Func, Instance, Memory, Module, Store, TypedFunc, Val, ValType};

mod backend;
mod description;
mod prepared;

pub use backend::{WasmBackend, WasmModule};
pub use description::{FunctionSpec, InputSpec, ResultSpec};
pub use prepared::Prepared;

struct Entry {
    spec: FunctionSpec,
    func: Func,
}

/// A module of `sci compile --target wasm32`, instantiated in wasmtime.
pub struct Runtime {
    store: Store<()>,
    memory: Memory,
    malloc: TypedFunc<i32, i32>,
    free: TypedFunc<i32, ()>,
    entries: Vec<Entry>,
    statuses: Vec<StatusSpec>,
    /// Default parameters per model, from the description's layouts.
    defaults: Vec<(String, Vec<f64>)>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("functions", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// A wasmtime engine with the default configuration (Cranelift, SIMD), which every
/// [`Runtime`] of this module uses unless given another.
pub fn engine() -> Result<Engine, String> {
    Engine::new(&wasmtime::Config::new())
        .map_err(|e| format!("cannot create the wasmtime engine: {e}"))
}

/// Compiles `wasm` (the bytes of a module) for `engine`: the costly half of instantiation,
/// which a server does once and shares between [`Runtime::instantiate`]s.
pub fn compile_module(engine: &Engine, wasm: &[u8]) -> Result<Module, String> {
    Module::new(engine, wasm)
        .map_err(|e| format!("wasmtime cannot compile the WebAssembly module: {e}"))
}

impl Runtime {
    /// Compiles and instantiates `package` in a fresh engine.
    pub fn new(package: &WasmPackage) -> Result<Runtime, String> {
        Runtime::from_parts(&package.wasm, &package.description)
    }

    /// As [`Runtime::new`], from the bytes of `model.wasm` and the text of `model.json`.
    pub fn from_parts(wasm: &[u8], description: &str) -> Result<Runtime, String> {
        let engine = engine()?;
        let module = compile_module(&engine, wasm)?;
        Runtime::instantiate(&engine, &module, description)
    }

    /// Instantiates an already compiled `module` (see [`compile_module`]) whose description
    /// is `description`, and runs its `_initialize` (the C library's constructors).
    pub fn instantiate(
        engine: &Engine,
        module: &Module,
        description: &str,
    ) -> Result<Runtime, String> {
        let parsed = Description::parse(description)?;
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, module, &[]).map_err(|e| {
            format!(
                "cannot instantiate the WebAssembly module (a module of `sci compile --target \
                 wasm32` imports nothing): {e}"
            )
        })?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or("the WebAssembly module exports no `memory`")?;
        let malloc = instance
            .get_typed_func::<i32, i32>(&mut store, "malloc")
            .map_err(|e| format!("the WebAssembly module has no `malloc(i32) -> i32`: {e}"))?;
        let free = instance
            .get_typed_func::<i32, ()>(&mut store, "free")
            .map_err(|e| format!("the WebAssembly module has no `free(i32)`: {e}"))?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())
                .map_err(|e| format!("the module's `_initialize` failed: {e}"))?;
        }
        let mut entries = Vec::with_capacity(parsed.functions.len());
        for spec in parsed.functions {
            let func = instance.get_func(&mut store, &spec.symbol).ok_or_else(|| {
                format!(
                    "the WebAssembly module does not export `{}` (`{}` of `{}`), which its \
                     description lists",
                    spec.symbol, spec.name, spec.module
                )
            })?;
            check_wasm_type(&store, &func, &spec)?;
            entries.push(Entry { spec, func });
        }
        Ok(Runtime {
            store,
            memory,
            malloc,
            free,
            entries,
            statuses: parsed.statuses,
            defaults: parsed.defaults,
        })
    }

    /// Every callable function (those the description gives a symbol), in the
    /// description's order.
    pub fn functions(&self) -> impl Iterator<Item = &FunctionSpec> {
        self.entries.iter().map(|e| &e.spec)
    }

    /// The function `name` of model `module` (`functions` for free `fn`s).
    pub fn function(&self, module: &str, name: &str) -> Result<&FunctionSpec, String> {
        Ok(&self.entries[self.index(module, name)?].spec)
    }

    /// The default parameters of model `module` (declared defaults and initial weights).
    pub fn params_default(&self, module: &str) -> Result<Vec<f64>, String> {
        self.defaults
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| format!("the WebAssembly module has no model `{module}`"))
    }

    /// The bytes of linear memory in use (it grows, never shrinks).
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    fn index(&self, module: &str, name: &str) -> Result<usize, String> {
        if let Some(k) = self
            .entries
            .iter()
            .position(|e| e.spec.module == module && e.spec.name == name)
        {
            return Ok(k);
        }
        let known: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| e.spec.module == module)
            .map(|e| e.spec.name.as_str())
            .collect();
        if known.is_empty() {
            let models: std::collections::BTreeSet<&str> = self
                .entries
                .iter()
                .map(|e| e.spec.module.as_str())
                .collect();
            let models: Vec<&str> = models.into_iter().collect();
            Err(format!(
                "the WebAssembly module has no model `{module}` (it has: {})",
                models.join(", ")
            ))
        } else {
            Err(format!(
                "`{module}` has no compiled function `{name}` (it has: {})",
                known.join(", ")
            ))
        }
    }

    /// Calls function `name` of model `module` on flat inputs (one slice per input: a
    /// scalar's one element, a tensor's row-major elements, a batch's points one after
    /// another) and answers its flat result.
    pub fn call(
        &mut self,
        module: &str,
        name: &str,
        inputs: &[&[f64]],
    ) -> Result<Vec<f64>, String> {
        let k = self.index(module, name)?;
        self.call_index(k, inputs)
    }

    /// As [`Runtime::call`], by position in [`Runtime::functions`].
    pub fn call_index(&mut self, k: usize, inputs: &[&[f64]]) -> Result<Vec<f64>, String> {
        let spec = &self
            .entries
            .get(k)
            .ok_or_else(|| format!("the WebAssembly module has no function #{k}"))?
            .spec;
        let points = check_inputs(spec, inputs)?;
        let len = result_len(spec, &points)?;
        let mut buffers = Vec::with_capacity(inputs.len() + 1);
        let result = self.call_with(k, inputs, &points, len, &mut buffers);
        // Given back on every path; a failing `free` cannot lose the result.
        for p in buffers {
            let _ = self.free.call(&mut self.store, p);
        }
        result
    }

    fn call_with(
        &mut self,
        k: usize,
        inputs: &[&[f64]],
        points: &[usize],
        len: usize,
        buffers: &mut Vec<i32>,
    ) -> Result<Vec<f64>, String> {
        let spec = self.entries[k].spec.clone();
        let mut args = Vec::with_capacity(inputs.len() * 2 + 1);
        for ((input, data), &p) in spec.inputs.iter().zip(inputs).zip(points) {
            if input.by_value() {
                args.push(Val::F64(data[0].to_bits()));
                continue;
            }
            let at = self.allocate(&spec, data.len(), buffers)?;
            self.write(at, data)?;
            args.push(Val::I32(at));
            if input.batched {
                args.push(Val::I64(p as i64));
            }
        }
        let out = self.allocate(&spec, len, buffers)?;
        args.push(Val::I32(out));
        let mut status = [Val::I32(0)];
        let func = self.entries[k].func;
        func.call(&mut self.store, &args, &mut status)
            .map_err(|e| trapped(&spec, &e))?;
        self.check_status(&spec, &status[0])?;
        let mut result = vec![0.0; len];
        self.read(out, &mut result)?;
        Ok(result)
    }

    fn allocate(
        &mut self,
        spec: &FunctionSpec,
        doubles: usize,
        buffers: &mut Vec<i32>,
    ) -> Result<i32, String> {
        let bytes = doubles
            .max(1)
            .checked_mul(8)
            .and_then(|b| i32::try_from(b).ok())
            .ok_or_else(|| {
                format!(
                    "`{}`: {doubles} numbers do not fit in a wasm32 module's memory",
                    spec.name
                )
            })?;
        let p = self
            .malloc
            .call(&mut self.store, bytes)
            .map_err(|e| format!("the module's `malloc` trapped: {e}"))?;
        if p == 0 {
            return Err(format!(
                "`{}` failed: the module's `malloc` could not allocate {bytes} bytes \
                 (SCI_OUT_OF_MEMORY)",
                spec.name
            ));
        }
        buffers.push(p);
        Ok(p)
    }

    /// Copies `data` to linear memory at byte address `at`.
    fn write(&mut self, at: i32, data: &[f64]) -> Result<(), String> {
        let bytes = self.memory.data_mut(&mut self.store);
        let region = region(bytes.len(), at, data.len())?;
        for (chunk, x) in bytes[region].chunks_exact_mut(8).zip(data) {
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        Ok(())
    }

    /// Copies `out.len()` doubles from linear memory at byte address `at`.
    fn read(&self, at: i32, out: &mut [f64]) -> Result<(), String> {
        let bytes = self.memory.data(&self.store);
        let region = region(bytes.len(), at, out.len())?;
        for (x, chunk) in out.iter_mut().zip(bytes[region].chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *x = f64::from_le_bytes(b);
        }
        Ok(())
    }

    fn check_status(&self, spec: &FunctionSpec, status: &Val) -> Result<(), String> {
        let code = match status {
            Val::I32(c) => i64::from(*c),
            other => {
                return Err(format!(
                    "`{}` returned {other:?} rather than an i32 status",
                    spec.name
                ));
            }
        };
        if code == 0 {
            return Ok(());
        }
        Err(match self.statuses.iter().find(|s| s.code == code) {
            Some(s) => format!(
                "`{}` of `{}` failed with status {code} ({}): {}",
                spec.name, spec.module, s.name, s.message
            ),
            None => format!(
                "`{}` of `{}` failed with the unknown status {code}",
                spec.name, spec.module
            ),
        })
    }

    /// Prepares repeated calls of `name` of `module` on inputs shaped like `inputs` (which
    /// it copies in): the buffers stay in linear memory until the [`Prepared`] drops, so
    /// each [`Prepared::run`] is the call alone.
    pub fn prepare(
        &mut self,
        module: &str,
        name: &str,
        inputs: &[&[f64]],
    ) -> Result<Prepared<'_>, String> {
        let k = self.index(module, name)?;
        let spec = self.entries[k].spec.clone();
        let points = check_inputs(&spec, inputs)?;
        let len = result_len(&spec, &points)?;
        let mut prepared = Prepared {
            rt: self,
            entry: k,
            spec,
            args: Vec::new(),
            slots: Vec::new(),
            buffers: Vec::new(),
            out: (0, len),
            status: [Val::I32(0)],
        };
        prepared.allocate(inputs, &points)?;
        Ok(prepared)
    }
}
fn trapped(spec: &FunctionSpec, e: &wasmtime::Error) -> String {
    format!(
        "`{}` of `{}` trapped in WebAssembly: {e}",
        spec.name, spec.module
    )
}

/// The byte range of `doubles` numbers at `at` in a memory of `size` bytes.
fn region(size: usize, at: i32, doubles: usize) -> Result<std::ops::Range<usize>, String> {
    let start = at as u32 as usize;
    let end = doubles
        .checked_mul(8)
        .and_then(|n| n.checked_add(start))
        .filter(|&end| end <= size)
        .ok_or_else(|| {
            format!("{doubles} numbers at address {start} lie outside linear memory ({size} bytes)")
        })?;
    Ok(start..end)
}

/// Checks `inputs` against `spec` and answers each input's point count (1 when unbatched).
fn check_inputs(spec: &FunctionSpec, inputs: &[&[f64]]) -> Result<Vec<usize>, String> {
    if inputs.len() != spec.inputs.len() {
        let names: Vec<&str> = spec.inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(format!(
            "`{}` takes {} inputs ({}) but {} were given",
            spec.name,
            spec.inputs.len(),
            names.join(", "),
            inputs.len()
        ));
    }
    let mut points = Vec::with_capacity(inputs.len());
    for (k, (input, data)) in spec.inputs.iter().zip(inputs).enumerate() {
        let n = data.len();
        if input.batched {
            if input.size == 0 {
                return Err(format!(
                    "input {k} (`{}`) of `{}` is a batch of empty points, which flat numbers \
                     cannot describe",
                    input.name, spec.name
                ));
            }
            if n % input.size != 0 {
                return Err(format!(
                    "input {k} (`{}`) of `{}` takes points of {} numbers each; {n} is not a \
                     whole number of them",
                    input.name, spec.name, input.size
                ));
            }
            points.push(n / input.size);
        } else {
            if n != input.size {
                return Err(format!(
                    "input {k} (`{}`) of `{}` must have {} elements (shape {:?}), but it has {n}",
                    input.name, spec.name, input.size, input.shape
                ));
            }
            points.push(1);
        }
    }
    Ok(points)
}

/// The number of elements of the result for inputs with these point counts.
fn result_len(spec: &FunctionSpec, points: &[usize]) -> Result<usize, String> {
    let r = &spec.result;
    if !r.batched {
        return Ok(r.size);
    }
    let p = r.points_of.and_then(|k| points.get(k)).ok_or_else(|| {
        format!(
            "the description of `{}` does not say which input a batched result takes its points from",
            spec.name
        )
    })?;
    r.size
        .checked_mul(*p)
        .ok_or_else(|| format!("the result of `{}` would be too large", spec.name))
}

/// Checks that the export's WebAssembly type is what the description implies: one `f64`
/// per scalar, an `i32` address per tensor, an `i32` and an `i64` per batch, `out` (`i32`),
/// returning an `i32` status.
fn check_wasm_type(store: &Store<()>, func: &Func, spec: &FunctionSpec) -> Result<(), String> {
    let ty = func.ty(store);
    let mut want = Vec::new();
    for input in &spec.inputs {
        if input.by_value() {
            want.push("f64");
        } else {
            want.push("i32");
            if input.batched {
                want.push("i64");
            }
        }
    }
    want.push("i32");
    let name = |t: ValType| match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        _ => "other",
    };
    let params: Vec<&str> = ty.params().map(name).collect();
    let results: Vec<&str> = ty.results().map(name).collect();
    if params != want || results != ["i32"] {
        return Err(format!(
            "`{}` (`{}`) has WebAssembly type ({}) -> ({}), but its description implies ({}) \
             -> (i32)",
            spec.symbol,
            spec.name,
            params.join(", "),
            results.join(", "),
            want.join(", ")
        ));
    }
    Ok(())
}
