#!/usr/bin/env bash
# WebAssembly (issue 24): the 2-D Brusselator's right-hand side (N = 32, 2048 states;
# examples/brusselator2d.sci) per call in wasmtime (`sci::wasm::Runtime`) against the
# native JITs, Cranelift (sci's default back end) and LLVM, measured in one run by
# benches/wasm.rs, with the module's compile and instantiation times; then the deployment
# measurements of bench/deploy.sh (Node + wasm, Python ctypes + .so). Writes
# docs/wasm-benchmark.md and the table of docs/deploy.md. Target: wasm within 2x of native Cranelift per call.
#
#   bench/wasm.sh          (RUNS=10 cold starts per runtime and model, see bench/deploy.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
out=$target/bench/wasm
mkdir -p "$out"
cargo bench --quiet --features wasmtime --bench wasm > "$out/wasm.jsonl"
bench/deploy.sh > /dev/null
python3 - "$out/wasm.jsonl" "$target/bench/deploy/deploy.md" <<'PY' > docs/wasm-benchmark.md
import datetime, json, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
deploy = open(sys.argv[2]).read()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
start = next(r for r in rows if r["what"] == "startup")
agree = next(r for r in rows if r["what"] == "agreement")
rhs = {r["backend"]: r for r in rows if r["what"] == "rhs"}
us = lambda s: f"{s * 1e6:.2f} µs"
ms = lambda s: f"{s * 1e3:.1f} ms" if s >= 1e-3 else us(s)
base = rhs["cranelift"]["median_s"]
print("# WebAssembly benchmark (bench/wasm.sh)\n")
print(f"One run on {cpu} ({cores} cores, shared with other work), {datetime.date.today()}, by "
      "`bench/wasm.sh` (`benches/wasm.rs`, then `bench/deploy.sh`). Generated: do not edit.\n")
print(f"## The 2-D Brusselator's `rhs`, N = {start['n']} ({rhs['cranelift']['states']} states), per call\n")
print("Medians over samples of calls batched to ≥ 2 ms each, after a warm-up "
      "(`benches/timing`, as `benches/peers.rs`). Native: `Model::rhs` of `sci::Compiler` "
      "(slices in, slice out). WebAssembly: the module of `sci::wasm::compile` (LLVM wasm32 "
      "`-O3` with SIMD128, wasi-libc) in wasmtime 48 (Cranelift), through "
      "`sci::wasm::Runtime::prepare`: each call copies `y` into linear memory, calls, and "
      "copies `dy` out, as the native handles read and write slices.\n")
print("| back end | per call | vs Cranelift JIT |")
print("|---|---|---|")
labels = [
    ("cranelift", "native Cranelift JIT (default back end)"),
    ("llvm", "native LLVM JIT (O3, host CPU)"),
    ("wasm", "wasm in wasmtime (copy `y` in, call, copy `dy` out)"),
    ("wasm_call_only", "wasm in wasmtime, the call alone (inputs already in linear memory)"),
    ("wasm_runtime_call", "wasm, `Runtime::call` (malloc, copy in, call, copy out, free per call)"),
]
for key, label in labels:
    t = rhs[key]["median_s"]
    print(f"| {label} | {us(t)} | {t / base:.2f}× |")
ratio = rhs["wasm"]["median_s"] / base
verdict = "met" if ratio <= 2.0 else "NOT met"
print(f"\nTarget (issue 24): wasm ≤ 2× native Cranelift per call — **{verdict}** "
      f"({ratio:.2f}×). wasm / LLVM JIT: {rhs['wasm']['median_s'] / rhs['llvm']['median_s']:.2f}×.")
print(f"Results agree: largest relative difference of `dy` {agree['max_rel_vs_cranelift']:.1e} "
      f"against Cranelift, {agree['max_rel_vs_llvm']:.1e} against LLVM (arithmetic only: the "
      "same bits).\n")
print("## Before the first call\n")
print("| step | time |")
print("|---|---|")
print(f"| sci: front end, derivatives, LLVM wasm32, wasm-ld (`sci::wasm::compile`, once per model) | {ms(start['sci_compile_s'])} |")
print(f"| wasmtime: compile the module ({start['wasm_bytes'] / 1024:.0f} KiB) to machine code (`Module::new`, median of 5) | {ms(start['wasmtime_compile_s'])} |")
print(f"| wasmtime: instantiate + `_initialize` (`Runtime::instantiate`, median of 20) | {ms(start['instantiate_s'])} |")
print(f"| first call after instantiation (`Runtime::call`) | {us(start['first_call_s'])} |")
print("\n## Deployment: cold start and per call in Node and Python (bench/deploy.sh)\n")
print("Process start → module loaded → first `rhs` result, and a warm call, for the loader of "
      "`sci compile --target wasm32` in Node and for `sci compile -o model.so` through Python's "
      "ctypes ([deploy.md](deploy.md)). Node's warm call goes through the generated wrapper "
      "(malloc, copy in, call, copy out, free per call).\n")
print(deploy)
PY
# docs/deploy.md quotes the deployment table between its markers.
python3 - "$target/bench/deploy/deploy.md" <<'PY'
import re, sys
table = open(sys.argv[1]).read().strip()
doc = open("docs/deploy.md").read()
begin, end = "<!-- begin bench/deploy.sh", "<!-- end bench/deploy.sh -->"
head, rest = doc.split(begin, 1)
marker, tail = rest.split("-->", 1)
_, tail = tail.split(end, 1)
open("docs/deploy.md", "w").write(f"{head}{begin}{marker}-->\n{table}\n{end}{tail}")
PY
cat docs/wasm-benchmark.md
