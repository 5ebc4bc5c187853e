#!/usr/bin/env bash
# Regenerates the demo's WebAssembly modules: web/models/NAME.{wasm,mjs}, one per example
# the page offers (app.mjs lists them with their time spans; keep the two lists together).
#
#   web/build.sh [OUT_DIR]        # default OUT_DIR: web/models
#
# The compiler is `cargo run --features llvm --` (the wasm32 target needs LLVM), or the
# binary named by $SCI (tests/web_demo.rs passes the one under test). Only the module and
# its loader are kept: the loader embeds the JSON description, and the page needs no types.
set -euo pipefail

EXAMPLES=(robertson lotka_volterra van_der_pol)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/web/models}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if [[ -n "${SCI:-}" ]]; then
  sci=("$SCI")
else
  sci=(cargo run --quiet --manifest-path "$root/Cargo.toml" --features llvm --)
fi

for name in "${EXAMPLES[@]}"; do
  (cd "$root" && "${sci[@]}" compile "examples/$name.sci" --target wasm32 -o "$out/$name.wasm")
  rm -f "$out/$name.json" "$out/$name.d.mts"
  echo "wrote $out/$name.wasm, $out/$name.mjs"
done
