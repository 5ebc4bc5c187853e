//! Progress of a training run on stderr: a live bar on a terminal, and plain lines when
//! stderr is a file or a pipe (`sci train … 2>&1 | tee log`, a batch job), where a bar
//! would print nothing until the end.
//!
//! A plain line is written after the first step, whenever `--log-every` steps have passed
//! (by default every tenth of the run), at least every [`QUIET_LIMIT`] of wall time, and
//! after the last step.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use sci::stdlib::optim::Progress;

use super::runtime_common::progress_bar;

/// The longest a run stays silent in plain mode.
pub const QUIET_LIMIT: Duration = Duration::from_secs(30);

/// Reports training progress, as a bar or as lines.
pub struct Reporter {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    every: usize,
    /// The step the run started from (a resumed run's ETA counts only its own steps).
    first_step: usize,
    /// The names of the loss's terms.
    terms: Vec<String>,
    /// Steps per epoch of mini-batch training: lines count epochs, and one is written at
    /// the end of each epoch whose test loss was measured.
    epoch_len: Option<usize>,
    /// The last test loss measured.
    test: Option<f64>,
}

impl Reporter {
    /// A reporter for a run of `total` steps whose first step is `first_step + 1`; lines
    /// every `every` steps when given.
    pub fn new(name: &str, total: usize, first_step: usize, every: Option<usize>) -> Reporter {
        let now = Instant::now();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = progress_bar(total as u64, &format!("training {name}"));
            bar.set_position(first_step as u64);
            bar
        });
        Reporter {
            bar,
            started: now,
            last_line: now,
            every: every.unwrap_or((total / 10).max(1)),
            first_step,
            terms: Vec::new(),
            epoch_len: None,
            test: None,
        }
    }

    /// Counts epochs of `steps` steps in the lines.
    pub fn with_epochs(mut self, steps: Option<usize>) -> Reporter {
        self.epoch_len = steps.filter(|&n| n > 0);
        self
    }

    /// Names the loss's terms, shown in a line when they were sampled at its step.
    pub fn with_terms(mut self, names: Vec<String>) -> Reporter {
        self.terms = names;
        self
    }

    /// The steps between two plain lines.
    pub fn every(&self) -> usize {
        self.every
    }

    /// Shows the run after a step.
    pub fn step(&mut self, info: &Progress<'_>) {
        if info.test.is_some() {
            self.test = info.test;
        }
        if let Some(bar) = &self.bar {
            bar.set_position(info.step as u64);
            bar.set_message(match self.test {
                Some(test) => format!("loss {:.4e}  test {test:.4e}", info.loss),
                None => format!("loss {:.4e}", info.loss),
            });
            return;
        }
        let now = Instant::now();
        let due = info.step == self.first_step + 1
            || info.step.is_multiple_of(self.every)
            || (self.epoch_len.is_some() && info.test.is_some())
            || info.step == info.total
            || now.duration_since(self.last_line) >= QUIET_LIMIT;
        if due {
            self.last_line = now;
            errln!("{}", self.line(info, now.duration_since(self.started)));
        }
    }

    /// One plain progress line.
    fn line(&self, info: &Progress<'_>, elapsed: Duration) -> String {
        let (what, at, of) = match self.epoch_len {
            Some(n) => ("epoch", info.step.div_ceil(n), info.total.div_ceil(n)),
            None => ("step", info.step, info.total),
        };
        let width = of.to_string().len();
        let mut line = format!(
            "{what} {at:>width$}/{of} {:>3}%  loss {:.6e}  best {:.6e}  {}",
            100 * info.step / info.total.max(1),
            info.loss,
            info.best_loss,
            info.phase.name(),
        );
        if let Some(lr) = info.lr {
            line.push_str(&format!(" lr {lr:.1e}"));
        }
        if let Some(test) = self.test {
            line.push_str(&format!("  test {test:.6e}"));
        }
        if let Some(values) = info.terms.filter(|v| v.len() == self.terms.len()) {
            let terms: Vec<String> = (self.terms.iter().zip(values))
                .map(|(name, v)| format!("{name} {v:.3e}"))
                .collect();
            line.push_str(&format!("  terms: {}", terms.join(", ")));
        }
        line.push_str(&format!("  elapsed {}", duration(elapsed)));
        let done = info.step.saturating_sub(self.first_step);
        if done > 0 && info.step < info.total {
            let per_step = elapsed.as_secs_f64() / done as f64;
            let eta = per_step * (info.total - info.step) as f64;
            line.push_str(&format!("  eta {}", duration(Duration::from_secs_f64(eta))));
        }
        line
    }

    /// Removes the bar (plain lines stay).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A duration for people: `4.2 s`, `3 min 05 s`, `2 h 07 min`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let whole = s.round() as u64;
    if whole < 3600 {
        return format!("{} min {:02} s", whole / 60, whole % 60);
    }
    format!("{} h {:02} min", whole / 3600, (whole % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(4200)), "4.2 s");
        assert_eq!(duration(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(
            duration(Duration::from_secs(2 * 3600 + 7 * 60 + 3)),
            "2 h 07 min"
        );
    }
}
