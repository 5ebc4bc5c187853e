#!/usr/bin/env bash
# Fuzz the front end (parse → check → lower) with cargo fuzz for N seconds (default 300).
#
# cargo-fuzz drives libFuzzer; on stable Rust it runs without sanitizers (`-s none`),
# which still finds panics, hangs (via -timeout) and stack overflows.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/frontend
cp examples/*.sci fuzz/corpus/frontend/
cd fuzz
cargo fuzz run frontend -s none -- -max_total_time="$seconds" -timeout=10
