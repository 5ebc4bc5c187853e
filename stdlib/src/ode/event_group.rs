//! Firing the events due at one time: resets and stops in index order, the sensitivities'
//! jumps, the record of what fired, and the guards against too many events and against
//! events that pile up at one time (a Zeno point).

use super::event_jumps::Jumps;
use super::events::{EventAction, EventOccurrence, EventSpec, ZENO_REPEATS};
use super::validate::fmt_time;
use crate::Error;

/// The state after a group of events.
pub(crate) struct Fired {
    /// The state after the resets (before a stop, the state it stopped at).
    pub y: Vec<f64>,
    /// The sensitivities likewise, as diffsol's flattened lanes (empty without them). At a
    /// stop, those of the final state, the stop time's own dependence on `θ` included.
    pub s: Vec<f64>,
    /// Whether an event stopped the integration.
    pub stop: bool,
    /// Whether any reset was applied.
    pub reset: bool,
    /// The events that fired, in order.
    pub events: Vec<usize>,
}

/// The events fired so far in one attempt, and the guards on them.
pub(crate) struct EventLog {
    pub occurrences: Vec<EventOccurrence>,
    max_events: usize,
    /// The length of the span, the scale of "no time passed".
    span: f64,
    last_t: Option<f64>,
    /// Groups in a row that came no later than rounding after the one before.
    repeats: usize,
    /// How messages name each event.
    names: Vec<String>,
}

impl EventLog {
    pub fn new(max_events: usize, (t0, t_end): (f64, f64), names: Vec<String>) -> EventLog {
        EventLog {
            occurrences: Vec::new(),
            max_events,
            span: t_end - t0,
            last_t: None,
            repeats: 0,
            names,
        }
    }

    fn name(&self, k: usize) -> String {
        self.names
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("event {k}"))
    }

    /// Notes a group of events at `t` (led by event `k`): too many in a row at one time is
    /// a Zeno point.
    fn group(&mut self, k: usize, t: f64) -> Result<(), Error> {
        let gap = 1000.0 * f64::EPSILON * (t.abs() + self.span);
        self.repeats = match self.last_t {
            Some(last) if t - last <= gap => self.repeats + 1,
            _ => 0,
        };
        self.last_t = Some(t);
        if self.repeats >= ZENO_REPEATS {
            return Err(zeno(format!(
                "{} fired {ZENO_REPEATS} times in a row at t = {}",
                super::names::capitalised(&self.name(k)),
                fmt_time(t)
            )));
        }
        Ok(())
    }

    fn record(&mut self, occurrence: EventOccurrence) -> Result<(), Error> {
        if self.occurrences.len() >= self.max_events {
            let name = self.name(occurrence.event);
            return Err(Error::numerical(format!(
                "More than {} events fired; the last was {name} at t = {}.",
                self.max_events,
                fmt_time(occurrence.t)
            ))
            .with_help(format!(
                "raise the limit (`max_events`) if this many are expected; otherwise the \
                 condition of {name} may chatter (fire again and again): check that its \
                 reset moves the state away from the condition's zero"
            )));
        }
        self.occurrences.push(occurrence);
        Ok(())
    }
}

/// The error for events that pile up at one time; `what` says how they did.
fn zeno(what: String) -> Error {
    Error::numerical(format!(
        "{what} without time advancing: the events pile up at this time (a Zeno point, like \
         a bouncing ball coming to rest)."
    ))
    .with_help(
        "end the integration before this time (a shorter span, or a `stop` event on a \
         condition such as a small bounce speed), or change the model so that it can come to \
         rest without events (switch the event off below a threshold)",
    )
}

/// The error for event `k` crossing again at `t` on the zero it had just fired on (the
/// flow did not carry its condition clear of it).
pub(crate) fn pinned(name: &str, t: f64) -> Error {
    zeno(format!(
        "{} fired again at t = {} on the zero it had just left,",
        super::names::capitalised(name),
        fmt_time(t)
    ))
}

/// Fires, at time `t` and in index order, the crossing events `crossing` and the scheduled
/// events `scheduled` (an index may repeat), starting from the state `y` and (with
/// `sens`) the sensitivities `s`. A stop ends the group.
pub(crate) fn fire(
    jumps: &Jumps<'_>,
    specs: &[EventSpec],
    log: &mut EventLog,
    t: f64,
    (crossing, scheduled): (&[usize], &[usize]),
    (mut y, mut s): (Vec<f64>, Vec<f64>),
    sens: bool,
) -> Result<Fired, Error> {
    let mut group: Vec<(usize, bool)> = crossing
        .iter()
        .map(|&k| (k, true))
        .chain(scheduled.iter().map(|&k| (k, false)))
        .collect();
    group.sort_by_key(|&(k, _)| k);
    let (mut stop, mut reset) = (false, false);
    let mut events = Vec::with_capacity(group.len());
    if let Some(&(k, _)) = group.first() {
        log.group(k, t)?;
    }
    for (k, at_crossing) in group {
        let Some(spec) = specs.get(k) else {
            continue;
        };
        events.push(k);
        match spec.action {
            EventAction::Stop => {
                if sens && at_crossing {
                    // The state at a stop whose time moves with θ: y(t*(θ); θ).
                    let f = jumps.velocity(t, &y)?;
                    let tau = jumps.event_time_sens(k, t, (&y, &f), &s)?;
                    s = jumps.stop_sens(&f, &s, &tau);
                }
                log.record(EventOccurrence {
                    event: k,
                    t,
                    y_before: y.clone(),
                    y_after: y.clone(),
                })?;
                stop = true;
                break;
            }
            EventAction::Reset => {
                let y_new = jumps.reset(k, t, &y)?;
                if sens {
                    let f_before = jumps.velocity(t, &y)?;
                    let tau = if at_crossing {
                        Some(jumps.event_time_sens(k, t, (&y, &f_before), &s)?)
                    } else {
                        None
                    };
                    let f_after = jumps.velocity(t, &y_new)?;
                    s = jumps.reset_sens(k, t, (&y, &f_before), &f_after, &s, tau.as_deref());
                    jumps.settle_sens(t, &y_new, &mut s)?;
                }
                log.record(EventOccurrence {
                    event: k,
                    t,
                    y_before: std::mem::replace(&mut y, y_new.clone()),
                    y_after: y_new,
                })?;
                reset = true;
            }
        }
    }
    Ok(Fired {
        y,
        s,
        stop,
        reset,
        events,
    })
}
