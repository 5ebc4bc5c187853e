# shellcheck shell=bash
# The one list of what each feature's build and tests need from the system, and the helpers
# that check and install it. Sourced (not run) by scripts/install-llvm.sh,
# scripts/install-python.sh, scripts/doctor.sh and scripts/clean-root.sh, so the install
# steps, their idempotence checks and the doctor's report can never disagree.
#
# Each prerequisite is `debian-package|check`: the check is a file that must exist (a path
# starting with /) or a shell command that must succeed. An install step installs the
# packages whose checks fail, and checks again afterwards. Add every new install step here
# (Python, MPI, a browser, wasm tools …) and it is installed, reported and proven on a clean
# root (scripts/clean-root.sh) with the others.

llvm_prefix=/usr/lib/llvm-22
multiarch=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

# What Rust itself needs to build anything (a linker and the C runtime): a machine "with
# Rust" has it; scripts only report it (rustup's own prerequisite).
prereqs_rust=(
    "gcc|command -v cc"
    "libc6-dev|/usr/include/stdio.h"
)
# The test suite's own tools: Python 3 with pip and venv for the independent LSP client
# (tests/lsp_client/run.sh) and for NVIDIA's ptxas wheel (scripts/install-ptxas.sh).
prereqs_python=(
    "python3|command -v python3"
    "python3-pip|python3 -m pip --version"
    "python3-venv|python3 -c 'import ensurepip, venv'"
)
# Feature `llvm` (inkwell / llvm-sys against Debian's LLVM 22, linked statically).
prereqs_llvm=(
    "llvm-22-dev|$llvm_prefix/bin/llvm-config"
    "libpolly-22-dev|$llvm_prefix/lib/libPolly.a"
    "libzstd-dev|/usr/include/zstd.h"
    "zlib1g-dev|/usr/include/zlib.h"
    "libffi-dev|/usr/include/$multiarch/ffi.h"
    "libxml2-dev|/usr/include/libxml2/libxml/parser.h"
    "libz3-dev|/usr/include/z3.h"
)
# Feature `mlir` (melior / mlir-sys against Debian's MLIR 22): the MLIR libraries, TableGen,
# libclang with its headers for the bindgen run in mlir-sys' build script, and a C++
# compiler for the TableGen wrapper that the `tblgen` crate builds.
prereqs_mlir=(
    "${prereqs_llvm[@]}"
    "g++|command -v c++"
    "libmlir-22-dev|$llvm_prefix/lib/libMLIR.so"
    "mlir-22-tools|$llvm_prefix/bin/mlir-tblgen"
    "libclang-22-dev|$llvm_prefix/lib/libclang.so"
    "libclang-common-22-dev|$llvm_prefix/lib/clang/22/include/stddef.h"
)
# PNG plots (`sci run|train|predict --plot F.png`, tests/cli_plots.rs): a sans-serif font
# for the labels (the SVG plots need none).
prereqs_fonts=(
    "fonts-dejavu-core|/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
)
# Feature `mpi` (rsmpi over MPICH, `mpirun -n 2` in tests/mpi.rs): MPICH's launcher and
# headers, and libclang for the bindgen run in mpi-sys' build script. MPICH, not Open MPI:
# rsmpi 0.8's released bindings mis-parse Open MPI's headers with libclang ≥ 22, while
# MPICH's build and pass here with Debian's libclang 22 (the one the `mlir` feature
# installs anyway). MPICH also runs as root without extra flags, as CI does.
prereqs_mpi=(
    "mpich|/usr/bin/mpiexec.hydra"
    "libmpich-dev|/usr/include/$multiarch/mpich/mpi.h"
    "libclang-22-dev|$llvm_prefix/lib/libclang.so"
    "libclang-common-22-dev|$llvm_prefix/lib/clang/22/include/stddef.h"
)
# WebAssembly (`sci compile --target wasm32`, feature `llvm`; tests/wasm.rs, wasm_node.rs):
# LLVM's WebAssembly linker, wasi-libc (the module's allocator and musl libm for wasm32),
# wabt's validator, and Node to run the modules and their loader.
prereqs_wasm=(
    "lld-22|$llvm_prefix/bin/wasm-ld"
    "wasi-libc|/usr/lib/wasm32-wasi/libc.a"
    "wabt|command -v wasm-validate"
    "nodejs|command -v node"
)
# The demo page's browser test (tests/web_demo.rs): Debian's Chromium, driven headless by
# playwright-core from npm (web/test/install.sh puts it under target/).
prereqs_web=(
    "${prereqs_wasm[@]}"
    "chromium|command -v chromium"
    "npm|command -v npm"
)
# Feature `cuda` (its tests assemble PTX with ptxas from PyPI): Python with pip.
prereqs_cuda=("${prereqs_python[@]}")
# bench/run.sh: the peers' virtual environment and CasADi's generated C at gcc -O3, beside
# sci's LLVM back end.
prereqs_bench=("${prereqs_python[@]}" "${prereqs_llvm[@]}")

# Every feature name that scripts/doctor.sh reports, in order.
prereq_features=(rust python fonts llvm mlir cuda mpi wasm web bench)

# prereq_ok CHECK: whether one check passes.
prereq_ok() {
    local check=$1
    if [ "${check:0:1}" = / ]; then
        [ -e "$check" ]
    else
        bash -c "$check" >/dev/null 2>&1
    fi
}

# prereq_missing FEATURE: prints the Debian packages of FEATURE whose checks fail, one a line.
prereq_missing() {
    local -n list="prereqs_$1"
    local entry
    for entry in "${list[@]}"; do
        prereq_ok "${entry#*|}" || echo "${entry%%|*}"
    done | awk '!seen[$0]++'
}

# prereq_install FEATURE...: installs the missing packages of every FEATURE with apt (root
# or sudo), then fails, naming them, if any check still fails.
prereq_install() {
    local feature missing=()
    for feature in "$@"; do
        mapfile -t -O "${#missing[@]}" missing < <(prereq_missing "$feature")
    done
    [ "${#missing[@]}" = 0 ] && return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null; then
            sudo=(sudo)
        else
            echo "error: installing ${missing[*]} needs root: run as root or install sudo" >&2
            return 1
        fi
    fi
    echo "installing from Debian's packages: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >&2
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
        --no-install-recommends "${missing[@]}" >&2; then
        echo "error: apt-get could not install ${missing[*]}; LLVM/MLIR 22 come from" \
            "Debian 12's bookworm-security suite: is it in /etc/apt/sources.list?" >&2
        return 1
    fi
    local still=()
    for feature in "$@"; do
        mapfile -t -O "${#still[@]}" still < <(prereq_missing "$feature")
    done
    if [ "${#still[@]}" != 0 ]; then
        echo "error: installed, but these checks still fail: ${still[*]}" >&2
        return 1
    fi
}
