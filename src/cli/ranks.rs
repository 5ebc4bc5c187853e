//! The ranks of a run that `mpirun` (or a scheduler's `srun`) started: which process this
//! is, and who speaks. Rank 0 prints the results, the progress and the summaries and
//! writes the files; every rank prints its own errors, prefixed with its rank, and an error
//! on any rank ends every rank with its exit status (`MPI_Abort`).
//!
//! MPI is initialised only when a launcher started the process (its environment says how
//! many ranks there are), so a plain `sci train` never touches MPI. A build without the
//! `mpi` feature that finds itself one of several ranks refuses: each rank would run the
//! whole job and write the same files.

use std::sync::atomic::{AtomicUsize, Ordering};

use sci::stdlib::Error;
use sci::stdlib::collective::{Collective, Solo};

static RANK: AtomicUsize = AtomicUsize::new(0);
static SIZE: AtomicUsize = AtomicUsize::new(1);

/// Whether this process prints results and writes files: rank 0.
pub fn speaks() -> bool {
    RANK.load(Ordering::Relaxed) == 0
}

/// This process's rank and the number of ranks.
pub fn rank_and_size() -> (usize, usize) {
    (RANK.load(Ordering::Relaxed), SIZE.load(Ordering::Relaxed))
}

/// The number of ranks a launcher says it started, if one started this process: MPICH's
/// Hydra and Slurm's PMI set `PMI_SIZE`, Open MPI `OMPI_COMM_WORLD_SIZE`, PMIx launchers
/// `PMIX_SIZE`... but not every PMIx launcher sets a size, so `PMIX_RANK` alone counts too.
fn launched_ranks() -> Option<usize> {
    let size = |var: &str| std::env::var(var).ok()?.trim().parse::<usize>().ok();
    size("PMI_SIZE")
        .or_else(|| size("OMPI_COMM_WORLD_SIZE"))
        .or_else(|| size("PMIX_SIZE"))
        .or_else(|| std::env::var_os("PMIX_RANK").map(|_| 0))
}

/// The processes of this run: MPI's ranks when a launcher started it (feature `mpi`),
/// else one.
pub struct Ranks {
    #[cfg(feature = "mpi")]
    mpi: Option<sci::mpi::Mpi>,
}

impl Ranks {
    /// Joins the run's ranks; rank 0 of 1 without a launcher.
    pub fn start() -> Result<Ranks, Error> {
        let launched = launched_ranks();
        #[cfg(feature = "mpi")]
        {
            let mpi = match launched {
                Some(_) => Some(sci::mpi::Mpi::init()?),
                None => None,
            };
            if let Some(mpi) = &mpi {
                RANK.store(mpi.rank(), Ordering::Relaxed);
                SIZE.store(mpi.size(), Ordering::Relaxed);
            }
            Ok(Ranks { mpi })
        }
        #[cfg(not(feature = "mpi"))]
        match launched {
            Some(n) if n > 1 => Err(Error::input(format!(
                "This sci was started as one of {n} MPI ranks, but it was built without MPI: \
                 every rank would run the whole job and write the same files."
            ))
            .with_help(
                "build it with `cargo build --release --features mpi`, or run it without mpirun",
            )),
            _ => Ok(Ranks {}),
        }
    }

    /// The ranks' collective operations.
    pub fn collective(&self) -> &dyn Collective {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            return mpi;
        }
        &Solo
    }

    /// Whether the run has more than one rank.
    pub fn several(&self) -> bool {
        self.collective().size() > 1
    }

    /// Ends the run with `code`: with several ranks an error on this one ends them all
    /// (they may be waiting for it in a collective), with the same status. Otherwise
    /// (success, or an interrupted training run, where every rank stopped after the same
    /// step) every rank waits for the others, rank 0 still writing its files: a launcher
    /// ends every rank as soon as one exits with a failure status, and 130 is one.
    pub fn finish(&self, code: std::process::ExitCode) -> std::process::ExitCode {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi
            && mpi.size() > 1
        {
            let interrupted = std::process::ExitCode::from(super::train::EXIT_INTERRUPTED);
            if code == std::process::ExitCode::SUCCESS || code == interrupted {
                mpi.barrier();
                return code;
            }
            // `ExitCode` does not give its number back: find it among the statuses sci
            // exits with.
            let status = (1..=255u8)
                .find(|&k| code == std::process::ExitCode::from(k))
                .unwrap_or(1);
            // The error is already written to this rank's stderr, a pipe the launcher's
            // proxy forwards; an abort at once can end the proxy before it has (seen with
            // MPICH's hydra: exit status 2 and an empty stderr, now and then). A moment's
            // wait lets the message out; the run is over either way.
            std::thread::sleep(std::time::Duration::from_millis(250));
            mpi.abort(i32::from(status));
        }
        code
    }
}
