//! MPI for runs over several processes (feature `mpi`): [`Mpi`] is the
//! [`Collective`](sci_stdlib::collective::Collective) of the ranks an `mpirun` (or a
//! scheduler's `srun`) started, over rsmpi and the system's MPI library.
//!
//! MPI is initialised with `MPI_THREAD_FUNNELED`: the tile runtime's and the ensembles'
//! threads compute, and only the thread that initialised MPI communicates.

use mpi::Count;
use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use sci_stdlib::Error;
use sci_stdlib::collective::Collective;

/// The ranks of this run (`MPI_COMM_WORLD`). MPI is finalised when it is dropped.
pub struct Mpi {
    world: SimpleCommunicator,
    /// Each all-reduce's send buffer (rsmpi has no `MPI_IN_PLACE`), kept so that a training
    /// step's all-reduce allocates nothing once it has grown to the gradient's length.
    send: std::cell::RefCell<Vec<f64>>,
    // Dropped last: finalises MPI.
    _universe: Universe,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .finish()
    }
}

impl Mpi {
    /// Initialises MPI (once per process). A process started without `mpirun` is a run of
    /// one rank.
    pub fn init() -> Result<Mpi, Error> {
        let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Funneled) else {
            return Err(Error::input("MPI was initialised already in this process."));
        };
        Ok(Mpi {
            world: universe.world(),
            send: std::cell::RefCell::new(Vec::new()),
            _universe: universe,
        })
    }

    /// Ends every rank of the run with exit status `code` (`MPI_Abort`): what a failure on
    /// one rank does, so the others do not wait for it in a collective forever.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank().max(0) as usize
    }

    fn size(&self) -> usize {
        self.world.size().max(1) as usize
    }

    fn sum(&self, values: &mut [f64]) {
        if self.size() == 1 {
            return;
        }
        let mut send = self.send.borrow_mut();
        send.clear();
        send.extend_from_slice(values);
        self.world
            .all_reduce_into(&send[..], values, SystemOperation::sum());
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    /// Counts are MPI's `int`: a rank's bytes must stay under 2 GiB.
    fn gather(&self, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
        let root = self.world.process_at_rank(0);
        let count = Count::try_from(bytes.len()).unwrap_or(Count::MAX);
        let bytes = &bytes[..count as usize];
        if self.rank() != 0 {
            root.gather_into(&count);
            root.gather_varcount_into(bytes);
            return None;
        }
        let mut counts = vec![0 as Count; self.size()];
        root.gather_into_root(&count, &mut counts[..]);
        let displs: Vec<Count> = (counts.iter())
            .scan(0 as Count, |at, &c| {
                let start = *at;
                *at = at.saturating_add(c);
                Some(start)
            })
            .collect();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut all = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(bytes, &mut partition);
        }
        let mut out = Vec::with_capacity(counts.len());
        let mut at = 0;
        for &c in &counts {
            out.push(all[at..at + c as usize].to_vec());
            at += c as usize;
        }
        Some(out)
    }
}
