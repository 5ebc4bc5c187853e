#!/usr/bin/env bash
# Installs the system LLVM and MLIR 22 that the `llvm` and `mlir` features build against (Debian 12's
# bookworm-security packages; see ../shared/design/TOOLCHAIN.md), idempotently: nothing
# happens when `llvm-config` 22 is already there. Needs root (or sudo) and the Debian mirror.
set -euo pipefail

prefix=/usr/lib/llvm-22
packages=(llvm-22-dev libmlir-22-dev mlir-22-tools libpolly-22-dev libzstd-dev zlib1g-dev libffi-dev libxml2-dev libz3-dev)

if [ -x "$prefix/bin/llvm-config" ] && [ -f /usr/include/zstd.h ] \
    && [ -f "$prefix/lib/libMLIR.so" ] && [ -x "$prefix/bin/mlir-tblgen" ]; then
    echo "LLVM and MLIR $("$prefix/bin/llvm-config" --version) are installed at $prefix"
    exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "error: installing LLVM 22 needs root: run as root or install sudo" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
echo "LLVM and MLIR $("$prefix/bin/llvm-config" --version) are installed at $prefix"
