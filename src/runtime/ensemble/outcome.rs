//! What an ensemble gives back: every member's trajectory or error, one table of them all
//! with a member column, and statistics across the members at each output time; and the
//! byte form in which the ranks send their members to rank 0.

use sci_stdlib::Error;
use sci_stdlib::data::Table;

/// The quantiles of [`EnsembleRun::summary`] besides the mean: a 90 % band and the median.
pub const QUANTILES: [f64; 3] = [0.05, 0.5, 0.95];

/// One member's solution: the states and outputs at the output times.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberSolution {
    pub t: Vec<f64>,
    pub states: Vec<Vec<f64>>,
    pub outputs: Vec<Vec<f64>>,
}

/// One member: its index in the ensemble, the values it varies, and its solution or why
/// its solve failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub index: usize,
    pub values: Vec<f64>,
    pub outcome: Result<MemberSolution, String>,
}

impl Member {
    /// The solution, when the solve succeeded.
    pub fn solution(&self) -> Option<&MemberSolution> {
        self.outcome.as_ref().ok()
    }
}

/// Every member of an ensemble, in the ensemble's order.
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleRun {
    pub model: String,
    /// What the members vary ([`super::Ensemble::names`]).
    pub names: Vec<String>,
    pub state_names: Vec<String>,
    pub output_names: Vec<String>,
    pub members: Vec<Member>,
}

impl EnsembleRun {
    /// The members whose solve failed.
    pub fn failures(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.outcome.is_err())
    }

    /// The names of the states and outputs, in the order of a member's columns.
    pub fn variables(&self) -> Vec<String> {
        (self.state_names.iter().chain(&self.output_names))
            .cloned()
            .collect()
    }

    /// Every solved member's trajectory in one table: `member`, the varied values, `t`,
    /// the states, the outputs; a row per member and output time.
    pub fn table(&self) -> Table {
        let mut columns = vec!["member".to_string()];
        columns.extend(self.names.iter().cloned());
        columns.push("t".to_string());
        columns.extend(self.variables());
        let mut values = Vec::new();
        for m in &self.members {
            let Some(s) = m.solution() else { continue };
            for (k, t) in s.t.iter().enumerate() {
                values.push(m.index as f64);
                values.extend_from_slice(&m.values);
                values.push(*t);
                values.extend_from_slice(&s.states[k]);
                if let Some(out) = s.outputs.get(k) {
                    values.extend_from_slice(out);
                }
            }
        }
        Table::new(columns, values)
    }

    /// Statistics across the solved members at each output time: `t`, `members` (how many
    /// reached it: an event may stop a solve early), then per state and output its mean
    /// and [`QUANTILES`] (`y1_mean`, `y1_q05`, `y1_q50`, `y1_q95`; linear interpolation
    /// between order statistics, as NumPy's default).
    pub fn summary(&self) -> Table {
        let variables = self.variables();
        let mut columns = vec!["t".to_string(), "members".to_string()];
        for v in &variables {
            columns.push(mean_column(v));
            columns.extend(QUANTILES.iter().map(|&q| quantile_column(v, q)));
        }
        let solved: Vec<&MemberSolution> =
            self.members.iter().filter_map(Member::solution).collect();
        let times = solved.iter().map(|s| s.t.len()).max().unwrap_or(0);
        let mut values = Vec::new();
        let mut column = Vec::with_capacity(solved.len());
        for k in 0..times {
            let reached: Vec<&&MemberSolution> = solved.iter().filter(|s| s.t.len() > k).collect();
            let Some(first) = reached.first() else {
                continue;
            };
            values.push(first.t[k]);
            values.push(reached.len() as f64);
            for j in 0..variables.len() {
                column.clear();
                column.extend(reached.iter().map(|s| value(s, k, j)));
                let mean = column.iter().sum::<f64>() / column.len() as f64;
                column.sort_by(f64::total_cmp);
                values.push(mean);
                values.extend(QUANTILES.iter().map(|&q| quantile(&column, q)));
            }
        }
        Table::new(columns, values)
    }
}

/// The summary's column of `variable`'s mean (`y1_mean`).
pub fn mean_column(variable: &str) -> String {
    format!("{variable}_mean")
}

/// The summary's column of `variable`'s quantile `q` (`y1_q05` for 0.05).
pub fn quantile_column(variable: &str, q: f64) -> String {
    format!("{variable}_q{:02}", (q * 100.0).round())
}

/// Variable `j` (states, then outputs) of `s` at output time `k`.
fn value(s: &MemberSolution, k: usize, j: usize) -> f64 {
    let states = &s.states[k];
    match j < states.len() {
        true => states[j],
        false => (s.outputs.get(k))
            .and_then(|o| o.get(j - states.len()))
            .copied()
            .unwrap_or(f64::NAN),
    }
}

/// Quantile `q` of sorted values, interpolating linearly between order statistics.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let at = q * (n - 1) as f64;
            let lo = at.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (at - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// The members in bytes, for [`sci_stdlib::collective::Collective::gather`]: per member
/// its index, values, and either its solution's sizes and numbers or its error's text.
pub(super) fn encode(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    let word = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u64).to_le_bytes());
    let numbers = |out: &mut Vec<u8>, xs: &[f64]| {
        for x in xs {
            out.extend_from_slice(&x.to_le_bytes());
        }
    };
    word(&mut out, members.len());
    for m in members {
        word(&mut out, m.index);
        word(&mut out, m.values.len());
        numbers(&mut out, &m.values);
        match &m.outcome {
            Ok(s) => {
                let width = |rows: &[Vec<f64>]| rows.first().map_or(0, Vec::len);
                out.push(1);
                word(&mut out, s.t.len());
                word(&mut out, width(&s.states));
                word(&mut out, width(&s.outputs));
                numbers(&mut out, &s.t);
                for row in s.states.iter().chain(&s.outputs) {
                    numbers(&mut out, row);
                }
            }
            Err(why) => {
                out.push(0);
                word(&mut out, why.len());
                out.extend_from_slice(why.as_bytes());
            }
        }
    }
    out
}

/// The members [`encode`] wrote.
pub(super) fn decode(bytes: &[u8]) -> Result<Vec<Member>, Error> {
    let mut r = Reader { bytes, at: 0 };
    let count = r.word()?;
    let mut members = Vec::new();
    for _ in 0..count {
        let index = r.word()?;
        let n = r.word()?;
        let values = r.numbers(n)?;
        let outcome = match r.byte()? {
            1 => {
                let (times, states, outputs) = (r.word()?, r.word()?, r.word()?);
                let t = r.numbers(times)?;
                let rows = |r: &mut Reader<'_>, width: usize, count: usize| {
                    (0..count)
                        .map(|_| r.numbers(width))
                        .collect::<Result<Vec<_>, _>>()
                };
                let states = rows(&mut r, states, times)?;
                let outputs = rows(&mut r, outputs, if outputs > 0 { times } else { 0 })?;
                Ok(MemberSolution { t, states, outputs })
            }
            _ => {
                let len = r.word()?;
                Err(String::from_utf8_lossy(r.take(len)?).into_owned())
            }
        };
        members.push(Member {
            index,
            values,
            outcome,
        });
    }
    Ok(members)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| Error::numerical("an ensemble's members arrived cut off"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn word(&mut self) -> Result<usize, Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        usize::try_from(u64::from_le_bytes(a))
            .map_err(|_| Error::numerical("an ensemble's member count is too large"))
    }
    fn numbers(&mut self, n: usize) -> Result<Vec<f64>, Error> {
        let bytes = self.take(n.saturating_mul(8))?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<Member> {
        vec![
            Member {
                index: 3,
                values: vec![0.5, 2.0],
                outcome: Ok(MemberSolution {
                    t: vec![0.0, 1.0],
                    states: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
                    outputs: vec![vec![5.0], vec![6.0]],
                }),
            },
            Member {
                index: 4,
                values: vec![0.7, 1.0],
                outcome: Err("the solver gave up at t = 0.3".to_string()),
            },
        ]
    }

    #[test]
    fn members_survive_the_byte_form() {
        assert_eq!(decode(&encode(&members())).unwrap(), members());
        assert!(decode(&encode(&members())[..20]).is_err());
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&sorted, 0.5), 2.5);
        assert!((quantile(&sorted, 0.05) - 1.15).abs() < 1e-15);
        assert_eq!(quantile(&sorted, 1.0), 4.0);
    }
}
