#!/usr/bin/env bash
# Deploying compiled models (docs/deploy.md): cold start (process start -> module loaded ->
# first call) and warm per-call time of `rhs`, for
#   - Node + WebAssembly: `sci compile --target wasm32` and its generated loader;
#   - Python + ctypes + a shared library: `sci compile -o model.so`;
# on the Robertson example (3 states) and the 2-D Brusselator (N = 32, 2048 states).
# Cold starts: RUNS fresh processes each (10 by default), medians; the wall time of a whole
# process (start to exit, measured here) beside the times the process measures itself.
# Writes target/bench/deploy/deploy.jsonl and deploy.md (the table docs/deploy.md quotes).
#
#   bench/deploy.sh            RUNS=10; SCI=path/to/sci to use an existing binary
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
out=$target/bench/deploy
runs=${RUNS:-10}
mkdir -p "$out/models"
command -v node > /dev/null || { echo "node is missing: scripts/install-system.sh wasm" >&2; exit 1; }
sci=${SCI:-}
if [ -z "$sci" ]; then
    cargo build --quiet --features wasmtime --bin sci
    sci=$target/debug/sci
fi
models=(robertson:Robertson brusselator2d:Brusselator2D)
now() { date +%s%N; }
: > "$out/deploy.jsonl"
for entry in "${models[@]}"; do
    file=${entry%%:*}
    model=${entry##*:}
    "$sci" compile "examples/$file.sci" --target wasm32 -o "$out/models/$file.wasm"
    "$sci" compile "examples/$file.sci" -o "$out/models/$file.so"
    read -r n theta < <(python3 - "$out/models/$file.json" "$model" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = next(m for m in d["modules"] if m["name"] == sys.argv[2])
theta = [0.0] * m["params"]["len"]
for s in m["params"]["slots"]:
    for k, x in enumerate(s["default"]):
        theta[s["offset"] + k] = float(x)
print(m["states"]["len"], ",".join(repr(x) for x in theta))
PY
)
    for ((i = 0; i < runs; i++)); do
        t=$(now)
        line=$(node bench/deploy/node_cold.mjs "$out/models/$file.mjs" "$model")
        wall=$(( $(now) - t ))
        echo "${line%\}},\"kind\":\"cold\",\"wall_s\":$(awk "BEGIN{print $wall/1e9}")}" >> "$out/deploy.jsonl"
        t=$(now)
        line=$(python3 bench/deploy/python_cold.py "$out/models/$file.so" "$model" "$n" "$theta")
        wall=$(( $(now) - t ))
        echo "${line%\}}, \"kind\": \"cold\", \"wall_s\": $(awk "BEGIN{print $wall/1e9}")}" >> "$out/deploy.jsonl"
    done
    node bench/deploy/node_cold.mjs "$out/models/$file.mjs" "$model" --calls \
        | sed 's/}$/,"kind":"warm"}/' >> "$out/deploy.jsonl"
    python3 bench/deploy/python_cold.py "$out/models/$file.so" "$model" "$n" "$theta" --calls \
        | sed 's/}$/, "kind": "warm"}/' >> "$out/deploy.jsonl"
done
# The interpreters alone: a process that does nothing.
for ((i = 0; i < runs; i++)); do
    t=$(now); node -e 0; wall=$(( $(now) - t ))
    echo "{\"runtime\":\"node\",\"kind\":\"empty\",\"wall_s\":$(awk "BEGIN{print $wall/1e9}")}" >> "$out/deploy.jsonl"
    t=$(now); python3 -c pass; wall=$(( $(now) - t ))
    echo "{\"runtime\":\"python-ctypes\",\"kind\":\"empty\",\"wall_s\":$(awk "BEGIN{print $wall/1e9}")}" >> "$out/deploy.jsonl"
done
python3 - "$out/deploy.jsonl" "$runs" "$(node --version)" "$(python3 --version 2>&1)" <<'PY' > "$out/deploy.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs, node_v, py_v = sys.argv[2], sys.argv[3], sys.argv[4]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ms = lambda s: f"{s * 1e3:.1f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} µs"
us = lambda s: f"{s * 1e6:.2f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"
med = lambda xs: statistics.median(xs)
print(f"Measured by `bench/deploy.sh` on {cpu}, Node {node_v}, {py_v}; cold starts: medians of "
      f"{runs} fresh processes.\n")
print("| runtime | model (states) | empty process | cold start: process wall time | ready in-process (start → first result) | load (compile + instantiate / dlopen) | first call | warm call |")
print("|---|---|---|---|---|---|---|---|")
for runtime, label in [("node", "Node + wasm"), ("python-ctypes", "Python ctypes + .so")]:
    empty = med([r["wall_s"] for r in rows if r["runtime"] == runtime and r["kind"] == "empty"])
    for model in ["Robertson", "Brusselator2D"]:
        cold = [r for r in rows if r["runtime"] == runtime and r.get("model") == model and r["kind"] == "cold"]
        warm = [r for r in rows if r["runtime"] == runtime and r.get("model") == model and r["kind"] == "warm"]
        if not cold:
            continue
        if runtime == "node":
            ready = med([r["ready_s"] for r in cold])
        else:
            ready = med([r["import_s"] + r["load_s"] + r["first_call_s"] for r in cold])
        print(f"| {label} | {model} ({cold[0]['n']}) | {ms(empty)} | {ms(med([r['wall_s'] for r in cold]))} | "
              f"{ms(ready)}{'' if runtime == 'node' else ' (after the interpreter started)'} | {ms(med([r['load_s'] for r in cold]))} | "
              f"{us(med([r['first_call_s'] for r in cold]))} | {us(warm[0]['call_s']) if warm else '—'} |")
PY
cat "$out/deploy.md"
