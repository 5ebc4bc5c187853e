//! How a state vector is cut into work: the size above which work goes to rayon, the
//! fixed units that parallel loops and reductions split it into, and the bit arithmetic
//! that finds the amplitudes a gate couples.
//!
//! Results must not depend on the number of threads. Gates are elementwise over disjoint
//! pairs or quadruples of amplitudes, so any split gives the same bits; reductions (inner
//! products, expectation values) sum within units whose boundaries depend only on the
//! state's length, then add the units' partial sums in order, so they too give the same
//! bits on one thread or many.

/// States with fewer amplitudes than this are worked on by the calling thread: below it,
/// handing work to rayon costs more than the work.
pub const PARALLEL_MIN: usize = 1 << 14;

/// The amplitudes in one unit of parallel work and of a reduction's partial sum
/// (64 KiB of complex doubles: large enough to amortise scheduling, small enough to
/// balance 2^14-amplitude states over several cores).
pub const UNIT: usize = 1 << 12;

/// The unit length for a state of `len` amplitudes (a power of two): [`UNIT`], or the whole
/// state when it is smaller.
pub fn unit_len(len: usize) -> usize {
    UNIT.min(len)
}

/// `g` with a zero bit inserted at position `q`: the `g`-th index whose bit `q` is 0.
#[inline(always)]
pub fn insert_zero(g: usize, q: usize) -> usize {
    let low = g & ((1 << q) - 1);
    ((g >> q) << (q + 1)) | low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_zero_enumerates_the_indices_with_a_clear_bit() {
        for q in 0..5 {
            let expected: Vec<usize> = (0..64).filter(|i| i & (1 << q) == 0).collect();
            let got: Vec<usize> = (0..32).map(|g| insert_zero(g, q)).collect();
            assert_eq!(got, expected);
        }
    }
}
