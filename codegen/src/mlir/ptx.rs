//! The GPU path: the kernels of a module (`kernels.rs`) lowered in process through NVVM
//! to PTX text, with NVIDIA's libdevice linked for the math functions.

use super::kernels::{Mode, kernel_module_text};
use super::pipeline::{Session, gpu_pipeline};
use crate::CodegenError;
use sci_ir::Module;
use std::path::{Path, PathBuf};

/// Where `scripts/install-ptxas.sh` puts libdevice, relative to the repository root.
pub const LIBDEVICE_IN_REPO: &str =
    "target/cuda-tools/nvidia/cuda_nvcc/nvvm/libdevice/libdevice.10.bc";

/// Settings of [`emit_ptx`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtxOptions {
    /// The GPU architecture (`sm_90`).
    pub chip: String,
    /// NVIDIA's `libdevice.10.bc`, linked when a kernel calls a math function (`tanh`,
    /// `exp`, …); see [`default_libdevice`].
    pub libdevice: Option<PathBuf>,
}

impl Default for PtxOptions {
    fn default() -> PtxOptions {
        PtxOptions {
            chip: "sm_90".into(),
            libdevice: default_libdevice(),
        }
    }
}

/// The libdevice to link by default: `$SCI_LIBDEVICE` when set, else the one
/// `scripts/install-ptxas.sh` installs (under this source tree's `target/`, or the current
/// directory's), if it exists.
pub fn default_libdevice() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCI_LIBDEVICE") {
        return Some(PathBuf::from(p));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    [
        repo.join(LIBDEVICE_IN_REPO),
        PathBuf::from(LIBDEVICE_IN_REPO),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// PTX text and its kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ptx {
    /// The PTX module (for the CUDA driver's `cuModuleLoadData`, or `ptxas`).
    pub text: String,
    /// The entry names: one per kernel site (`sci_ir::kernels::kernel_sites`, in order),
    /// then `sci_reduce_cols_{sum,prod,max,min}`.
    pub kernels: Vec<String>,
}

/// The PTX of every kernel of `module`: one per kernel site and the four column
/// reductions, with the parameters of the kernel ABI (`docs/mlir.md`). Lowered in process
/// (MLIR's NVVM target and LLVM's NVPTX back end); no CUDA installation is needed, but a
/// kernel that calls a math function needs libdevice.
pub fn emit_ptx(module: &Module, options: &PtxOptions) -> Result<Ptx, CodegenError> {
    let (text, kernels, math) = kernel_module_text(module, Mode::Gpu)?;
    let libdevice =
        if math.is_empty() {
            None
        } else {
            let names: Vec<&str> = math.iter().map(|(n, _)| *n).collect();
            let path = options.libdevice.as_ref().filter(|p| p.is_file()).ok_or_else(|| {
            let looked = options
                .libdevice
                .as_ref()
                .map(|p| format!(" (looked for `{}`)", p.display()))
                .unwrap_or_default();
            CodegenError::new(format!(
                "The GPU kernels call {} from NVIDIA's libdevice, which was not found{looked}; \
                 run `scripts/install-ptxas.sh` or set SCI_LIBDEVICE to a `libdevice.10.bc`.",
                names.join(", ")
            ))
        })?;
            let s = path.to_str().filter(|s| {
                !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || ",{}\"'".contains(c))
            });
            Some(s.ok_or_else(|| {
                CodegenError::new(format!(
                    "The libdevice path `{}` has characters an MLIR pass option cannot hold \
                 (spaces, commas, braces or quotes); copy it to a plain path.",
                    path.display()
                ))
            })?)
        };
    if options.chip.is_empty()
        || !options
            .chip
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(CodegenError::new(format!(
            "`{}` is not a GPU architecture name (like `sm_90`).",
            options.chip
        )));
    }
    let session = Session::new();
    let mut m = session.parse(&text)?;
    session.run(&mut m, &gpu_pipeline(&options.chip, libdevice))?;
    let printed = m.as_operation().to_string();
    let ptx = assembly(&printed)
        .ok_or_else(|| super::lower::internal("the lowered GPU module has no PTX assembly"))?;
    if let Some(line) = ptx.lines().find(|l| l.contains(".extern .func")) {
        return Err(CodegenError::new(format!(
            "The PTX calls a function it does not define (`{}`); the libdevice linked may be \
             incomplete.",
            line.trim()
        )));
    }
    Ok(Ptx { text: ptx, kernels })
}

/// The `assembly = "..."` string of the printed `gpu.binary`, unescaped (MLIR prints
/// `\XX` hex escapes for quotes, backslashes and non-printing characters).
fn assembly(printed: &str) -> Option<String> {
    let start = printed.find("assembly = \"")? + "assembly = \"".len();
    let bytes = printed.as_bytes().get(start..)?;
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return String::from_utf8(out).ok(),
            b'\\' => {
                let next = *bytes.get(i + 1)?;
                if next == b'\\' || next == b'"' {
                    out.push(next);
                    i += 2;
                } else {
                    let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::assembly;

    #[test]
    fn assembly_is_unescaped() {
        let printed = r#"gpu.binary @k [#gpu.object<#nvvm.target, assembly = "a\0A\09b\22c\5Cd">]"#;
        assert_eq!(assembly(printed).unwrap(), "a\n\tb\"c\\d");
        assert_eq!(assembly("no ptx"), None);
    }
}
