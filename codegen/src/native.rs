//! Calls of the JITs' packed entries, shared by the Cranelift and LLVM JITs: the checks of
//! [`CompiledModule::call_flat`](crate::CompiledModule::call_flat), then one call with the
//! input pointers and point counts in stack arrays, so a call allocates nothing (up to
//! [`INLINE_INPUTS`] inputs; more take two small vectors).

use crate::abi::Status;
use crate::interp::{callable, check_out};
use crate::{CallError, CompiledFunction};

/// The uniform native entry: argument pointers, batch counts, output.
pub(crate) type Packed = unsafe extern "C" fn(*const *const f64, *const u64, *mut f64) -> i32;

/// Inputs passed without allocating.
pub(crate) const INLINE_INPUTS: usize = 16;

/// Calls function `index` (its packed entry `entries[index]`) after checking every length.
pub(crate) fn call_packed(
    functions: &[CompiledFunction],
    entries: &[Option<Packed>],
    index: usize,
    inputs: &[&[f64]],
    out: &mut [f64],
) -> Result<(), CallError> {
    let f = callable(functions, index)?;
    let n = inputs.len();
    let mut ptrs_inline = [std::ptr::null::<f64>(); INLINE_INPUTS];
    let mut counts_inline = [0u64; INLINE_INPUTS];
    let (mut ptrs_heap, mut counts_heap) = (Vec::new(), Vec::new());
    let (ptrs, counts) = if n <= INLINE_INPUTS {
        (&mut ptrs_inline[..n], &mut counts_inline[..n])
    } else {
        ptrs_heap.resize(n, std::ptr::null::<f64>());
        counts_heap.resize(n, 0u64);
        (&mut ptrs_heap[..], &mut counts_heap[..])
    };
    f.signature.check_inputs_into(&f.name, inputs, counts)?;
    check_out(f, inputs, out)?;
    for (p, data) in ptrs.iter_mut().zip(inputs) {
        *p = data.as_ptr();
    }
    let entry = entries
        .get(index)
        .copied()
        .flatten()
        .ok_or_else(|| CallError::new(format!("`{}` has no compiled code.", f.name)))?;
    // SAFETY: `check_inputs_into` verified the number of inputs, that each unbatched input
    // has exactly its shape's element count (so scalars have one element to read), that
    // each batched input holds `counts[k]` whole points, and `check_out` that `out` has
    // exactly the result's element count; the compiled code reads and writes only within
    // those bounds (indices are range-checked at run time). `out` cannot alias an input
    // (Rust borrows), and the code is alive as long as the caller's module.
    let status = unsafe { entry(ptrs.as_ptr(), counts.as_ptr(), out.as_mut_ptr()) };
    Status::call_result(&f.name, status)
}
