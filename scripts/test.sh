#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls exactly this).
#
#   scripts/test.sh            formatting, lints, every test of every crate, CLI smoke tests
#   scripts/test.sh --slow     also the slow checks (a time-boxed fuzzing run of the front end)
#
# It installs what the enabled features need, idempotently, before testing. Today every
# crate is pure Rust (the LLVM and MLIR back ends, which need Debian's LLVM/MLIR 22
# packages, are not part of the workspace yet), so there is nothing to install. The one
# exception, the language server's independent-client test, installs its pinned Python
# client into target/lsp-client itself (tests/lsp_client/run.sh).
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

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all --check

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

step "command-line smoke test: every example checks"
cargo run --quiet --locked --bin sci -- check examples/*.sci

step "language server with an independent client (pytest-lsp; installs into target/)"
tests/lsp_client/run.sh

if [ "$slow" = 1 ]; then
    step "fuzzing the front end for 60 s (cargo fuzz)"
    scripts/fuzz.sh 60
fi
