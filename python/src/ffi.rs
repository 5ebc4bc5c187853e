//! The XLA FFI handler `sci.jax` registers with JAX (`jax.ffi.register_ffi_target`), so
//! a compiled sci function runs inside `jax.jit` as a custom call: no Python on the call
//! path, buffers read and written in place.
//!
//! Written against XLA's C API (`xla/ffi/api/c_api.h`, API version 0.3, which jaxlib ships
//! as headers): the few structs the handler reads are declared here with the C layout. A
//! binding crate would bring a C++ toolchain or bindgen into the wheel's build for these
//! six structs, so they are written by hand. The handler is one function for every sci
//! kernel: the call's `handle` attribute picks a kernel from a registry filled by
//! `jax_register` (a model's loss, its loss and gradient, its right-hand side and that
//! function's vector–Jacobian product, or a free function).
//!
//! `unsafe` is confined to reading the call frame XLA passes (its pointers are valid for
//! the call, by the API's contract) and to creating XLA's error objects.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::mem::{offset_of, size_of};
use std::sync::{Arc, RwLock};

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;

use crate::function::Function;
use crate::model::Model;

// ---- The C API's structs (the subset the handler touches), in its layout. ----

#[repr(C)]
struct ExtensionBase {
    struct_size: usize,
    kind: c_int,
    next: *mut ExtensionBase,
}

/// `XLA_FFI_Extension_Metadata`.
const EXTENSION_METADATA: c_int = 1;

#[repr(C)]
struct ApiVersion {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    major_version: c_int,
    minor_version: c_int,
}

const API_MAJOR: c_int = 0;
const API_MINOR: c_int = 3;

#[repr(C)]
struct Metadata {
    struct_size: usize,
    api_version: ApiVersion,
    traits: u32,
}

#[repr(C)]
struct MetadataExtension {
    extension_base: ExtensionBase,
    metadata: *mut Metadata,
}

#[repr(C)]
struct ErrorCreateArgs {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    message: *const c_char,
    errc: c_int,
}

/// `XLA_FFI_Error_Code_INVALID_ARGUMENT`.
const INVALID_ARGUMENT: c_int = 3;

/// An opaque `XLA_FFI_Error`.
#[repr(C)]
pub struct XlaError {
    _private: [u8; 0],
}

type ErrorCreate = unsafe extern "C" fn(*mut ErrorCreateArgs) -> *mut XlaError;

#[repr(C)]
struct Api {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    api_version: ApiVersion,
    internal_api: *const c_void,
    error_create: ErrorCreate,
    // The other entry points follow; the handler uses none of them.
}

#[repr(C)]
struct Buffer {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    dtype: c_int,
    data: *mut c_void,
    rank: i64,
    dims: *const i64,
}

/// `XLA_FFI_DataType_F64` and `_S64`.
const F64: c_int = 12;
const S64: c_int = 5;
/// `XLA_FFI_AttrType_SCALAR`.
const ATTR_SCALAR: c_int = 3;

#[repr(C)]
struct Args {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    size: i64,
    types: *const c_int,
    args: *const *mut c_void,
}

#[repr(C)]
struct ByteSpan {
    ptr: *const c_char,
    len: usize,
}

#[repr(C)]
struct Scalar {
    dtype: c_int,
    value: *const c_void,
}

#[repr(C)]
struct Attrs {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    size: i64,
    types: *const c_int,
    names: *const *const ByteSpan,
    attrs: *const *const c_void,
}

#[repr(C)]
struct CallFrame {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    api: *const Api,
    ctx: *mut c_void,
    stage: c_int,
    args: Args,
    rets: Args,
    attrs: Attrs,
}

/// `XLA_FFI_ExecutionStage_EXECUTE`.
const STAGE_EXECUTE: c_int = 3;

// ---- The kernels. ----

/// What a registered handle computes.
enum Kernel {
    /// `(θ, inputs…) → loss`.
    Loss { model: Model, inputs: Vec<String> },
    /// `(θ, inputs…) → (loss, ∂loss/∂θ)`: one call, the forward pass once.
    LossAndGrad { model: Model, inputs: Vec<String> },
    /// `(t, y, θ) → f(t, y; θ)`.
    Rhs { model: Model },
    /// `(t, y, θ, v) → (vᵀ ∂f/∂y, vᵀ ∂f/∂θ)`, by sci's compiled reverse sweep.
    RhsVjp { model: Model },
    /// A free function: its arguments (of these shapes) → its result.
    Function {
        function: Function,
        shapes: Vec<Vec<usize>>,
    },
}

/// Every kernel registered in this process, by handle (never removed: a handle compiled
/// into a JAX computation must stay valid for as long as the computation can run).
static KERNELS: RwLock<Vec<Arc<Kernel>>> = RwLock::new(Vec::new());

fn register(kernel: Kernel) -> i64 {
    let mut kernels = KERNELS.write().unwrap_or_else(|p| p.into_inner());
    kernels.push(Arc::new(kernel));
    (kernels.len() - 1) as i64
}

/// Registers `op` of `model` (`"loss"`, `"loss_and_grad"`, `"rhs"`, `"rhs_vjp"`) for the
/// FFI handler and returns its handle; `inputs` are the loss's input names in the order
/// the call passes them.
#[pyfunction]
#[pyo3(signature = (model, op, inputs = Vec::new()))]
pub fn jax_register(
    py: Python<'_>,
    model: &Bound<'_, Model>,
    op: &str,
    inputs: Vec<String>,
) -> PyResult<i64> {
    let model = model.get().clone_ref(py);
    let kernel = match op {
        "loss" => Kernel::Loss { model, inputs },
        "loss_and_grad" => Kernel::LossAndGrad { model, inputs },
        "rhs" => Kernel::Rhs { model },
        "rhs_vjp" => Kernel::RhsVjp { model },
        _ => {
            return Err(PyKeyError::new_err(format!(
                "There is no sci kernel `{op}`; use loss, loss_and_grad, rhs or rhs_vjp."
            )));
        }
    };
    Ok(register(kernel))
}

/// Registers a free function, called with arguments of `shapes`, for the FFI handler and
/// returns its handle.
#[pyfunction]
pub fn jax_register_function(
    py: Python<'_>,
    function: &Bound<'_, Function>,
    shapes: Vec<Vec<usize>>,
) -> PyResult<i64> {
    Ok(register(Kernel::Function {
        function: function.get().clone_ref(py),
        shapes,
    }))
}

/// The address of the FFI handler, for `jax.ffi.pycapsule`.
#[pyfunction]
pub fn ffi_handler_address() -> usize {
    handler as *const () as usize
}

/// Runs kernel `handle` on `args`, writing `rets`: the handler's safe half.
fn run(handle: i64, args: &[&[f64]], rets: &mut [&mut [f64]]) -> Result<(), String> {
    let kernel = {
        let kernels = KERNELS.read().unwrap_or_else(|p| p.into_inner());
        usize::try_from(handle)
            .ok()
            .and_then(|k| kernels.get(k).cloned())
            .ok_or_else(|| format!("sci: no kernel has handle {handle}"))?
    };
    let arity = |want: usize, rets_want: usize| -> Result<(), String> {
        if args.len() == want && rets.len() == rets_want {
            Ok(())
        } else {
            Err(format!(
                "sci: the kernel takes {want} arguments and {rets_want} results, not {} and {}",
                args.len(),
                rets.len()
            ))
        }
    };
    match &*kernel {
        Kernel::Loss { model, inputs } | Kernel::LossAndGrad { model, inputs } => {
            let with_grad = matches!(&*kernel, Kernel::LossAndGrad { .. });
            arity(1 + inputs.len(), if with_grad { 2 } else { 1 })?;
            let m = model.model().map_err(|e| e.to_string())?;
            let mut batch = sci::Batch::new();
            for (name, data) in inputs.iter().zip(&args[1..]) {
                batch.set(name, data);
            }
            let (value, rest) = rets.split_at_mut(1);
            let loss = if with_grad {
                m.loss_and_grad_into(args[0], &batch, rest[0])
            } else {
                m.loss(args[0], &batch)
            }
            .map_err(|e| e.to_string())?;
            value[0].fill(loss);
            Ok(())
        }
        Kernel::Rhs { model } => {
            arity(3, 1)?;
            let m = model.model().map_err(|e| e.to_string())?;
            let t = scalar(args[0], "t")?;
            m.rhs(t, args[1], args[2], rets[0])
                .map_err(|e| e.to_string())
        }
        Kernel::RhsVjp { model } => {
            arity(4, 2)?;
            let m = model.model().map_err(|e| e.to_string())?;
            let t = scalar(args[0], "t")?;
            let (y, p, v) = (args[1], args[2], args[3]);
            let (n, np) = (m.n_states(), m.n_params());
            if y.len() != n || v.len() != n || p.len() != np {
                return Err(format!(
                    "sci: rhs_vjp of `{}` takes y and v of {n} and θ of {np} numbers",
                    m.name()
                ));
            }
            let [out_y, out_p] = rets else {
                return Err("sci: rhs_vjp has two results".to_string());
            };
            model
                .rhs_vjp(t, y, p, v, out_y, out_p)
                .map_err(|e| e.to_string())
        }
        Kernel::Function { function, shapes } => {
            arity(shapes.len(), 1)?;
            let result = function.call_shaped(args, shapes)?;
            if result.len() != rets[0].len() {
                return Err(format!(
                    "sci: `{}` returned {} numbers where the call expects {}",
                    function.name_str(),
                    result.len(),
                    rets[0].len()
                ));
            }
            rets[0].copy_from_slice(&result);
            Ok(())
        }
    }
}

fn scalar(data: &[f64], what: &str) -> Result<f64, String> {
    match data {
        [x] => Ok(*x),
        _ => Err(format!(
            "sci: `{what}` must be one number, not {}",
            data.len()
        )),
    }
}

// ---- The handler: decoding XLA's call frame. ----

/// The FFI handler XLA calls.
///
/// # Safety
/// `frame` must be a call frame XLA built for this call (its pointers valid for the call).
unsafe extern "C" fn handler(frame: *mut CallFrame) -> *mut XlaError {
    // No panic may unwind into XLA.
    match std::panic::catch_unwind(|| unsafe { handle_call(frame) }) {
        Ok(result) => result,
        Err(_) => unsafe { error(frame, "sci: internal error (a panic) in the FFI handler") },
    }
}

unsafe fn handle_call(frame: *mut CallFrame) -> *mut XlaError {
    let frame_ref = unsafe { &*frame };
    let ext = frame_ref.extension_start;
    if !ext.is_null() && unsafe { (*ext).kind } == EXTENSION_METADATA {
        // XLA asks which API version the handler was written against.
        let ext = ext as *mut MetadataExtension;
        let metadata = unsafe { (*ext).metadata };
        if !metadata.is_null() {
            unsafe {
                (*metadata).api_version = ApiVersion {
                    struct_size: offset_of!(ApiVersion, minor_version) + size_of::<c_int>(),
                    extension_start: std::ptr::null_mut(),
                    major_version: API_MAJOR,
                    minor_version: API_MINOR,
                };
                (*metadata).traits = 0;
            }
        }
        return std::ptr::null_mut();
    }
    if frame_ref.stage != STAGE_EXECUTE {
        return std::ptr::null_mut();
    }
    let result = (|| -> Result<(), String> {
        let handle = unsafe { handle_attr(&frame_ref.attrs) }?;
        let args = unsafe { buffers(&frame_ref.args, "argument") }?;
        let rets = unsafe { buffers(&frame_ref.rets, "result") }?;
        let arg_slices: Vec<&[f64]> = args
            .iter()
            .map(|&(ptr, len)| unsafe { std::slice::from_raw_parts(ptr as *const f64, len) })
            .collect();
        let mut ret_slices: Vec<&mut [f64]> = rets
            .iter()
            .map(|&(ptr, len)| unsafe { std::slice::from_raw_parts_mut(ptr, len) })
            .collect();
        run(handle, &arg_slices, &mut ret_slices)
    })();
    match result {
        Ok(()) => std::ptr::null_mut(),
        Err(message) => unsafe { error(frame, &message) },
    }
}

/// The `handle` attribute (a 64-bit integer scalar).
unsafe fn handle_attr(attrs: &Attrs) -> Result<i64, String> {
    for k in 0..attrs.size.max(0) as usize {
        let name = unsafe { &**attrs.names.add(k) };
        let name = unsafe { std::slice::from_raw_parts(name.ptr as *const u8, name.len) };
        if name != b"handle" {
            continue;
        }
        if unsafe { *attrs.types.add(k) } != ATTR_SCALAR {
            break;
        }
        let scalar = unsafe { &*(*attrs.attrs.add(k) as *const Scalar) };
        if scalar.dtype != S64 {
            break;
        }
        return Ok(unsafe { *(scalar.value as *const i64) });
    }
    Err("sci: the call has no 64-bit integer attribute `handle`".to_string())
}

/// The data pointer and element count of every buffer of `list`, all `f64`.
unsafe fn buffers(list: &Args, what: &str) -> Result<Vec<(*mut f64, usize)>, String> {
    let mut out = Vec::with_capacity(list.size.max(0) as usize);
    for k in 0..list.size.max(0) as usize {
        let buffer = unsafe { &*(*list.args.add(k) as *const Buffer) };
        if buffer.dtype != F64 {
            return Err(format!(
                "sci computes in float64, but {what} {} is another type; enable \
                 `jax.config.update(\"jax_enable_x64\", True)` and pass float64 arrays",
                k + 1
            ));
        }
        let dims = unsafe { std::slice::from_raw_parts(buffer.dims, buffer.rank.max(0) as usize) };
        let len: i64 = dims.iter().product();
        out.push((buffer.data as *mut f64, len.max(0) as usize));
    }
    Ok(out)
}

/// An XLA error carrying `message`.
unsafe fn error(frame: *mut CallFrame, message: &str) -> *mut XlaError {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    let mut args = ErrorCreateArgs {
        struct_size: offset_of!(ErrorCreateArgs, errc) + size_of::<c_int>(),
        extension_start: std::ptr::null_mut(),
        message: text.as_ptr(),
        errc: INVALID_ARGUMENT,
    };
    // XLA copies the message.
    unsafe { ((*(*frame).api).error_create)(&mut args) }
}
