//! E-graph simplification of the elementwise part of the IR, with egg.
//!
//! Pipeline per function ([`simplify_function`]): constant folding, CSE and DCE
//! (`crate::cleanup`); then every block's elementwise `f64` values go through an e-graph
//! (`bridge`) with the rules of [`RULES`] that the options allow, a constant-folding
//! analysis (`analysis`) and extraction by a FLOP-count cost model (`cost`); then CSE and
//! DCE again. The result is validated; if it is invalid (a bug) or costs more than the
//! cleaned-up input, the cleaned-up input is kept. The function is never left worse or
//! invalid.
//!
//! Determinism: runs are bounded by iteration and e-node limits only. egg's time limit is
//! set to `Duration::MAX` so the output never depends on the speed of the machine.
//!
//! Numerics: by default only IEEE-safe rules run, and folding evaluates with the reference
//! interpreter, so simplified functions give bit-identical results (NaN payloads aside).
//! With [`SimplifyOptions::fast_math`] rules that change results (`x*0 → 0`, `x-x → 0`,
//! reassociation, distributivity, `x/x → 1`, transcendental identities) run too; see
//! `docs/simplification.md` for the error bound.

mod analysis;
mod apply;
mod bridge;
mod cost;
mod extract;
mod lang;
mod pattern_ir;
mod rules;

pub use analysis::{Data, Facts};
pub use apply::is_power_of_two;
pub use bridge::EggReport;
pub use cost::{
    FlopCost, binary_cost, estimate_flops, estimate_function_flops, node_cost, unary_cost,
};
pub use lang::{ANY_TYPE, Node};
pub use pattern_ir::pattern_module;
pub use rules::{Group, Guard, RULES, RuleSpec, rule_named};

use crate::cleanup::{cse, dce, fold_constants};
use egg::{EGraph, Extractor, Id, Language, RecExpr, Rewrite, Runner};
use sci_ir::validate::validate_function;
use sci_ir::{DType, FuncId, Function, Module};
use std::fmt::Write;
use std::time::Duration;

/// What the simplifier may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimplifyOptions {
    /// Also run rules that can change results (see [`RuleSpec::ieee_safe`]).
    pub fast_math: bool,
    /// Most rewrite iterations per e-graph.
    pub iter_limit: usize,
    /// Most e-nodes per e-graph (egg stops after the iteration that passes it).
    pub node_limit: usize,
}

impl Default for SimplifyOptions {
    fn default() -> SimplifyOptions {
        SimplifyOptions {
            fast_math: false,
            iter_limit: 12,
            node_limit: 20_000,
        }
    }
}

impl SimplifyOptions {
    /// The default limits with fast-math rules enabled.
    pub fn fast_math() -> SimplifyOptions {
        SimplifyOptions {
            fast_math: true,
            ..SimplifyOptions::default()
        }
    }
}

/// What simplification did to one function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionStats {
    pub name: String,
    /// Ops (values other than block arguments) before and after.
    pub ops_before: usize,
    pub ops_after: usize,
    /// [`estimate_flops`] before and after.
    pub flops_before: u64,
    pub flops_after: u64,
    pub egg: EggReport,
    /// Why the e-graph result was not used, if it was not (the clean-up result was kept).
    pub note: Option<String>,
}

/// What simplification did to a module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimplifyStats {
    pub functions: Vec<FunctionStats>,
}

impl SimplifyStats {
    /// A plain-text table: one row per function with op counts and FLOP estimates before
    /// and after, and the relative change of the op count.
    pub fn table(&self) -> String {
        let width = self
            .functions
            .iter()
            .map(|f| f.name.chars().count())
            .max()
            .unwrap_or(0)
            .max("function".len());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<width$}  {:>10}  {:>9}  {:>7}  {:>12}  {:>11}  {:>7}",
            "function",
            "ops before",
            "ops after",
            "change",
            "flops before",
            "flops after",
            "change"
        );
        for f in &self.functions {
            let _ = write!(
                out,
                "{:<width$}  {:>10}  {:>9}  {:>7}  {:>12}  {:>11}  {:>7}",
                f.name,
                f.ops_before,
                f.ops_after,
                percent(f.ops_before as u64, f.ops_after as u64),
                f.flops_before,
                f.flops_after,
                percent(f.flops_before, f.flops_after),
            );
            if let Some(note) = &f.note {
                let _ = write!(out, "  ({note})");
            }
            out.push('\n');
        }
        out
    }
}

fn percent(before: u64, after: u64) -> String {
    if before == 0 {
        return "-".into();
    }
    let change = (after as f64 - before as f64) / before as f64 * 100.0;
    format!("{change:+.1}%")
}

/// The rules in force for `opts`: the IEEE-safe ones, plus the others with fast-math.
pub fn active_rules(opts: &SimplifyOptions) -> Vec<&'static RuleSpec> {
    RULES
        .iter()
        .filter(|r| r.ieee_safe || opts.fast_math)
        .collect()
}

/// Compiles rules to egg rewrites.
pub fn compile_rules(rules: &[&RuleSpec]) -> Result<Vec<Rewrite<Node, Facts>>, String> {
    rules.iter().map(|r| apply::rewrite(r)).collect()
}

/// The compiled rule sets of one run: the IEEE-safe rules, and with fast-math all rules.
struct RuleSets {
    safe: Vec<Rewrite<Node, Facts>>,
    all: Option<Vec<Rewrite<Node, Facts>>>,
}

impl RuleSets {
    fn new(opts: &SimplifyOptions) -> RuleSets {
        let safe_opts = SimplifyOptions {
            fast_math: false,
            ..opts.clone()
        };
        RuleSets {
            safe: compile_rules(&active_rules(&safe_opts)).unwrap_or_default(),
            all: opts
                .fast_math
                .then(|| compile_rules(&active_rules(opts)).unwrap_or_default()),
        }
    }
}

/// Simplifies every function of `m`; returns what changed per function.
pub fn simplify_module(m: &mut Module, opts: &SimplifyOptions) -> SimplifyStats {
    let rules = RuleSets::new(opts);
    let ids: Vec<FuncId> = m.functions.iter().map(|(id, _)| id).collect();
    SimplifyStats {
        functions: ids
            .into_iter()
            .map(|id| simplify_phases(m, id, opts, &rules))
            .collect(),
    }
}

/// Simplifies one function of `m` in place.
pub fn simplify_function(m: &mut Module, func: FuncId, opts: &SimplifyOptions) -> FunctionStats {
    simplify_phases(m, func, opts, &RuleSets::new(opts))
}

/// The safe rules first (they saturate quickly and are never undone); with fast-math, then
/// all rules on that result, so fast-math never ends worse than the default.
fn simplify_phases(
    m: &mut Module,
    func: FuncId,
    opts: &SimplifyOptions,
    rules: &RuleSets,
) -> FunctionStats {
    let mut stats = simplify_with(m, func, opts, &rules.safe);
    if let Some(all) = &rules.all {
        let fast = simplify_with(m, func, opts, all);
        stats.ops_after = fast.ops_after;
        stats.flops_after = fast.flops_after;
        stats.egg.egraphs += fast.egg.egraphs;
        stats.egg.nodes += fast.egg.nodes;
        stats.egg.iterations = stats.egg.iterations.max(fast.egg.iterations);
        for (reason, n) in fast.egg.stop_reasons {
            match stats
                .egg
                .stop_reasons
                .iter_mut()
                .find(|(r, _)| *r == reason)
            {
                Some((_, k)) => *k += n,
                None => stats.egg.stop_reasons.push((reason, n)),
            }
        }
        stats.note = stats.note.or(fast.note);
    }
    stats
}

fn simplify_with(
    m: &mut Module,
    func: FuncId,
    opts: &SimplifyOptions,
    rules: &[Rewrite<Node, Facts>],
) -> FunctionStats {
    let Some(original) = m.functions.get(func).cloned() else {
        return FunctionStats::default();
    };
    let mut stats = FunctionStats {
        name: original.name.clone(),
        ops_before: original.op_count(),
        ops_after: original.op_count(),
        flops_before: estimate_function_flops(m, &original),
        flops_after: estimate_function_flops(m, &original),
        ..FunctionStats::default()
    };
    if validate_function(m, &original).is_err() {
        stats.note = Some("not valid IR; left unchanged".into());
        return stats;
    }
    let mut clean = original.clone();
    fold_constants(&mut clean);
    cse(&mut clean);
    dce(&mut clean);
    if validate_function(m, &clean).is_err() {
        stats.note = Some("internal error in clean-up; left unchanged".into());
        return stats;
    }
    let limits = bridge::Limits {
        iter_limit: opts.iter_limit,
        node_limit: opts.node_limit,
    };
    let chosen = match bridge::simplify_function(&clean, rules, limits) {
        Ok((mut simplified, report)) => {
            stats.egg = report;
            fold_constants(&mut simplified);
            cse(&mut simplified);
            dce(&mut simplified);
            if let Err(errors) = validate_function(m, &simplified) {
                let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
                stats.note = Some(format!("internal error, e-graph result invalid: {first}"));
                clean
            } else {
                let cost = |f: &Function| (estimate_function_flops(m, f), f.op_count());
                // Extraction is heuristic (shared values); never return something worse.
                if cost(&simplified) <= cost(&clean) {
                    simplified
                } else {
                    clean
                }
            }
        }
        Err(e) => {
            stats.note = Some(format!("e-graph skipped: {e}"));
            clean
        }
    };
    stats.ops_after = chosen.op_count();
    stats.flops_after = estimate_function_flops(m, &chosen);
    if let Some(slot) = m.functions.get_mut(func) {
        *slot = chosen;
    }
    stats
}

/// Parses an s-expression over scalar `f64` leaves (`a`…`z`, `vN`) and numbers.
fn parse_expr(expr: &str) -> Result<(RecExpr<Node>, usize), String> {
    let parsed: RecExpr<Node> = expr
        .parse()
        .map_err(|e| format!("cannot parse `{expr}`: {e}"))?;
    let mut leaves = 0;
    let nodes: Vec<Node> = parsed
        .as_ref()
        .iter()
        .map(|n| match n {
            Node::Num { bits, ty: ANY_TYPE } => Node::Num { bits: *bits, ty: 0 },
            Node::Leaf(k) => {
                leaves = leaves.max(*k as usize + 1);
                n.clone()
            }
            other => other.clone(),
        })
        .collect();
    Ok((RecExpr::from(nodes), leaves))
}

/// An e-graph over scalar `f64` leaves holding the given expressions.
fn scalar_egraph(exprs: &[&str]) -> Result<(EGraph<Node, Facts>, Vec<Id>), String> {
    let parsed: Vec<(RecExpr<Node>, usize)> = exprs
        .iter()
        .map(|e| parse_expr(e))
        .collect::<Result<_, _>>()?;
    let leaves = parsed.iter().map(|p| p.1).max().unwrap_or(0);
    let mut egraph = EGraph::new(Facts::default());
    let scalar = egraph.analysis.intern(DType::F64, Vec::new());
    for _ in 0..leaves {
        egraph.analysis.add_leaf(scalar, false);
    }
    let ids = parsed.iter().map(|(e, _)| egraph.add_expr(e)).collect();
    egraph.rebuild();
    Ok((egraph, ids))
}

fn run(
    egraph: EGraph<Node, Facts>,
    rules: &[Rewrite<Node, Facts>],
    opts: &SimplifyOptions,
) -> EGraph<Node, Facts> {
    Runner::default()
        .with_egraph(egraph)
        .with_iter_limit(opts.iter_limit)
        .with_node_limit(opts.node_limit)
        .with_time_limit(Duration::MAX)
        .run(rules)
        .egraph
}

/// Simplifies one s-expression over scalar `f64` leaves with the rules in force for
/// `opts` and returns the cheapest equivalent expression, e.g. `"(* (+ a -0) 1)"` → `"a"`.
pub fn simplify_expr(expr: &str, opts: &SimplifyOptions) -> Result<String, String> {
    let rules = compile_rules(&active_rules(opts))?;
    let (egraph, ids) = scalar_egraph(&[expr])?;
    let original: Vec<Node> = egraph.classes().flat_map(|c| c.nodes.clone()).collect();
    let egraph = run(egraph, &rules, opts);
    let root = ids.first().copied().ok_or("no expression")?;
    let original: std::collections::HashSet<Node> = original
        .into_iter()
        .map(|n| n.map_children(|c| egraph.find(c)))
        .collect();
    let (_, best) = Extractor::new(&egraph, FlopCost::new(original)).find_best(root);
    Ok(best.to_string())
}

/// What the analysis knows about an s-expression over scalar `f64` leaves, without
/// rewriting: its type, folded constant and `-0` proof (for testing the analysis).
pub fn expr_facts(expr: &str) -> Result<Data, String> {
    let (egraph, ids) = scalar_egraph(&[expr])?;
    let root = ids.first().copied().ok_or("no expression")?;
    Ok(egraph[root].data.clone())
}

/// Whether `rules` prove `a` and `b` (s-expressions over scalar `f64` leaves) equal: both
/// are added to one e-graph, the rules and constant folding run, and the two must end in
/// one e-class. This is how the one-line rule tests work.
pub fn proves_equal(
    a: &str,
    b: &str,
    rules: &[&RuleSpec],
    opts: &SimplifyOptions,
) -> Result<bool, String> {
    let rewrites = compile_rules(rules)?;
    let (egraph, ids) = scalar_egraph(&[a, b])?;
    let egraph = run(egraph, &rewrites, opts);
    match ids[..] {
        [x, y] => Ok(egraph.find(x) == egraph.find(y)),
        _ => Err("internal error".into()),
    }
}
