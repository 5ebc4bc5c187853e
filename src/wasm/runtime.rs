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
//! nothing (benchmarks, solver loops). [`WasmBackend`] is a [`Backend`] over this runtime, so
//! `sci_codegen::difftest` checks WebAssembly like any native back end.

use super::WasmPackage;
use crate::codegen::{
    Backend, CallError, CodegenError, CompiledFunction, CompiledModule, InterpreterBackend,
};
use crate::ir::ValidModule;
use serde_json::Value;
use std::sync::Mutex;
use wasmtime::{Engine, Func, Instance, Memory, Module, Store, TypedFunc, Val, ValType};

/// One input of a function, as the description gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    /// The IR name (`y`, `θ`, `pde.t`).
    pub name: String,
    /// The per-point shape.
    pub shape: Vec<usize>,
    /// Elements per point (all elements when unbatched).
    pub size: usize,
    /// Whether the input is a batch of points.
    pub batched: bool,
}

impl InputSpec {
    /// An unbatched scalar: passed by value (an `f64`), not through memory.
    pub fn by_value(&self) -> bool {
        !self.batched && self.shape.is_empty()
    }
}

/// The result of a function, as the description gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultSpec {
    /// The per-point shape.
    pub shape: Vec<usize>,
    /// Elements per point.
    pub size: usize,
    /// Whether the result is a batch.
    pub batched: bool,
    /// For a batched result: the input whose point count it has.
    pub points_of: Option<usize>,
}

/// One exported function of the module.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    /// The model (`LotkaVolterra`) or `functions`.
    pub module: String,
    /// The IR name (`rhs`, `value_and_grad.loss`).
    pub name: String,
    /// The C symbol the module exports it as (`sci_LotkaVolterra_rhs`).
    pub symbol: String,
    pub inputs: Vec<InputSpec>,
    pub result: ResultSpec,
}

/// A status the module's functions return (from the description).
#[derive(Clone, Debug)]
struct StatusSpec {
    code: i64,
    name: String,
    message: String,
}

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

/// One function's call with its inputs and result kept in linear memory: [`Prepared::run`]
/// calls it again without allocating or copying; [`Prepared::set_input`] and
/// [`Prepared::result_into`] copy without allocating. Dropping it frees the buffers.
pub struct Prepared<'r> {
    rt: &'r mut Runtime,
    entry: usize,
    spec: FunctionSpec,
    /// The wasm arguments, `out` last.
    args: Vec<Val>,
    /// Per input: the position of its argument and, in memory, its address and length.
    slots: Vec<(usize, Option<(i32, usize)>)>,
    buffers: Vec<i32>,
    out: (i32, usize),
    status: [Val; 1],
}

impl Prepared<'_> {
    fn allocate(&mut self, inputs: &[&[f64]], points: &[usize]) -> Result<(), String> {
        for ((input, data), &p) in self.spec.inputs.iter().zip(inputs).zip(points) {
            let position = self.args.len();
            if input.by_value() {
                self.args.push(Val::F64(data[0].to_bits()));
                self.slots.push((position, None));
                continue;
            }
            let at = self
                .rt
                .allocate(&self.spec, data.len(), &mut self.buffers)?;
            self.rt.write(at, data)?;
            self.args.push(Val::I32(at));
            if input.batched {
                self.args.push(Val::I64(p as i64));
            }
            self.slots.push((position, Some((at, data.len()))));
        }
        let out = self
            .rt
            .allocate(&self.spec, self.out.1, &mut self.buffers)?;
        self.out.0 = out;
        self.args.push(Val::I32(out));
        Ok(())
    }

    /// The function being called.
    pub fn function(&self) -> &FunctionSpec {
        &self.spec
    }

    /// Replaces input `k` with `data`, which must have the length the call was prepared
    /// with.
    pub fn set_input(&mut self, k: usize, data: &[f64]) -> Result<(), String> {
        let &(position, place) = self.slots.get(k).ok_or_else(|| {
            format!(
                "`{}` takes {} inputs; there is no input {k}",
                self.spec.name,
                self.spec.inputs.len()
            )
        })?;
        match place {
            None => {
                if data.len() != 1 {
                    return Err(format!(
                        "input {k} (`{}`) of `{}` is a scalar, not {} numbers",
                        self.spec.inputs[k].name,
                        self.spec.name,
                        data.len()
                    ));
                }
                self.args[position] = Val::F64(data[0].to_bits());
                Ok(())
            }
            Some((at, len)) => {
                if data.len() != len {
                    return Err(format!(
                        "input {k} (`{}`) of `{}` was prepared with {len} numbers, not {}",
                        self.spec.inputs[k].name,
                        self.spec.name,
                        data.len()
                    ));
                }
                self.rt.write(at, data)
            }
        }
    }

    /// Calls the function on the inputs in linear memory; the result stays there.
    pub fn run(&mut self) -> Result<(), String> {
        let func = self.rt.entries[self.entry].func;
        func.call(&mut self.rt.store, &self.args, &mut self.status)
            .map_err(|e| trapped(&self.spec, &e))?;
        self.rt.check_status(&self.spec, &self.status[0])
    }

    /// The number of elements of the result.
    pub fn result_len(&self) -> usize {
        self.out.1
    }

    /// Copies the result of the last [`Prepared::run`] to `out` (of [`Prepared::result_len`]
    /// elements).
    pub fn result_into(&self, out: &mut [f64]) -> Result<(), String> {
        if out.len() != self.out.1 {
            return Err(format!(
                "the result of `{}` has {} numbers, not {}",
                self.spec.name,
                self.out.1,
                out.len()
            ));
        }
        self.rt.read(self.out.0, out)
    }

    /// The result of the last [`Prepared::run`], in a new vector.
    pub fn result(&self) -> Result<Vec<f64>, String> {
        let mut out = vec![0.0; self.out.1];
        self.result_into(&mut out)?;
        Ok(out)
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        for &p in &self.buffers {
            let _ = self.rt.free.call(&mut self.rt.store, p);
        }
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

/// What [`Runtime`] needs of the JSON description (format `sci-abi-1`).
struct Description {
    functions: Vec<FunctionSpec>,
    statuses: Vec<StatusSpec>,
    defaults: Vec<(String, Vec<f64>)>,
}

impl Description {
    fn parse(text: &str) -> Result<Description, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("the module's description is not JSON: {e}"))?;
        let format = v["format"].as_str().unwrap_or("");
        if format != crate::codegen::describe::FORMAT {
            return Err(format!(
                "the module's description has format `{format}`; this sci reads `{}`",
                crate::codegen::describe::FORMAT
            ));
        }
        let bad = |what: &str| format!("the module's description is malformed: {what}");
        let statuses = v["statuses"]
            .as_array()
            .ok_or_else(|| bad("no `statuses`"))?
            .iter()
            .map(|s| {
                Some(StatusSpec {
                    code: s["code"].as_i64()?,
                    name: s["name"].as_str()?.to_string(),
                    message: s["message"].as_str()?.to_string(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("a status without code, name or message"))?;
        let mut functions = Vec::new();
        let mut defaults = Vec::new();
        for m in v["modules"].as_array().ok_or_else(|| bad("no `modules`"))? {
            let module = m["name"]
                .as_str()
                .ok_or_else(|| bad("a module without name"))?;
            defaults.push((module.to_string(), layout_defaults(&m["params"])));
            for f in m["functions"].as_array().into_iter().flatten() {
                let Some(symbol) = f["symbol"].as_str() else {
                    continue; // unavailable: no code
                };
                let name = f["name"]
                    .as_str()
                    .ok_or_else(|| bad("a function without name"))?;
                let inputs = f["inputs"]
                    .as_array()
                    .ok_or_else(|| bad(&format!("`{name}` without inputs")))?
                    .iter()
                    .map(|i| {
                        Some(InputSpec {
                            name: i["name"].as_str()?.to_string(),
                            shape: shape(&i["shape"])?,
                            size: usize::try_from(i["size"].as_u64()?).ok()?,
                            batched: i["batched"].as_bool()?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(&format!("an input of `{name}`")))?;
                let r = &f["result"];
                let result = (|| {
                    Some(ResultSpec {
                        shape: shape(&r["shape"])?,
                        size: usize::try_from(r["size"].as_u64()?).ok()?,
                        batched: r["batched"].as_bool()?,
                        points_of: r["points_of"]
                            .as_u64()
                            .and_then(|k| usize::try_from(k).ok()),
                    })
                })()
                .ok_or_else(|| bad(&format!("the result of `{name}`")))?;
                functions.push(FunctionSpec {
                    module: module.to_string(),
                    name: name.to_string(),
                    symbol: symbol.to_string(),
                    inputs,
                    result,
                });
            }
        }
        Ok(Description {
            functions,
            statuses,
            defaults,
        })
    }
}

fn shape(v: &Value) -> Option<Vec<usize>> {
    v.as_array()?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect()
}

/// A layout's defaults, flat (`"NaN"`, `"Infinity"`, `"-Infinity"` for non-finite ones).
fn layout_defaults(layout: &Value) -> Vec<f64> {
    let len = layout["len"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut values = vec![0.0; len];
    for slot in layout["slots"].as_array().into_iter().flatten() {
        let offset = slot["offset"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        for (k, x) in slot["default"].as_array().into_iter().flatten().enumerate() {
            let x = match x {
                Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                Value::String(s) if s == "Infinity" => f64::INFINITY,
                Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
                _ => f64::NAN,
            };
            if let Some(v) = values.get_mut(offset + k) {
                *v = x;
            }
        }
    }
    values
}

/// A [`Backend`] that compiles a module to WebAssembly ([`compile_lowered`](super::compile_lowered):
/// LLVM's wasm32 back end, wasi-libc) and runs it in wasmtime: what
/// `sci_codegen::difftest::check_module` needs to hold WebAssembly to the interpreter.
/// Calls are serialised (one instance per compiled module).
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmBackend;

impl Backend for WasmBackend {
    fn name(&self) -> &'static str {
        "wasm32 (wasmtime)"
    }

    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError> {
        let package = super::compile_lowered(
            std::slice::from_ref(module.module()),
            "difftest",
            "difftest.wasm",
        )
        .map_err(CodegenError::new)?;
        Ok(Box::new(WasmModule::new(module, &package)?))
    }
}

/// A module compiled by [`WasmBackend`].
#[derive(Debug)]
pub struct WasmModule {
    table: Vec<CompiledFunction>,
    /// Per function of the table, its entry in the runtime (`None`: no code).
    entries: Vec<Option<usize>>,
    runtime: Mutex<Runtime>,
}

impl WasmModule {
    /// `package` (compiled from `module` alone, e.g. by
    /// [`compile_lowered`](super::compile_lowered)) instantiated, with `module`'s function
    /// table.
    pub fn new(module: &ValidModule, package: &WasmPackage) -> Result<WasmModule, CodegenError> {
        // The interpreter's table: every function with its signature and, for those with
        // an unexpanded `deriv`, why it has no code (the description omits their symbols).
        let table = InterpreterBackend.compile(module)?.functions().to_vec();
        let ir = module.module();
        let runtime = Runtime::new(package).map_err(CodegenError::new)?;
        let entries = table
            .iter()
            .map(|f| {
                runtime
                    .entries
                    .iter()
                    .position(|e| e.spec.module == ir.name && e.spec.name == f.name)
            })
            .collect();
        Ok(WasmModule {
            table,
            entries,
            runtime: Mutex::new(runtime),
        })
    }
}

impl CompiledModule for WasmModule {
    fn backend(&self) -> &'static str {
        "wasm32 (wasmtime)"
    }

    fn functions(&self) -> &[CompiledFunction] {
        &self.table
    }

    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError> {
        let f = self.table.get(index).ok_or_else(|| {
            CallError::new(format!(
                "There is no function #{index}; the module has {}.",
                self.table.len()
            ))
        })?;
        if let Some(why) = &f.unavailable {
            return Err(CallError::new(why.clone()));
        }
        // The native back ends' checks and messages, before any code runs.
        f.signature.check_inputs(&f.name, inputs)?;
        let want = f.signature.result_len(inputs).unwrap_or(0);
        if out.len() != want {
            return Err(CallError::new(format!(
                "The output buffer of `{}` must have {want} elements (its result is {}), but it \
                 has {}.",
                f.name,
                f.signature.result.describe(),
                out.len()
            )));
        }
        let k = self.entries[index].ok_or_else(|| {
            CallError::new(format!(
                "`{}` is not exported by the WebAssembly module.",
                f.name
            ))
        })?;
        let mut rt = self
            .runtime
            .lock()
            .map_err(|_| CallError::new("an earlier call panicked holding the runtime"))?;
        let result = rt.call_index(k, inputs).map_err(CallError::new)?;
        if result.len() != out.len() {
            return Err(CallError::new(format!(
                "`{}` answered {} numbers in WebAssembly where its signature says {}: the \
                 module's description does not match its IR.",
                f.name,
                result.len(),
                out.len()
            )));
        }
        out.copy_from_slice(&result);
        Ok(())
    }
}
