//! One IR function as one `func.func`, with the calling convention shared by the JIT's
//! entries, calls between functions, and GPU device functions:
//!
//! ```mlir
//! func.func @sci_fK(<inputs>, %out: memref<?xf64>, %outo: index) -> i32
//! ```
//!
//! where an unbatched scalar input is an `f64`, an unbatched tensor a `memref<?xf64>` and
//! an element offset (`index`), and a batched input a `memref<?xf64>`, an offset and a
//! point count. The result is written from element `%outo` of `%out`; the `i32` is a
//! [`crate::Status`].

use super::emit::Region;
use super::layout::{Layout, Place};
use super::lower::Ix;
use super::lower::{FnLower, MEM, Repr, Res, Shared, func_symbol, internal};
use crate::lower::{Lower, function};
use sci_ir::{Function, Module};

/// The parameter list of IR function `f` under the convention above.
pub(super) fn params(f: &Function) -> Res<Vec<String>> {
    let mut ps = Vec::new();
    for j in 0..f.inputs().len() {
        let ty = f
            .input_type(j)
            .ok_or_else(|| internal("input out of range"))?;
        if ty.batched {
            ps.extend([
                format!("%a{j}: {MEM}"),
                format!("%a{j}o: index"),
                format!("%a{j}n: index"),
            ]);
        } else if ty.shape.is_empty() {
            ps.push(format!("%a{j}: f64"));
        } else {
            ps.extend([format!("%a{j}: {MEM}"), format!("%a{j}o: index")]);
        }
    }
    ps.extend([format!("%out: {MEM}"), "%outo: index".to_string()]);
    Ok(ps)
}

/// The text of IR function number `k` (`f`), `private` when `private`.
pub(super) fn emit_function(
    ir: &Module,
    k: usize,
    f: &Function,
    cx: &mut Shared,
    private: bool,
) -> Res<String> {
    let layout = Layout::function(f)?;
    let mut s = FnLower::new(ir, f, cx, layout);
    s.tag = format!("f{k}");
    s.out = Some(("%out".into(), Ix::V("%outo".into())));
    s.allocate_frame();
    function::bind_inputs(&mut s, input_reprs(f)?)?;
    s.lower_body(&f.body.body)?;
    let in_place = s.layout.of(f.body.result) == Place::Out;
    let out = Region {
        mem: "%out".into(),
        off: Ix::V("%outo".into()),
    };
    function::write_result(&mut s, out, in_place)?;
    let (prologue, body) = s.finish_function();
    let vis = if private { "private " } else { "" };
    let mut text = format!(
        "  func.func {vis}@{}({}) -> i32 {{\n",
        func_symbol(k),
        params(f)?.join(", ")
    );
    for l in prologue.iter().chain(&body) {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str("  }\n");
    Ok(text)
}

/// The function's inputs as the caller passed them: `%aJ` (a scalar), or the region
/// `%aJ[%aJo..]` and, for a batch, its point count `%aJn`.
fn input_reprs(f: &Function) -> Res<Vec<Repr>> {
    let mut reprs = Vec::with_capacity(f.inputs().len());
    for (j, &id) in f.inputs().iter().enumerate() {
        let ty = &f
            .values
            .get(id)
            .ok_or_else(|| internal("input out of range"))?
            .ty;
        let region = Region {
            mem: format!("%a{j}"),
            off: Ix::V(format!("%a{j}o")),
        };
        reprs.push(if ty.batched {
            Repr::Batch {
                ptr: region,
                n: format!("%a{j}n"),
            }
        } else if ty.shape.is_empty() {
            Repr::Scalar(format!("%a{j}"))
        } else {
            Repr::Buf(region)
        });
    }
    Ok(reprs)
}
