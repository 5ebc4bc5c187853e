#!/usr/bin/env bash
# Says, per feature, what this machine has and what it lacks for building and testing sci
# (the list is scripts/prereqs.sh, the same one the install scripts use). Changes nothing.
# Exit 0 when everything is present, 1 when something is missing.
#
#   scripts/doctor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prereqs.sh

missing_any=0
report() { # FEATURE WHAT-IT-IS-FOR
    local feature=$1 purpose=$2 missing
    missing=$(prereq_missing "$feature" | tr '\n' ' ')
    if [ -z "$missing" ]; then
        printf '  %-7s ok       %s\n' "$feature" "$purpose"
    else
        printf '  %-7s MISSING  %s: apt-get install %s\n' "$feature" "$purpose" "$missing"
        missing_any=1
    fi
}

echo "Rust toolchain:"
for tool in cargo rustc; do
    if command -v "$tool" >/dev/null; then
        printf '  %-7s ok       %s\n' "$tool" "$("$tool" --version)"
    else
        printf '  %-7s MISSING  install Rust with rustup (https://rustup.rs)\n' "$tool"
        missing_any=1
    fi
done
echo "System packages (installed by scripts/install-system.sh, called by scripts/test.sh):"
report rust "a linker and the C runtime for every build"
report python "Python 3 with pip and venv for the LSP client test and ptxas"
report llvm "feature llvm: LLVM 22 (inkwell)"
report mlir "feature mlir: MLIR 22, TableGen, libclang for bindgen (melior)"
report cuda "feature cuda: Python for ptxas from PyPI"
report mpi "feature mpi: MPICH and libclang for bindgen"
report wasm "--target wasm32: wasm-ld, wasi-libc, wabt, Node"
report web "the demo page's test: Chromium, npm"
report bench "bench/run.sh: the peers' Python environment and LLVM"

echo "Project-local tools (installed under target/ by scripts/test.sh):"
ptxas=target/cuda-tools/nvidia/cuda_nvcc/bin/ptxas
if [ -x "$ptxas" ]; then
    printf '  %-7s ok       %s\n' ptxas "$ptxas"
else
    printf '  %-7s absent   scripts/install-ptxas.sh installs it (PyPI, no root)\n' ptxas
fi
if [ -x target/lsp-client/venv/bin/python ]; then
    printf '  %-7s ok       target/lsp-client/venv\n' pytest-lsp
else
    printf '  %-7s absent   tests/lsp_client/run.sh installs it (PyPI, no root)\n' pytest-lsp
fi
exit "$missing_any"
