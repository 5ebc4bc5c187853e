//! A warm training step allocates nothing: `Model::loss_and_grad_into` on the Burgers PINN,
//! with Cranelift and (where built) LLVM, on one thread (and, but for rayon's job queue, on
//! several), counted by a global allocator that tallies the calling thread's allocations —
//! also with a network wide enough (26k weights) that the gradient's partials are added as
//! the tiles finish (`sci_codegen`'s `parallel::ordered`, its buffers reused). (The JITs' work memory comes
//! from a per-thread arena, the packed result buffer is the compiled module's, the argument
//! lists live on the stack.)

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting this thread's allocations.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// One back end's check at a time: the tests' pools would otherwise run each other's tile
/// jobs, and a calling thread that helps with another test's work counts its allocations
/// (its arena's first chunk, the other queue's blocks) as this step's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check(backend: sci::BackendKind, threads: usize) {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    check_network(backend, threads, common::PINN_HIDDEN);
    check_network(backend, threads, common::WIDE_HIDDEN);
}

fn check_network(backend: sci::BackendKind, threads: usize, hidden: &str) {
    let (_, pinn) = common::burgers_pinn_with(hidden);
    let c = sci::Compiler::new()
        .backend(backend)
        .threads(threads)
        .compile_source("burgers_pinn.sci", &pinn)
        .unwrap();
    let m = c.model("BurgersPINN").unwrap();
    let data: Vec<(String, Vec<f64>)> = m
        .loss_inputs()
        .unwrap()
        .into_iter()
        .map(|(name, _)| {
            let xs = (0..500)
                .map(|k| (k as f64 * 0.618_033_988_7).fract())
                .collect();
            (name, xs)
        })
        .collect();
    let mut batch = sci::Batch::new();
    for (name, xs) in &data {
        batch.set(name, xs);
    }
    let p = m.params();
    let mut grad = vec![0.0; p.len()];
    // Warm: the arena's chunks and the packed buffer are made by the first calls.
    for _ in 0..3 {
        m.loss_and_grad_into(&p, &batch, &mut grad).unwrap();
    }
    let before = allocations();
    let mut loss = 0.0;
    for _ in 0..20 {
        loss = m.loss_and_grad_into(&p, &batch, &mut grad).unwrap();
    }
    let made = allocations() - before;
    assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
    // On one thread nothing at all. Handing work to a pool, rayon's job queue allocates one
    // block per 63 jobs (a dozen `tile_map`s per step): a few blocks in 20 steps, never one
    // per step.
    let allowed = if threads == 1 { 0 } else { 20 / 4 };
    assert!(
        made <= allowed,
        "{backend:?} with {threads} thread(s), {hidden}: 20 warm training steps allocated \
         {made} times"
    );
}

#[test]
fn a_warm_training_step_allocates_nothing_with_cranelift() {
    check(sci::BackendKind::Cranelift, 1);
    check(sci::BackendKind::Cranelift, 2);
}

#[cfg(feature = "llvm")]
#[test]
fn a_warm_training_step_allocates_nothing_with_llvm() {
    check(sci::BackendKind::Llvm, 1);
    check(sci::BackendKind::Llvm, 2);
}
