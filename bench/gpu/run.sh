#!/usr/bin/env bash
# Runs the GPU check in the folder bench/gpu/prepare.sh wrote, on a machine with an NVIDIA
# GPU, its driver and Python with JAX (CUDA); no Rust needed. In about a minute (at most
# 5): sci's batched functions and training step on the GPU against its own CPU results,
# then JAX's jit(value_and_grad) of the same loss on the same GPU, then one summary table.
#
#   ./run.sh
#   STEPS=50 ./run.sh   (timed calls per measurement; default 20)
#
# Exit status: 0 when sci's GPU results equal its CPU results within f64 round-off and
# JAX ran; nonzero otherwise.
set -uo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1
steps=${STEPS:-20}
rm -f sci.json jax.json inputs.json

if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi

printf '\n== sci: GPU against CPU (median of %s calls)\n' "$steps"
timeout 140 ./sci gpu-check burgers_pinn.sci --ptx burgers_pinn.ptx --steps "$steps" \
    --dump inputs.json --json sci.json
sci_status=$?

printf '\n== JAX: jit(value_and_grad) of the same loss on the GPU\n'
jax_status=2
if [ -f inputs.json ]; then
    # JAX_ARGS="--platform cpu" tries the script on a machine without a GPU.
    # shellcheck disable=SC2086
    timeout 140 python3 jax_pinn_gpu.py --data inputs.json --out jax.json ${JAX_ARGS:-}
    jax_status=$?
else
    echo "skipped: sci wrote no inputs (see its error above)"
fi

printf '\n== summary\n'
python3 - << 'PY'
import json
import os


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


sci = load("sci.json")
jax = load("jax.json")
rows = []
if sci:
    step = next((r for r in sci["rows"] if r["function"].startswith("step")), None)
    if step:
        check = f"{step['max_rel']:.1e} vs CPU" if step["max_rel"] is not None else "NaN"
        rows.append((f"sci GPU ({sci['device']})", step["gpu_s"], check))
        rows.append(("sci CPU (Cranelift, 1 thread)", step["cpu_s"], "reference"))
if jax:
    best = jax["loss_grad"]
    rows.append(
        (f"JAX ({jax['device']}, jit, {best['variant']} mode)", best["median_s"],
         f"{best['check']['vs_sci']:.1e} vs sci CPU")
    )
if not rows:
    print("no results")
else:
    points = jax["points"] if jax else "?"
    if sci:
        points = next((r["points"] for r in sci["rows"] if r["function"] == "loss"), points)
    print(f"Burgers PINN training step (loss + gradient, f64, MLP 2-20-20-20-1 tanh, {points} points)")
    width = max(len(r[0]) for r in rows)
    print(f"{'engine':<{width}}  {'ms/step':>9}  {'vs sci GPU':>10}  check")
    gpu = rows[0][1] if sci else None
    for name, seconds, check in rows:
        ratio = f"{seconds / gpu:.2f}x" if gpu else "-"
        print(f"{name:<{width}}  {seconds * 1e3:>9.3f}  {ratio:>10}  {check}")
PY

if [ "$sci_status" -ne 0 ]; then
    exit "$sci_status"
fi
exit "$jax_status"
