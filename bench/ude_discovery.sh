#!/usr/bin/env bash
# Rackauckas et al.'s UDE experiment (Lotka–Volterra, scenario 1) over 20 noise seeds:
#   bench/ude_discovery.sh
# builds sci (release), installs the Python side (NumPy, SciPy, PySINDy; pinned in
# bench/requirements.txt, into target/bench/venv), then per seed writes noisy data, trains
# examples/lv_scenario1.sci, runs `sci discover` on the trained network and PySINDy on the
# same network outputs, and writes docs/ude-discovery.md. About 12 minutes on 2 cores
# after the build. SEEDS=N runs fewer seeds (a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/python-env.sh
cargo build --release --locked --bin sci
"$py" bench/ude_discovery.py --sci target/release/sci --seeds "${SEEDS:-20}" \
    --out docs/ude-discovery.md
