//! The CUDA executor: the interpreter's [`MapOffload`] that runs kernel sites as PTX
//! kernels.
//!
//! Per site: the inputs and captures are found on the device or uploaded ([`ContentCache`]),
//! the site kernel runs one thread per point into a result buffer and a status word, and
//! then either the result comes back (and is remembered on the device for the sites that
//! read it next), or, for a fused site, the column-reduction kernel folds it into
//! `chunks × width` partials that the host finishes in chunk order. A nonzero status is the
//! error the native back ends give for it.

use crate::CodegenError;
use crate::abi::Status;
use crate::cuda::cache::{ContentCache, DEFAULT_BUDGET, DEFAULT_ENTRIES};
use crate::cuda::launch::{
    finish_partials, reduce_kernel, reduce_params, reduce_plan, site_geometry, site_param_count,
    site_params,
};
use crate::cuda::module::{CudaModule, check_reduce_kernels, ptx_entries};
use crate::cuda::runtime::{CudaRuntime, DeviceBuf, guard};
use sci_ir::interp::{MapOffload, SiteResult};
use sci_ir::kernels::{KernelSite, kernel_sites};
use sci_ir::{EvalError, Module, Tensor};
use std::sync::{Arc, Mutex, PoisonError};

/// Checks, without a GPU, that `ptx` fits `ir`: the four reduction kernels, and for every
/// kernel site with a kernel in the PTX, the site's parameter count. Returns the sites
/// without a kernel (which run on the host).
pub fn check_ptx(ir: &Module, ptx: &str) -> Result<Vec<String>, CodegenError> {
    let entries = ptx_entries(ptx);
    check_reduce_kernels(&entries)?;
    let mut missing = Vec::new();
    for site in kernel_sites(ir) {
        let want = site_param_count(site.inputs.len(), site.captures.len());
        match entries.iter().find(|e| e.name == site.name) {
            Some(e) if e.params == want => {}
            Some(e) => {
                return Err(CodegenError::new(format!(
                    "The PTX kernel `{}` has {} parameters, but the model's map needs {want}; \
                     the PTX was written for another model (or another version of sci). \
                     Write it again with `sci compile --target nvptx --emit ptx`.",
                    site.name, e.params
                )));
            }
            None => missing.push(site.name),
        }
    }
    Ok(missing)
}

/// Runs the kernel sites of one module on a GPU.
#[derive(Debug)]
pub struct CudaExecutor {
    runtime: Arc<CudaRuntime>,
    module: CudaModule,
    sites: Vec<KernelSite>,
    missing: Vec<String>,
    /// Function names by index, for messages.
    functions: Vec<String>,
    cache: Mutex<ContentCache<DeviceBuf>>,
}

impl CudaExecutor {
    /// Loads `ptx` (written for `ir`) and checks that every kernel it has for a site of
    /// `ir` takes that site's parameters. Sites without a kernel in the PTX are listed by
    /// [`CudaExecutor::missing_kernels`] and run on the host.
    pub fn new(
        runtime: Arc<CudaRuntime>,
        ir: &Module,
        ptx: &str,
    ) -> Result<CudaExecutor, CodegenError> {
        let missing = check_ptx(ir, ptx)?;
        let module = CudaModule::load(&runtime, ptx)?;
        let sites = kernel_sites(ir);
        Ok(CudaExecutor {
            runtime,
            module,
            sites,
            missing,
            functions: ir.functions.iter().map(|(_, f)| f.name.clone()).collect(),
            cache: Mutex::new(ContentCache::new(DEFAULT_BUDGET, DEFAULT_ENTRIES)),
        })
    }

    /// Every kernel site of the module (for [`sci_ir::Interpreter::with_offload_sites`]).
    pub fn sites(&self) -> &[KernelSite] {
        &self.sites
    }

    /// Sites that have no kernel in the PTX (they run on the host).
    pub fn missing_kernels(&self) -> &[String] {
        &self.missing
    }

    /// The device.
    pub fn runtime(&self) -> &Arc<CudaRuntime> {
        &self.runtime
    }

    /// Uploads avoided and done so far (device copies found by content, and not).
    pub fn cache_stats(&self) -> (u64, u64) {
        self.lock_cache().stats()
    }

    /// Forgets the device copies of inputs and results.
    pub fn clear_cache(&self) {
        self.lock_cache().clear();
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ContentCache<DeviceBuf>> {
        // A panic while the lock was held (caught by `guard`) leaves only whole entries.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The device copy of `data`: found by content, or uploaded and remembered.
    fn device_copy(
        &self,
        cache: &mut ContentCache<DeviceBuf>,
        data: &[f64],
    ) -> Result<DeviceBuf, String> {
        if let Some(buf) = cache.get(data) {
            return Ok(buf);
        }
        let buf = self.runtime.upload(data)?;
        cache.insert(data.to_vec(), buf.clone());
        Ok(buf)
    }

    fn run(
        &self,
        site: &KernelSite,
        inputs: &[&Tensor],
        captures: &[&Tensor],
    ) -> Result<Result<Vec<f64>, EvalError>, String> {
        let rt = &self.runtime;
        let kernel = self
            .module
            .function(&site.name)
            .ok_or("internal error: a site kernel went missing")?;
        let points = inputs.first().and_then(|t| t.batch).unwrap_or(0);
        let mut cache = self.lock_cache();
        let ins = inputs
            .iter()
            .map(|t| self.device_copy(&mut cache, &t.data))
            .collect::<Result<Vec<_>, _>>()?;
        let caps = captures
            .iter()
            .map(|t| self.device_copy(&mut cache, &t.data))
            .collect::<Result<Vec<_>, _>>()?;
        let out_len = points
            .checked_mul(site.point_len)
            .ok_or("The result of a kernel site is too large.")?;
        let out = rt.alloc(out_len)?;
        let status = rt.status_word()?;
        let params = site_params(
            points,
            &ins.iter().map(|b| rt.buffer(b)).collect::<Vec<_>>(),
            &caps.iter().map(|b| rt.buffer(b)).collect::<Vec<_>>(),
            rt.buffer(&out),
            rt.status_buffer(&status),
        )?;
        // SAFETY: `kernel` belongs to `self.module`, loaded in this runtime's context and
        // alive with `self`; `new` checked that its parameter count is the site's, and
        // `site_params` lays them out as the kernel ABI says. Every buffer holds at least
        // the length its parameter states (inputs and captures are copies of the host
        // data, `out` has `points × point_len` elements, the status one) and stays alive
        // until the reads below have waited for the stream.
        unsafe { rt.launch(kernel, site_geometry(points)?, &params)? };
        let data = match site.reduce {
            Some((op, _)) => {
                let width = site.point_len;
                let plan = reduce_plan(points, width)?;
                let partials = rt.alloc(plan.chunks * width)?;
                let name = reduce_kernel(op);
                let reduce = self
                    .module
                    .function(&name)
                    .ok_or_else(|| format!("internal error: no kernel `{name}`"))?;
                let params = reduce_params(
                    points,
                    width,
                    plan.chunk,
                    rt.buffer(&out),
                    rt.buffer(&partials),
                )?;
                // SAFETY: `reduce` is the module's reduction kernel, whose parameter count
                // `CudaModule::load` checked; `out` holds `points × width` values written
                // by the site kernel before it (stream order) and `partials` has
                // `chunks × width` elements, the rows the grid writes; both stay alive
                // until the download below has waited for the stream.
                unsafe { rt.launch(reduce, plan.geometry, &params)? };
                let host = rt.download(&partials)?;
                finish_partials(op, &host, width, points)
                    .ok_or("internal error: the partials are not whole rows")?
            }
            None => rt.download(&out)?,
        };
        let code = rt.read_status(&status)?;
        if code != 0 {
            return Ok(Err(self.failure(site, code)));
        }
        if site.reduce.is_none() {
            cache.insert(data.clone(), out);
        }
        Ok(Ok(data))
    }

    /// The error for a site kernel that reported `code`: the native back ends' words.
    fn failure(&self, site: &KernelSite, code: i32) -> EvalError {
        let function = self
            .functions
            .get(site.func.index())
            .map_or("?", String::as_str);
        match Status::from_code(code) {
            Some(s) => EvalError::new(format!("`{function}` failed: {}", s.message())),
            None => EvalError::new(format!(
                "`{function}` returned the unknown status {code} (kernel `{}`).",
                site.name
            )),
        }
    }
}

impl MapOffload for CudaExecutor {
    fn run_site(
        &self,
        site: &KernelSite,
        inputs: &[&Tensor],
        captures: &[&Tensor],
    ) -> Result<SiteResult, EvalError> {
        if self.module.function(&site.name).is_none() {
            return Ok(SiteResult::Declined);
        }
        match guard(|| self.run(site, inputs, captures)) {
            Ok(Ok(data)) => Ok(SiteResult::Done(data)),
            Ok(Err(failure)) => Err(failure),
            Err(why) => Err(EvalError::new(format!(
                "The GPU could not run the batched map `{}`: {why}",
                site.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuda::launch::reduce_kernels;
    use sci_ir::read_module;

    /// A PTX stand-in with the given entries and parameter counts.
    fn ptx(entries: &[(&str, usize)]) -> String {
        let mut text = String::from(".version 8.0\n.target sm_90\n");
        for (name, params) in entries {
            let list: Vec<String> = (0..*params)
                .map(|k| format!("\t.param .u64 {name}_param_{k}"))
                .collect();
            text.push_str(&format!(
                ".visible .entry {name}(\n{}\n)\n{{\n}}\n",
                list.join(",\n")
            ));
        }
        text
    }

    #[test]
    fn the_ptx_is_checked_against_the_sites_without_a_gpu() {
        let ir = read_module(
            sci_diag::FileId(0),
            "module M
func f(%θ: f64[2], %x: batch f64) -> f64 {
  %r: batch f64 = map %x (%p: f64) {
    %w: f64[1] = slice %θ, 0, 1
    %v: f64 = reshape %w
    %y: f64 = mul %v, %p
    yield %y
  }
  %s: f64 = reduce_batch sum %r
  return %s
}
",
        )
        .unwrap();
        let site = &kernel_sites(&ir)[0];
        let reduce: Vec<(String, usize)> = reduce_kernels().map(|k| (k, 13)).to_vec();
        let with = |extra: &[(&str, usize)]| {
            let mut all: Vec<(&str, usize)> =
                reduce.iter().map(|(k, n)| (k.as_str(), *n)).collect();
            all.extend_from_slice(extra);
            ptx(&all)
        };
        // points, x, θ, out, status: 1 + 4 × 5 parameters.
        assert_eq!(
            check_ptx(&ir, &with(&[(&site.name, 21)])).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            check_ptx(&ir, &with(&[])).unwrap(),
            std::slice::from_ref(&site.name)
        );
        let err = check_ptx(&ir, &with(&[(&site.name, 16)])).unwrap_err();
        assert!(err.message.contains("has 16 parameters"), "{err}");
        let err = check_ptx(&ir, &ptx(&[(&site.name, 21)])).unwrap_err();
        assert!(
            err.message.contains("no kernel `sci_reduce_cols_sum`"),
            "{err}"
        );
    }
}
