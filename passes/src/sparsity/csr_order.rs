//! Element-local Jacobian values written straight in CSR order, without a gather.
//!
//! Where every row of a grid has the same number of entries, the rows of its points are
//! consecutive runs of equal length in the CSR values, so a `tabulate` whose point yields
//! its row's entries, in column order, makes them in place. Which local derivative lands in
//! which entry differs from point to point only where the stencil changes — a periodic
//! neighbour wrapping to the far side of the grid sorts after the others — and there the
//! body itself tests the counters (`i == 0`). So each entry is written as a decision tree
//! over the body's own index tests, whose leaves are sums of local derivatives; the
//! lowering's stencil split (`codegen/src/lower/stencil.rs`) decides those tests on each
//! piece of the grid, so the interior's code stores its derivatives with no test at all.
//! When the assignment is not a function of the tests (or rows differ in length), the
//! caller gathers instead.

use super::Pattern;
use super::local::{Grid, int_value, multi_index, point_memo};
use sci_ir::{BinaryOp, DType, Function, Op, Type, Value, ValueId};
use std::collections::HashMap;

/// At most this many index tests take part in the decision trees.
const MAX_TESTS: usize = 32;
/// At most this many distinct outcomes of the tests over a grid.
const MAX_CASES: usize = 256;

/// The CSR values of all `grids` (in row order) made in place, `f64[nnz]`, or `None` where
/// some grid's entries cannot be written in CSR order.
pub(super) fn in_csr_order(g: &mut Function, grids: &[Grid], pattern: &Pattern) -> Option<ValueId> {
    let mut plans = Vec::with_capacity(grids.len());
    for grid in grids {
        plans.push(entry_cases(g, grid)?);
    }
    let mut parts = Vec::with_capacity(grids.len());
    for (grid, cases) in grids.iter().zip(plans) {
        let width = cases.width;
        if width == 0 {
            // Rows without entries: nothing to make.
            continue;
        }
        let mut emit = Emitter {
            g,
            block: grid.block.clone(),
            grid,
            sums: HashMap::new(),
            tests: &cases.tests,
        };
        let mut entries = Vec::with_capacity(width);
        for e in 0..width {
            let leaves: Vec<(&[bool], &[usize])> = cases
                .cases
                .iter()
                .map(|(outcome, terms)| (outcome.as_slice(), terms[e].as_slice()))
                .collect();
            entries.push(emit.tree(&leaves, 0)?);
        }
        let block = emit.block;
        parts.push(grid.tabulate(g, block, entries)?);
    }
    let nnz = pattern.nnz();
    match parts.as_slice() {
        [] => None,
        [one] => Some(*one),
        _ => {
            let all = g.values.push(Value {
                op: Op::Concat(parts),
                ty: Type::f64(vec![nnz]),
                name: None,
            });
            g.body.body.push(all);
            Some(all)
        }
    }
}

/// How a grid's entries are made: per distinct outcome of its index tests, the local
/// derivatives summed into each of its `width` entries.
struct Cases {
    width: usize,
    /// Truth values of the body, computable from the counters alone.
    tests: Vec<ValueId>,
    cases: Vec<(Vec<bool>, Vec<Vec<usize>>)>,
}

/// The cases of `grid`, or `None` where its rows differ in length or two points with the
/// same test outcomes assemble their entries differently.
fn entry_cases(g: &Function, grid: &Grid) -> Option<Cases> {
    let width = grid.terms.first()?.len();
    if grid.terms.iter().any(|t| t.len() != width) {
        return None;
    }
    let points = grid.terms.len();
    let candidates: Vec<ValueId> = grid
        .block
        .get(..grid.primal)?
        .iter()
        .copied()
        .filter(|&v| {
            g.values
                .get(v)
                .is_some_and(|x| x.ty.dtype == DType::Bool && x.ty.shape.is_empty())
        })
        .collect();
    let mut outcomes: Vec<Vec<Option<bool>>> = Vec::with_capacity(points);
    for p in 0..points {
        let mut memo = point_memo(&grid.args, &multi_index(p, &grid.extents));
        outcomes.push(
            candidates
                .iter()
                .map(|&c| int_value(g, c, &mut memo, 0).map(|x| x != 0))
                .collect(),
        );
    }
    // Tests decided at every point from the counters, and not the same everywhere.
    let keep: Vec<usize> = (0..candidates.len())
        .filter(|&k| {
            let first = outcomes.first().and_then(|o| o[k]);
            outcomes.iter().all(|o| o[k].is_some()) && outcomes.iter().any(|o| o[k] != first)
        })
        .take(MAX_TESTS)
        .collect();
    let tests: Vec<ValueId> = keep.iter().map(|&k| candidates[k]).collect();
    let mut cases: Vec<(Vec<bool>, Vec<Vec<usize>>)> = Vec::new();
    for (p, outcome) in outcomes.iter().enumerate() {
        let outcome: Vec<bool> = keep.iter().map(|&k| outcome[k] == Some(true)).collect();
        let terms = grid.terms.get(p)?;
        match cases.iter().find(|(o, _)| *o == outcome) {
            Some((_, seen)) if seen != terms => return None,
            Some(_) => {}
            None if cases.len() == MAX_CASES => return None,
            None => cases.push((outcome, terms.clone())),
        }
    }
    Some(Cases {
        width,
        tests,
        cases,
    })
}

/// Emits the decision trees of one grid's entries into its block.
struct Emitter<'a> {
    g: &'a mut Function,
    /// The grid's body, with the trees appended.
    block: Vec<ValueId>,
    grid: &'a Grid,
    /// The sum of each set of local derivatives, emitted once.
    sums: HashMap<Vec<usize>, ValueId>,
    tests: &'a [ValueId],
}

impl Emitter<'_> {
    fn push(&mut self, op: Op) -> ValueId {
        let v = self.g.values.push(Value {
            op,
            ty: Type::scalar(),
            name: None,
        });
        self.block.push(v);
        v
    }

    /// The entry over `leaves` (test outcomes, terms), splitting on tests from `from` on.
    fn tree(&mut self, leaves: &[(&[bool], &[usize])], from: usize) -> Option<ValueId> {
        let first = leaves.first()?.1;
        if leaves.iter().all(|(_, t)| *t == first) {
            return Some(self.sum(first));
        }
        // The first test whose outcome differs among the leaves (one does: their outcomes
        // are distinct and their terms are not all equal).
        let k = (from..self.tests.len()).find(|&k| {
            let o = leaves.first().map(|(o, _)| o[k]);
            leaves.iter().any(|(x, _)| Some(x[k]) != o)
        })?;
        let (yes, no): (Vec<_>, Vec<_>) = leaves.iter().partition(|(o, _)| o[k]);
        let a = self.tree(&yes, k + 1)?;
        let b = self.tree(&no, k + 1)?;
        let test = *self.tests.get(k)?;
        Some(if a == b {
            a
        } else {
            self.push(Op::Select(test, a, b))
        })
    }

    /// The sum of local derivatives `terms` (zero for none).
    fn sum(&mut self, terms: &[usize]) -> ValueId {
        if let Some(v) = self.sums.get(terms) {
            return *v;
        }
        let mut acc: Option<ValueId> = None;
        for &k in terms {
            let Some(&x) = self.grid.tangents.get(k) else {
                continue;
            };
            acc = Some(match acc {
                None => x,
                Some(a) => self.push(Op::Binary(BinaryOp::Add, a, x)),
            });
        }
        let v = acc.unwrap_or_else(|| self.push(Op::Const(0.0)));
        self.sums.insert(terms.to_vec(), v);
        v
    }
}
