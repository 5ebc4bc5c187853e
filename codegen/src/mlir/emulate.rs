//! The GPU kernels run on the CPU: [`KernelEmulator`] compiles the kernels of a module
//! exactly as [`super::emit_ptx`] writes them, except that loops over the launch grid stand
//! for the GPU's thread ids and math calls the CPU's `libm`. It runs them with the launch
//! configuration of the kernel ABI (`docs/mlir.md`), so the ABI — parameter order, per-point
//! addressing, captures, the `p < points` guard, NaN and status on failure, chunked column
//! reductions — is testable on machines without a GPU (`codegen/tests/mlir.rs` does).

use super::jit::{Engine, Packed, push_memref};
use super::kernels::{Mode, kernel_module_text, reduce_kernel_name};
use crate::{CallError, CodegenError};
use sci_ir::kernels::{KernelSite, kernel_sites};
use sci_ir::types::element_count;
use sci_ir::{Module, ReduceOp};
use std::fmt;

/// Threads per block of a site kernel (the ABI's launch configuration).
pub const SITE_BLOCK: usize = 256;
/// Threads per block of a reduction kernel.
pub const REDUCE_BLOCK: usize = 128;

/// The kernels of one module, compiled for the CPU.
pub struct KernelEmulator {
    sites: Vec<KernelSite>,
    /// Per site: elements per point of each input, and elements of each capture.
    lens: Vec<(Vec<usize>, Vec<usize>)>,
    site_entries: Vec<Packed>,
    reduce_entries: Vec<(ReduceOp, Packed)>,
    _engine: Engine,
}

impl fmt::Debug for KernelEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("KernelEmulator")
            .field("sites", &names)
            .finish()
    }
}

impl KernelEmulator {
    /// Compiles the kernels of `module` (every site of `sci_ir::kernels::kernel_sites` and
    /// the four column reductions).
    pub fn new(module: &Module) -> Result<KernelEmulator, CodegenError> {
        let (text, _, _) = kernel_module_text(module, Mode::Emulate)?;
        let engine = Engine::new(&text, 3)?;
        let sites = kernel_sites(module);
        let mut lens = Vec::with_capacity(sites.len());
        let mut site_entries = Vec::with_capacity(sites.len());
        for site in &sites {
            let f = module
                .functions
                .get(site.func)
                .ok_or_else(|| super::lower::internal("site out of range"))?;
            let count = |v| {
                f.values
                    .get(v)
                    .and_then(|x| element_count(&x.ty.shape))
                    .unwrap_or(0)
            };
            lens.push((
                site.inputs.iter().map(|&v| count(v)).collect(),
                site.captures.iter().map(|&v| count(v)).collect(),
            ));
            site_entries.push(engine.packed(&site.name)?);
        }
        let mut reduce_entries = Vec::new();
        for op in super::kernels::REDUCE_OPS {
            reduce_entries.push((op, engine.packed(&reduce_kernel_name(op))?));
        }
        Ok(KernelEmulator {
            sites,
            lens,
            site_entries,
            reduce_entries,
            _engine: engine,
        })
    }

    /// The kernel sites, in `kernel_sites` order.
    pub fn sites(&self) -> &[KernelSite] {
        &self.sites
    }

    /// Launches site kernel number `site` over `points` points (blocks of [`SITE_BLOCK`]
    /// threads): `inputs` are the map's batched inputs (point-major), `captures` the
    /// site's captures, `out` the point-major result. Returns the status word (0, or the
    /// code of a failed point, whose outputs are NaN).
    pub fn run_site(
        &self,
        site: usize,
        points: usize,
        inputs: &[&[f64]],
        captures: &[&[f64]],
        out: &mut [f64],
    ) -> Result<i32, CallError> {
        let (s, entry, (in_lens, cap_lens)) = match (
            self.sites.get(site),
            self.site_entries.get(site),
            self.lens.get(site),
        ) {
            (Some(s), Some(e), Some(l)) => (s, *e, l),
            _ => {
                return Err(CallError::new(format!(
                    "There is no kernel site #{site}; the module has {}.",
                    self.sites.len()
                )));
            }
        };
        let wrong = |what: &str, k: usize, want: usize, got: usize| {
            CallError::new(format!(
                "{what} {k} of kernel `{}` must have {want} elements, but it has {got}.",
                s.name
            ))
        };
        if inputs.len() != in_lens.len() || captures.len() != cap_lens.len() {
            return Err(CallError::new(format!(
                "Kernel `{}` takes {} inputs and {} captures, but {} and {} were given.",
                s.name,
                in_lens.len(),
                cap_lens.len(),
                inputs.len(),
                captures.len()
            )));
        }
        for (k, (x, per)) in inputs.iter().zip(in_lens).enumerate() {
            let want = per.saturating_mul(points);
            if x.len() != want {
                return Err(wrong("Input", k, want, x.len()));
            }
        }
        for (k, (x, &want)) in captures.iter().zip(cap_lens).enumerate() {
            if x.len() != want {
                return Err(wrong("Capture", k, want, x.len()));
            }
        }
        let want = s.point_len.saturating_mul(points);
        if out.len() != want {
            return Err(wrong("The output", 0, want, out.len()));
        }
        let mut status = [0i32];
        let grid = points.div_ceil(SITE_BLOCK);
        let mut slots: Vec<u64> = vec![grid as u64, 1, SITE_BLOCK as u64, points as u64];
        for x in inputs.iter().chain(captures) {
            push_memref(&mut slots, x.as_ptr(), x.len());
        }
        push_memref(&mut slots, out.as_mut_ptr(), out.len());
        push_memref(&mut slots, status.as_mut_ptr(), 1);
        // SAFETY: every buffer has exactly the length the kernel addresses for `points`
        // points (checked above): thread `p < points` reads elements `p·len ..` of each
        // input, whole captures, and writes `p·point_len ..` of `out` and `status[0]`.
        unsafe { call(entry, &mut slots) };
        Ok(status[0])
    }

    /// Launches the column reduction of `op` (`mean` runs `sum`) over an `input` of
    /// `points × width` elements in `partials.len() / width` chunks of `chunk` points
    /// (blocks of [`REDUCE_BLOCK`] threads): `partials[c·width + j]` receives column `j`
    /// reduced over the points of chunk `c`.
    pub fn run_reduce(
        &self,
        op: ReduceOp,
        points: usize,
        width: usize,
        chunk: usize,
        input: &[f64],
        partials: &mut [f64],
    ) -> Result<(), CallError> {
        let op = if op == ReduceOp::Mean {
            ReduceOp::Sum
        } else {
            op
        };
        let entry = self
            .reduce_entries
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, e)| *e)
            .ok_or_else(|| CallError::new("no reduction kernel"))?;
        if width == 0
            || input.len() != points.saturating_mul(width)
            || !partials.len().is_multiple_of(width)
        {
            return Err(CallError::new(format!(
                "A column reduction over {points} points of width {width} needs an input of \
                 {} elements and partials of a whole number of rows; got {} and {}.",
                points.saturating_mul(width),
                input.len(),
                partials.len()
            )));
        }
        let chunks = partials.len() / width;
        let mut slots: Vec<u64> = vec![
            width.div_ceil(REDUCE_BLOCK) as u64,
            chunks as u64,
            REDUCE_BLOCK as u64,
            points as u64,
            width as u64,
            chunk as u64,
        ];
        push_memref(&mut slots, input.as_ptr(), input.len());
        push_memref(&mut slots, partials.as_mut_ptr(), partials.len());
        // SAFETY: thread `j < width` of chunk `c < chunks` reads `input[p·width + j]` for
        // `p < points` and writes `partials[c·width + j]`: within both (checked above).
        unsafe { call(entry, &mut slots) };
        Ok(())
    }
}

/// Calls a packed entry with no result on `slots`.
///
/// # Safety
/// `slots` must be the entry's arguments, every buffer valid for what it addresses.
unsafe fn call(entry: Packed, slots: &mut [u64]) {
    let mut args: Vec<*mut ()> = slots.iter_mut().map(|s| s as *mut u64 as *mut ()).collect();
    // SAFETY: as the caller promises; the wrapper reads one 8-byte slot per argument.
    unsafe { entry(args.as_mut_ptr()) };
}
