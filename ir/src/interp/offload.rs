//! Running kernel sites elsewhere: the hook through which a device runtime (the CUDA
//! executor of `sci-codegen`) takes over the batched `map`s of a function while the
//! interpreter keeps the small, unbatched host work around them.
//!
//! A site ([`KernelSite`]) is a top-level `map` of a function (see [`crate::kernels`]). When
//! an [`Interpreter`](super::Interpreter) has an offload ([`Interpreter::with_offload`]),
//! every site it reaches is handed to [`MapOffload::run_site`] with the map's batched
//! inputs and its captures; the interpreter checks the answer's size and stores it. A
//! *fused* site (`site.reduce` is set) answers the reduced value: the interpreter stores it
//! as the `reduce_batch`'s value and skips that op; the map's own value is never read
//! (the `reduce_batch` is its only use, by construction).
//!
//! The interpreter itself decides three things before asking, so every offload sees the
//! same, valid requests and errors read the same everywhere: inputs with different point
//! counts are the interpreter's batch-mismatch error, results too large are its size
//! error, and an empty batch (zero points) is evaluated on the host (nothing to launch).
//!
//! [`Interpreter::eval_site`] evaluates one site on the host exactly as the plain
//! interpreter would: the reference for offloads and their tests.
//!
//! [`Interpreter::with_offload`]: super::Interpreter::with_offload
//! [`Interpreter::eval_site`]: super::Interpreter::eval_site

use super::{EvalError, Tensor};
use crate::kernels::KernelSite;
use crate::module::{FuncId, ValueId};
use std::borrow::Cow;

/// Something that evaluates kernel sites (a GPU runtime, or a test double).
pub trait MapOffload {
    /// Evaluates `site` on `inputs` (the map's batched inputs, in order, all with the same
    /// non-zero number of points) and `captures` (the values of `site.captures`, in order).
    ///
    /// Answers [`SiteResult::Done`] with the flat result: `points × site.point_len`
    /// elements, point-major, for a plain site; the `site.point_len` elements of the
    /// reduced value for a fused site. [`SiteResult::Declined`] lets the interpreter
    /// evaluate the site itself. Errors are run-time failures of the site (an index out of
    /// range) or of the device.
    fn run_site(
        &self,
        site: &KernelSite,
        inputs: &[&Tensor],
        captures: &[&Tensor],
    ) -> Result<SiteResult, EvalError>;
}

/// What an offload did with a site.
#[derive(Clone, Debug, PartialEq)]
pub enum SiteResult {
    /// The flat result (see [`MapOffload::run_site`]).
    Done(Vec<f64>),
    /// Not run (no kernel for it): the interpreter evaluates the site.
    Declined,
}

/// The offload of an interpreter and the sites it takes.
pub(super) struct Offload<'m> {
    pub hook: &'m dyn MapOffload,
    pub sites: Cow<'m, [KernelSite]>,
}

impl Offload<'_> {
    /// The site whose map is value `map` of function `func`.
    pub fn site(&self, func: FuncId, map: ValueId) -> Option<&KernelSite> {
        self.sites.iter().find(|s| s.func == func && s.map == map)
    }
}
