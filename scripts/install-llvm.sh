#!/usr/bin/env bash
# Installs the system LLVM and MLIR 22 that the `llvm` and `mlir` features build against
# (Debian 12's bookworm-security packages, libclang for mlir-sys' bindgen included; the list
# is scripts/prereqs.sh), idempotently: nothing happens when every file they provide is there.
# Needs root (or sudo) and the Debian mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system.sh llvm mlir >/dev/null
source scripts/prereqs.sh
echo "LLVM and MLIR $("$llvm_prefix/bin/llvm-config" --version) are installed at $llvm_prefix"
