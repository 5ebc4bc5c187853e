//! Which `map`s become device kernels: the one contract between the GPU code generator
//! (`sci-codegen`'s MLIR back end, which writes the kernels) and the runtime that launches
//! them (`sci-codegen`'s CUDA runtime), so the two agree on names and parameters without
//! passing anything but the IR between them.
//!
//! Every `map` at the top level of a function's body is a *site*: one kernel, one thread per
//! point. A site's kernel takes, in order:
//!
//! 1. the number of points (`i64`);
//! 2. one flat `f64` buffer per batched input of the `map` (point-major: point `p`'s elements
//!    at `p * len .. (p + 1) * len`);
//! 3. one flat `f64` buffer per *capture*: an unbatched value of the enclosing function that
//!    the body reads (in increasing [`ValueId`] order);
//! 4. the flat, point-major result buffer.
//!
//! When the map's only use is one `reduce_batch` at the same level, the site is *fused*
//! with it: the runtime writes the per-point results to scratch memory and reduces them with
//! a parallel column reduction (see [`REDUCE_KERNEL`]) instead of copying every point back.

use crate::module::{Block, FuncId, Function, Module, ValueId};
use crate::op::{Op, ReduceOp};
use crate::types::element_count;

/// The entry name of the column-reduction kernel for `op`: parameters `(points: i64,
/// width: i64, chunk: i64, input, partials)`; thread `j` of block row `c` reduces column `j`
/// over points `c·chunk .. min((c+1)·chunk, points)` into `partials[c·width + j]`. `mean`
/// uses the `sum` kernel; the runtime divides.
pub const REDUCE_KERNEL: &str = "sci_reduce_cols";

/// One `map` that runs as a kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSite {
    /// The kernel's entry name (a valid PTX identifier, unique in the module).
    pub name: String,
    /// The function whose top-level body holds the map.
    pub func: FuncId,
    /// The `map` value.
    pub map: ValueId,
    /// The map's batched inputs, in order.
    pub inputs: Vec<ValueId>,
    /// Unbatched values from outside the body that it reads, in increasing id order.
    pub captures: Vec<ValueId>,
    /// Elements per point of the result.
    pub point_len: usize,
    /// The `reduce_batch` that is the map's only use, when there is one.
    pub reduce: Option<(ReduceOp, ValueId)>,
}

/// Every kernel site of `module`, function by function, in body order. Maps whose per-point
/// size is unknown (invalid IR) are skipped, never a panic.
pub fn kernel_sites(module: &Module) -> Vec<KernelSite> {
    let mut sites = Vec::new();
    for (func, f) in module.functions.iter() {
        for (k, &v) in f.body.body.iter().enumerate() {
            let Some(value) = f.values.get(v) else {
                continue;
            };
            let Op::Map { inputs, body } = &value.op else {
                continue;
            };
            let Some(point_len) = element_count(&value.ty.shape) else {
                continue;
            };
            sites.push(KernelSite {
                name: format!("sci_f{}_{}_v{}", func.index(), sanitize(&f.name), v.index()),
                func,
                map: v,
                inputs: inputs.clone(),
                captures: captures(f, body),
                point_len,
                reduce: fused_reduce(f, v, &f.body.body[k + 1..], f.body.result),
            });
        }
    }
    sites
}

/// The sites of function `func`.
pub fn sites_of(module: &Module, func: FuncId) -> Vec<KernelSite> {
    kernel_sites(module)
        .into_iter()
        .filter(|s| s.func == func)
        .collect()
}

/// Letters, digits and `_`; everything else becomes `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Values the block (and the blocks inside it) reads that it does not define.
fn captures(f: &Function, block: &Block) -> Vec<ValueId> {
    let mut defined = vec![false; f.values.len()];
    let mut used = vec![false; f.values.len()];
    scan(f, block, &mut defined, &mut used);
    f.values
        .iter()
        .map(|(id, _)| id)
        .filter(|id| used[id.index()] && !defined[id.index()])
        .collect()
}

fn scan(f: &Function, block: &Block, defined: &mut [bool], used: &mut [bool]) {
    let mark = |flags: &mut [bool], v: ValueId| {
        if let Some(slot) = flags.get_mut(v.index()) {
            *slot = true;
        }
    };
    for &a in &block.args {
        mark(defined, a);
    }
    for &v in &block.body {
        mark(defined, v);
        let Some(value) = f.values.get(v) else {
            continue;
        };
        for operand in value.op.operands() {
            mark(used, operand);
        }
        if let Some(inner) = value.op.block() {
            scan(f, inner, defined, used);
        }
    }
    mark(used, block.result);
}

/// The `reduce_batch` among `later` that is the only use of `map`, if any.
fn fused_reduce(
    f: &Function,
    map: ValueId,
    later: &[ValueId],
    result: ValueId,
) -> Option<(ReduceOp, ValueId)> {
    if result == map {
        return None;
    }
    let mut found = None;
    for &v in later {
        let value = f.values.get(v)?;
        let mut reads = value.op.operands().contains(&map);
        if let Some(inner) = value.op.block() {
            let mut defined = vec![false; f.values.len()];
            let mut used = vec![false; f.values.len()];
            scan(f, inner, &mut defined, &mut used);
            reads |= used.get(map.index()).copied().unwrap_or(false);
        }
        if !reads {
            continue;
        }
        match (&value.op, found) {
            (Op::ReduceBatch(op, _), None) => found = Some((*op, v)),
            _ => return None,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_module;
    use sci_diag::FileId;

    const SOURCE: &str = "module m
func loss(%θ: f64[2], %x: batch f64) -> f64 {
  %r: batch f64 = map %x (%xp: f64) {
    %a: f64[1] = slice %θ, 0, 1
    %b: f64 = reshape %a
    %y: f64 = mul %b, %xp
    yield %y
  }
  %s: f64 = reduce_batch sum %r
  return %s
}
func both(%θ: f64[2], %x: batch f64) -> batch f64 {
  %r: batch f64 = map %x (%xp: f64) {
    %y: f64 = sin %xp
    yield %y
  }
  return %r
}
";

    #[test]
    fn a_map_feeding_one_reduction_is_fused_and_its_captures_listed() {
        let module = read_module(FileId(0), SOURCE).unwrap();
        let sites = kernel_sites(&module);
        assert_eq!(sites.len(), 2);
        let loss = &sites[0];
        assert_eq!(loss.name, format!("sci_f0_loss_v{}", loss.map.index()));
        assert_ne!(loss.name, sites[1].name);
        assert_eq!(loss.point_len, 1);
        let f = &module.functions.iter().next().unwrap().1;
        let names: Vec<_> = loss
            .captures
            .iter()
            .map(|&c| f.values.get(c).unwrap().name.clone().unwrap())
            .collect();
        assert_eq!(names, ["θ"]);
        assert!(matches!(loss.reduce, Some((ReduceOp::Sum, _))));
        let both = &sites[1];
        assert!(both.captures.is_empty());
        assert_eq!(both.reduce, None, "the map is the result: nothing to fuse");
    }
}
