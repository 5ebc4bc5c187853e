//! "Did you mean …?" suggestions: the closest known name by edit distance.

/// Edit distance between two strings in characters: insertions, deletions, substitutions
/// and swaps of two neighbouring characters (`alhpa` → `alpha`) each count as one.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Rows i-2, i-1 and i of the dynamic-programming table.
    let mut rows = vec![vec![0usize; width]; 3];
    for (j, cell) in rows[1].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (older, rest) = rows.split_at_mut(1);
        let (prev, cur) = rest.split_at_mut(1);
        let (two_back, prev, cur) = (&older[0], &prev[0], &mut cur[0]);
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            cur[j] = d;
        }
        rows.rotate_left(1);
    }
    rows[1][b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a plausible typo
/// (at most one edit for short names, a third of the length for longer ones).
/// Ties go to the alphabetically first candidate, so the answer is deterministic.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    // Distances are doubled so that a case-only difference can count as half an edit.
    // One-letter names only get case corrections: every other one-letter name is one edit away.
    let len = name.chars().count();
    let limit = if len <= 1 { 1 } else { 2 * (len / 3).max(1) };
    let mut best: Option<(usize, &str)> = None;
    for cand in candidates {
        if cand == name || cand.is_empty() {
            continue;
        }
        // Case-only differences (`Kg` for `kg`) are the most likely typo of all.
        let d = if cand.to_lowercase() == name.to_lowercase() {
            1
        } else {
            2 * edit_distance(name, cand)
        };
        if d > limit {
            continue;
        }
        best = match best {
            Some((bd, bc)) if bd < d || (bd == d && bc <= cand) => Some((bd, bc)),
            _ => Some((d, cand)),
        };
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("α", "a"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("alhpa", "alpha"), 1);
    }

    #[test]
    fn suggestions_pick_the_closest_plausible_name() {
        let names = ["alpha", "beta", "gamma", "delta"];
        assert_eq!(did_you_mean("alhpa", names), Some("alpha".into()));
        assert_eq!(did_you_mean("gama", names), Some("gamma".into()));
        assert_eq!(did_you_mean("omega", names), None);
        assert_eq!(did_you_mean("KG", ["kg", "g"]), Some("kg".into()));
    }
}
