"""Writes docs/fno-benchmark.md from the results bench/fno.sh leaves in target/bench/fno:
sci's `sci train` output and loss history, JAX's JSON (bench/fno_jax.py)."""

import argparse
import csv
import json
import math
import os
import platform
import re
import subprocess
import time


def sci_results(d):
    """Epoch time, the test errors after each epoch and zero-shot, from sci's outputs."""
    text = open(os.path.join(d, "sci_train.txt")).read()
    m = re.search(r"in (\d+) steps \(\d+ evaluations, ([^)]+)\)", text)
    steps = int(m.group(1))
    # `sci train` writes durations as "4.2 s", "3 min 05 s" or "2 h 05 min".
    units = {"s": 1, "min": 60, "h": 3600}
    parts = m.group(2).split()
    seconds = sum(float(n) * units[u] for n, u in zip(parts[::2], parts[1::2]))
    tests = []
    with open(os.path.join(d, "sci_losses.csv")) as f:
        for row in csv.DictReader(f):
            value = float(row["test"])
            if math.isfinite(value):
                tests.append(value)
    zero = re.search(r"test loss ([0-9.e+-]+)", open(os.path.join(d, "sci_512.txt")).read())
    return {
        "steps": steps,
        "seconds": seconds,
        "tests": tests,
        "zero_shot": float(zero.group(1)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--load", default="?")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sci = sci_results(a.dir)
    jax = json.load(open(os.path.join(a.dir, "jax.json")))
    epochs = a.epochs
    sci_epoch = sci["seconds"] / epochs
    jax_epoch = jax["median_epoch_seconds"]
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = subprocess.run(
        ["target/release/sci", "--version"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "# Benchmark: the 1-D Fourier neural operator, sci and JAX",
        "",
        f"Measured by `bench/fno.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        "both tools in one run on one machine, on the same files: 1,200 pairs from `sci "
        "dataset burgers` (ν = 0.1, T = 1, 256 points; 1,000 to train, 200 held out), the "
        "architecture and schedule of Li et al. (2021) — 16 modes, width 64, 4 Fourier layers, "
        "batch 20, Adam 1e-3 with weight decay 1e-4, the rate halved every 100 epochs — in "
        "float64. The epoch time is the training steps plus the test evaluation (sci: the "
        "run's training time over its epochs; JAX: the median epoch after the first, which "
        "compiles).",
        "",
        f"**Machine.** {cpu}, {os.cpu_count()} cores; load average before the run: {a.load}. "
        f"{version}; JAX {jax.get('jax_version', '?')} (CPU, float64), threads "
        f"{jax.get('threads', '?')}; Python {platform.python_version()}.",
        "",
        f"| measure | sci (Cranelift) | JAX (jit, XLA) | sci / JAX |",
        "|---|---:|---:|---:|",
        f"| epoch time ({epochs} epochs) | {sci_epoch:.2f} s | {jax_epoch:.2f} s | "
        f"{sci_epoch / jax_epoch:.2f} |",
        f"| test relative L2 after {epochs} epochs | {sci['tests'][-1]:.5f} | "
        f"{jax['final_test']:.5f} | — |",
        f"| zero-shot at 512 points (same test functions) | {sci['zero_shot']:.5f} | "
        f"{jax.get('zero_shot_test', float('nan')):.5f} | — |",
        f"| parameters | — | {jax.get('params', '?')} | — |",
        "",
        "Test error after each epoch (sci, then JAX):",
        "",
        "| epoch | " + " | ".join(str(e) for e in range(1, min(epochs, 10) + 1)) + " |",
        "|---|" + "---:|" * min(epochs, 10),
        "| sci | " + " | ".join(f"{t:.4f}" for t in sci["tests"][1 : min(epochs, 10) + 1]) + " |",
        "| JAX | " + " | ".join(f"{t:.4f}" for t in jax["test"][: min(epochs, 10)]) + " |",
        "",
        "The two runs start from different random weights (each tool draws its own, from the "
        "same distributions) and shuffle differently, so their errors after a few epochs "
        "differ by chance; the paper's target (test relative L2 ≤ 0.02 after 500 epochs) is "
        "measured with `EPOCHS=500 bench/fno.sh`.",
        "",
    ]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
