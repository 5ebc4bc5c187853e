//! A compiled module whose batched functions run on the GPU: functions with kernel sites
//! (or that call one) are evaluated by the interpreter with the [`CudaExecutor`] as its
//! offload — the maps run as kernels, the small unbatched work around them on the host —
//! and every other function runs on a CPU back end's code.

use crate::cuda::executor::CudaExecutor;
use crate::interp::check_call;
use crate::{CallError, CodegenError, CompiledFunction, CompiledModule};
use sci_ir::interp::{MapOffload, ValidModule};
use sci_ir::kernels::KernelSite;
use sci_ir::{Interpreter, Module, Op, Tensor};
use std::fmt;
use std::sync::Arc;

/// The device side of a [`GpuModule`]: an offload that knows its sites and which of them
/// it has kernels for ([`CudaExecutor`], or a host stand-in in tests).
pub trait SiteRunner: MapOffload + Send + Sync + fmt::Debug {
    /// Every kernel site of the module.
    fn sites(&self) -> &[KernelSite];
    /// Whether the site called `name` runs on the device.
    fn has_kernel(&self, name: &str) -> bool;
}

impl SiteRunner for CudaExecutor {
    fn sites(&self) -> &[KernelSite] {
        CudaExecutor::sites(self)
    }

    fn has_kernel(&self, name: &str) -> bool {
        !self.missing_kernels().iter().any(|m| m == name)
    }
}

/// The CPU code of a module with its batched functions moved to a GPU.
pub struct GpuModule {
    ir: ValidModule,
    cpu: Box<dyn CompiledModule>,
    runner: Arc<dyn SiteRunner>,
    /// By position in the function table: evaluated with the offload.
    on_gpu: Vec<bool>,
}

impl fmt::Debug for GpuModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuModule")
            .field("module", &self.ir.module().name)
            .field("on_gpu", &self.gpu_functions())
            .finish()
    }
}

impl GpuModule {
    /// Wraps `cpu` (code a CPU back end compiled from `ir`) so that the functions of `ir`
    /// with kernel sites that `runner` has kernels for run through it.
    pub fn new(
        ir: &Module,
        cpu: Box<dyn CompiledModule>,
        runner: Arc<dyn SiteRunner>,
    ) -> Result<GpuModule, CodegenError> {
        let ir = ValidModule::new(ir.clone()).map_err(|e| CodegenError::new(e.message))?;
        let m = ir.module();
        let n = m.functions.len();
        // Functions with a site the PTX has a kernel for, then their callers.
        let mut gpu = vec![false; n];
        for site in runner.sites() {
            if runner.has_kernel(&site.name)
                && let Some(slot) = gpu.get_mut(site.func.index())
            {
                *slot = true;
            }
        }
        for _ in 0..n {
            let mut changed = false;
            for (id, f) in m.functions.iter() {
                if gpu[id.index()] {
                    continue;
                }
                let calls_gpu = f.values.iter().any(|(_, v)| match &v.op {
                    Op::Call { func, .. } => gpu.get(func.index()).copied().unwrap_or(false),
                    _ => false,
                });
                if calls_gpu {
                    gpu[id.index()] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let on_gpu = cpu
            .functions()
            .iter()
            .map(|f| gpu.get(f.id.index()).copied().unwrap_or(false))
            .collect();
        Ok(GpuModule {
            ir,
            cpu,
            runner,
            on_gpu,
        })
    }

    /// The names of the functions that run on the GPU.
    pub fn gpu_functions(&self) -> Vec<&str> {
        self.cpu
            .functions()
            .iter()
            .zip(&self.on_gpu)
            .filter(|(_, g)| **g)
            .map(|(f, _)| f.name.as_str())
            .collect()
    }

    /// What runs the kernels.
    pub fn runner(&self) -> &Arc<dyn SiteRunner> {
        &self.runner
    }
}

impl CompiledModule for GpuModule {
    fn backend(&self) -> &'static str {
        "cuda"
    }

    fn functions(&self) -> &[CompiledFunction] {
        self.cpu.functions()
    }

    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError> {
        if !self.on_gpu.get(index).copied().unwrap_or(false) {
            return self.cpu.call_flat(index, inputs, out);
        }
        let (f, points) = check_call(self.cpu.functions(), index, inputs, out)?;
        let args: Vec<Tensor> = f
            .signature
            .inputs
            .iter()
            .zip(inputs)
            .zip(points)
            .map(|((spec, data), n)| Tensor {
                shape: spec.shape.clone(),
                batch: spec.batched.then_some(n),
                data: data.to_vec(),
            })
            .collect();
        let result = Interpreter::of_valid(&self.ir)
            .with_offload_sites(self.runner.as_ref(), self.runner.sites())
            .call(f.id, &args)
            .map_err(|e| CallError::new(e.message))?;
        if result.data.len() != out.len() {
            return Err(CallError::new(format!(
                "`{}` returned {} elements where {} were expected.",
                f.name,
                result.data.len(),
                out.len()
            )));
        }
        out.copy_from_slice(&result.data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, InterpreterBackend};
    use sci_ir::interp::SiteResult;
    use sci_ir::kernels::kernel_sites;
    use sci_ir::{EvalError, read_module};
    use std::sync::Mutex;

    /// Runs sites on the host (the interpreter's reference) and counts them.
    #[derive(Debug)]
    struct HostRunner {
        ir: ValidModule,
        sites: Vec<KernelSite>,
        without: String,
        runs: Mutex<Vec<String>>,
    }

    impl MapOffload for HostRunner {
        fn run_site(
            &self,
            site: &KernelSite,
            inputs: &[&Tensor],
            captures: &[&Tensor],
        ) -> Result<SiteResult, EvalError> {
            if !self.has_kernel(&site.name) {
                return Ok(SiteResult::Declined);
            }
            self.runs.lock().unwrap().push(site.name.clone());
            let data = Interpreter::of_valid(&self.ir).eval_site(site, inputs, captures)?;
            Ok(SiteResult::Done(data))
        }
    }

    impl SiteRunner for HostRunner {
        fn sites(&self) -> &[KernelSite] {
            &self.sites
        }
        fn has_kernel(&self, name: &str) -> bool {
            name != self.without
        }
    }

    const SOURCE: &str = "module Fit
func residual(%θ: f64[2], %pts: batch f64[2]) -> batch f64 {
  %c0: i64 = const 0
  %c1: i64 = const 1
  %a: f64 = index %θ[%c0]
  %b: f64 = index %θ[%c1]
  %r: batch f64 = map %pts (%p: f64[2]) {
    %x: f64 = index %p[%c0]
    %y: f64 = index %p[%c1]
    %ax: f64 = mul %a, %x
    %pred: f64 = add %ax, %b
    %e: f64 = sub %pred, %y
    %sq: f64 = mul %e, %e
    yield %sq
  }
  return %r
}
func loss(%θ: f64[2], %pts: batch f64[2]) -> f64 {
  %r: batch f64 = call @residual(%θ, %pts)
  %l: f64 = reduce_batch mean %r
  return %l
}
func fused(%θ: f64[2], %pts: batch f64[2]) -> f64[2] {
  %r: batch f64[2] = map %pts (%p: f64[2]) {
    %q: f64[2] = mul %p, %θ
    yield %q
  }
  %s: f64[2] = reduce_batch max %r
  return %s
}
func plain(%θ: f64[2]) -> f64 {
  %s: f64 = reduce sum %θ
  return %s
}
";

    fn gpu(without: &str) -> (GpuModule, Arc<HostRunner>, Module) {
        let ir = read_module(sci_diag::FileId(0), SOURCE).unwrap();
        let runner = Arc::new(HostRunner {
            ir: ValidModule::new(ir.clone()).unwrap(),
            sites: kernel_sites(&ir),
            without: without.to_string(),
            runs: Mutex::new(Vec::new()),
        });
        let cpu = InterpreterBackend
            .compile(&crate::validate(&ir).unwrap())
            .unwrap();
        let gpu = GpuModule::new(&ir, cpu, runner.clone()).unwrap();
        (gpu, runner, ir)
    }

    #[test]
    fn batched_functions_and_their_callers_run_through_the_device() {
        let (gpu, runner, ir) = gpu("");
        assert_eq!(gpu.gpu_functions(), ["residual", "loss", "fused"]);
        let cpu = InterpreterBackend
            .compile(&crate::validate(&ir).unwrap())
            .unwrap();
        let theta = Tensor::vector(vec![2.0, 1.0]);
        let pts = Tensor::batch(vec![2], 3, vec![0.0, 1.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        for name in ["residual", "loss", "fused"] {
            let args = [theta.clone(), pts.clone()];
            assert_eq!(
                gpu.call(name, &args).unwrap(),
                cpu.call(name, &args).unwrap()
            );
        }
        assert_eq!(
            gpu.call("loss", &[theta.clone(), pts.clone()])
                .unwrap()
                .data,
            [1.0 / 3.0]
        );
        assert_eq!(
            gpu.call("plain", std::slice::from_ref(&theta))
                .unwrap()
                .data,
            [3.0]
        );
        assert_eq!(
            runner.runs.lock().unwrap().len(),
            4,
            "one site per batched call"
        );
        // Checks happen before the device: a wrong length is the usual error.
        let err = gpu
            .call("loss", &[Tensor::vector(vec![1.0]), pts])
            .unwrap_err();
        assert!(err.message.contains("must be"), "{err}");
        assert_eq!(gpu.backend(), "cuda");
    }

    #[test]
    fn sites_without_kernels_stay_on_the_cpu() {
        let (gpu, runner, _) =
            gpu(&kernel_sites(&read_module(sci_diag::FileId(0), SOURCE).unwrap())[0].name);
        assert_eq!(gpu.gpu_functions(), ["fused"]);
        let theta = Tensor::vector(vec![2.0, 1.0]);
        let pts = Tensor::batch(vec![2], 1, vec![0.5, 1.0]).unwrap();
        assert_eq!(
            gpu.call("loss", &[theta.clone(), pts.clone()])
                .unwrap()
                .data,
            [1.0]
        );
        assert_eq!(gpu.call("fused", &[theta, pts]).unwrap().data, [1.0, 1.0]);
        assert_eq!(runner.runs.lock().unwrap().len(), 1);
    }
}
