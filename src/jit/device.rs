//! Where batched functions run: [`Device::Cpu`] (native code for everything) or
//! [`Device::Cuda`] (feature `cuda`): functions with kernel sites — top-level batched
//! `map`s, see `sci_ir::kernels` — are evaluated by the interpreter with the CUDA executor
//! as its offload (the maps run as PTX kernels, the small unbatched work around them on the
//! host), every other function on the CPU back end's code.
//!
//! The PTX comes from [`Compiler::ptx`] (text, or a file written by `sci compile --target
//! nvptx --emit ptx`) or, in builds with the `mlir` feature, from the MLIR back end.

use super::NativeModule;
use crate::Compiler;
use std::fmt;
use std::path::PathBuf;

/// The device batched functions run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    /// Everything on the CPU, through the chosen back end.
    #[default]
    Cpu,
    /// Batched `map`s as PTX kernels on an NVIDIA GPU (feature `cuda`).
    Cuda,
}

impl Device {
    /// Every device with its command-line name (`gpu` and `cuda` are the same).
    pub const ALL: &'static [(&'static str, Device)] = &[
        ("cpu", Device::Cpu),
        ("gpu", Device::Cuda),
        ("cuda", Device::Cuda),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "gpu",
        }
    }

    /// Whether this build of sci has the runtime for the device (not whether the machine
    /// has one: see [`cuda_device`]).
    pub fn is_built_in(self) -> bool {
        match self {
            Device::Cpu => true,
            Device::Cuda => cfg!(feature = "cuda"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Device, String> {
        Device::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, d)| *d)
            .ok_or_else(|| format!("There is no device called `{s}`; the devices are: cpu, gpu."))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the PTX of a GPU compilation comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PtxSource {
    /// PTX text.
    Text(String),
    /// A `.ptx` file.
    File(PathBuf),
}

impl PtxSource {
    /// Text when `path_or_text` has a line break (PTX always has several), else a path.
    pub fn guess(path_or_text: impl Into<String>) -> PtxSource {
        let s = path_or_text.into();
        if s.contains('\n') {
            PtxSource::Text(s)
        } else {
            PtxSource::File(PathBuf::from(s))
        }
    }

    fn text(&self) -> Result<String, String> {
        match self {
            PtxSource::Text(t) => Ok(t.clone()),
            PtxSource::File(p) => sci_stdlib::files::read_regular_text(p, MAX_PTX_BYTES)
                .map_err(|why| format!("cannot read the PTX file `{}`: {why}", p.display())),
        }
    }
}

/// The largest PTX file read (a model's kernels take a few megabytes).
pub const MAX_PTX_BYTES: u64 = 256 << 20;

/// The device settings of a [`Compiler`].
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceSetup {
    pub device: Device,
    pub ptx: Option<PtxSource>,
}

impl Compiler {
    /// Chooses the device batched functions run on ([`Device::Cpu`] by default). With
    /// [`Device::Cuda`], compiling fails with "no CUDA device: …" on a machine without
    /// one, and with a hint to rebuild in builds without the `cuda` feature.
    pub fn device(mut self, device: Device) -> Compiler {
        self.device.device = device;
        self
    }

    /// The PTX for [`Device::Cuda`]: text, or the path of a file written by `sci compile
    /// --target nvptx --emit ptx` for the same model (see [`PtxSource::guess`]). Needed in
    /// builds without the `mlir` feature, which cannot write PTX themselves.
    pub fn ptx(mut self, path_or_text: impl Into<String>) -> Compiler {
        self.device.ptx = Some(PtxSource::guess(path_or_text));
        self
    }

    /// [`Compiler::ptx`] from a file, whatever its name.
    pub fn ptx_file(mut self, path: impl Into<PathBuf>) -> Compiler {
        self.device.ptx = Some(PtxSource::File(path.into()));
        self
    }
}

/// What the GPU does for one compiled module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuInfo {
    /// The device (`NVIDIA H200 (sm_90)`).
    pub device: String,
    /// Functions evaluated with their maps on the GPU.
    pub functions: Vec<String>,
    /// Kernel sites the PTX has no kernel for (they run on the CPU).
    pub missing_kernels: Vec<String>,
}

/// Checks that this build and this machine can run `device`: the error is one sentence
/// (`no CUDA device: …`, or the feature to rebuild with).
pub fn cuda_device(device: Device) -> Result<Option<String>, String> {
    match device {
        Device::Cpu => Ok(None),
        Device::Cuda => imp::runtime().map(|rt| Some(rt.device().to_string())),
    }
}

/// Moves the batched functions of every module to the device of `setup` (nothing for the
/// CPU). A PTX given to the compiler is for one module: the one with kernel sites.
pub(crate) fn place_all(
    modules: Vec<NativeModule>,
    setup: &DeviceSetup,
) -> Result<Vec<NativeModule>, String> {
    if setup.device == Device::Cpu {
        return Ok(modules);
    }
    let runtime = imp::runtime()?;
    let given = match &setup.ptx {
        Some(src) => Some(src.text()?),
        None => None,
    };
    let with_sites: Vec<&str> = modules
        .iter()
        .filter(|m| !sci_ir::kernels::kernel_sites(&m.ir).is_empty())
        .map(|m| m.ir.name.as_str())
        .collect();
    if given.is_some() && with_sites.len() > 1 {
        return Err(format!(
            "one PTX was given, but several models have batched maps ({}); compile one model \
             per program for the GPU",
            with_sites.join(", ")
        ));
    }
    modules
        .into_iter()
        .map(|m| imp::place(&runtime, m, given.as_deref()))
        .collect()
}

#[cfg(feature = "cuda")]
mod imp {
    use super::{GpuInfo, NativeModule};
    use sci_codegen::cuda::{CudaExecutor, CudaRuntime, GpuModule};
    use std::sync::{Arc, OnceLock};

    /// One runtime per process: every compilation shares the context.
    pub fn runtime() -> Result<Arc<CudaRuntime>, String> {
        static RUNTIME: OnceLock<Result<Arc<CudaRuntime>, String>> = OnceLock::new();
        RUNTIME
            .get_or_init(|| CudaRuntime::new().map_err(|e| e.message))
            .clone()
    }

    pub fn place(
        runtime: &Arc<CudaRuntime>,
        native: NativeModule,
        given: Option<&str>,
    ) -> Result<NativeModule, String> {
        if sci_ir::kernels::kernel_sites(&native.ir).is_empty() {
            return Ok(native);
        }
        let ptx = match given {
            Some(ptx) => ptx.to_string(),
            None => generate(&native)?,
        };
        let executor = Arc::new(
            CudaExecutor::new(runtime.clone(), &native.ir, &ptx)
                .map_err(|e| format!("{}: {}", native.ir.name, e.message))?,
        );
        let missing_kernels = executor.missing_kernels().to_vec();
        let NativeModule {
            ir,
            code,
            missing,
            sparsity,
            id: _,
            gpu: _,
            scratch,
            entries: _,
        } = native;
        let gpu = GpuModule::new(&ir, code, executor).map_err(|e| e.message)?;
        let info = GpuInfo {
            device: runtime.device().to_string(),
            functions: gpu.gpu_functions().iter().map(|s| s.to_string()).collect(),
            missing_kernels,
        };
        Ok(NativeModule {
            entries: crate::jit::Entries::find(&ir, &gpu),
            ir,
            code: Box::new(gpu),
            missing,
            sparsity,
            // New code: a cache filled by the CPU module does not serve it.
            id: crate::jit::next_module_id(),
            gpu: Some(info),
            scratch,
        })
    }

    /// PTX for `native`'s module from the MLIR back end, when this build has it.
    fn generate(native: &NativeModule) -> Result<String, String> {
        #[cfg(feature = "mlir")]
        {
            sci_codegen::mlir::emit_ptx(&native.ir, &sci_codegen::mlir::PtxOptions::default())
                .map(|ptx| ptx.text)
                .map_err(|e| e.message)
        }
        #[cfg(not(feature = "mlir"))]
        {
            Err(format!(
                "model `{}` has batched maps for the GPU but no PTX was given, and this build \
                 cannot write PTX (it has no `mlir` feature); pass the file written by `sci \
                 compile --target nvptx --emit ptx` (`--ptx FILE`, `Compiler::ptx`)",
                native.ir.name
            ))
        }
    }
}

#[cfg(not(feature = "cuda"))]
mod imp {
    use super::NativeModule;

    /// Stands for the runtime of builds without one (never made).
    pub enum NoRuntime {}

    impl NoRuntime {
        pub fn device(&self) -> &str {
            match *self {}
        }
    }

    pub fn runtime() -> Result<NoRuntime, String> {
        Err("This build of sci has no CUDA runtime; rebuild with `--features cuda`.".to_string())
    }

    pub fn place(
        runtime: &NoRuntime,
        _: NativeModule,
        _: Option<&str>,
    ) -> Result<NativeModule, String> {
        match *runtime {}
    }
}
