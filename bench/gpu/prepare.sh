#!/usr/bin/env bash
# Prepares the GPU check (bench/gpu/README.md) on this machine, which has Rust and MLIR but
# no GPU: a small `sci` with the CUDA runtime (release, stripped, no MLIR or LLVM inside),
# the Burgers PINN's PTX written by an MLIR build, the model and the JAX peer, all in
# target/gpu-check/ (at most 64 MiB). Copy that folder to the GPU machine and run
# `./run.sh` there.
#
#   bench/gpu/prepare.sh
#
# SCI_MLIR=PATH  a `sci` built with `--features mlir` (default: build one, debug profile)
# PTX=PATH       an existing PTX of the model (skips writing one)
set -euo pipefail
cd "$(dirname "$0")/../.."

out=target/gpu-check
model=examples/burgers_pinn.sci
ptx=$out/burgers_pinn.ptx
step() { printf '\n== %s\n' "$*" >&2; }

rm -rf "$out"
mkdir -p "$out"

step "launcher: sci with Cranelift and the CUDA runtime (release, no MLIR, no LLVM)"
cargo build --release --no-default-features --features cranelift,cuda --bin sci
cp target/release/sci "$out/sci"
strip "$out/sci"
# The GPU machine's C library must be at least as new as the newest symbol version used.
glibc=$(objdump -T "$out/sci" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
echo "launcher: $(du -h "$out/sci" | cut -f1), needs $glibc or newer" >&2

step "PTX of $model (sci compile --target nvptx --emit ptx, an MLIR build)"
if [ -n "${PTX:-}" ]; then
    cp "$PTX" "$ptx"
else
    if [ -z "${SCI_MLIR:-}" ]; then
        # libdevice (NVIDIA's math functions, linked into the PTX) and ptxas.
        scripts/install-ptxas.sh > /dev/null
        cargo build --features mlir --bin sci
        SCI_MLIR=target/debug/sci
    fi
    "$SCI_MLIR" compile "$model" --target nvptx --emit ptx -o "$ptx"
fi

step "checking the PTX against the model (no GPU needed)"
"$out/sci" gpu-check "$model" --ptx "$ptx" --ptx-only
if ptxas=$(scripts/install-ptxas.sh 2> /dev/null); then
    "$ptxas" -arch=sm_90 "$ptx" -o /dev/null
    echo "ptxas -arch=sm_90 assembles it" >&2
fi

step "the rest: model, JAX peer, run script"
cp "$model" "$out/"
cp bench/peers/jax_pinn.py bench/peers/common.py "$out/"
cp bench/gpu/jax_pinn_gpu.py bench/gpu/run.sh bench/gpu/README.md "$out/"
chmod +x "$out/run.sh" "$out/sci"

bytes=$(du -sb "$out" | cut -f1)
limit=$((64 * 1024 * 1024))
ls -l "$out" >&2
if [ "$bytes" -ge "$limit" ]; then
    echo "error: $out holds $bytes bytes, more than the 64 MiB the GPU machine accepts" >&2
    exit 1
fi
echo "ready: $out ($((bytes / 1024)) KiB); on the GPU machine: ./run.sh" >&2
