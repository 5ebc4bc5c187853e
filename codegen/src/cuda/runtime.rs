//! The CUDA driver, loaded at run time: one context on device 0, one stream, device
//! buffers, copies and raw kernel launches.
//!
//! cudarc loads `libcuda.so` lazily and *panics* when the library or one of its symbols is
//! missing, so the library's presence is checked first (no panic on the common "no driver"
//! path) and every call into cudarc runs under `guard`, which turns a panic into an
//! error sentence.
//!
//! All work goes to one stream (the context's default stream), so stream order alone keeps
//! copies, launches and frees in sequence; cudarc's per-buffer event tracking, which exists
//! to order work across streams, is switched off.

use crate::CodegenError;
use crate::cuda::launch::{Buffer, Geometry, Param};
use cudarc::driver::result::DriverError;
use cudarc::driver::safe::{CudaContext, CudaSlice, CudaStream, DevicePtr};
use cudarc::driver::{result, sys};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The CUDA device this process computes on.
#[derive(Debug)]
pub struct CudaRuntime {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    device: String,
}

/// A device buffer of `f64`s: the allocation (at least one element, so empty buffers
/// still have an address) and the number of elements in use.
#[derive(Clone, Debug)]
pub struct DeviceBuf {
    slice: Arc<CudaSlice<f64>>,
    len: usize,
}

impl DeviceBuf {
    /// Elements in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no element is in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Runs `f`, turning a panic inside it (cudarc's reaction to a missing driver symbol)
/// into an error.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let why = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(format!("the CUDA driver library failed: {why}"))
        }
    }
}

/// A driver error as words: `CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)`.
pub(crate) fn describe(e: DriverError) -> String {
    let text = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if text.is_empty() {
        format!("{:?}", e.0)
    } else {
        format!("{:?} ({text})", e.0)
    }
}

impl CudaRuntime {
    /// Loads the driver and opens device 0. Without `libcuda.so` or without a device the
    /// error reads `no CUDA device: <why>`.
    pub fn new() -> Result<Arc<CudaRuntime>, CodegenError> {
        let no_device = |why: String| CodegenError::new(format!("no CUDA device: {why}"));
        // SAFETY: loading the driver library runs its initialisers; it is NVIDIA's driver
        // (or nothing is loaded), and the library stays loaded for the process.
        let present = guard(|| Ok(unsafe { sys::is_culib_present() })).map_err(no_device)?;
        if !present {
            return Err(no_device(
                "the CUDA driver library (libcuda.so) is not installed or not on the library \
                 path"
                    .into(),
            ));
        }
        guard(|| {
            let count = CudaContext::device_count()
                .map_err(|e| format!("the CUDA driver did not start: {}", describe(e)))?;
            if count < 1 {
                return Err("the CUDA driver found no GPU".into());
            }
            let ctx = CudaContext::new(0)
                .map_err(|e| format!("device 0 could not be opened: {}", describe(e)))?;
            // SAFETY: every buffer, copy and launch of this runtime uses `stream` (the one
            // stream below), so stream order keeps them in sequence without events.
            unsafe { ctx.disable_event_tracking() };
            let stream = ctx.default_stream();
            let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
            let device = match ctx.compute_capability() {
                Ok((major, minor)) => format!("{name} (sm_{major}{minor})"),
                Err(_) => name,
            };
            Ok(Arc::new(CudaRuntime {
                ctx,
                stream,
                device,
            }))
        })
        .map_err(no_device)
    }

    /// The device's name and compute capability (`NVIDIA H200 (sm_90)`).
    pub fn device(&self) -> &str {
        &self.device
    }

    pub(crate) fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// A buffer of `len` elements whose contents are unspecified until a kernel or a copy
    /// writes them.
    pub fn alloc(&self, len: usize) -> Result<DeviceBuf, String> {
        // SAFETY: the memory is uninitialised, which is sound for `f64` (every bit pattern
        // is a value); callers write it (a copy or a kernel) before reading it.
        let slice = unsafe { self.stream.alloc::<f64>(len.max(1)) }
            .map_err(|e| format!("device memory for {len} numbers: {}", describe(e)))?;
        Ok(DeviceBuf {
            slice: Arc::new(slice),
            len,
        })
    }

    /// A device copy of `data`.
    pub fn upload(&self, data: &[f64]) -> Result<DeviceBuf, String> {
        let mut buf = self.alloc(data.len())?;
        if !data.is_empty() {
            let slice = Arc::get_mut(&mut buf.slice)
                .ok_or("internal error: a new device buffer is shared")?;
            // The allocation has `max(len, 1) >= data.len()` elements, as the copy needs.
            self.stream.memcpy_htod(data, slice).map_err(|e| {
                format!("copying {} numbers to the GPU: {}", data.len(), describe(e))
            })?;
        }
        Ok(buf)
    }

    /// The `len` elements in use of `buf`, after everything queued before has run.
    pub fn download(&self, buf: &DeviceBuf) -> Result<Vec<f64>, String> {
        let mut out = vec![0.0; buf.len];
        if buf.len > 0 {
            let view = buf
                .slice
                .try_slice(..buf.len)
                .ok_or("internal error: a device buffer is shorter than its length")?;
            self.stream.memcpy_dtoh(&view, &mut out[..]).map_err(|e| {
                format!("copying {} numbers from the GPU: {}", buf.len, describe(e))
            })?;
        }
        self.synchronize()?;
        Ok(out)
    }

    /// A one-element status word, zero.
    pub fn status_word(&self) -> Result<CudaSlice<i32>, String> {
        self.stream
            .alloc_zeros::<i32>(1)
            .map_err(|e| format!("device memory for a status word: {}", describe(e)))
    }

    /// The value of a status word, after everything queued before has run.
    pub fn read_status(&self, word: &CudaSlice<i32>) -> Result<i32, String> {
        let mut out = [0i32; 1];
        self.stream
            .memcpy_dtoh(word, &mut out)
            .map_err(|e| format!("reading a kernel's status: {}", describe(e)))?;
        self.synchronize()?;
        Ok(out[0])
    }

    /// Waits for everything queued; a kernel that faulted reports here.
    pub fn synchronize(&self) -> Result<(), String> {
        self.stream
            .synchronize()
            .map_err(|e| format!("the GPU failed: {}", describe(e)))
    }

    /// The launch view of `buf`.
    pub fn buffer(&self, buf: &DeviceBuf) -> Buffer {
        let (ptr, _record) = buf.slice.device_ptr(&self.stream);
        Buffer { ptr, len: buf.len }
    }

    /// The launch view of a status word (one element).
    pub fn status_buffer(&self, word: &CudaSlice<i32>) -> Buffer {
        let (ptr, _record) = word.device_ptr(&self.stream);
        Buffer { ptr, len: 1 }
    }

    /// Queues `function` with `params` (eight bytes each) on the stream.
    ///
    /// # Safety
    ///
    /// `function` must be a kernel of a module loaded in this runtime's context and alive,
    /// whose parameters are exactly `params` (count and meaning: the kernel ABI), and every
    /// buffer the parameters point to must stay allocated until the stream has run the
    /// kernel, with at least the lengths the parameters state.
    pub unsafe fn launch(
        &self,
        function: sys::CUfunction,
        geometry: Geometry,
        params: &[Param],
    ) -> Result<(), String> {
        let mut words: Vec<u64> = params.iter().map(|p| p.word()).collect();
        let mut args: Vec<*mut c_void> = words
            .iter_mut()
            .map(|w| w as *mut u64 as *mut c_void)
            .collect();
        self.ctx
            .bind_to_thread()
            .map_err(|e| format!("binding the CUDA context: {}", describe(e)))?;
        // SAFETY: `args` points at `words`, one eight-byte value per kernel parameter, both
        // alive for the call (the driver copies the values before it returns); the
        // caller guarantees the function, the parameter list and the buffers' lifetimes.
        unsafe {
            result::launch_kernel(
                function,
                geometry.grid,
                geometry.block,
                0,
                self.stream.cu_stream(),
                &mut args,
            )
        }
        .map_err(|e| format!("launching a kernel: {}", describe(e)))
    }
}
