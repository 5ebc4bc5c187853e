//! Extraction: the cheapest node of every e-class.
//!
//! egg's tree-cost extractor counts a shared subterm once per use, so it prefers
//! `powi(tanh(z), 2)` (one `tanh`) to `tanh(z) * tanh(z)` (two, as a tree) although the IR
//! computes `tanh(z)` once either way. Here classes that the rebuilt block computes in any
//! case (operands of opaque ops, the block result, values used more than once) are
//! *anchored*: a parent counts them as free, and each anchored class still chooses its own
//! node by its full cost. The choice can in rare
//! cases form a cycle through anchored classes; then the tree-cost choice is used instead
//! (it is acyclic because every operation costs at least 1).

use super::analysis::Facts;
use super::cost::{FlopCost, node_cost};
use super::lang::Node;
use egg::{EGraph, Extractor, Id, Language};
use std::collections::{HashMap, HashSet, VecDeque};

type Cost = (u64, u64);

fn add(a: Cost, b: Cost) -> Cost {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

/// The best node of every class of `egraph` (keys are canonical ids).
pub fn extract(
    egraph: &EGraph<Node, Facts>,
    anchored: &HashSet<Id>,
    cost: FlopCost,
) -> HashMap<Id, Node> {
    let mut best: HashMap<Id, (Cost, Node)> = HashMap::new();
    // Worklist fixpoint: a class is revisited when one of its children got cheaper. Costs
    // only decrease, so this terminates; the step bound guards against pathological
    // graphs (classes left without a choice make the caller keep the block unsimplified).
    let mut queue: VecDeque<Id> = egraph.classes().map(|c| c.id).collect();
    let mut queued: HashSet<Id> = queue.iter().copied().collect();
    let mut steps = 0usize;
    let limit = 64usize.saturating_mul(egraph.total_size().max(16));
    while let Some(id) = queue.pop_front() {
        queued.remove(&id);
        steps += 1;
        if steps > limit {
            break;
        }
        let class = &egraph[id];
        let mut improved = false;
        for node in &class.nodes {
            let mut total = (node_cost(node), u64::from(!cost.is_original(node)));
            let mut ready = true;
            for &child in node.children() {
                let child = egraph.find(child);
                match best.get(&child) {
                    Some(_) if anchored.contains(&child) => {}
                    Some((c, _)) => total = add(total, *c),
                    None => {
                        ready = false;
                        break;
                    }
                }
            }
            if ready && best.get(&class.id).is_none_or(|(c, _)| total < *c) {
                best.insert(class.id, (total, node.clone()));
                improved = true;
            }
        }
        if improved {
            for parent in class.parents() {
                let parent = egraph.find(parent);
                if queued.insert(parent) {
                    queue.push_back(parent);
                }
            }
        }
    }
    let choice: HashMap<Id, Node> = best.into_iter().map(|(id, (_, n))| (id, n)).collect();
    if has_cycle(egraph, &choice) {
        let extractor = Extractor::new(egraph, cost);
        return egraph
            .classes()
            .map(|c| (c.id, extractor.find_best_node(c.id).clone()))
            .collect();
    }
    choice
}

/// Whether following the chosen nodes from some class comes back to it.
fn has_cycle(egraph: &EGraph<Node, Facts>, choice: &HashMap<Id, Node>) -> bool {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state: HashMap<Id, u8> = HashMap::new();
    for &root in choice.keys() {
        if state.contains_key(&root) {
            continue;
        }
        let mut stack: Vec<(Id, usize)> = vec![(root, 0)];
        state.insert(root, 1);
        while let Some((id, next)) = stack.last_mut() {
            let children = choice.get(id).map(|n| n.children()).unwrap_or(&[]);
            if let Some(&child) = children.get(*next) {
                *next += 1;
                let child = egraph.find(child);
                match state.get(&child) {
                    Some(1) => return true,
                    Some(_) => {}
                    None => {
                        state.insert(child, 1);
                        stack.push((child, 0));
                    }
                }
            } else {
                state.insert(*id, 2);
                stack.pop();
            }
        }
    }
    false
}
