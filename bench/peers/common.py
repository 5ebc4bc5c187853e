"""Shared helpers of the Python peers: the timing procedure (the same as benches/peers.rs),
reading sci's inputs, writing results, norm-wise relative differences."""

import argparse
import json
import time

import numpy as np

SAMPLE_S = 2e-3


def time_calls(f, min_samples, budget_s):
    """Median seconds per call of `f`: calls are batched so one sample lasts at least 2 ms,
    then samples are taken until `budget_s` has passed (at least `min_samples`, at most
    201). Identical to `time_calls` in benches/peers.rs."""
    k = 1
    while True:
        t = time.perf_counter()
        for _ in range(k):
            f()
        e = time.perf_counter() - t
        if e >= SAMPLE_S or k >= 1 << 24:
            break
        k = min(max(k * 2, int(k * SAMPLE_S / max(e, 1e-9) * 1.2)), 1 << 24)
    start = time.perf_counter()
    per_call = []
    while len(per_call) < min_samples or (
        time.perf_counter() - start < budget_s and len(per_call) < 201
    ):
        t = time.perf_counter()
        for _ in range(k):
            f()
        per_call.append((time.perf_counter() - t) / k)
    return summary(per_call, k)


def summary(per_call, k=1):
    per_call = sorted(per_call)
    return {
        "median_s": per_call[len(per_call) // 2],
        "min_s": per_call[0],
        "max_s": per_call[-1],
        "samples": len(per_call),
        "calls_per_sample": k,
    }


def rel_diff(a, b):
    """Norm-wise relative difference max|a - b| / max|b|."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(b))), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def max_rel_diff(rows_a, rows_b):
    """The largest `rel_diff` over the rows (one row per output time)."""
    if len(rows_a) != len(rows_b):
        return float("inf")
    return max(rel_diff(a, b) for a, b in zip(rows_a, rows_b))


def args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", required=True, help="inputs.json written by benches/peers.rs")
    p.add_argument("--out", required=True, help="results file to write")
    p.add_argument("--scale", type=float, default=1.0, help="shorten timing budgets")
    return p.parse_args()


def load(path):
    with open(path) as f:
        return json.load(f)


def save(path, tool, version, results, **extra):
    doc = {"tool": tool, "version": version, "results": results}
    doc.update(extra)
    with open(path, "w") as f:
        json.dump(doc, f)


def csr_to_dict(case):
    """sci's sparse Jacobian as {(row, col): value}."""
    rp, ci, v = case["row_ptr"], case["col_idx"], case["jac"]
    out = {}
    for r in range(len(rp) - 1):
        for k in range(rp[r], rp[r + 1]):
            out[(r, ci[k])] = v[k]
    return out


def sparse_diff(peer, sci):
    """Relative difference of two sparse matrices given as {(row, col): value}: entries one
    side lacks count as zeros. Returns (difference, note)."""
    scale = max(abs(x) for x in sci.values())
    diff = 0.0
    for k, a in peer.items():
        diff = max(diff, abs(a - sci.get(k, 0.0)))
    for k, b in sci.items():
        diff = max(diff, abs(b - peer.get(k, 0.0)))
    return diff / scale, f"{len(peer)} entries (sci: {len(sci)})"
