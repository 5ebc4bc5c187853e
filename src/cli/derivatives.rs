//! `sci compile --emit grad|jac|hessian`: the derivative functions of a file, as IR.
//!
//! Which derivatives each kind prints:
//!
//! | kind | ODE models | loss models | free functions |
//! |---|---|---|---|
//! | `grad` | — | `grad.loss` (∂loss/∂θ) | `grad.f` per real input, for scalar results |
//! | `jac` | `jac_y.rhs`, `jac_p.rhs` (with their sparsity and colouring) | — | `jac.f` per real input |
//! | `hessian` | — | `hessian.loss` (∂²loss/∂θ²) | `hessian.f` per real input, for scalar results |
//!
//! Calls are inlined, so every printed module is self-contained and reads back with
//! `sci_ir::read`.

use sci::ir::{FuncId, Function, Module, Type};
use sci_passes::simplify::{SimplifyOptions, simplify_module};
use sci_passes::{ad, sparsity};

/// Which derivatives to print.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Grad,
    Jac,
    Hessian,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Grad => "gradients",
            Kind::Jac => "Jacobians",
            Kind::Hessian => "Hessians",
        }
    }
}

/// The derivative functions of every module, simplified (see `docs/simplification.md`), as
/// `.sir` text with each function's mathematics in `//` comments. With `stats`, the op
/// counts before and after simplification of these functions go to stderr.
pub fn render(
    modules: &[Module],
    kind: Kind,
    options: &SimplifyOptions,
    stats: bool,
) -> Result<String, String> {
    let mut out = Vec::new();
    for m in modules {
        let (notes, functions) = derivatives(m, kind).map_err(|e| format!("{}: {e}", m.name))?;
        if functions.is_empty() {
            continue;
        }
        let mut dm = Module::new(m.name.clone());
        dm.params = m.params.clone();
        dm.states = m.states.clone();
        dm.outputs = m.outputs.clone();
        dm.manifest = m.manifest.clone();
        for f in functions {
            dm.functions.push(f);
        }
        let mut text = String::new();
        for n in notes {
            text.push_str("; ");
            text.push_str(&n);
            text.push('\n');
        }
        let simplify_stats = simplify_module(&mut dm, options);
        if stats {
            err!(
                "module {} ({}):\n{}",
                dm.name,
                kind.noun(),
                simplify_stats.table()
            );
        }
        let ids: Vec<FuncId> = dm.functions.iter().map(|(id, _)| id).collect();
        text.push_str(&super::simplified::render_functions(&dm, &ids, true));
        out.push(text);
    }
    if out.is_empty() {
        let what = match kind {
            Kind::Grad => "gradients (a loss, or a function with a scalar result)",
            Kind::Jac => "Jacobians (an ODE right-hand side, or a function)",
            Kind::Hessian => "Hessians (a loss, or a function with a scalar result)",
        };
        return Ok(format!("; the file has nothing to take {what} of\n"));
    }
    Ok(out.join("\n"))
}

fn is_real(ty: &Type) -> bool {
    ty.dtype.is_float() && !ty.batched
}

fn scalar_result(f: &Function) -> bool {
    f.result_type()
        .is_some_and(|t| is_real(t) && t.shape.is_empty())
}

/// The derivative functions of one module (calls inlined) and notes for the reader.
fn derivatives(m: &Module, kind: Kind) -> Result<(Vec<String>, Vec<Function>), ad::AdError> {
    let mut notes = Vec::new();
    let mut out = Vec::new();
    let finish = |mut f: Function, name: String| -> Result<Function, ad::AdError> {
        f = ad::inline_calls_function(m, &f)?;
        f.name = name;
        Ok(f)
    };
    let is_model =
        !m.params.slots.is_empty() || !m.states.slots.is_empty() || m.function("loss").is_some();
    if is_model {
        if kind == Kind::Jac
            && let Some(rhs) = m.function("rhs")
        {
            for (k, name) in [(1usize, "jac_y.rhs"), (2, "jac_p.rhs")] {
                let Some(f) = m.functions.get(rhs) else {
                    continue;
                };
                if f.input_type(k).and_then(|t| t.element_count()) == Some(0) {
                    continue;
                }
                out.push(finish(ad::jacobian(m, rhs, k)?, name.into())?);
                if let Ok(sj) = sparsity::sparse_jacobian(m, rhs, k) {
                    notes.push(format!(
                        "{name}: {} x {}, {} structural non-zeros, {} {} colours ({} the other way)",
                        sj.n_rows,
                        sj.n_cols,
                        sj.col_idx.len(),
                        sj.n_colors,
                        match sj.direction {
                            sparsity::Direction::Forward => "column (forward)",
                            sparsity::Direction::Reverse => "row (reverse)",
                        },
                        sj.other_colors
                    ));
                }
            }
        }
        if kind != Kind::Jac
            && let Some(loss) = m.function("loss")
        {
            let f = match kind {
                Kind::Grad => ad::grad(m, loss, &[0])?,
                _ => ad::hessian(m, loss, 0)?,
            };
            let name = if kind == Kind::Grad {
                "grad.loss"
            } else {
                "hessian.loss"
            };
            out.push(finish(f, name.into())?);
        }
        return Ok((notes, out));
    }
    for (id, f) in m.functions.iter() {
        for k in 0..f.inputs().len() {
            if !f.input_type(k).is_some_and(is_real) {
                continue;
            }
            let input = f
                .inputs()
                .get(k)
                .and_then(|a| f.values.get(*a))
                .and_then(|v| v.name.clone())
                .unwrap_or_else(|| k.to_string());
            let suffix = if f.inputs().len() == 1 {
                String::new()
            } else {
                format!(".{input}")
            };
            let g = match kind {
                Kind::Grad if scalar_result(f) => ad::grad(m, id, &[k])?,
                Kind::Hessian if scalar_result(f) => ad::hessian(m, id, k)?,
                Kind::Jac if f.result_type().is_some_and(is_real) => ad::jacobian(m, id, k)?,
                _ => continue,
            };
            let prefix = match kind {
                Kind::Grad => "grad",
                Kind::Jac => "jac",
                Kind::Hessian => "hessian",
            };
            out.push(finish(g, format!("{prefix}.{}{suffix}", f.name))?);
        }
    }
    Ok((notes, out))
}
