//! Work memory for JIT code: a stack of buffers per thread, reused from call to call, so a
//! warm call allocates nothing.
//!
//! A compiled function whose frame is too large for the machine stack, or that makes
//! batched values (sizes known only at run time), takes that memory here: it records the
//! arena's top on entry ([`sci_arena_mark`]), bumps it for each buffer
//! ([`sci_arena_alloc`]) and restores it on exit ([`sci_arena_release`]). Calls nest (a
//! call of another IR function, a tile run on the calling thread, a rayon task stolen while
//! waiting), so the buffers of one thread are released in the reverse order of their
//! allocation: a stack. Its chunks are kept, so after the first call of a given size no
//! system allocation happens. Object files, which link without sci, call `malloc`/`free`.
//!
//! Written here rather than taken from a crate: bump arenas (`bumpalo`) reset all at once
//! and are not thread-local stacks with marks across `extern "C"` calls.

use std::cell::UnsafeCell;

/// Buffers are aligned to a cache line (so vector loads never straddle one needlessly).
const ALIGN: usize = 64;

/// The smallest chunk, in bytes.
const MIN_CHUNK: usize = 1 << 20;

/// One thread's stack: chunks in order of use, the current chunk and its used bytes.
#[derive(Default)]
struct Arena {
    chunks: Vec<Chunk>,
    current: usize,
    used: usize,
}

/// A chunk of `ALIGN`-aligned memory.
struct Chunk {
    words: Vec<Line>,
}

/// One cache line of memory (the unit of allocation, for alignment).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; ALIGN]);

impl Chunk {
    fn bytes(&self) -> usize {
        self.words.len() * ALIGN
    }
}

thread_local! {
    static ARENA: UnsafeCell<Arena> = UnsafeCell::new(Arena::default());
}

/// Runs `f` on this thread's arena. `None` while the thread is being torn down.
fn with_arena<R>(f: impl FnOnce(&mut Arena) -> R) -> Option<R> {
    // SAFETY: the arena is only reached through this function, whose callers (the three
    // entry points below) do not call back into it while `f` runs, so the `&mut` is
    // unique.
    ARENA.try_with(|a| f(unsafe { &mut *a.get() })).ok()
}

impl Arena {
    /// The current top, packed as `chunk << 40 | used` (chunks stay far below 2^24, bytes
    /// per chunk below 2^40).
    fn mark(&self) -> u64 {
        ((self.current as u64) << 40) | self.used as u64
    }

    fn release(&mut self, mark: u64) {
        self.current = (mark >> 40) as usize;
        self.used = (mark & ((1 << 40) - 1)) as usize;
    }

    /// `bytes` bytes, `ALIGN`-aligned, or null when no memory can be had.
    fn alloc(&mut self, bytes: usize) -> *mut u8 {
        let bytes = bytes.max(1).div_ceil(ALIGN) * ALIGN;
        loop {
            if let Some(c) = self.chunks.get_mut(self.current)
                && self.used + bytes <= c.bytes()
            {
                // SAFETY: `used + bytes ≤ c.bytes()`, so the offset stays in the chunk.
                let p = unsafe { c.words.as_mut_ptr().cast::<u8>().add(self.used) };
                self.used += bytes;
                return p;
            }
            // The next chunk, if it is large enough; else a new one in its place.
            let next = if self.chunks.get(self.current).is_some() && self.used > 0 {
                self.current + 1
            } else {
                self.current
            };
            match self.chunks.get(next) {
                Some(c) if c.bytes() >= bytes => {}
                _ => {
                    let size = bytes.max(MIN_CHUNK).max(
                        self.chunks
                            .last()
                            .map_or(0, |c| c.bytes().saturating_mul(2)),
                    );
                    let mut words = Vec::new();
                    if words.try_reserve_exact(size / ALIGN).is_err() {
                        return std::ptr::null_mut();
                    }
                    words.resize(size / ALIGN, Line([0; ALIGN]));
                    // Chunks after `next` belong to nobody (everything above the top is
                    // free): a too-small one is replaced.
                    if next < self.chunks.len() {
                        self.chunks[next] = Chunk { words };
                    } else {
                        self.chunks.push(Chunk { words });
                    }
                }
            }
            self.current = next;
            self.used = 0;
        }
    }
}

/// The arena's top, to hand back to [`sci_arena_release`].
pub(crate) extern "C" fn sci_arena_mark() -> u64 {
    with_arena(|a| a.mark()).unwrap_or(0)
}

/// `bytes` bytes of this thread's arena (64-byte aligned), or null when no memory can be
/// had.
pub(crate) extern "C" fn sci_arena_alloc(bytes: u64) -> *mut u8 {
    let Ok(bytes) = usize::try_from(bytes) else {
        return std::ptr::null_mut();
    };
    with_arena(|a| a.alloc(bytes)).unwrap_or(std::ptr::null_mut())
}

/// Frees everything allocated on this thread since `mark` was taken.
pub(crate) extern "C" fn sci_arena_release(mark: u64) {
    with_arena(|a| a.release(mark));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_after_release_and_nest() {
        let m0 = sci_arena_mark();
        let a = sci_arena_alloc(1000);
        let m1 = sci_arena_mark();
        let b = sci_arena_alloc(3 << 20);
        assert!(!a.is_null() && !b.is_null());
        assert_eq!(a as usize % ALIGN, 0);
        assert_eq!(b as usize % ALIGN, 0);
        // SAFETY: both buffers are live and as large as written.
        unsafe {
            a.write_bytes(1, 1000);
            b.write_bytes(2, 3 << 20);
            assert_eq!(*a.add(999), 1);
        }
        sci_arena_release(m1);
        let c = sci_arena_alloc(3 << 20);
        assert_eq!(c, b, "the released buffer is handed out again");
        sci_arena_release(m0);
        assert_eq!(sci_arena_alloc(10), a);
        sci_arena_release(m0);
    }

    #[test]
    fn threads_have_their_own_arenas() {
        let here = sci_arena_alloc(64) as usize;
        let there = std::thread::spawn(|| sci_arena_alloc(64) as usize)
            .join()
            .unwrap();
        assert_ne!(here, there);
    }
}
