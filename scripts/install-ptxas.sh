#!/usr/bin/env bash
# Installs NVIDIA's PTX assembler (`ptxas`) and libdevice (`libdevice.10.bc`) from PyPI's
# `nvidia-cuda-nvcc-cu12` wheel into target/cuda-tools/, idempotently: nothing is downloaded
# when they are already there. No GPU, no CUDA installation and no root are needed.
#
# The MLIR back end (`--features mlir`) links libdevice into the PTX it writes (the `__nv_*`
# math functions), and its tests assemble every PTX module with this `ptxas -arch=sm_90`,
# so that invalid PTX fails the suite on machines without a GPU. Prints the ptxas path.
#
#   scripts/install-ptxas.sh            install (if needed), print the path of ptxas
#   scripts/install-ptxas.sh --libdevice  print the path of libdevice.10.bc instead
set -euo pipefail
cd "$(dirname "$0")/.."

what=ptxas
for arg in "$@"; do
    case "$arg" in
        --libdevice) what=libdevice ;;
        *) echo "usage: scripts/install-ptxas.sh [--libdevice]" >&2; exit 2 ;;
    esac
done

dest="$PWD/target/cuda-tools"
nvcc="$dest/nvidia/cuda_nvcc"
ptxas="$nvcc/bin/ptxas"
libdevice="$nvcc/nvvm/libdevice/libdevice.10.bc"

if ! { [ -x "$ptxas" ] && [ -f "$libdevice" ] && "$ptxas" --version >/dev/null 2>&1; }; then
    python=python3
    command -v "$python" >/dev/null || python=python
    mkdir -p "$dest"
    # CUDA 12.x: its ptxas knows sm_90 and the PTX ISA 8.0 the back end writes.
    "$python" -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
        --target "$dest" 'nvidia-cuda-nvcc-cu12>=12.4,<13' >&2
    chmod +x "$ptxas"
fi
if ! "$ptxas" --version >/dev/null 2>&1; then
    echo "error: $ptxas does not run" >&2
    exit 1
fi
if [ ! -f "$libdevice" ]; then
    echo "error: the wheel has no libdevice at $libdevice" >&2
    exit 1
fi
if [ "$what" = libdevice ]; then
    echo "$libdevice"
else
    echo "$ptxas"
fi
