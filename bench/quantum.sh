#!/usr/bin/env bash
# Variational circuits (issue 23): value and full gradient of the periodic transverse-field
# Ising energy for N qubits, L layers of RY on every qubit + a CZ ring, by sci's adjoint
# method (benches/quantum.rs) and by PennyLane's lightning.qubit with adjoint
# differentiation (bench/peers/quantum_pennylane.py), side by side in one run, both on every
# core; the values and gradients compared. Writes docs/quantum-benchmark.md.
#
#   bench/quantum.sh            QUBITS="12 20 24" LAYERS=10 REPEAT=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/python-env.sh
qubits=${QUBITS:-12 20 24}
layers=${LAYERS:-10}
repeat=${REPEAT:-3}
out=target/bench/quantum
mkdir -p "$out"
# shellcheck disable=SC2086
cargo bench --locked --quiet --bench quantum -- --qubits $qubits --layers "$layers" \
    --repeat "$repeat" > "$out/sci.jsonl"
# shellcheck disable=SC2086
"$py" bench/peers/quantum_pennylane.py --qubits $qubits --layers "$layers" \
    --repeat "$repeat" > "$out/pennylane.jsonl"
"$py" - "$out" <<'PY' > docs/quantum-benchmark.md
import json, platform, subprocess, sys, datetime
out = sys.argv[1]
sci = [json.loads(l) for l in open(f"{out}/sci.jsonl")]
pl = [json.loads(l) for l in open(f"{out}/pennylane.jsonl")]
import pennylane
from importlib.metadata import version
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print("# Variational circuit benchmark (bench/quantum.sh)\n")
print(f"One run on {cpu} ({cores} cores), {datetime.date.today()}: sci's adjoint gradient "
      f"(`sci_stdlib::quantum`) against PennyLane {pennylane.__version__} with "
      f"lightning.qubit {version('pennylane_lightning')} (`diff_method=\"adjoint\"`), both on "
      "every core. The circuit: N qubits, "
      f"{sci[0]['layers']} layers of RY on every qubit then a CZ ring (N·{sci[0]['layers']} "
      "parameters); the observable: the periodic transverse-field Ising Hamiltonian "
      "H = −Σ Z_i Z_{i+1} − Σ X_i (2N Pauli terms). One call is the value and the full "
      "gradient; the best of the repeats after a warm-up.\n")
print("| qubits | parameters | sci (s) | lightning.qubit (s) | sci / lightning | state vectors (sci) | max \\|Δ gradient\\| | \\|Δ value\\| |")
print("|---|---|---|---|---|---|---|---|")
for s, p in zip(sci, pl):
    dg = max(abs(a - b) for a, b in zip(s["grad"], p["grad"]))
    dv = abs(s["value"] - p["value"])
    print(f"| {s['qubits']} | {len(s['grad'])} | {s['seconds']:.4f} | {p['seconds']:.4f} | "
          f"{s['seconds'] / p['seconds']:.2f} | {s['state_vectors']} | {dg:.1e} | {dv:.1e} |")
print("\nTarget (issue 23): N = 20 at ≤ 1.0× lightning.qubit's time with at most 3 state "
      "vectors; also at 24 qubits.")
PY
cat docs/quantum-benchmark.md
