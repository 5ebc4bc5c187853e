//! The reference interpreter behind the [`Backend`] trait.
//!
//! It "compiles" by keeping the validated module, and calls `sci_ir::interp`. It is the
//! oracle of the differential tests and the fallback of hosts built without a native back
//! end.

use crate::abi::Signature;
use crate::{Backend, CallError, CodegenError, CompiledFunction, CompiledModule};
use sci_ir::{Interpreter, Module, Tensor, ValidModule};

/// The interpreter as a back end.
#[derive(Clone, Copy, Debug, Default)]
pub struct InterpreterBackend;

impl Backend for InterpreterBackend {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError> {
        Ok(Box::new(Interpreted {
            functions: function_table(module.module()),
            module: module.clone(),
        }))
    }
}

/// The error for a module that does not validate.
pub(crate) fn invalid_ir(module: &Module, errs: &[sci_ir::ValidationError]) -> CodegenError {
    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    CodegenError::new(format!(
        "Module `{}` is not valid IR, so it cannot be compiled: {}",
        module.name,
        lines.join("; ")
    ))
}

/// The table of functions of a valid module, with the reason each unavailable one has no
/// code: it contains a `deriv`, or calls a function that does.
pub(crate) fn function_table(module: &Module) -> Vec<CompiledFunction> {
    let reasons = unavailable_reasons(module);
    module
        .functions
        .iter()
        .zip(reasons)
        .filter_map(|((id, f), unavailable)| {
            Some(CompiledFunction {
                name: f.name.clone(),
                id,
                signature: Signature::of(module, id)?,
                unavailable,
            })
        })
        .collect()
}

fn unavailable_reasons(module: &Module) -> Vec<Option<String>> {
    let n = module.functions.len();
    let mut reasons: Vec<Option<String>> = module
        .functions
        .iter()
        .map(|(_, f)| {
            f.values
                .iter()
                .any(|(_, v)| matches!(v.op, sci_ir::Op::Deriv { .. }))
                .then(|| {
                    format!(
                        "`{}` still contains a derivative placeholder (`deriv`); run the AD pass \
                         (sci_passes::ad) before compiling it.",
                        f.name
                    )
                })
        })
        .collect();
    // Propagate to callers until nothing changes (the call graph is acyclic, so n rounds do).
    for _ in 0..n {
        let mut changed = false;
        for (id, f) in module.functions.iter() {
            if reasons[id.index()].is_some() {
                continue;
            }
            let bad_callee = f.values.iter().find_map(|(_, v)| match &v.op {
                sci_ir::Op::Call { func, .. } => reasons
                    .get(func.index())
                    .and_then(|r| r.as_ref())
                    .and(module.functions.get(*func)),
                _ => None,
            });
            if let Some(callee) = bad_callee {
                reasons[id.index()] = Some(format!(
                    "`{}` calls `{}`, which still contains a derivative placeholder (`deriv`); \
                     run the AD pass (sci_passes::ad) before compiling it.",
                    f.name, callee.name
                ));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    reasons
}

/// Checks the call of function `index` of `functions` and returns it.
pub(crate) fn check_call<'a>(
    functions: &'a [CompiledFunction],
    index: usize,
    inputs: &[&[f64]],
    out: &[f64],
) -> Result<(&'a CompiledFunction, Vec<usize>), CallError> {
    let f = callable(functions, index)?;
    let points = f.signature.check_inputs(&f.name, inputs)?;
    check_out(f, inputs, out)?;
    Ok((f, points))
}

/// Function `index` of `functions`, if it has code.
pub(crate) fn callable(
    functions: &[CompiledFunction],
    index: usize,
) -> Result<&CompiledFunction, CallError> {
    let f = functions.get(index).ok_or_else(|| {
        CallError::new(format!(
            "There is no function #{index}; the module has {}.",
            functions.len()
        ))
    })?;
    match &f.unavailable {
        Some(reason) => Err(CallError::new(reason.clone())),
        None => Ok(f),
    }
}

/// Checks that `out` has the length of `f`'s result for `inputs`.
pub(crate) fn check_out(
    f: &CompiledFunction,
    inputs: &[&[f64]],
    out: &[f64],
) -> Result<(), CallError> {
    let want = f.signature.result_len(inputs).unwrap_or(0);
    if out.len() != want {
        return Err(CallError::new(format!(
            "The output buffer of `{}` must have {want} elements (its result is {}), but it has {}.",
            f.name,
            f.signature.result.describe(),
            out.len()
        )));
    }
    Ok(())
}

#[derive(Debug)]
struct Interpreted {
    /// Validated once, when compiled: calls (a solver's thousands of callbacks) do not
    /// validate it again.
    module: ValidModule,
    functions: Vec<CompiledFunction>,
}

impl CompiledModule for Interpreted {
    fn backend(&self) -> &'static str {
        "interpreter"
    }

    fn functions(&self) -> &[CompiledFunction] {
        &self.functions
    }

    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError> {
        let (f, points) = check_call(&self.functions, index, inputs, out)?;
        let args: Vec<Tensor> = f
            .signature
            .inputs
            .iter()
            .zip(inputs)
            .zip(points)
            .map(|((spec, data), n)| Tensor {
                shape: spec.shape.clone(),
                batch: spec.batched.then_some(n),
                data: data.to_vec(),
            })
            .collect();
        let result = Interpreter::of_valid(&self.module)
            .call(f.id, &args)
            .map_err(|e| CallError::new(e.message))?;
        if result.data.len() != out.len() {
            return Err(CallError::new(format!(
                "`{}` returned {} elements where {} were expected.",
                f.name,
                result.data.len(),
                out.len()
            )));
        }
        out.copy_from_slice(&result.data);
        Ok(())
    }
}
