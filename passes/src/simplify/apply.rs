//! Turning the rule table into egg rewrites: a typed right-hand side and the guards.
//!
//! Constants of a left-hand side are matched by value, whatever their type: each becomes
//! a fresh pattern variable plus the condition "this class is the constant c". (Matching
//! them as e-nodes would not work: once its variables are bound, egg looks a subterm up by
//! exact hash, and a pattern constant has no type to hash with.)

use super::analysis::Facts;
use super::lang::{ANY_TYPE, Node};
use super::rules::{Guard, RuleSpec};
use egg::{
    Applier, EGraph, ENodeOrVar, Id, Language, Pattern, PatternAst, Rewrite, Subst, Symbol, Var,
};

/// Builds the egg rewrite for one rule. Errors name the rule and say what is wrong.
pub fn rewrite(spec: &RuleSpec) -> Result<Rewrite<Node, Facts>, String> {
    let parsed: Pattern<Node> = spec
        .lhs
        .parse()
        .map_err(|e| format!("rule `{}`: bad left-hand side: {e}", spec.name))?;
    let mut constants = Vec::new();
    let mut nodes = Vec::new();
    for node in parsed.ast.as_ref() {
        match node {
            ENodeOrVar::ENode(Node::Num { bits, .. }) => {
                let var: Var = format!("?__const{}", constants.len())
                    .parse()
                    .map_err(|e| format!("rule `{}`: {e}", spec.name))?;
                constants.push((var, *bits));
                nodes.push(ENodeOrVar::Var(var));
            }
            other => nodes.push(other.clone()),
        }
    }
    let lhs = Pattern::new(PatternAst::from(nodes));
    let rhs: Pattern<Node> = spec
        .rhs
        .parse()
        .map_err(|e| format!("rule `{}`: bad right-hand side: {e}", spec.name))?;
    let guard = match spec.guard {
        Guard::Always => None,
        Guard::PowerOfTwo(v)
        | Guard::NonZeroConst(v)
        | Guard::True(v)
        | Guard::False(v)
        | Guard::NeverNegZero(v) => {
            let var: Var = v
                .parse()
                .map_err(|e| format!("rule `{}`: bad guard variable: {e}", spec.name))?;
            Some(var)
        }
    };
    let applier = TypedApplier {
        rhs: rhs.ast,
        guard: spec.guard,
        guard_var: guard,
        constants,
    };
    Rewrite::new(spec.name, lhs, applier)
}

/// Instantiates a right-hand side, giving its constants the type of the matched class.
struct TypedApplier {
    rhs: PatternAst<Node>,
    guard: Guard,
    guard_var: Option<Var>,
    /// Variables standing for left-hand-side constants, with the bits they must have.
    constants: Vec<(Var, u64)>,
}

impl TypedApplier {
    fn guard_holds(&self, egraph: &EGraph<Node, Facts>, subst: &Subst) -> bool {
        let is_const = |(var, bits): &(Var, u64)| {
            subst
                .get(*var)
                .is_some_and(|&id| egraph[id].data.value == Some(*bits))
        };
        if !self.constants.iter().all(is_const) {
            return false;
        }
        let Some(var) = self.guard_var else {
            return true;
        };
        let Some(&id) = subst.get(var) else {
            return false;
        };
        if let Guard::NeverNegZero(_) = self.guard {
            return egraph[id].data.never_neg_zero;
        }
        let Some(x) = egraph[id].data.value.map(f64::from_bits) else {
            return false;
        };
        match self.guard {
            Guard::Always | Guard::NeverNegZero(_) => true,
            Guard::PowerOfTwo(_) => is_power_of_two(x),
            Guard::NonZeroConst(_) => x.is_finite() && x != 0.0,
            Guard::True(_) => x != 0.0,
            Guard::False(_) => x == 0.0,
        }
    }
}

/// `±2^k` with `|k| ≤ 1022`: its reciprocal is exact and normal.
pub fn is_power_of_two(x: f64) -> bool {
    if !x.is_normal() {
        return false;
    }
    let bits = x.to_bits();
    let mantissa = bits & ((1u64 << 52) - 1);
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    mantissa == 0 && exponent.abs() <= 1022
}

impl Applier<Node, Facts> for TypedApplier {
    fn apply_one(
        &self,
        egraph: &mut EGraph<Node, Facts>,
        eclass: Id,
        subst: &Subst,
        _searcher_ast: Option<&PatternAst<Node>>,
        _rule_name: Symbol,
    ) -> Vec<Id> {
        if !self.guard_holds(egraph, subst) {
            return Vec::new();
        }
        let ty = egraph[eclass].data.ty;
        let mut ids: Vec<Id> = Vec::with_capacity(self.rhs.len());
        for node in self.rhs.as_ref() {
            let id = match node {
                ENodeOrVar::Var(v) => match subst.get(*v) {
                    Some(&id) => id,
                    None => return Vec::new(),
                },
                ENodeOrVar::ENode(n) => {
                    let mut n = n.clone();
                    if let Node::Num { ty: t, .. } = &mut n
                        && *t == ANY_TYPE
                    {
                        *t = ty;
                    }
                    let n = n.map_children(|c| ids.get(usize::from(c)).copied().unwrap_or(c));
                    egraph.add(n)
                }
            };
            ids.push(id);
        }
        match ids.last() {
            Some(&root) if egraph.union(eclass, root) => vec![root],
            _ => Vec::new(),
        }
    }

    fn vars(&self) -> Vec<Var> {
        let mut vars: Vec<Var> = self
            .rhs
            .as_ref()
            .iter()
            .filter_map(|n| match n {
                ENodeOrVar::Var(v) => Some(*v),
                ENodeOrVar::ENode(_) => None,
            })
            .collect();
        vars.extend(self.guard_var);
        vars.extend(self.constants.iter().map(|c| c.0));
        vars.sort();
        vars.dedup();
        vars
    }
}
