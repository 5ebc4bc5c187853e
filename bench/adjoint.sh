#!/usr/bin/env bash
# The adjoint against forward sensitivities as the parameters grow, in one run:
#   bench/adjoint.sh
# times one forward BDF solve, the gradient by forward sensitivities and the gradient by
# the adjoint on a 2048-state Brusselator with P ∈ {4, 32, 256, 2048} rate constants
# (benches/adjoint.rs), and writes docs/adjoint-benchmarks.md. About 5 minutes on 2 cores
# after the build. BENCH_SCALE=0.2 shortens the timing budgets (a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench adjoint -- --out docs/adjoint-benchmarks.md --scale "${BENCH_SCALE:-1}"
