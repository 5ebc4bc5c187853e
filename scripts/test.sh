#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls exactly this).
#
#   scripts/test.sh            formatting, lints, every test of every crate, CLI smoke tests
#   scripts/test.sh --slow     also the slow checks (a time-boxed fuzzing run of the front end,
#                              and the PINN examples trained with the default schedule to
#                              their stated accuracy: scripts/pinn-accuracy.sh, ~5 minutes)
#
# It installs what the features need, idempotently, before testing (the list of system
# packages per feature is scripts/prereqs.sh; scripts/doctor.sh reports it): Python 3 with
# pip and venv, Debian's LLVM and MLIR 22 with libclang for the `llvm` and `mlir` back ends
# (scripts/install-system.sh), NVIDIA's ptxas and
# libdevice from PyPI into target/cuda-tools (scripts/install-ptxas.sh: every PTX module the
# tests write is assembled for sm_90, without a GPU), and the language server's independent
# client, pytest-lsp, into target/lsp-client (tests/lsp_client/run.sh), and the Python
# package's test environment (maturin, NumPy, SciPy, JAX, pytest) into target/python-venv
# (python/run-tests.sh), MPICH for the `mpi` feature's `mpirun -n 2` tests, and for
# WebAssembly wasm-ld, wasi-libc, wabt, Node and Chromium (Debian's) with playwright-core and
# TypeScript (npm, into target/web-tools: web/test/install.sh). The default build needs none
# of them; the optional features are tested together in the last steps.
set -euo pipefail
cd "$(dirname "$0")/.."

slow=0
for arg in "$@"; do
    case "$arg" in
        --slow) slow=1 ;;
        *) echo "usage: scripts/test.sh [--slow]" >&2; exit 2 ;;
    esac
done

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Keep insta from writing .snap.new files in CI; a mismatch fails the test.
export INSTA_UPDATE="${INSTA_UPDATE:-no}"
# Incremental-compilation caches double a build's disk footprint and a one-shot run never
# reuses them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Debug info is ~45% of a test binary (the standard library's included), and a run links
# over a hundred of them: without it the suite needs ~5 GB less disk. Failures still name
# the file and line of the failing assertion (panics carry their location); only
# backtraces lose line numbers.
export CARGO_PROFILE_DEV_STRIP="${CARGO_PROFILE_DEV_STRIP:-debuginfo}"

# Each step says how much disk is left: a full disk is the one failure that names no test.
step() {
    printf '\n== %s\n' "$*"
    df -h --output=avail,size . | tail -n 1 | awk '{ printf "   (disk: %s free of %s)\n", $1, $2 }'
}

# The default build's executables (test harnesses, the `sci` binary) once nothing below
# runs them again: a full feature build links LLVM and MLIR statically into every test
# binary (~340 MB each), and CI's disk is not ours to size. Libraries stay, so the
# feature build still reuses every crate the features do not change.
prune_executables() {
    find target/debug/deps -maxdepth 1 -type f -perm -u+x ! -name '*.*' -delete
    find target/debug -maxdepth 1 -type f -perm -u+x ! -name '*.*' -delete
}

step "rustfmt"
cargo fmt --all --check

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the library alone, as a host crate builds it (no CLI or language-server dependencies)"
cargo check --locked --lib --no-default-features --features cranelift

step "tests (PNG plots need a font: fonts-dejavu-core, Debian's, idempotent)"
scripts/install-system.sh fonts
cargo test --workspace --locked

step "command-line smoke test: every example checks and is in canonical format"
cargo run --quiet --locked --bin sci -- check examples/*.sci
cargo run --quiet --locked --bin sci -- fmt --check examples/*.sci

step "language server with an independent client: Python 3 with pip and venv (Debian's, idempotent), pytest-lsp (PyPI, into target/)"
scripts/install-system.sh python
tests/lsp_client/run.sh

step "Python package: formatting and clippy of its Rust half (own workspace, target/python)"
cargo fmt --manifest-path python/Cargo.toml --check
CARGO_TARGET_DIR=target/python cargo clippy --manifest-path python/Cargo.toml --release --locked -- -D warnings

step "Python package: pip install ./python into a venv with NumPy, SciPy, JAX, pytest (PyPI, into target/, idempotent); pytest, the notebook"
python/run-tests.sh
# Its Rust build (target/python, release) is not used again.
rm -rf target/python
prune_executables

# Last, so the default-feature builds above are not rebuilt in between. One feature set
# (llvm + mlir + cuda) for every command below, so nothing is built twice.
step "LLVM and MLIR back ends, MPI, WebAssembly: install LLVM/MLIR 22 and libclang, MPICH, wasm-ld, wasi-libc, wabt, Node, Chromium (idempotent), ptxas + libdevice (PyPI), playwright-core and TypeScript (npm), into target/"
scripts/install-system.sh llvm mlir cuda mpi wasm web
SCI_PTXAS=$(scripts/install-ptxas.sh)
SCI_LIBDEVICE=$(scripts/install-ptxas.sh --libdevice)
SCI_TSC=$(web/test/install.sh | tail -n 1)/.bin/tsc
export SCI_PTXAS SCI_LIBDEVICE SCI_TSC
features=llvm,mlir,cuda,mpi,wasmtime

step "LLVM, MLIR, CUDA runtime, MPI, wasmtime: clippy (warnings are errors)"
cargo clippy --workspace --all-targets --features "$features" --locked -- -D warnings

step "LLVM, MLIR, CUDA runtime, MPI, WebAssembly: differential suites, PTX assembled by ptxas, no-GPU behaviour, mpirun -n 2, wasm in wasmtime and Node, the demo page in headless Chromium"
# One `--workspace` invocation, as for clippy: the same feature resolution, so the
# bindgen/TableGen chain under mlir-sys is built once (each copy is ~1 GB of target/).
cargo test --workspace --features "$features" --locked --lib --bins \
    --test backends --test llvm_difftest --test llvm_object --test mlir \
    --test c_abi --test llvm --test mlir_cli --test gpu_cli --test threads \
    --test alloc_free --test mpi --test wasm --test wasm_node --test web_demo

if [ "$slow" = 1 ]; then
    step "fuzzing the front end for 60 s (cargo fuzz)"
    scripts/fuzz.sh 60
    step "PINN examples trained with the default schedule, against their exact solutions"
    scripts/pinn-accuracy.sh
fi
