//! The text of `--ensemble SPEC`:
//!
//! ```text
//! grid: k1 = 0.02..0.06 x5; k3 = 1e4, 2e4; y1 = 1     a grid: 5 × 2 × 1 members
//! grid: k2 = 1e6..1e8 x3 log                          geometrically spaced values
//! uniform 64: k1 = 0.036..0.044; k2 = 2.7e7..3.3e7    64 draws (also `lhs`, `sobol`)
//! sobol 128 seed 7: k3 = 1e3..1e5 log                 a seed, a logarithmic range
//! members.csv                                         a column per quantity, a row per member
//! ```
//!
//! Names are parameters or states (an initial value), array elements as `u[3]`.

use std::path::Path;

use sci_stdlib::Error;
use sci_stdlib::data::read_table;
use sci_stdlib::sample::Sampling;

use super::{Ensemble, MAX_MEMBERS, Range, Varied};

const FORMS: &str = "`grid: k1 = 0.02..0.06 x5; k3 = 1e4, 2e4`, \
                     `uniform 64: k1 = 0.03..0.05; k2 = 1e6..1e8 log` (or lhs, sobol), \
                     or a CSV file of members";

pub(super) fn parse(spec: &str, dir: &Path) -> Result<Ensemble, Error> {
    let spec = spec.trim();
    let Some((head, body)) = spec.split_once(':') else {
        return from_file(spec, dir);
    };
    let words: Vec<&str> = head.split_whitespace().collect();
    let bad = |why: String| Error::input(why).with_help(format!("the forms are: {FORMS}"));
    let Some(kind) = words.first() else {
        return Err(bad(format!(
            "`--ensemble {spec}` names no kind of ensemble."
        )));
    };
    let items: Vec<(&str, &str)> = body
        .split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .ok_or_else(|| bad(format!("`{item}` in `--ensemble` is not `NAME = VALUES`.")))
        })
        .collect::<Result<_, _>>()?;
    if items.is_empty() {
        return Err(bad(format!("`--ensemble {spec}` varies nothing.")));
    }
    match kind.to_ascii_lowercase().as_str() {
        "grid" => {
            if words.len() > 1 {
                return Err(bad(format!(
                    "A grid's size is its values' (`{head}` gives another)."
                )));
            }
            let axes = (items.iter())
                .map(|(name, values)| grid_axis(name, values))
                .collect::<Result<Vec<_>, _>>()?;
            let size = axes
                .iter()
                .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
                .filter(|&n| n <= MAX_MEMBERS);
            if size.is_none() {
                return Err(
                    Error::input(format!("The grid has more than {MAX_MEMBERS} members."))
                        .with_help(
                            "give fewer values per quantity, or draw samples (`uniform N:`)",
                        ),
                );
            }
            Ok(Ensemble::grid(axes))
        }
        "uniform" | "lhs" | "sobol" => {
            let sampling = match kind.to_ascii_lowercase().as_str() {
                "uniform" => Sampling::Uniform,
                "lhs" => Sampling::LatinHypercube,
                _ => Sampling::Sobol,
            };
            let (count, seed) = count_and_seed(&words[1..], head).map_err(bad)?;
            if count == 0 || count > MAX_MEMBERS {
                return Err(bad(format!(
                    "An ensemble has 1 to {MAX_MEMBERS} members, not {count}."
                )));
            }
            let ranges = (items.iter())
                .map(|(name, values)| sample_range(name, values))
                .collect::<Result<Vec<_>, _>>()?;
            Ensemble::sample(ranges, count, sampling, seed)
        }
        other => Err(bad(format!(
            "There is no kind of ensemble called `{other}`."
        ))),
    }
}

/// `N` and an optional `seed S` after a sampling kind.
fn count_and_seed(words: &[&str], head: &str) -> Result<(usize, u64), String> {
    let number = |w: &str| w.parse::<u64>().ok();
    let parsed = match words {
        [n] => number(n).zip(Some(0)),
        [n, s, seed] if s.eq_ignore_ascii_case("seed") => number(n).zip(number(seed)),
        _ => None,
    };
    parsed
        .and_then(|(n, seed)| Some((usize::try_from(n).ok()?, seed)))
        .ok_or_else(|| {
            format!("`{head}` should be a kind, a member count and an optional `seed S`.")
        })
}

/// A grid axis: `lo..hi xN [log]`, or values `a, b, c`.
fn grid_axis(name: &str, text: &str) -> Result<Varied, Error> {
    if let Some((lo, hi, rest)) = range_parts(name, text)? {
        let mut words = rest.split_whitespace();
        let count = words
            .next()
            .and_then(|w| w.strip_prefix('x').or_else(|| w.strip_prefix('×')))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 1);
        let Some(count) = count else {
            return Err(Error::input(format!(
                "The grid's range of `{name}` (`{text}`) needs its number of values: `{lo}..{hi} x5`."
            )));
        };
        let log = log_word(name, text, words.next(), words.next())?;
        return Varied::range(name, lo, hi, count, log);
    }
    let values = (text.split(','))
        .map(|v| number(name, v.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Varied::values(name, values))
}

/// A sampling range: `lo..hi [log]`.
fn sample_range(name: &str, text: &str) -> Result<Range, Error> {
    let Some((lo, hi, rest)) = range_parts(name, text)? else {
        // A single value: every member has it.
        let v = number(name, text)?;
        return Range::new(name, v, v, false);
    };
    let mut words = rest.split_whitespace();
    let log = log_word(name, text, words.next(), words.next())?;
    Range::new(name, lo, hi, log)
}

/// `lo..hi` and what follows, if `text` is a range.
fn range_parts<'t>(name: &str, text: &'t str) -> Result<Option<(f64, f64, &'t str)>, Error> {
    let Some((lo, rest)) = text.split_once("..") else {
        return Ok(None);
    };
    let rest = rest.trim_start();
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Ok(Some((
        number(name, lo.trim())?,
        number(name, &rest[..end])?,
        &rest[end..],
    )))
}

fn log_word(
    name: &str,
    text: &str,
    word: Option<&str>,
    extra: Option<&str>,
) -> Result<bool, Error> {
    match (word, extra) {
        (None, _) => Ok(false),
        (Some(w), None) if w.eq_ignore_ascii_case("log") => Ok(true),
        _ => Err(Error::input(format!(
            "`{name} = {text}` in `--ensemble` has words it does not understand."
        ))
        .with_help(format!("the forms are: {FORMS}"))),
    }
}

fn number(name: &str, text: &str) -> Result<f64, Error> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            Error::input(format!(
                "`{text}` (for `{name}` in `--ensemble`) is not a number."
            ))
        })
}

/// An ensemble from a CSV (or NPY) table: a column per quantity, named in its header.
fn from_file(spec: &str, dir: &Path) -> Result<Ensemble, Error> {
    let path = dir.join(spec);
    let is_table = (Path::new(spec).extension().and_then(|e| e.to_str()))
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_table {
        return Err(Error::input(format!(
            "`--ensemble {spec}` is neither a description (it has no `:`) nor a .csv file."
        ))
        .with_help(format!("the forms are: {FORMS}")));
    }
    let table = read_table(&path)?;
    if table.rows() == 0 {
        return Err(Error::input(format!(
            "`{}` has no members (no rows).",
            path.display()
        )));
    }
    Ok(Ensemble::from_table(&table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_is_every_combination() {
        let e = parse("grid: a = 0..1 x3; b = 5, 6", Path::new(".")).unwrap();
        assert_eq!(e.names, ["a", "b"]);
        assert_eq!(e.len(), 6);
        assert_eq!(e.members[0], [0.0, 5.0]);
        assert_eq!(e.members[1], [0.0, 6.0]);
        assert_eq!(e.members[5], [1.0, 6.0]);
        let log = parse("grid: k = 1e2..1e4 x3 log", Path::new(".")).unwrap();
        assert!((log.members[1][0] - 1e3).abs() < 1e-9);
    }

    #[test]
    fn samples_stay_in_their_ranges_and_follow_the_seed() {
        let spec = "lhs 50 seed 3: a = 1..2; c = 7; k = 1e-3..1e3 log";
        let e = parse(spec, Path::new(".")).unwrap();
        assert_eq!(e.len(), 50);
        for m in &e.members {
            assert!((1.0..=2.0).contains(&m[0]));
            assert_eq!(m[1], 7.0);
            assert!((1e-3..=1e3).contains(&m[2]));
        }
        // Log-uniform by Latin hypercube: half the draws below the geometric middle, 1.
        let below = e.members.iter().filter(|m| m[2] < 1.0).count();
        assert_eq!(below, 25);
        assert_eq!(parse(spec, Path::new(".")).unwrap(), e);
        assert_ne!(
            parse("lhs 50 seed 4: a = 1..2", Path::new("."))
                .unwrap()
                .members[0][0],
            e.members[0][0]
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("grid: a = 0..1", "number of values"),
            ("grid: a = 0..1 x2 lin", "does not understand"),
            ("uniform: a = 0..1", "member count"),
            ("uniform 0: a = 0..1", "1 to"),
            ("normal 5: a = 0..1", "no kind"),
            ("grid: a", "NAME = VALUES"),
            ("grid: a = 1, x", "not a number"),
            ("uniform 4: k = 0..1 log", "positive"),
            ("uniform 4: k = 2..1", "lower first"),
            ("members.txt", "neither"),
        ] {
            let e = parse(spec, Path::new(".")).unwrap_err();
            assert!(
                e.message.contains(says) || e.help.as_deref().unwrap_or("").contains(says),
                "{spec}: {}",
                e.message
            );
        }
    }
}
