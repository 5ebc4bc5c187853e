//! Greedy colourings of a Jacobian's sparsity pattern.
//!
//! Columns that share no row can be evaluated together by one forward sweep whose seed is
//! the sum of their unit vectors (*column colouring*, a distance-2 colouring of the column
//! vertices in the bipartite row/column graph); rows that share no column can be evaluated
//! together by one reverse sweep (*row colouring*). Greedy colouring in natural order is
//! optimal for banded patterns (a tridiagonal Jacobian gets 3 colours) and within a small
//! factor in general (Gebremedhin, Manne & Pothen 2005); the best of four vertex orders
//! is kept.

use super::Pattern;

/// Conflicts a greedy pass may visit on a nearly dense pattern before it is given one
/// colour per vertex instead.
const DENSE_WORK: usize = 10_000_000;

/// The colour of every column: columns with a common row get different colours.
pub fn color_columns(p: &Pattern) -> Vec<usize> {
    let t = p.transpose();
    let (cols_by_row, rows_by_col) = (p.rows(), t.rows());
    best_greedy(p.n_cols, &rows_by_col, &cols_by_row)
}

/// The colour of every row: rows with a common column get different colours.
pub fn color_rows(p: &Pattern) -> Vec<usize> {
    let t = p.transpose();
    let (cols_by_row, rows_by_col) = (p.rows(), t.rows());
    best_greedy(p.n_rows, &cols_by_row, &rows_by_col)
}

/// The best of greedy colourings in a few vertex orders: natural (optimal for banded
/// patterns), reversed, largest-degree first (Welsh–Powell) and smallest-last; the
/// first on ties.
fn best_greedy(n: usize, links: &[&[usize]], back: &[&[usize]]) -> Vec<usize> {
    // Vertices sharing one neighbour conflict pairwise: no colouring needs fewer colours
    // than the largest such group, and a colouring that reaches it is optimal.
    let lower = back.iter().map(|x| x.len()).max().unwrap_or(0);
    if lower >= n {
        // One neighbour links them all (a dense row of a parameter Jacobian): every vertex
        // needs its own colour, and a greedy pass would visit n² conflicts to find that.
        return (0..n).collect();
    }
    let natural: Vec<usize> = (0..n).collect();
    let reversed: Vec<usize> = (0..n).rev().collect();
    // Conflicts each vertex visits in a greedy pass, computed once.
    let degrees: Vec<usize> = (0..n)
        .map(|v| {
            links.get(v).map_or(0, |rs| {
                rs.iter().map(|r| back.get(*r).map_or(0, |x| x.len())).sum()
            })
        })
        .collect();
    let degree = |v: usize| degrees.get(v).copied().unwrap_or(0);
    let mut largest: Vec<usize> = (0..n).collect();
    largest.sort_by_key(|&v| (std::cmp::Reverse(degree(v)), v));
    // Work of one greedy pass (conflicts visited); the extra orders are tried only for
    // patterns where that is cheap.
    let work: usize = degrees.iter().sum();
    if 2 * lower >= n && work > DENSE_WORK {
        // Nearly dense (a row links half the vertices or more): no colouring needs fewer
        // than n / 2 colours, and finding one would cost more than it can save.
        return (0..n).collect();
    }
    let mut best: Option<Vec<usize>> = None;
    let orders: [&dyn Fn() -> Vec<usize>; 4] = [
        &|| natural.clone(),
        &|| reversed.clone(),
        &|| largest.clone(),
        &|| smallest_last(n, links, back),
    ];
    for (k, order) in orders.iter().enumerate() {
        if k > 0 && work > 4_000_000 {
            break;
        }
        let c = greedy(n, links, back, &order());
        if best.as_ref().is_none_or(|b| count(&c) < count(b)) {
            best = Some(c);
        }
        if best.as_ref().is_some_and(|b| count(b) <= lower) {
            break;
        }
    }
    best.unwrap_or_default()
}

/// The smallest-last order (Matula & Beck 1983): repeatedly remove a vertex of least
/// degree among those left; colour in the reverse order of removal.
fn smallest_last(n: usize, links: &[&[usize]], back: &[&[usize]]) -> Vec<usize> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    // Conflict graph adjacency (vertices sharing a neighbour), deduplicated.
    let mut adj: Vec<Vec<usize>> = Vec::with_capacity(n);
    for v in 0..n {
        let mut a: Vec<usize> = links
            .get(v)
            .copied()
            .unwrap_or(&[])
            .iter()
            .flat_map(|r| back.get(*r).copied().unwrap_or(&[]).iter().copied())
            .filter(|w| *w != v)
            .collect();
        a.sort_unstable();
        a.dedup();
        adj.push(a);
    }
    let mut degree: Vec<usize> = adj.iter().map(Vec::len).collect();
    let mut removed = vec![false; n];
    let mut heap: BinaryHeap<Reverse<(usize, usize)>> = (0..n)
        .map(|v| Reverse((degree.get(v).copied().unwrap_or(0), v)))
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse((d, v))) = heap.pop() {
        if removed.get(v).copied().unwrap_or(true) || degree.get(v) != Some(&d) {
            continue;
        }
        if let Some(r) = removed.get_mut(v) {
            *r = true;
        }
        order.push(v);
        for &w in adj.get(v).map_or(&[][..], Vec::as_slice) {
            if !removed.get(w).copied().unwrap_or(true)
                && let Some(dw) = degree.get_mut(w)
            {
                *dw = dw.saturating_sub(1);
                heap.push(Reverse((*dw, w)));
            }
        }
    }
    order.reverse();
    order
}

/// Colours `n` vertices in `order`; vertex `v` conflicts with every vertex that shares a
/// neighbour in `links[v]` (looked up in `back`).
fn greedy(n: usize, links: &[&[usize]], back: &[&[usize]], order: &[usize]) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let mut color = vec![NONE; n];
    // `forbidden[c] == v` marks colour `c` as taken by a neighbour of `v`.
    let mut forbidden: Vec<usize> = Vec::new();
    for &v in order {
        for &r in links.get(v).copied().unwrap_or(&[]) {
            for &w in back.get(r).copied().unwrap_or(&[]) {
                if let Some(&c) = color.get(w)
                    && c != NONE
                {
                    if c >= forbidden.len() {
                        forbidden.resize(c + 1, NONE);
                    }
                    if let Some(slot) = forbidden.get_mut(c) {
                        *slot = v;
                    }
                }
            }
        }
        let c = (0..).find(|&c| forbidden.get(c) != Some(&v)).unwrap_or(0);
        if let Some(slot) = color.get_mut(v) {
            *slot = c;
        }
    }
    color
}

/// Number of colours used (0 for no vertices).
pub fn count(colors: &[usize]) -> usize {
    colors.iter().map(|c| c + 1).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{DENSE_WORK, Pattern, color_columns, count};

    /// A parameter Jacobian of a wide network: two rows, each reading most of 5,000
    /// columns. The columns get one colour each, found without the n² greedy pass, and
    /// the colouring is valid (no two columns of a row share a colour).
    #[test]
    fn nearly_dense_patterns_get_one_colour_per_column() {
        let n = 5000;
        let rows: [Vec<usize>; 2] = [(0..n - 1).collect(), (1..n).collect()];
        let mut p = Pattern {
            n_rows: 2,
            n_cols: n,
            row_ptr: vec![0],
            col_idx: Vec::new(),
        };
        for r in &rows {
            p.col_idx.extend(r);
            p.row_ptr.push(p.col_idx.len());
        }
        assert!(2 * (n - 1) * (n - 1) > DENSE_WORK);
        let colors = color_columns(&p);
        assert_eq!(count(&colors), n);
        for r in &rows {
            let mut seen: Vec<usize> = r.iter().map(|&c| colors[c]).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), r.len());
        }
    }
}
