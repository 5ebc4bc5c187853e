//! A model's network replaced by discovered equations, in its source: the `net` line
//! becomes a parameter per coefficient, and every use of the network — `h(x, y)[k]`, or
//! `h(x, y)` for a network of one output — becomes the discovered expression of output `k`
//! over the call's own arguments. The model's own parameters get their trained values;
//! everything else in the file is kept as written, so the model keeps its known terms,
//! data and loss, and refits with `sci train`.

use sci_lang::ast::{self, ExprKind, ItemKind, MemberKind};
use sci_stdlib::discover::Discovered;

use super::discovered::{coefficient_name, sum_of_terms};

/// An edit of the source: replace bytes `start..end` with `text`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// `source` with `edits` (in source order, not overlapping) applied.
fn apply(source: &str, edits: &[Edit]) -> String {
    let mut out = source.to_string();
    for e in edits.iter().rev() {
        out.replace_range(e.start..e.end, &e.text);
    }
    out
}

/// The parameter naming output `k` of network `net`'s equation (`h0`).
pub fn output_name(net: &str, k: usize) -> String {
    format!("{net}{k}")
}

/// `source` with network `net` of model `model` replaced by `discovered` (one equation per
/// network output, over the network's declared arguments). `coefficients` overrides the
/// discovered values, in the order of the equations' terms. `trained` gives the model's
/// parameters their trained values (scalars and vectors, by name). `Err` says why the
/// network cannot be replaced (a use the rewrite does not understand).
pub fn replace_network(
    source: &str,
    model: &str,
    net: &str,
    discovered: &Discovered,
    coefficients: Option<&[f64]>,
    trained: &[(String, Vec<f64>)],
) -> Result<String, String> {
    let mut parsed = sci_lang::parser::parse(sci_diag::FileId(0), source);
    if !parsed.diagnostics.is_empty() {
        return Err("the model file does not parse".to_string());
    }
    let Some(m) = parsed
        .file
        .items
        .iter_mut()
        .find_map(|item| match &mut item.kind {
            ItemKind::Model(m) if m.name.name == model => Some(m),
            _ => None,
        })
    else {
        return Err(format!("the file has no model `{model}`"));
    };
    let outputs = discovered.equations.len();
    let mut values = coefficients.map(<[f64]>::iter);
    let mut edits = Vec::new();
    let mut declared = false;
    for member in &mut m.members {
        if let MemberKind::Net(n) = &member.kind
            && n.name.name == net
        {
            let indent = indentation(source, member.span.start as usize);
            let mut text = String::new();
            for (k, eq) in discovered.equations.iter().enumerate() {
                for (term, c) in &eq.terms {
                    let value = values.as_mut().and_then(Iterator::next).unwrap_or(c);
                    if !text.is_empty() {
                        text.push('\n');
                        text.push_str(&indent);
                    }
                    let name = coefficient_name(&output_name(net, k), term);
                    text.push_str(&format!("param {name} = {value:?}"));
                }
            }
            if text.is_empty() {
                text.push_str(&format!("// `{net}` was found to be zero"));
            }
            edits.push(Edit {
                start: member.span.start as usize,
                end: member.span.end as usize,
                text,
            });
            declared = true;
            continue;
        }
        if let MemberKind::Param(d) = &member.kind
            && d.index.is_empty()
            && let Some((_, values)) = trained.iter().find(|(n, _)| *n == d.name.name)
        {
            let text = match values.as_slice() {
                [x] => format!("{x:?}"),
                xs => format!(
                    "[{}]",
                    xs.iter()
                        .map(|x| format!("{x:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            edits.push(Edit {
                start: d.value.span.start as usize,
                end: d.value.span.end as usize,
                text,
            });
            continue;
        }
        let mut roots = Vec::new();
        ast::member_exprs_mut(&mut member.kind, &mut roots);
        for root in roots {
            uses(root, net, outputs, discovered, source, &mut edits)?;
        }
    }
    if !declared {
        return Err(format!("model `{model}` declares no network `{net}`"));
    }
    edits.sort_by_key(|e| e.start);
    if edits.windows(2).any(|w| w[0].end > w[1].start) {
        return Err(format!("a use of `{net}` is nested in another"));
    }
    Ok(apply(source, &edits))
}

/// `source` with the file paths of model `model`'s `data` declarations (the string
/// literals of their sources, `csv("data/obs.csv")`) replaced by `relocate(path)`: the
/// paths as a model written to another directory must spell them. `Err` says why not (a
/// file that does not parse, no such model, a path that a string literal cannot hold).
pub fn relocate_data(
    source: &str,
    model: &str,
    relocate: &dyn Fn(&str) -> String,
) -> Result<String, String> {
    let parsed = sci_lang::parser::parse(sci_diag::FileId(0), source);
    if !parsed.diagnostics.is_empty() {
        return Err("the model file does not parse".to_string());
    }
    let Some(m) = parsed.file.items.iter().find_map(|item| match &item.kind {
        ItemKind::Model(m) if m.name.name == model => Some(m),
        _ => None,
    }) else {
        return Err(format!("the file has no model `{model}`"));
    };
    let mut edits = Vec::new();
    for member in &m.members {
        let MemberKind::Data(d) = &member.kind else {
            continue;
        };
        let mut problem = None;
        d.source.walk(&mut |e| {
            if let ExprKind::Str(path) = &e.kind {
                let moved = relocate(path);
                if moved.contains(['"', '\\', '\n']) {
                    problem = Some(format!(
                        "the data path `{moved}` cannot be written as a string"
                    ));
                }
                edits.push(Edit {
                    start: e.span.start as usize,
                    end: e.span.end as usize,
                    text: format!("\"{moved}\""),
                });
            }
        });
        if let Some(p) = problem {
            return Err(p);
        }
    }
    Ok(apply(source, &edits))
}

/// The uses of `net` under `root`, as edits.
fn uses(
    root: &ast::Expr,
    net: &str,
    outputs: usize,
    discovered: &Discovered,
    source: &str,
    edits: &mut Vec<Edit>,
) -> Result<(), String> {
    let mut found: Vec<(usize, usize, usize, Vec<String>)> = Vec::new();
    let mut indexed_calls = Vec::new();
    let mut problem = None;
    root.walk(&mut |e| match &e.kind {
        ExprKind::Index { base, indices } => {
            if let ExprKind::Call { callee, args } = &base.kind
                && callee.name == net
            {
                indexed_calls.push(base.span.start);
                let k = match indices.as_slice() {
                    [
                        ast::Expr {
                            kind: ExprKind::Number { value, .. },
                            ..
                        },
                    ] if value.fract() == 0.0 && *value >= 0.0 => *value as usize,
                    _ => {
                        problem = Some(format!(
                            "`{net}` is indexed by something other than a whole number"
                        ));
                        return;
                    }
                };
                if k >= outputs {
                    problem = Some(format!("`{net}` has no output {k}"));
                    return;
                }
                let args = args.iter().map(|a| text_of(source, &a.value)).collect();
                found.push((e.span.start as usize, e.span.end as usize, k, args));
            }
        }
        ExprKind::Call { callee, args } if callee.name == net => {
            if indexed_calls.contains(&e.span.start) {
                return;
            }
            if outputs != 1 {
                problem = Some(format!(
                    "`{net}` has {outputs} outputs and is used without an index"
                ));
                return;
            }
            let args = args.iter().map(|a| text_of(source, &a.value)).collect();
            found.push((e.span.start as usize, e.span.end as usize, 0, args));
        }
        _ => {}
    });
    if let Some(p) = problem {
        return Err(p);
    }
    for (start, end, k, args) in found {
        edits.push(Edit {
            start,
            end,
            text: format!(
                "({})",
                sum_of_terms(&output_name(net, k), &discovered.equations[k].terms, &args)
            ),
        });
    }
    Ok(())
}

/// An argument's source text, parenthesised unless it is a name or a number.
fn text_of(source: &str, e: &ast::Expr) -> String {
    let text = source
        .get(e.span.start as usize..e.span.end as usize)
        .unwrap_or("?")
        .to_string();
    match e.kind {
        ExprKind::Name(_) | ExprKind::Number { .. } => text,
        _ => format!("({text})"),
    }
}

/// The whitespace before the line's first character at `offset`.
fn indentation(source: &str, offset: usize) -> String {
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    source[line_start..offset]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect()
}
