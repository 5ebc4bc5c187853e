//! Communication between the processes of one parallel run (the ranks of an `mpirun`), as
//! a trait: data-parallel training ([`crate::optim::AllReduced`]) and ensembles are written
//! against it, `sci` implements it over MPI (its `mpi` feature), and [`Solo`] is the
//! ordinary one-process run. Keeping MPI behind this trait keeps this crate free of system
//! libraries and its users testable without `mpirun`.

/// The operations a parallel run needs from its ranks. Every rank calls the same operations
/// in the same order (they are collective: a call returns once every rank made it).
pub trait Collective {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// How many ranks the run has.
    fn size(&self) -> usize;
    /// Replaces `values` by their element-wise sum over every rank: one all-reduce, the
    /// same bits on every rank (the reduction's order is fixed for a given number of
    /// ranks, so a rerun gives the same sums).
    fn sum(&self, values: &mut [f64]);
    /// Every rank's `bytes`, in rank order, on rank 0; `None` on the other ranks.
    fn gather(&self, bytes: &[u8]) -> Option<Vec<Vec<u8>>>;
    /// Returns once every rank called it.
    fn barrier(&self) {
        self.sum(&mut [0.0]);
    }
}

/// The one-process run: rank 0 of 1, every operation the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum(&self, _values: &mut [f64]) {}
    fn gather(&self, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
        Some(vec![bytes.to_vec()])
    }
}

/// The part of `count` items that rank `rank` of `ranks` takes: a contiguous range, the
/// first `count % ranks` ranks taking one more. Rank order is item order, so the parts
/// concatenated in rank order are the items.
pub fn share(count: usize, rank: usize, ranks: usize) -> std::ops::Range<usize> {
    let ranks = ranks.max(1);
    let base = count / ranks;
    let extra = count % ranks;
    let start = rank * base + rank.min(extra);
    let len = base + usize::from(rank < extra);
    start.min(count)..(start + len).min(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_items_in_rank_order() {
        for count in 0..20 {
            for ranks in 1..6 {
                let parts: Vec<_> = (0..ranks).map(|r| share(count, r, ranks)).collect();
                let mut next = 0;
                for part in &parts {
                    assert_eq!(part.start, next);
                    next = part.end;
                    assert!(part.len() == count / ranks || part.len() == count / ranks + 1);
                }
                assert_eq!(next, count);
            }
        }
    }

    #[test]
    fn one_process_is_the_identity() {
        let mut v = vec![1.0, 2.0];
        Solo.sum(&mut v);
        assert_eq!(v, [1.0, 2.0]);
        assert_eq!(Solo.gather(b"ab"), Some(vec![b"ab".to_vec()]));
    }
}
