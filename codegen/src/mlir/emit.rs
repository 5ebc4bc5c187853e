//! MLIR's primitives for the shared lowering ([`crate::lower::Emit`]), as text: values are
//! SSA names (`f64`, `index`, `i1`), an address is a region of a flat `memref<?xf64>` (a
//! buffer and an element offset), loops are `scf.for` with `iter_args`. Structured control
//! flow cannot leave a loop, so a failure is recorded in the status word and evaluation
//! goes on with safe values ([`Emit::FAILURE_EXITS`] is false).

use super::lower::{FnLower, Ix, MEM, Repr, Res, internal};
use crate::abi::Status;
use crate::lower::{BBin, Emit, FBin, FCmp, FUn, ICmp, Kinds, LoopBody, Values};
use sci_ir::{FuncId, Function, Module, ValueId};

/// Elements `off..` of buffer `mem` (a `memref<?xf64>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Region {
    pub mem: String,
    pub off: Ix,
}

impl Kinds for FnLower<'_> {
    type F = String;
    type I = String;
    type B = String;
    type P = Region;
}

impl<'a> Emit<'a> for FnLower<'a> {
    const NAME: &'static str = "MLIR";
    const FAILURE_EXITS: bool = false;
    /// LLVM (below MLIR) unrolls and vectorises small loops itself.
    const UNROLL: usize = 1;
    /// Kernels are per point (one GPU thread each); the CPU path takes untiled IR too.
    const TILE_MAPS: bool = false;

    fn function(&self) -> &'a Function {
        self.f
    }

    fn values(&self) -> &Values<String, String, Region> {
        &self.values
    }

    fn values_mut(&mut self) -> &mut Values<String, String, Region> {
        &mut self.values
    }

    fn f64c(&mut self, x: f64) -> Res<String> {
        Ok(self.cf64(x))
    }

    fn ic(&mut self, n: usize) -> Res<String> {
        Ok(self.cidx(n))
    }

    fn bc(&mut self, b: bool) -> Res<String> {
        Ok(self.cbool(b))
    }

    fn fbin(&mut self, op: FBin, a: String, b: String) -> Res<String> {
        let name = match op {
            FBin::Add => "addf",
            FBin::Sub => "subf",
            FBin::Mul => "mulf",
            FBin::Div => "divf",
        };
        Ok(self.def(format!("arith.{name} {a}, {b} : f64")))
    }

    fn fun(&mut self, op: FUn, x: String) -> Res<String> {
        Ok(match op {
            FUn::Neg => self.def(format!("arith.negf {x} : f64")),
            FUn::Abs => self.exact("absf", "fabs", &x),
            FUn::Sqrt => self.exact("sqrt", "sqrt", &x),
            FUn::Floor => self.exact("floor", "floor", &x),
        })
    }

    fn fcmp(&mut self, op: FCmp, a: String, b: String) -> Res<String> {
        let pred = match op {
            FCmp::Eq => "oeq",
            FCmp::Ne => "une",
            FCmp::Lt => "olt",
            FCmp::Le => "ole",
            FCmp::Gt => "ogt",
            FCmp::Ge => "oge",
            FCmp::Uno => "uno",
        };
        Ok(self.def(format!("arith.cmpf {pred}, {a}, {b} : f64")))
    }

    fn bbin(&mut self, op: BBin, a: String, b: String) -> Res<String> {
        let name = match op {
            BBin::And => "andi",
            BBin::Or => "ori",
            BBin::Xor => "xori",
        };
        Ok(self.def(format!("arith.{name} {a}, {b} : i1")))
    }

    fn select_f(&mut self, c: String, a: String, b: String) -> Res<String> {
        Ok(self.select_ty(&c, &a, &b, "f64"))
    }

    fn select_i(&mut self, c: String, a: String, b: String) -> Res<String> {
        Ok(self.select_ty(&c, &a, &b, "index"))
    }

    fn bool_to_f64(&mut self, c: String) -> Res<String> {
        Ok(self.def(format!("arith.uitofp {c} : i1 to f64")))
    }

    fn round_f32(&mut self, x: String) -> Res<String> {
        let s = self.def(format!("arith.truncf {x} : f64 to f32"));
        Ok(self.def(format!("arith.extf {s} : f32 to f64")))
    }

    fn trunc_to_int(&mut self, x: String) -> Res<String> {
        // Rust's `(x as i64) as f64`: toward zero, saturating at ±2^63 (which is what
        // i64::MIN/MAX round to), NaN → 0, -0 → +0 (the `+ 0.0`). In floats, so nothing is
        // poison.
        let t = self.exact("trunc", "trunc", &x);
        let z = self.cf64(0.0);
        let t = self.def(format!("arith.addf {t}, {z} : f64"));
        let hi = self.cf64(9_223_372_036_854_775_808.0);
        let lo = self.cf64(-9_223_372_036_854_775_808.0);
        let above = self.def(format!("arith.cmpf ogt, {t}, {hi} : f64"));
        let t = self.select_ty(&above, &hi, &t, "f64");
        let below = self.def(format!("arith.cmpf olt, {t}, {lo} : f64"));
        let t = self.select_ty(&below, &lo, &t, "f64");
        let nan = self.def(format!("arith.cmpf uno, {x}, {x} : f64"));
        Ok(self.select_ty(&nan, &z, &t, "f64"))
    }

    fn f64_to_index(&mut self, x: String) -> Res<String> {
        let i = self.def(format!("arith.fptosi {x} : f64 to i64"));
        Ok(self.def(format!("arith.index_cast {i} : i64 to index")))
    }

    fn index_to_f64(&mut self, i: String) -> Res<String> {
        let n = self.def(format!("arith.index_cast {i} : index to i64"));
        Ok(self.def(format!("arith.sitofp {n} : i64 to f64")))
    }

    fn count_to_f64(&mut self, n: String) -> Res<String> {
        let i = self.def(format!("arith.index_cast {n} : index to i64"));
        Ok(self.def(format!("arith.uitofp {i} : i64 to f64")))
    }

    fn iadd(&mut self, a: String, b: String) -> Res<String> {
        Ok(self.def(format!("arith.addi {a}, {b} : index")))
    }

    fn isub(&mut self, a: String, b: String) -> Res<String> {
        Ok(self.def(format!("arith.subi {a}, {b} : index")))
    }

    fn idiv(&mut self, a: String, c: usize) -> Res<String> {
        let k = self.cidx(c);
        Ok(self.def(format!("arith.divui {a}, {k} : index")))
    }

    fn imul(&mut self, a: String, c: usize) -> Res<String> {
        let k = self.cidx(c);
        Ok(self.def(format!("arith.muli {a}, {k} : index")))
    }

    fn icmp(&mut self, op: ICmp, a: String, b: String) -> Res<String> {
        let pred = match op {
            ICmp::Eq => "eq",
            ICmp::Ne => "ne",
            ICmp::Ult => "ult",
        };
        Ok(self.def(format!("arith.cmpi {pred}, {a}, {b} : index")))
    }

    fn math(&mut self, name: &'static str, args: &[String]) -> Res<String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.call_math(name, &args))
    }

    fn addr(&mut self, p: Region, i: Ix, scale: usize) -> Res<Region> {
        let off = self.at(&p.off, &i, scale);
        Ok(Region { mem: p.mem, off })
    }

    fn load(&mut self, p: Region, i: Ix) -> Res<String> {
        let at = self.add(&p.off, &i);
        Ok(self.load_at(&p.mem, &at))
    }

    fn store(&mut self, p: Region, i: Ix, x: String) -> Res<()> {
        let at = self.add(&p.off, &i);
        self.store_at(&x, &p.mem, &at);
        Ok(())
    }

    fn literal_data(&mut self, id: ValueId, xs: &[f64]) -> Res<Region> {
        let n = xs.len();
        let data: Vec<String> = xs.iter().map(|x| super::text::f64_literal(*x)).collect();
        let name = format!("sci_lit_{}_{}", self.tag, id.index());
        let global = format!(
            "memref.global \"private\" constant @{name} : memref<{n}xf64> = dense<[{}]>",
            data.join(", ")
        );
        // A body lowered more than once (the pieces of a split `tabulate`) reads one global.
        if !self.cx.globals.contains(&global) {
            self.cx.globals.push(global);
        }
        let g = self.def(format!("memref.get_global @{name} : memref<{n}xf64>"));
        let mem = self.def(format!("memref.cast {g} : memref<{n}xf64> to {MEM}"));
        Ok(Region { mem, off: Ix::C(0) })
    }

    fn dest(&mut self, v: ValueId) -> Res<Region> {
        let (mem, off) = self.planned(v)?;
        Ok(Region { mem, off })
    }

    fn in_place(&self, v: ValueId) -> bool {
        self.layout.in_place(v)
    }

    fn scratch(&mut self, v: ValueId) -> Res<Region> {
        let at = self
            .layout
            .scratch(v)
            .ok_or_else(|| internal("no scratch for an empty index"))?;
        Ok(Region {
            mem: "%frame".into(),
            off: Ix::C(at),
        })
    }

    fn alloc_batch(&mut self, v: ValueId, n: String, per: usize) -> Res<Region> {
        let (mem, off) = self.batch_buffer(v, &n, per)?;
        Ok(Region { mem, off })
    }

    fn for_loop(
        &mut self,
        lo: Ix,
        hi: Ix,
        inits: Vec<String>,
        body: &mut LoopBody<'_, Self>,
    ) -> Res<Vec<String>> {
        self.scf_for(&lo, &hi, &inits, |s, i, acc| {
            body(s, i.to_string(), acc.to_vec())
        })
    }

    fn fail_if(&mut self, cond: String, status: Status) -> Res<()> {
        self.record_failure(&cond, status);
        Ok(())
    }

    /// The MLIR CPU path is the GPU kernels' reference, and the GPU reduces in chunks: sums
    /// run left to right.
    fn compensated_batch_sums(&self) -> bool {
        false
    }

    fn module(&self) -> &'a Module {
        self.ir
    }

    fn call_code(&mut self, func: FuncId, args: &[Repr], out: Region) -> Res<()> {
        self.call_function(func, args, out);
        Ok(())
    }
}
