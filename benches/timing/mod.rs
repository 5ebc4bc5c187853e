//! Timing of calls, shared by the benchmark harnesses (`peers`, `api`): calls batched so
//! one sample lasts 2 ms, medians over samples. `bench/peers/common.py` times the same way.

use serde_json::{Value, json};
use std::time::Instant;

/// Median and spread of repeated measurements, in seconds per call.
pub struct Timing {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub samples: usize,
    pub calls_per_sample: usize,
}

impl Timing {
    pub fn json(&self) -> Value {
        json!({
            "median_s": self.median,
            "min_s": self.min,
            "max_s": self.max,
            "samples": self.samples,
            "calls_per_sample": self.calls_per_sample,
        })
    }
}

/// Times `f`: calls are batched so that one sample lasts at least 2 ms, then samples are
/// taken until `budget_s` has passed, at least `min_samples` and at most 201 of them; the
/// median of the per-call times is the result. `bench/peers/common.py` does the same.
pub fn time_calls(min_samples: usize, budget_s: f64, mut f: impl FnMut()) -> Timing {
    const SAMPLE_S: f64 = 2e-3;
    let mut k = 1usize;
    loop {
        let t = Instant::now();
        for _ in 0..k {
            f();
        }
        let e = t.elapsed().as_secs_f64();
        if e >= SAMPLE_S || k >= 1 << 24 {
            break;
        }
        k = (k * 2)
            .max((k as f64 * SAMPLE_S / e.max(1e-9) * 1.2) as usize)
            .min(1 << 24);
    }
    let start = Instant::now();
    let mut per_call = Vec::new();
    while per_call.len() < min_samples
        || (start.elapsed().as_secs_f64() < budget_s && per_call.len() < 201)
    {
        let t = Instant::now();
        for _ in 0..k {
            f();
        }
        per_call.push(t.elapsed().as_secs_f64() / k as f64);
    }
    per_call.sort_by(f64::total_cmp);
    Timing {
        median: per_call[per_call.len() / 2],
        min: per_call[0],
        max: per_call[per_call.len() - 1],
        samples: per_call.len(),
        calls_per_sample: k,
    }
}
