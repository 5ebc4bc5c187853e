#!/usr/bin/env bash
# Train every PINN example with `sci train`'s default schedule (no options) and compare the
# trained network with the exact solution (examples/data/*_exact.csv, written by
# examples/data/references.py): the relative L2 error of every output must be within the
# bound below. A slow check (about 5 minutes after the release build: up to 20,000 steps per model), run by
# `scripts/test.sh --slow`; the measured errors are in docs/runtime.md ("Default schedules").
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet --bin sci
sci=target/release/sci
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
# model, reference, largest relative L2 error allowed for each output
for case in "poisson2d_pinn poisson_exact 1e-3" "kovasznay kovasznay_exact 5e-3" \
    "burgers_pinn burgers_exact 1e-2"; do
    read -r model reference bound <<<"$case"
    start=$(date +%s)
    "$sci" train "examples/$model.sci" --out "$work/$model.json" >"$work/$model.log" 2>&1
    seconds=$(($(date +%s) - start))
    report=$("$sci" predict "examples/$model.sci" --params-file "$work/$model.json" \
        --compare "examples/data/$reference.csv")
    echo "$model (trained in ${seconds} s):"
    while read -r output error; do
        verdict=ok
        if ! awk -v e="$error" -v b="$bound" 'BEGIN { exit !(e <= b) }'; then
            verdict="FAILED (bound $bound)"
            failed=1
        fi
        echo "  $output relative L2 error $error  $verdict"
    done < <(sed -n 's/^ *\(.*\): relative L2 error \([^,]*\),.*/\1 \2/p' <<<"$report")
done
exit "$failed"
