//! Scheduled events merged into one timetable: the solver is stopped at each time on it in
//! turn, and the events due at that time fire together in index order.

/// The scheduled events' times, merged and sorted, and how far the solve has got.
pub(crate) struct Schedule {
    /// `(time, event)`, sorted by time and then index (an event listed twice at one time
    /// fires twice).
    entries: Vec<(f64, usize)>,
    next: usize,
}

impl Schedule {
    /// The timetable from each scheduled event's times (already checked finite, sorted and
    /// within the span).
    pub fn new(times: Vec<(usize, Vec<f64>)>) -> Schedule {
        let mut entries: Vec<(f64, usize)> = times
            .into_iter()
            .flat_map(|(k, ts)| ts.into_iter().map(move |t| (t, k)))
            .collect();
        entries.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        Schedule { entries, next: 0 }
    }

    /// The next time on the timetable, if any is left.
    pub fn peek(&self) -> Option<f64> {
        self.entries.get(self.next).map(|&(t, _)| t)
    }

    /// Takes every event due by `t` (its time at most `t + slack`) off the timetable:
    /// `(time, event)` in time order and, at one time, index order.
    pub fn take_due(&mut self, t: f64, slack: f64) -> Vec<(f64, usize)> {
        let start = self.next;
        while self
            .entries
            .get(self.next)
            .is_some_and(|&(ts, _)| ts <= t + slack)
        {
            self.next += 1;
        }
        self.entries[start..self.next].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_in_time_then_index_order() {
        let mut s = Schedule::new(vec![(2, vec![0.0, 1.0]), (0, vec![1.0, 3.0])]);
        assert_eq!(s.peek(), Some(0.0));
        assert_eq!(s.take_due(0.0, 0.0), vec![(0.0, 2)]);
        assert_eq!(s.take_due(1.0, 1e-15), vec![(1.0, 0), (1.0, 2)]);
        assert_eq!(s.peek(), Some(3.0));
        assert!(s.take_due(2.0, 0.0).is_empty());
        assert_eq!(s.take_due(3.0, 0.0), vec![(3.0, 0)]);
        assert_eq!(s.peek(), None);
    }
}
