//! The real DFTs as sci compiles them against an FFT library, side by side in one run
//! (`cargo bench --bench spectral`; never run by the test suite): one `rfft` keeping
//! `modes` frequencies and one `irfft` back onto the grid, in the two forms neural
//! operators use — a batch of signals, one per point of a `map` (tiled across the signals,
//! `sci_passes::tile`), and the rows of one matrix (a Fourier layer's channels of one
//! sample: what `fno` lowers to). sci's side is what its back ends run: the ops expanded
//! into matrix products (`sci_passes::spectral`), compiled by Cranelift on one thread. The
//! peer is `realfft` (rustfft's real-input transforms) on one thread, with the frequencies
//! above `modes` set to zero between the two. Both results are checked against each other.
//! Prints a Markdown table (docs/neural-operators.md keeps the last one).

mod timing;

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use sci_codegen::Backend;
use sci_codegen::cranelift::{CraneliftBackend, CraneliftOptions};
use timing::time_calls;

/// Signals per call: points of a `map`.
const BATCH: usize = 1024;
/// Rows of the matrix form: a Fourier layer's channels (`fno`'s default width).
const ROWS: usize = 64;

/// (points, modes): FNO's 1-D Burgers at s = 256 and 1024 with 16 modes, a small grid,
/// more frequencies, and every frequency of 256 points.
const CASES: [(usize, usize); 7] = [
    (64, 8),
    (256, 16),
    (1024, 16),
    (256, 32),
    (256, 64),
    (1024, 64),
    (256, 129),
];

/// How the signals reach the transforms.
#[derive(Clone, Copy)]
enum Form {
    /// One signal per point of a `map`, `BATCH` points.
    Map,
    /// The `ROWS` rows of one matrix.
    Rows,
}

impl Form {
    fn signals(self) -> usize {
        match self {
            Form::Map => BATCH,
            Form::Rows => ROWS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Form::Map => "map over signals",
            Form::Rows => "rows of a matrix",
        }
    }
}

fn module(form: Form, n: usize, modes: usize) -> sci_ir::Module {
    let text = match form {
        Form::Map => format!(
            "func layer(%x: batch f64[{n}]) -> batch f64[{n}] {{
  %y: batch f64[{n}] = map %x (%xi: f64[{n}]) {{
    %s: f64[2, {modes}] = rfft %xi, {modes}
    %r: f64[{n}] = irfft %s, {n}
    yield %r
  }}
  return %y
}}
"
        ),
        Form::Rows => format!(
            "func layer(%x: f64[{ROWS}, {n}]) -> f64[{ROWS}, {n}] {{
  %s: f64[2, {ROWS}, {modes}] = rfft %x, {modes}
  %r: f64[{ROWS}, {n}] = irfft %s, {n}
  return %r
}}
"
        ),
    };
    let mut m = sci_ir::read_module(sci_diag::FileId(0), &text).expect("valid IR");
    sci_passes::spectral::expand_spectral(&mut m);
    sci_passes::tile::tile_module(&mut m, sci_passes::tile::DEFAULT_LANES);
    sci_passes::tile::outline_tiles(&mut m);
    m
}

/// The same transforms with realfft, signal by signal, into `out`.
struct Peer {
    forward: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    inverse: std::sync::Arc<dyn realfft::ComplexToReal<f64>>,
    input: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl Peer {
    fn new(n: usize) -> Peer {
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let scratch =
            vec![Complex::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
        Peer {
            input: forward.make_input_vec(),
            spectrum: forward.make_output_vec(),
            forward,
            inverse,
            scratch,
        }
    }

    fn run(&mut self, signals: &[f64], modes: usize, out: &mut [f64]) {
        let n = self.input.len();
        let scale = 1.0 / n as f64;
        for (x, y) in signals.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            self.input.copy_from_slice(x);
            let fwd = self.forward.process_with_scratch(
                &mut self.input,
                &mut self.spectrum,
                &mut self.scratch,
            );
            fwd.expect("realfft forward");
            for c in &mut self.spectrum[modes..] {
                *c = Complex::default();
            }
            // The inverse wants real parts at 0 and n/2, as irfft ignores their imaginary
            // parts.
            self.spectrum[0].im = 0.0;
            if n.is_multiple_of(2) {
                self.spectrum[n / 2].im = 0.0;
            }
            let inv = self
                .inverse
                .process_with_scratch(&mut self.spectrum, y, &mut self.scratch);
            inv.expect("realfft inverse");
            for v in y.iter_mut() {
                *v *= scale;
            }
        }
    }
}

fn main() {
    // `--json FILE`: the timings in full (samples, spread) as well as the table.
    let args: Vec<String> = std::env::args().collect();
    let json_path = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1));
    let mut records = Vec::new();
    println!("| form | points | modes | sci (matrix products) | realfft | sci / realfft |");
    println!("|---|---|---|---|---|---|");
    for form in [Form::Map, Form::Rows] {
        for (n, modes) in CASES {
            let signals_per_call = form.signals();
            let m = module(form, n, modes);
            let valid = sci_codegen::validate(&m).expect("the expanded module validates");
            let backend = CraneliftBackend::with_options(CraneliftOptions {
                threads: Some(1),
                ..CraneliftOptions::default()
            });
            let code = backend.compile(&valid).expect("Cranelift compiles it");
            let index = code.index_of("layer").expect("the function");
            let signals: Vec<f64> = (0..signals_per_call * n)
                .map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0)
                .collect();
            let mut ours = vec![0.0; signals_per_call * n];
            let mut theirs = vec![0.0; signals_per_call * n];
            let mut peer = Peer::new(n);
            code.call_flat(index, &[&signals], &mut ours)
                .expect("the call");
            peer.run(&signals, modes, &mut theirs);
            let diff = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                diff < 1e-9,
                "n = {n}, modes = {modes}: results differ by {diff}"
            );
            let sci_t = time_calls(11, 1.0, || {
                code.call_flat(index, &[&signals], &mut ours)
                    .expect("the call");
            });
            let peer_t = time_calls(11, 1.0, || peer.run(&signals, modes, &mut theirs));
            records.push(serde_json::json!({
                "form": form.name(),
                "points": n,
                "modes": modes,
                "signals_per_call": signals_per_call,
                "sci": sci_t.json(),
                "realfft": peer_t.json(),
            }));
            let per = |s: f64| s / signals_per_call as f64 * 1e9;
            println!(
                "| {} | {n} | {modes} | {:.0} ns | {:.0} ns | {:.2} |",
                form.name(),
                per(sci_t.median),
                per(peer_t.median),
                sci_t.median / peer_t.median
            );
        }
    }
    println!();
    println!(
        "(per signal: one rfft and one irfft; {BATCH} points of a map, or {ROWS} rows, per call; one thread)"
    );
    if let Some(path) = json_path {
        let text = serde_json::to_string_pretty(&records).expect("JSON");
        std::fs::write(path, text).expect("the --json file is writable");
    }
}
