#!/usr/bin/env bash
# Over several processes (issue 22): one rank against two (`mpirun -n 2`, one thread per
# rank) on this machine, in one run, written to docs/scaling-benchmark.md:
#   - the Burgers PINN's Adam step (data-parallel: each rank half the points, one
#     all-reduce of the gradient per step);
#   - 64 Robertson solves with perturbed rate constants (`sci run --ensemble`), and whether
#     the two-rank results are the one-rank results byte for byte.
# Needs a build with `--features mpi` (MPICH: scripts/install-system.sh mpi).
#
#   bench/scaling.sh            STEPS=400 REPEAT=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-400}
repeat=${REPEAT:-3}
cargo build --release --locked --features mpi --quiet
sci=$PWD/target/release/sci
work=target/bench/scaling
mkdir -p "$work"
cd "$work"

# The seconds a run reports: training "(… evaluations, 1.23 s)", ensembles ", 0.123 s".
train_seconds() { sed -n 's/.*evaluations, \([0-9.]*\) \(m\?s\)).*/\1 \2/p' | awk '{ print ($2 == "ms") ? $1 / 1000 : $1 }'; }
ensemble_seconds() { sed -n 's/.*failed, \([0-9.]*\) s$/\1/p'; }
best() { sort -g | head -1; }

pinn() { # ranks
    local launcher=()
    [ "$1" -gt 1 ] && launcher=(mpirun -n "$1")
    for _ in $(seq "$repeat"); do
        "${launcher[@]}" "$sci" train ../../../examples/burgers_pinn.sci --optimizer adam \
            --steps "$steps" --threads 1 2>/dev/null | train_seconds
    done | best
}
spec="lhs 64 seed 1: k1 = 0.036..0.044; k2 = 2.7e7..3.3e7; k3 = 0.9e4..1.1e4"
robertson() { # ranks out
    local launcher=()
    [ "$1" -gt 1 ] && launcher=(mpirun -n "$1")
    for _ in $(seq "$repeat"); do
        "${launcher[@]}" "$sci" run ../../../examples/robertson.sci --ensemble "$spec" \
            --t-end 4e10 --log-t --points 100 --rtol 1e-10 --atol 1e-14 --threads 1 \
            --out "$2" 2>/dev/null | ensemble_seconds
    done | best
}
p1=$(pinn 1); p2=$(pinn 2)
r1=$(robertson 1 one.csv); r2=$(robertson 2 two.csv)
same=$(cmp -s one.csv two.csv && echo "identical" || echo "DIFFERENT")
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
cd - > /dev/null
cat > docs/scaling-benchmark.md <<EOF2
# Scaling benchmark (bench/scaling.sh)

One run on $cpu ($(nproc) cores), $(date -u +%Y-%m-%d), MPICH, one thread per rank, the best
of $repeat runs each.

| workload | 1 rank | 2 ranks | 2 ranks / 1 rank | target |
|---|---|---|---|---|
| Burgers PINN, $steps Adam steps (s) | $p1 | $p2 | $(awk "BEGIN { printf \"%.2f\", $p2 / $p1 }") | ≤ 0.6 |
| 64 Robertson solves to t = 4e10 (s) | $r1 | $r2 | $(awk "BEGIN { printf \"%.2f\", $r2 / $r1 }") (speed-up $(awk "BEGIN { printf \"%.2f\", $r1 / $r2 }")×) | speed-up ≥ 1.8× |

The ensemble's member tables from one and from two ranks are **$same**.
EOF2
cat docs/scaling-benchmark.md
