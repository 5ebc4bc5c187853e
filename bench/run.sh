#!/usr/bin/env bash
# Benchmarks sci against its peers, side by side, in one run on this machine:
#   bench/run.sh
# installs the peers (JAX, CasADi, SciPy into target/bench/venv; diffsol + diffsl into
# target/bench/diffsol-target) and LLVM 22, builds and runs the sci side (benches/peers.rs)
# with both back ends (Cranelift, LLVM), runs every
# peer on the inputs sci wrote, and writes docs/benchmarks.md and docs/benchmarks.svg.
# BENCH_SCALE=0.2 shortens every timing budget (a smoke run; the medians need 1).
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# No __pycache__ folders in the source tree.
export PYTHONDONTWRITEBYTECODE=1
out=target/bench
results=$out/results
scale=${BENCH_SCALE:-1}
# The previous run's results are kept for the report's reproducibility check.
if [ -f "$results/sci.json" ]; then
    rm -rf "$results.prev"
    mv "$results" "$results.prev"
fi
mkdir -p "$results"
rm -f "$results"/*.json

step() { printf '\n== %s\n' "$*" >&2; }

step "system packages: Python 3 with venv, LLVM 22 for sci's LLVM back end (idempotent; scripts/install-system.sh bench)"
scripts/install-system.sh bench

step "peers' Python environment (target/bench/venv)"
source bench/python-env.sh

step "building the sci side (cargo bench --features llvm --bench peers) and the diffsol peer"
cargo bench --features llvm --bench peers --no-run
cargo build --release --manifest-path bench/diffsol_peer/Cargo.toml --target-dir "$out/diffsol-target"

export BENCH_LOAD_BEFORE
BENCH_LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

step "sci (Cranelift, the default back end; writes the peers' inputs)"
cargo bench --features llvm --bench peers -- --out "$results/sci.json" --data "$out/data" --scale "$scale"
step "sci (LLVM back end)"
cargo bench --features llvm --bench peers -- --backend llvm --no-inputs --out "$results/sci_llvm.json" --data "$out/data" --scale "$scale"
inputs=$PWD/$out/data/inputs.json

step "diffsol + DiffSL"
"$out/diffsol-target/release/diffsol-peer" --data "$inputs" --out "$results/diffsol.json" --scale "$scale" --max-n 64
# N = 128 apart, its address space capped: DiffSL's compile of it ran the 24 GiB machine out
# of memory once. A failure is a result, with the time it took.
step "diffsol + DiffSL, Brusselator N = 128 (address space capped at ${DIFFSOL_MEMORY_GB:=16} GiB)"
started=$(date +%s)
if ! (ulimit -v $((DIFFSOL_MEMORY_GB * 1024 * 1024)) && timeout 1200 "$out/diffsol-target/release/diffsol-peer" \
    --data "$inputs" --out "$results/diffsol_large.json" --scale "$scale" --only-n 128); then
    spent=$(($(date +%s) - started))
    printf '{"tool": "diffsol", "results": {"bruss128.compile": {"median_s": null, "lower_bound_s": %s, "failed": "DiffSL compile failed (address space capped at %s GiB, or over 1200 s)"}}}\n' \
        "$spent" "$DIFFSOL_MEMORY_GB" > "$results/diffsol_large.json"
fi

for peer in jax_pinn jax_brusselator casadi_brusselator scipy_stiff; do
    step "$peer"
    name=$peer
    [ "$peer" = casadi_brusselator ] && name=casadi
    [ "$peer" = scipy_stiff ] && name=scipy
    (cd bench/peers && "../../$py" "$peer.py" --data "$inputs" --out "../../$results/$name.json" --scale "$scale")
done

if command -v taskset > /dev/null; then
    step "jax_pinn on one core (taskset -c 0)"
    (cd bench/peers && taskset -c 0 "../../$py" jax_pinn.py --data "$inputs" --out "../../$results/jax_pinn_1core.json" --scale "$scale")
fi

step "report"
BENCH_COMMAND="bench/run.sh" "$py" bench/report.py "$results" docs "$results.prev"
