//! `sci compile --emit simplified` and `--stats`: expand the derivatives, simplify every
//! function, print it as IR and as readable mathematics, and report op counts.
//!
//! Output of `--emit simplified` (stdout): each module as `.sir` text that
//! `sci_ir::read` parses back, every function followed by its mathematics as `//` comment
//! lines. `--stats` prints one table per module on stderr (so stdout stays machine-readable):
//! per function, ops and estimated FLOPs after derivative expansion and after
//! simplification. `--fast-math` also runs the rules that can change results.

use sci::diag::Diagnostic;
use sci::ir::{FuncId, Module};
use sci_passes::simplify::{SimplifyOptions, SimplifyStats, simplify_module};

/// A module after derivative expansion and simplification, with what simplification did.
pub struct Simplified {
    pub module: Module,
    pub stats: SimplifyStats,
}

/// Expands the derivatives of every module and simplifies all their functions.
/// Derivative-expansion errors are returned as diagnostics (the modules are not usable).
pub fn simplify_modules(
    modules: &[Module],
    fast_math: bool,
) -> Result<Vec<Simplified>, Vec<Diagnostic>> {
    let opts = SimplifyOptions {
        fast_math,
        ..SimplifyOptions::default()
    };
    simplify_modules_with(modules, &opts)
}

/// [`simplify_modules`] with explicit options.
pub fn simplify_modules_with(
    modules: &[Module],
    opts: &SimplifyOptions,
) -> Result<Vec<Simplified>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    for m in modules {
        let mut module = m.clone();
        sci_passes::ad::expand_derivatives(&mut module)?;
        let stats = simplify_module(&mut module, opts);
        out.push(Simplified { module, stats });
    }
    Ok(out)
}

/// The functions `ids` of `m` as `.sir` text, each followed by its mathematics as `//`
/// comments; with the module header and layouts first if `header`.
pub fn render_functions(m: &Module, ids: &[FuncId], header: bool) -> String {
    let mut out = String::new();
    if header {
        let empty = Module {
            functions: Default::default(),
            ..m.clone()
        };
        out.push_str(&sci::ir::print::print_module(&empty));
    }
    for &id in ids {
        out.push('\n');
        out.push_str(&sci::ir::print::print_function(m, id));
        out.push('\n');
        for line in sci::ir::math::function_to_math(m, id).lines() {
            out.push_str("// ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The text of `--emit simplified` for all modules.
pub fn render(simplified: &[Simplified], fast_math: bool) -> String {
    let rules = if fast_math {
        "all rules (--fast-math): results may differ in the last bits"
    } else {
        "IEEE-safe rules: results are bit-identical"
    };
    simplified
        .iter()
        .map(|s| {
            let ids: Vec<FuncId> = s.module.functions.iter().map(|(id, _)| id).collect();
            format!(
                "// {}: derivatives expanded, simplified with {rules}\n{}",
                s.module.name,
                render_functions(&s.module, &ids, true)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `--stats` tables for all modules.
pub fn stats_tables(simplified: &[Simplified]) -> String {
    simplified
        .iter()
        .map(|s| format!("module {}:\n{}", s.module.name, s.stats.table()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    //! Every example, derivatives expanded, simplified: the result validates, evaluates to
    //! bit-identical values by default, and to nearby values with fast-math; the op-count
    //! table in `docs/simplification.md` is regenerated with `SCI_BLESS=1`.

    use super::*;
    use sci::Tensor;
    use sci::ir::random::random_inputs;
    use sci::ir::{Interpreter, validate_module};
    use sci_passes::simplify::SimplifyOptions;

    /// Each example: its name, its modules with derivatives expanded, and simplified.
    struct Example {
        name: String,
        expanded: Vec<Module>,
        simplified: Vec<Simplified>,
    }

    fn examples() -> &'static [Example] {
        static CACHE: std::sync::OnceLock<Vec<Example>> = std::sync::OnceLock::new();
        CACHE.get_or_init(|| {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
            let mut paths: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "sci"))
                .collect();
            paths.sort();
            paths
                .into_iter()
                .map(|p| {
                    let text = std::fs::read_to_string(&p).unwrap();
                    let analysis =
                        sci::analyze_in(sci::diag::FileId(0), &text, &sci::model_dir(&p));
                    assert!(!analysis.has_errors(), "{}", p.display());
                    let mut expanded = analysis.modules.clone();
                    for m in &mut expanded {
                        sci_passes::ad::expand_derivatives(m).unwrap();
                    }
                    Example {
                        name: p.file_name().unwrap().to_string_lossy().into_owned(),
                        simplified: simplify_modules(&analysis.modules, false).unwrap(),
                        expanded,
                    }
                })
                .collect()
        })
    }

    fn same_bits(a: &Tensor, b: &Tensor) -> bool {
        a.shape == b.shape
            && a.batch == b.batch
            && a.data
                .iter()
                .zip(&b.data)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    /// Evaluates every function of `before` and `after` at the same random inputs.
    fn compare(
        name: &str,
        before: &Module,
        after: &Module,
        check: impl Fn(&Tensor, &Tensor) -> bool,
    ) -> usize {
        let ib = Interpreter::new(before).unwrap();
        let ia = Interpreter::new(after).unwrap();
        let mut compared = 0;
        for (id, f) in before.functions.iter() {
            let inputs = random_inputs(before, id, 7);
            let b = ib.call(id, &inputs);
            let a = ia.call_named(&f.name, &inputs);
            match (b, a) {
                (Ok(b), Ok(a)) => {
                    assert!(
                        check(&b, &a),
                        "{name}: `{}` gave {b} before and {a} after",
                        f.name
                    );
                    compared += 1;
                }
                (b, a) => assert_eq!(b.is_ok(), a.is_ok(), "{name}: `{}`: {b:?} / {a:?}", f.name),
            }
        }
        compared
    }

    #[test]
    fn simplified_examples_validate_and_give_bit_identical_results() {
        let mut compared = 0;
        let mut reduced = 0;
        for ex in examples() {
            for (before, s) in ex.expanded.iter().zip(&ex.simplified) {
                validate_module(&s.module).unwrap_or_else(|e| panic!("{}: {e:?}", ex.name));
                compared += compare(&ex.name, before, &s.module, same_bits);
                for f in &s.stats.functions {
                    assert!(f.ops_after <= f.ops_before, "{}: {f:?}", ex.name);
                    assert!(f.note.is_none(), "{}: {f:?}", ex.name);
                    reduced += usize::from(f.ops_after < f.ops_before);
                }
            }
        }
        assert!(compared >= 20, "{compared}");
        assert!(reduced >= 5, "{reduced}");
    }

    /// Fast-math (with a small e-graph, to keep the test quick) stays within 1e-9
    /// relative of the unsimplified results on the examples.
    #[test]
    fn fast_math_examples_stay_close() {
        let opts = SimplifyOptions {
            fast_math: true,
            node_limit: 3_000,
            ..SimplifyOptions::default()
        };
        for ex in examples() {
            let analysis_modules: Vec<Module> = ex.expanded.clone();
            let fast = simplify_modules_with(&analysis_modules, &opts).unwrap();
            for (before, s) in ex.expanded.iter().zip(&fast) {
                validate_module(&s.module).unwrap_or_else(|e| panic!("{}: {e:?}", ex.name));
                compare(&ex.name, before, &s.module, |b, a| {
                    b.approx_eq(a, 1e-9, 1e-12)
                });
            }
        }
    }

    #[test]
    fn the_output_reads_back_as_the_simplified_ir() {
        for ex in examples() {
            for s in &ex.simplified {
                let ids: Vec<FuncId> = s.module.functions.iter().map(|(id, _)| id).collect();
                let text = render_functions(&s.module, &ids, true);
                let back = sci::ir::read::read_module(sci::diag::FileId(0), &text)
                    .unwrap_or_else(|e| panic!("{}: {e:?}\n{text}", ex.name));
                assert_eq!(back, s.module, "{}", ex.name);
            }
        }
    }
}

#[cfg(test)]
mod report {
    //! The op-count table of `docs/simplification.md`: the examples' derivative functions
    //! before and after simplification. `SCI_BLESS=1 cargo test -p sci --bin sci report`
    //! rewrites the table in the document.

    use super::*;
    use sci::ir::validate_module;
    use sci_passes::simplify::SimplifyOptions;
    use std::fmt::Write;

    /// The derivative functions of a module for the op-count report: the functions whose
    /// `d(...)` were expanded, the Jacobians of `rhs` in y and θ, and the gradient of `loss` in
    /// θ (calls inlined), in a module with the original layouts. Errors are AD's messages.
    pub fn derivative_functions(m: &Module) -> Result<Module, String> {
        use sci_passes::ad;
        let has_deriv = |f: &sci::ir::Function| {
            f.values
                .iter()
                .any(|(_, v)| matches!(v.op, sci::ir::Op::Deriv { .. }))
        };
        let mut expanded = m.clone();
        ad::expand_derivatives(&mut expanded).map_err(|d| {
            d.iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let mut out = Module {
            functions: Default::default(),
            ..m.clone()
        };
        // Only derivative functions are kept: the events' functions are not among them.
        out.manifest.events.clear();
        let err = |e: ad::AdError| e.message;
        for (id, f) in m.functions.iter() {
            if has_deriv(f)
                && let Some(g) = expanded.functions.get(id)
            {
                out.functions
                    .push(ad::inline_calls_function(&expanded, g).map_err(err)?);
            }
        }
        if let Some(rhs) = expanded.function("rhs") {
            for (k, name) in [(1usize, "jac_y.rhs"), (2, "jac_p.rhs")] {
                let nonempty = expanded
                    .functions
                    .get(rhs)
                    .and_then(|f| f.input_type(k))
                    .and_then(|t| t.element_count());
                if nonempty.unwrap_or(0) == 0 {
                    continue;
                }
                let mut j = ad::jacobian(&expanded, rhs, k).map_err(err)?;
                j = ad::inline_calls_function(&expanded, &j).map_err(err)?;
                j.name = name.into();
                out.functions.push(j);
            }
        }
        if let Some(loss) = expanded.function("loss") {
            let mut g = ad::grad(&expanded, loss, &[0]).map_err(err)?;
            g = ad::inline_calls_function(&expanded, &g).map_err(err)?;
            g.name = "grad.loss".into();
            out.functions.push(g);
        }
        Ok(out)
    }

    #[test]
    fn derivative_functions_shrink_and_the_report_is_written_on_request() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sci"))
            .collect();
        paths.sort();
        let mut table = String::from(
            "| example | function | ops before | ops after | FLOPs before | FLOPs after | fast-math ops | fast-math FLOPs |\n|---|---|--:|--:|--:|--:|--:|--:|\n",
        );
        let (mut before, mut after) = (0usize, 0usize);
        let bless = std::env::var_os("SCI_BLESS").is_some();
        let mut worst = 0.0f64;
        for p in paths {
            let text = std::fs::read_to_string(&p).unwrap();
            let example = p.file_name().unwrap().to_string_lossy().into_owned();
            // Lowered but not yet expanded (`sci::analyze` expands the derivatives), so
            // that the functions with `d(...)` can be told apart.
            let parsed = sci::lang::parser::parse(sci::diag::FileId(0), &text);
            let tables = sci::FileTables::in_dir(sci::model_dir(&p));
            let checked = sci::lang::check::check_with_inputs(
                &parsed.file,
                &sci::lang::check::NO_OVERRIDES,
                Some(&tables),
            );
            let modules = sci::lang::lower::lower_program(&checked.program).unwrap();
            for m in &modules {
                let d = derivative_functions(m).unwrap_or_else(|e| panic!("{example}: {e}"));
                let mut safe = d.clone();
                let stats = simplify_module(&mut safe, &SimplifyOptions::default());
                validate_module(&safe).unwrap();
                // Fast-math runs take seconds on the larger examples: only when writing.
                let fast_stats = if bless {
                    let mut fast = d.clone();
                    let s = simplify_module(&mut fast, &SimplifyOptions::fast_math());
                    validate_module(&fast).unwrap();
                    worst = worst.max(largest_difference(&d, &fast));
                    s
                } else {
                    stats.clone()
                };
                for (s, f) in stats.functions.iter().zip(&fast_stats.functions) {
                    before += s.ops_before;
                    after += s.ops_after;
                    assert!(s.ops_after <= s.ops_before, "{example}: {s:?}");
                    let _ = writeln!(
                        table,
                        "| {example} | `{}` | {} | {} ({}) | {} | {} ({}) | {} | {} |",
                        s.name,
                        s.ops_before,
                        s.ops_after,
                        change(s.ops_before as u64, s.ops_after as u64),
                        s.flops_before,
                        s.flops_after,
                        change(s.flops_before, s.flops_after),
                        f.ops_after,
                        f.flops_after,
                    );
                }
            }
        }
        let _ = writeln!(
            table,
            "| **all** | | {before} | {after} ({}) | | | | |",
            change(before as u64, after as u64)
        );
        assert!(after * 10 < before * 9, "{before} → {after}");
        let _ = writeln!(
            table,
            "\nLargest difference between fast-math and unsimplified results of these functions at \
             random inputs: {worst:.1e} (relative to the largest magnitude of each result).",
        );
        let doc = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/simplification.md");
        if bless {
            let text = std::fs::read_to_string(doc).unwrap();
            let text = replace_between(&text, "op-counts", &table);
            let text = replace_between(&text, "rules", &rules_table());
            std::fs::write(doc, text).unwrap();
        }
    }

    /// `text` with the lines between `<!-- NAME:begin -->` and `<!-- NAME:end -->` replaced.
    fn replace_between(text: &str, name: &str, new: &str) -> String {
        let (start, end) = (
            format!("<!-- {name}:begin -->\n"),
            format!("<!-- {name}:end -->"),
        );
        let a = text.find(&start).expect("begin marker") + start.len();
        let b = text.find(&end).expect("end marker");
        format!("{}{new}{}", &text[..a], &text[b..])
    }

    /// The rule table of the document, from `RULES`.
    fn rules_table() -> String {
        let mut t = String::from(
            "| rule | group | left | right | IEEE-safe | why |\n|---|---|---|---|---|---|\n",
        );
        for r in sci_passes::simplify::RULES {
            let _ = writeln!(
                t,
                "| `{}` | {} | `{}` | `{}` | {} | {} |",
                r.name,
                r.group.name(),
                r.lhs,
                r.rhs,
                if r.ieee_safe { "yes" } else { "no" },
                r.why.replace('|', "\\|")
            );
        }
        t
    }

    #[test]
    fn the_document_lists_every_rule() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/simplification.md"
        ))
        .unwrap();
        for r in sci_passes::simplify::RULES {
            assert!(
                doc.contains(&format!("`{}`", r.name)),
                "docs/simplification.md does not list rule `{}` (run SCI_BLESS=1 cargo test -p sci --bin sci report)",
                r.name
            );
        }
    }

    /// The largest difference of any result element, relative to the largest magnitude of
    /// that function's result, over the functions of `a` and `b` at random inputs.
    fn largest_difference(a: &Module, b: &Module) -> f64 {
        let (ia, ib) = (
            sci::ir::Interpreter::new(a).unwrap(),
            sci::ir::Interpreter::new(b).unwrap(),
        );
        let mut worst = 0.0f64;
        for (id, f) in a.functions.iter() {
            // The dense Jacobians of the large models take minutes in the interpreter.
            if sci_passes::simplify::estimate_flops(a, id) > 2_000_000 {
                continue;
            }
            for seed in 0..3 {
                let inputs = sci::ir::random::random_inputs(a, id, seed);
                let (Ok(x), Ok(y)) = (ia.call(id, &inputs), ib.call_named(&f.name, &inputs)) else {
                    continue;
                };
                let scale = x
                    .data
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.abs()))
                    .max(f64::MIN_POSITIVE);
                for (u, v) in x.data.iter().zip(&y.data) {
                    if u.is_finite() && v.is_finite() {
                        worst = worst.max((u - v).abs() / scale);
                    }
                }
            }
        }
        worst
    }

    fn change(before: u64, after: u64) -> String {
        if before == 0 {
            return "–".into();
        }
        format!(
            "{:+.0}%",
            (after as f64 - before as f64) / before as f64 * 100.0
        )
    }
}
