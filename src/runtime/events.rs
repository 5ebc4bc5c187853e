//! A model's events as the solvers see them: the manifest's events turned into
//! [`EventSpec`]s, the times of scheduled events, and one event's row of the compiled
//! `event_resets` (which computes every event's row at once).

use sci_ir::manifest::{Event, EventTrigger};
use sci_stdlib::ode::{Crossing, EventAction, EventSpec, EventTrigger as SolverTrigger};

/// The most times one scheduled event lists: beyond this the solve would be nothing but
/// events (the solver's own event limit reports it with its time).
const MAX_SCHEDULED: usize = 10_000_000;

/// The solver's view of the manifest's events, in order.
pub fn specs(events: &[Event]) -> Vec<EventSpec> {
    events
        .iter()
        .map(|e| EventSpec {
            trigger: match e.trigger {
                EventTrigger::Crossing { rising: true } => {
                    SolverTrigger::Crossing(Crossing::Rising)
                }
                EventTrigger::Crossing { rising: false } => {
                    SolverTrigger::Crossing(Crossing::Falling)
                }
                EventTrigger::Every { .. } => SolverTrigger::Scheduled,
            },
            action: if e.stop {
                EventAction::Stop
            } else {
                EventAction::Reset
            },
        })
        .collect()
}

/// The times of a scheduled event inside `[t0, t_end]`: `start + k·period` (`start`
/// defaults to `t0`), each computed from `k` rather than by adding up periods, so the
/// thousandth dose is as exact as the first.
pub fn scheduled_times(event: &Event, (t0, t_end): (f64, f64)) -> Vec<f64> {
    let EventTrigger::Every { period, start } = event.trigger else {
        return Vec::new();
    };
    if !(period > 0.0 && period.is_finite() && t0.is_finite() && t_end.is_finite()) {
        return Vec::new();
    }
    let start = start.unwrap_or(t0);
    // The first k with start + k·period ≥ t0.
    let first = if start >= t0 {
        0.0
    } else {
        ((t0 - start) / period).ceil()
    };
    let mut times = Vec::new();
    let mut k = first;
    while times.len() < MAX_SCHEDULED {
        let t = start + k * period;
        if t > t_end {
            break;
        }
        if t >= t0 {
            times.push(t);
        }
        k += 1.0;
    }
    times
}

/// Row `k` of a row-major `m × n` matrix, copied into `out` (length `n`).
pub fn copy_row(all: &[f64], k: usize, out: &mut [f64]) {
    let n = out.len();
    if let Some(row) = all.get(k * n..(k + 1) * n) {
        out.copy_from_slice(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(period: f64, start: Option<f64>) -> Event {
        Event {
            label: "every".into(),
            trigger: EventTrigger::Every { period, start },
            stop: false,
        }
    }

    #[test]
    fn schedules_start_at_the_span_or_the_first_period_inside_it() {
        assert_eq!(
            scheduled_times(&every(24.0, None), (0.0, 72.0)),
            [0.0, 24.0, 48.0, 72.0]
        );
        assert_eq!(
            scheduled_times(&every(24.0, Some(6.0)), (0.0, 60.0)),
            [6.0, 30.0, 54.0]
        );
        assert_eq!(
            scheduled_times(&every(10.0, Some(-25.0)), (0.0, 20.0)),
            [5.0, 15.0]
        );
        assert!(scheduled_times(&every(1.0, Some(50.0)), (0.0, 20.0)).is_empty());
        // Each time is start + k·period: no drift after many periods.
        let times = scheduled_times(&every(0.1, None), (0.0, 1000.0));
        assert_eq!(times[9999], 9999.0 * 0.1);
    }
}
