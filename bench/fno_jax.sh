#!/usr/bin/env bash
# The JAX peer of the Fourier neural operator benchmarks (Li et al. 2021, fourier_1d.py for
# bench/fno.sh, fourier_2d.py for bench/fno2d.sh: [N, s1, s2] files choose the 2-D network):
#   bench/fno_jax.sh --a a.npy --u u.npy [--epochs 500] [--eval-a A --eval-u U] \
#       [--json target/bench/fno/jax.json]
#   THREADS=1 bench/fno_jax.sh ...      # one core (default: every core)
#   bench/fno_jax.sh --check-layer [--write-reference DIR]
# installs the Python peers (pinned in bench/requirements.txt) into target/bench/venv if
# missing, then runs bench/fno_jax.py (its docstring is the specification).
# THREADS=N becomes --threads N: before importing JAX the script pins itself to N cores
# and, for N = 1, adds XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
# intra_op_parallelism_threads=1" (equivalent from outside: taskset -c 0 with that
# XLA_FLAGS). It also sets glibc malloc to keep freed memory (--no-malloc-tuning: don't;
# equivalent from outside: MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0
# MALLOC_TRIM_THRESHOLD_=2147483647).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
BENCH_PIP=missing source bench/python-env.sh
exec "$py" bench/fno_jax.py --threads "${THREADS:-0}" "$@"
