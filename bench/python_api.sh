#!/usr/bin/env bash
# The Python package's overhead over the Rust API, measured in one run on this machine:
#   bench/python_api.sh
# installs the package into target/python-venv and tests it (python/run-tests.sh), times
# the Rust side (cargo bench --bench api), then the same calls from Python and inside
# jax.jit (bench/python_api.py), and writes docs/python-benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
out=target/bench/python
mkdir -p "$out"

printf '\n== %s\n' "the package, installed and tested (python/run-tests.sh)" >&2
python/run-tests.sh -x
printf '\n== %s\n' "the Rust API (cargo bench --bench api)" >&2
cargo bench --bench api -- --out "$out/rust.json"
printf '\n== %s\n' "the same calls from Python and JAX" >&2
target/python-venv/bin/python bench/python_api.py "$out/rust.json" docs/python-benchmarks.md
