//! The math calls of MLIR's lowering: the shared libm table on the CPU, the `math` dialect
//! (libdevice) on the GPU.

use super::lower::{FnLower, Target};

impl FnLower<'_> {
    /// A libm function by C name on `f64` arguments: on the CPU a call of the `libm`
    /// crate's function (what the interpreter calls, so results agree bit for bit); on the
    /// GPU the `math` op, which NVVM lowers to libdevice's `__nv_NAME`.
    pub fn call_math(&mut self, name: &'static str, args: &[&str]) -> String {
        self.cx.math.insert((name, args.len()));
        match self.target() {
            Target::Cpu => {
                let tys = vec!["f64"; args.len()].join(", ");
                self.def(format!(
                    "func.call @{}({}) : ({tys}) -> f64",
                    super::runtime::symbol(name),
                    args.join(", ")
                ))
            }
            Target::Gpu => {
                let op = if name == "pow" { "powf" } else { name };
                self.def(format!("math.{op} {} : f64", args.join(", ")))
            }
        }
    }

    /// `math.OP x` for an exact or correctly rounded function (`absf`, `sqrt`, `floor`,
    /// `trunc`): an LLVM intrinsic on the CPU; on the GPU NVVM may call libdevice's
    /// `__nv_LIBDEVICE` for it, which is recorded.
    pub fn exact(&mut self, op: &str, libdevice: &'static str, x: &str) -> String {
        if self.target() == Target::Gpu && libdevice != "trunc" {
            self.cx.math.insert((libdevice, 1));
        }
        self.def(format!("math.{op} {x} : f64"))
    }
}
