//! The GPU module: one `gpu.func` kernel per kernel site (`sci_ir::kernels`), the four
//! column-reduction kernels, and the IR functions the kernels call as device functions,
//! in a `gpu.module @sci_kernels`. The parameters follow the kernel ABI of `docs/mlir.md`
//! (default memref calling convention: each `memref<?xf64>` is 5 PTX parameters, each
//! `index` one).

use super::emit::Region;
use super::function::emit_function;
use super::layout::Layout;
use super::lower::Ix;
use super::lower::{FnLower, MEM, Repr, Res, Shared, Target, internal};
use crate::lower::{Env, Lower};
use sci_ir::kernels::{KernelSite, REDUCE_KERNEL, kernel_sites};
use sci_ir::{DType, FuncId, Module, Op, ReduceOp};
use std::collections::BTreeSet;

/// The reductions with a kernel of their own (`mean` uses `sum`).
pub(super) const REDUCE_OPS: [ReduceOp; 4] =
    [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min];

/// The entry name of the reduction kernel of `op`.
pub(super) fn reduce_kernel_name(op: ReduceOp) -> String {
    format!("{REDUCE_KERNEL}_{}", op.name())
}

/// The math functions a module calls, with their arity.
pub(super) type MathSet = BTreeSet<(&'static str, usize)>;

/// How kernels are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// `gpu.func` kernels in a `gpu.module`, for NVVM.
    Gpu,
    /// The same kernels as host `func.func`s that loop over a launch grid (three leading
    /// `index` parameters: grid x, grid y, block x) in place of the GPU's thread ids, with
    /// the CPU's math: the kernel ABI's semantics, testable without a GPU.
    Emulate,
}

/// The text of the kernel module of `module`, its kernel names (sites, then reductions),
/// and the math functions the kernels call (on the GPU they come from libdevice).
pub(super) fn kernel_module_text(
    module: &Module,
    mode: Mode,
) -> Res<(String, Vec<String>, MathSet)> {
    crate::check_valid(module)?;
    let sites = kernel_sites(module);
    let target = match mode {
        Mode::Gpu => Target::Gpu,
        Mode::Emulate => Target::Cpu,
    };
    let mut cx = Shared::new(target);
    let mut kernels = Vec::new();
    let mut names = Vec::new();
    for site in &sites {
        kernels.push(emit_site(module, site, &mut cx, mode)?);
        names.push(site.name.clone());
    }
    for op in REDUCE_OPS {
        kernels.push(reduce_kernel(op, mode));
        names.push(reduce_kernel_name(op));
    }
    let mut devices = Vec::new();
    for k in callees(module, &sites) {
        let f = module
            .functions
            .get(k)
            .ok_or_else(|| internal("callee out of range"))?;
        devices.push(emit_function(module, k.index(), f, &mut cx, true)?);
    }
    let (open, close, pad) = match mode {
        Mode::Gpu => (
            "module attributes {gpu.container_module} {\n  gpu.module @sci_kernels {\n",
            "  }\n}\n",
            "  ",
        ),
        Mode::Emulate => ("module {\n", "}\n", ""),
    };
    let mut text = String::from(open);
    if mode == Mode::Emulate {
        for (name, arity) in &cx.math {
            let tys = vec!["f64"; *arity].join(", ");
            text.push_str(&format!(
                "  func.func private @{}({tys}) -> f64\n",
                super::runtime::symbol(name)
            ));
        }
    }
    for g in &cx.globals {
        text.push_str(&format!("{pad}  {g}\n"));
    }
    for part in devices.iter().chain(&kernels) {
        for l in part.lines() {
            text.push_str(pad);
            text.push_str(l);
            text.push('\n');
        }
    }
    text.push_str(close);
    Ok((text, names, cx.math))
}

/// Every function called, directly or not, from a site's body, in module order.
fn callees(module: &Module, sites: &[KernelSite]) -> Vec<FuncId> {
    let mut seen = BTreeSet::new();
    let mut work: Vec<FuncId> = Vec::new();
    let calls_in = |f: &sci_ir::Function, block: &sci_ir::Block, out: &mut Vec<FuncId>| {
        fn walk(f: &sci_ir::Function, block: &sci_ir::Block, out: &mut Vec<FuncId>) {
            for &v in &block.body {
                let Some(value) = f.values.get(v) else {
                    continue;
                };
                if let Op::Call { func, .. } = &value.op {
                    out.push(*func);
                }
                if let Some(inner) = value.op.block() {
                    walk(f, inner, out);
                }
            }
        }
        walk(f, block, out);
    };
    for site in sites {
        let Some(f) = module.functions.get(site.func) else {
            continue;
        };
        if let Some(Op::Map { body, .. }) = f.values.get(site.map).map(|v| &v.op) {
            calls_in(f, body, &mut work);
        }
    }
    while let Some(k) = work.pop() {
        if !seen.insert(k.index()) {
            continue;
        }
        if let Some(f) = module.functions.get(k) {
            calls_in(f, &f.body, &mut work);
        }
    }
    module
        .functions
        .iter()
        .map(|(id, _)| id)
        .filter(|id| seen.contains(&id.index()))
        .collect()
}

/// The parameters that stand for the launch grid in [`Mode::Emulate`].
const EMULATED_GRID: &str = "%emu_gx: index, %emu_gy: index, %emu_bd: index";

/// The kernel of one site: thread `p` evaluates the map body for point `p`.
fn emit_site(module: &Module, site: &KernelSite, cx: &mut Shared, mode: Mode) -> Res<String> {
    let f = module
        .functions
        .get(site.func)
        .ok_or_else(|| internal("site in a function out of range"))?;
    let body = match f.values.get(site.map).map(|v| &v.op) {
        Some(Op::Map { body, .. }) => body,
        _ => return Err(internal("a kernel site that is not a map")),
    };
    let layout = Layout::kernel(f, body)?;
    let mut s = FnLower::new(module, f, cx, layout);
    s.tag = format!("f{}", site.func.index());
    s.allocate_frame();
    let mut params = vec!["%points: index".to_string()];
    params.extend((0..site.inputs.len()).map(|j| format!("%in{j}: {MEM}")));
    params.extend((0..site.captures.len()).map(|j| format!("%cap{j}: {MEM}")));
    params.extend([format!("%out: {MEM}"), "%status: memref<?xi32>".to_string()]);
    let (bx, bd, tx) = match mode {
        Mode::Gpu => (
            s.def("gpu.block_id x"),
            s.def("gpu.block_dim x"),
            s.def("gpu.thread_id x"),
        ),
        Mode::Emulate => {
            let (zero, one) = (s.cidx(0), s.cidx(1));
            s.open(format!("scf.for %emu_by = {zero} to %emu_gy step {one}"));
            s.open(format!("scf.for %emu_bx = {zero} to %emu_gx step {one}"));
            s.open(format!("scf.for %emu_tx = {zero} to %emu_bd step {one}"));
            // Every thread starts with a clean status.
            let z = s.ci32(0);
            s.line(format!("memref.store {z}, %st[{zero}] : memref<1xi32>"));
            ("%emu_bx".into(), "%emu_bd".into(), "%emu_tx".into())
        }
    };
    let base = s.def(format!("arith.muli {bx}, {bd} : index"));
    let p = s.def(format!("arith.addi {base}, {tx} : index"));
    let live = s.def(format!("arith.cmpi ult, {p}, %points : index"));
    s.open(format!("scf.if {live}"));
    for (j, &c) in site.captures.iter().enumerate() {
        let r = if s.ty(c)?.shape.is_empty() {
            Repr::Scalar(s.load_at(&format!("%cap{j}"), &Ix::C(0)))
        } else {
            Repr::Buf(Region {
                mem: format!("%cap{j}"),
                off: Ix::C(0),
            })
        };
        s.set(c, r);
    }
    let point = Ix::V(p.clone());
    let mut args = Vec::new();
    for (j, (&input, &arg)) in site.inputs.iter().zip(&body.args).enumerate() {
        let len = s.len_of(input)?;
        let ty = s.ty(arg)?;
        let mem = format!("%in{j}");
        let at = s.at(&Ix::C(0), &point, len);
        // The runtime uploads values as they are; f32 ones are rounded here, as on entry
        // to a CPU function.
        args.push(if ty.shape.is_empty() {
            let x = s.load_at(&mem, &at);
            Repr::Scalar(s.round_to(&x, ty.dtype))
        } else if let (DType::F32, Some(scratch)) = (ty.dtype, s.layout.scratch(arg)) {
            s.each_c(len, |s, i| {
                let from = s.add(&at, &i);
                let x = s.load_at(&mem, &from);
                let x = s.round_to(&x, DType::F32);
                let to = s.add(&Ix::C(scratch), &i);
                s.store_at(&x, "%frame", &to);
                Ok(())
            })?;
            Repr::Buf(Region {
                mem: "%frame".into(),
                off: Ix::C(scratch),
            })
        } else {
            Repr::Buf(Region { mem, off: at })
        });
    }
    let item = s.run_block(body, args)?;
    let per = site.point_len;
    let at = s.at(&Ix::C(0), &point, per);
    s.store_repr_at(&item, ("%out", &at), per)?;
    // A failed point: NaN outputs, and its code in the status buffer.
    let st = s.status();
    let zero = s.ci32(0);
    let bad = s.def(format!("arith.cmpi ne, {st}, {zero} : i32"));
    s.open(format!("scf.if {bad}"));
    let nan = s.cf64(f64::NAN);
    s.each_c(per, |s, i| {
        let to = s.add(&at, &i);
        s.store_at(&nan, "%out", &to);
        Ok(())
    })?;
    let c0 = s.cidx(0);
    s.line(format!("memref.store {st}, %status[{c0}] : memref<?xi32>"));
    s.close();
    s.close();
    let head = match mode {
        Mode::Gpu => {
            s.line("gpu.return");
            format!(
                "  gpu.func @{}({}) kernel {{\n",
                site.name,
                params.join(", ")
            )
        }
        Mode::Emulate => {
            s.close();
            s.close();
            s.close();
            s.line("return");
            format!(
                "  func.func @{}({EMULATED_GRID}, {}) {{\n",
                site.name,
                params.join(", ")
            )
        }
    };
    let (prologue, lines) = s.finish_kernel();
    let mut text = head;
    for l in prologue.iter().chain(&lines) {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str("  }\n");
    Ok(text)
}

/// The column reduction of `op` (see `sci_ir::kernels::REDUCE_KERNEL`): thread `j` of
/// block row `c` reduces column `j` over points `c·chunk .. min((c+1)·chunk, points)`,
/// from the identity (sum 0, prod 1, max −∞, min +∞; max/min propagate NaN and keep the
/// accumulator on ties, like the interpreter).
fn reduce_kernel(op: ReduceOp, mode: Mode) -> String {
    let (identity, combine) = match op {
        ReduceOp::Prod => ("1.0e0", "%r = arith.mulf %acc, %x : f64".to_string()),
        ReduceOp::Max | ReduceOp::Min => {
            let (init, pred) = if op == ReduceOp::Max {
                ("0xFFF0000000000000", "oge")
            } else {
                ("0x7FF0000000000000", "ole")
            };
            (
                init,
                format!(
                    "%keep = arith.cmpf {pred}, %acc, %x : f64\n\
                     %pick = arith.select %keep, %acc, %x : f64\n\
                     %uno = arith.cmpf uno, %acc, %x : f64\n\
                     %r = arith.select %uno, %nan, %pick : f64"
                ),
            )
        }
        ReduceOp::Sum | ReduceOp::Mean => ("0.0e0", "%r = arith.addf %acc, %x : f64".to_string()),
    };
    let body = format!(
        "%base = arith.muli %bx, %bd : index
%j = arith.addi %base, %tx : index
%live = arith.cmpi ult, %j, %width : index
scf.if %live {{
  %lo = arith.muli %c, %chunk : index
  %end = arith.addi %lo, %chunk : index
  %hi = arith.minui %end, %points : index
  %acc_end = scf.for %p = %lo to %hi step %c1 iter_args(%acc = %id) -> (f64) {{
    %row = arith.muli %p, %width : index
    %at = arith.addi %row, %j : index
    %x = memref.load %input[%at] : {MEM}
{combine}
    scf.yield %r : f64
  }}
  %crow = arith.muli %c, %width : index
  %to = arith.addi %crow, %j : index
  memref.store %acc_end, %partials[%to] : {MEM}
}}"
    );
    let params =
        format!("%points: index, %width: index, %chunk: index, %input: {MEM}, %partials: {MEM}");
    let consts = format!(
        "%c0 = arith.constant 0 : index
%c1 = arith.constant 1 : index
%id = arith.constant {identity} : f64
%nan = arith.constant 0x7FF8000000000000 : f64"
    );
    let (head, ids, inner, tail, depth) = match mode {
        Mode::Gpu => (
            format!("gpu.func @{}({params}) kernel {{", reduce_kernel_name(op)),
            "%bx = gpu.block_id x
%bd = gpu.block_dim x
%tx = gpu.thread_id x
%c = gpu.block_id y",
            body,
            "gpu.return\n}".to_string(),
            1,
        ),
        Mode::Emulate => (
            format!(
                "func.func @{}(%emu_gx: index, %emu_gy: index, %bd: index, {params}) {{",
                reduce_kernel_name(op)
            ),
            "scf.for %c = %c0 to %emu_gy step %c1 {
  scf.for %bx = %c0 to %emu_gx step %c1 {
    scf.for %tx = %c0 to %bd step %c1 {",
            body,
            "    }\n  }\n}\nreturn\n}".to_string(),
            4,
        ),
    };
    let mut text = format!("  {head}\n");
    for l in consts.lines().chain(ids.lines()) {
        text.push_str(&format!("    {l}\n"));
    }
    let pad = "  ".repeat(depth);
    for l in inner.lines() {
        text.push_str(&format!("  {pad}{l}\n"));
    }
    for l in tail.lines() {
        text.push_str(&format!("    {l}\n"));
    }
    text
}
