//! Checks on a solve's inputs, done before diffsol sees them (diffsol asserts on some bad
//! inputs instead of returning errors), and the output times.

use super::events::EventTrigger;
use super::{OdeSystem, SolveOptions, Sparsity};
use crate::Error;

/// How many output times there are when the caller asks for none in particular.
pub const DEFAULT_OUTPUT_POINTS: usize = 201;

/// Checks the options, the parameters and the system's sizes; returns the time span and
/// the output times.
pub(crate) fn check(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
) -> Result<((f64, f64), Vec<f64>), Error> {
    let n = system.n_states();
    if n == 0 {
        return Err(Error::input("The system has no states to integrate."));
    }
    let np = system.n_params();
    if p.len() != np {
        return Err(Error::input(format!(
            "The system has {np} parameter{} but {} value{} given.",
            plural(np),
            p.len(),
            if p.len() == 1 { " was" } else { "s were" }
        )));
    }
    if let Some((i, v)) = p.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::input(format!(
            "Parameter {i} is {v}; parameters must be finite numbers."
        )));
    }
    check_tolerance("relative", options.rtol, "1e-6")?;
    check_tolerance("absolute", options.atol, "1e-9")?;
    let Some((t0, t_end)) = options.span else {
        return Err(Error::input("The solve has no time span.").with_help(
            "set `SolveOptions::span` to `Some((t0, t_end))` (a model's `simulate` takes the \
             span it declares)",
        ));
    };
    if !t0.is_finite() || !t_end.is_finite() {
        return Err(Error::input(format!(
            "The integration interval must have finite ends, not t0 = {t0} and t_end = {t_end}."
        )));
    }
    if t_end <= t0 {
        return Err(Error::input(format!(
            "The end time t_end = {t_end} must be after the start time t0 = {t0}."
        ))
        .with_help("the solvers integrate forwards in time: swap the two times or change t_end"));
    }
    if options.max_steps == 0 {
        return Err(Error::input(
            "The step limit `max_steps` must be at least 1.",
        ));
    }
    let times = match &options.times {
        // Filled by the solver as it steps.
        None if options.at_steps => Vec::new(),
        Some(_) if options.at_steps => {
            return Err(Error::input(
                "The solve was asked for output times and for every step at once.",
            )
            .with_help("set either `times` or `at_steps`"));
        }
        None => default_times(t0, t_end),
        Some(times) => {
            check_times(times, t0, t_end)?;
            times.clone()
        }
    };
    Ok(((t0, t_end), times))
}

/// Checks the events' options and schedules: at least one event allowed, every scheduled
/// event's times finite and sorted. Returns each scheduled event's times within the span
/// (times outside it are ignored).
pub(crate) fn check_events(
    system: &dyn OdeSystem,
    p: &[f64],
    (t0, t_end): (f64, f64),
    options: &SolveOptions,
) -> Result<Vec<(usize, Vec<f64>)>, Error> {
    if options.max_events == 0 {
        return Err(Error::input(
            "The event limit `max_events` must be at least 1.",
        ));
    }
    let mut schedule = Vec::new();
    for (k, spec) in system.events().iter().enumerate() {
        if spec.trigger != EventTrigger::Scheduled {
            continue;
        }
        let times = system.event_times(k, p, (t0, t_end));
        if let Some((i, t)) = times.iter().enumerate().find(|(_, t)| !t.is_finite()) {
            return Err(Error::input(format!(
                "Time #{} of {} is {t}; event times must be finite.",
                i + 1,
                super::names::event(system, k)
            ))
            .with_help("check the schedule's start, period and parameters"));
        }
        if let Some(i) = times.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::input(format!(
                "The times of {} must be sorted, but time #{} (t = {}) \
                 comes before time #{} (t = {}).",
                super::names::event(system, k),
                i + 2,
                times[i + 1],
                i + 1,
                times[i]
            ))
            .with_help("list the event's times in increasing order"));
        }
        let inside = times.into_iter().filter(|t| (t0..=t_end).contains(t));
        schedule.push((k, inside.collect()));
    }
    Ok(schedule)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn check_tolerance(which: &str, value: f64, typical: &str) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 {
        return Ok(());
    }
    Err(Error::input(format!(
        "The {which} tolerance must be a positive finite number, not {value}."
    ))
    .with_help(format!("a typical {which} tolerance is {typical}")))
}

/// `DEFAULT_OUTPUT_POINTS` evenly spaced times, ending exactly at `t_end`.
fn default_times(t0: f64, t_end: f64) -> Vec<f64> {
    let last = DEFAULT_OUTPUT_POINTS - 1;
    (0..=last)
        .map(|k| {
            if k == last {
                t_end
            } else {
                t0 + (t_end - t0) * (k as f64 / last as f64)
            }
        })
        .collect()
}

fn check_times(times: &[f64], t0: f64, t_end: f64) -> Result<(), Error> {
    if times.is_empty() {
        return Err(Error::input("No output times were given.")
            .with_help("leave the times out to get 201 evenly spaced ones"));
    }
    for (k, &t) in times.iter().enumerate() {
        if !t.is_finite() {
            return Err(Error::input(format!(
                "Output time #{} is {t}; output times must be finite.",
                k + 1
            )));
        }
        if t < t0 || t > t_end {
            return Err(Error::input(format!(
                "Output time #{} (t = {t}) is outside the integration interval [{t0}, {t_end}].",
                k + 1
            )));
        }
        if k > 0 && t < times[k - 1] {
            return Err(Error::input(format!(
                "The output times must be sorted, but time #{} (t = {t}) comes before time #{} (t = {}).",
                k + 1,
                k,
                times[k - 1]
            ))
            .with_help("sort the output times in increasing order"));
        }
    }
    Ok(())
}

/// Checks that a system's sparsity pattern is a well-formed `n × n` CSR pattern with
/// sorted, distinct columns in every row (the adapters index it without further checks).
pub(crate) fn check_pattern(pattern: &Sparsity, n: usize) -> Result<(), Error> {
    let bad = |what: String| {
        Err(Error::input(format!(
            "The system's Jacobian sparsity pattern is malformed: {what}."
        )))
    };
    if pattern.n != n {
        return bad(format!(
            "it is {0} × {0} but the system has {n} states",
            pattern.n
        ));
    }
    if pattern.row_ptr.len() != n + 1 {
        return bad(format!(
            "it has {} row pointers instead of {}",
            pattern.row_ptr.len(),
            n + 1
        ));
    }
    if pattern.row_ptr[0] != 0 || pattern.row_ptr[n] != pattern.col_idx.len() {
        return bad("its row pointers do not span its column indices".to_string());
    }
    if let Some(r) = pattern.row_ptr.windows(2).position(|w| w[0] > w[1]) {
        return bad(format!("the row pointers decrease at row {r}"));
    }
    // Monotone from 0 to `col_idx.len()`: every row's slice below is in bounds.
    for r in 0..n {
        let (start, end) = (pattern.row_ptr[r], pattern.row_ptr[r + 1]);
        let cols = &pattern.col_idx[start..end];
        if let Some(&c) = cols.iter().find(|&&c| c >= n) {
            return bad(format!("row {r} has column {c}, past the last column"));
        }
        if cols.windows(2).any(|w| w[0] >= w[1]) {
            return bad(format!(
                "the columns of row {r} are not sorted and distinct"
            ));
        }
    }
    Ok(())
}

/// A time for a message: six significant digits, exponent form for very large or small.
pub(crate) fn fmt_time(t: f64) -> String {
    let a = t.abs();
    if a == 0.0 || (1e-4..1e6).contains(&a) {
        let rounded: f64 = format!("{t:.5e}").parse().unwrap_or(t);
        format!("{rounded}")
    } else {
        format!("{t:.5e}")
    }
}
