//! The sizes that cut a state vector into work: the length above which work goes to
//! rayon, and the unit that parallel loops and sums stop halving at.
//!
//! Both depend on nothing but these constants and the state's length, never on the number
//! of threads: that is what makes sums reproducible ([`super::reduce`],
//! [`super::traverse`]).

/// States with fewer amplitudes than this are worked on by the calling thread: below it,
/// handing work to rayon costs more than the work.
pub const PARALLEL_MIN: usize = 1 << 14;

/// The amplitudes in one piece of work (64 KiB of complex doubles: large enough to
/// amortise scheduling, small enough to balance 2^14-amplitude states over several cores).
pub const UNIT: usize = 1 << 12;

/// The piece length for a state of `len` amplitudes (a power of two): [`UNIT`], or the
/// whole state when it is smaller.
pub fn unit_len(len: usize) -> usize {
    UNIT.min(len)
}
