//! Data-parallel training: every rank's objective evaluates its share of the points and
//! rows, and one all-reduce per evaluation sums the shares into the whole loss and gradient
//! on every rank, so every rank takes the same optimiser steps as the others.
//!
//! The ranks agree on everything the optimiser decides (the line search's acceptances,
//! the stopping rules), because they see the same sums. An interrupt that reaches the
//! ranks at different moments is one more number in the sum: every rank sees whether any
//! rank was interrupted by the same evaluation, and stops at the same step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Objective;
use crate::Error;
use crate::collective::Collective;

/// An objective whose evaluations are summed over the ranks of `collective`: `inner`
/// returns this rank's contribution (the sum over ranks is the loss, as
/// `sci::runtime::TrainSetup::shard` arranges), and this returns the whole on every rank.
///
/// An error on one rank is returned on that rank only, before its all-reduce: the caller
/// must stop every rank then (`sci train` calls `MPI_Abort`), or the others wait for it.
pub struct AllReduced<'a> {
    inner: &'a mut dyn Objective,
    collective: &'a dyn Collective,
    /// This rank's request to stop (an interrupt), summed with the evaluations.
    stop: Option<Arc<AtomicBool>>,
    /// Whether any rank asked to stop, as of the last evaluation: the same on every rank.
    stop_any: Arc<AtomicBool>,
    /// The loss, the gradient and the stop request, packed for one all-reduce.
    packed: Vec<f64>,
}

impl<'a> AllReduced<'a> {
    pub fn new(inner: &'a mut dyn Objective, collective: &'a dyn Collective) -> AllReduced<'a> {
        AllReduced {
            inner,
            collective,
            stop: None,
            stop_any: Arc::new(AtomicBool::new(false)),
            packed: Vec::new(),
        }
    }

    /// Sums this rank's `stop` flag with every evaluation; [`AllReduced::stop_any`] then
    /// tells whether any rank's was set.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> AllReduced<'a> {
        self.stop = Some(stop);
        self
    }

    /// Set once any rank's stop flag was set at an evaluation: the flag every rank's
    /// progress callback reads, so that all stop after the same step.
    pub fn stop_any(&self) -> Arc<AtomicBool> {
        self.stop_any.clone()
    }

    fn stop_requested(&self) -> f64 {
        match &self.stop {
            Some(flag) if flag.load(Ordering::Relaxed) => 1.0,
            _ => 0.0,
        }
    }
}

impl Objective for AllReduced<'_> {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }

    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        let n = grad.len();
        let loss = self.inner.value_and_grad(p, grad)?;
        self.packed.clear();
        self.packed.extend_from_slice(grad);
        self.packed.push(loss);
        self.packed.push(self.stop_requested());
        self.collective.sum(&mut self.packed);
        grad.copy_from_slice(&self.packed[..n]);
        if self.packed[n + 1] > 0.0 {
            self.stop_any.store(true, Ordering::Relaxed);
        }
        Ok(self.packed[n])
    }

    fn resample(&mut self, round: u64) -> Result<(), Error> {
        self.inner.resample(round)
    }

    fn terms(&mut self, p: &[f64]) -> Result<Vec<f64>, Error> {
        let mut terms = self.inner.terms(p)?;
        self.collective.sum(&mut terms);
        Ok(terms)
    }

    fn test_loss(&mut self, p: &[f64]) -> Result<Option<f64>, Error> {
        let Some(loss) = self.inner.test_loss(p)? else {
            return Ok(None);
        };
        let mut sum = [loss];
        self.collective.sum(&mut sum);
        Ok(Some(sum[0]))
    }

    fn held(&self) -> Vec<bool> {
        self.inner.held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Two "ranks" in one thread: the sum adds the other rank's recorded contribution.
    struct Pair {
        other: RefCell<Vec<f64>>,
    }

    impl Collective for Pair {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            2
        }
        fn sum(&self, values: &mut [f64]) {
            for (v, o) in values.iter_mut().zip(self.other.borrow().iter()) {
                *v += o;
            }
        }
        fn gather(&self, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
            Some(vec![bytes.to_vec()])
        }
    }

    /// Half of `Σ (p - c)²`'s points: the contribution of rank 0.
    struct HalfQuadratic;

    impl Objective for HalfQuadratic {
        fn n_params(&self) -> usize {
            2
        }
        fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
            grad[0] = p[0] - 1.0;
            grad[1] = p[1] + 2.0;
            Ok(0.5 * ((p[0] - 1.0).powi(2) + (p[1] + 2.0).powi(2)))
        }
    }

    #[test]
    fn sums_the_contributions_and_the_stop_requests() {
        let pair = Pair {
            // The other rank's gradient, loss and stop request.
            other: RefCell::new(vec![10.0, 20.0, 100.0, 1.0]),
        };
        let mut inner = HalfQuadratic;
        let stop = Arc::new(AtomicBool::new(false));
        let mut all = AllReduced::new(&mut inner, &pair).with_stop(stop);
        let stop_any = all.stop_any();
        let mut grad = [0.0; 2];
        let loss = all.value_and_grad(&[2.0, 0.0], &mut grad).unwrap();
        assert_eq!(grad, [11.0, 22.0]);
        assert_eq!(loss, 0.5 * (1.0 + 4.0) + 100.0);
        assert!(stop_any.load(Ordering::Relaxed));
    }
}
