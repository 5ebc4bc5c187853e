"""Puts the results of one `bench/run.sh` side by side: prints the table of medians and
ratios (sci / peer) with the machine's description, and writes docs/benchmarks.md and the
plot docs/benchmarks.svg.

usage: report.py RESULTS_DIR DOCS_DIR
"""

import datetime
import json
import os
import platform
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (key, problem, measure, peers). A peer is a tool name, shown with its label.
ROWS = [
    ("pinn.compile", "Burgers PINN", "compile", ["jax"]),
    ("pinn.loss_grad", "Burgers PINN", "loss + gradient", ["jax"]),
    ("pinn.loss", "Burgers PINN", "loss alone", ["jax"]),
    ("bruss32.compile", "Brusselator N=32", "compile", ["casadi", "jax", "diffsol"]),
    ("bruss32.rhs", "Brusselator N=32", "rhs", ["casadi", "jax", "diffsol"]),
    ("bruss32.jac", "Brusselator N=32", "sparse Jacobian", ["casadi", "jax", "diffsol"]),
    ("bruss64.compile", "Brusselator N=64", "compile", ["casadi", "jax", "diffsol"]),
    ("bruss64.rhs", "Brusselator N=64", "rhs", ["casadi", "jax", "diffsol"]),
    ("bruss64.jac", "Brusselator N=64", "sparse Jacobian", ["casadi", "jax", "diffsol"]),
    ("robertson.compile", "Robertson", "compile", ["diffsol"]),
    ("robertson.solve", "Robertson", "BDF solve to t = 1e5", ["diffsol", "scipy"]),
    ("bruss32.solve", "Brusselator N=32", "BDF solve to t = 10", ["diffsol", "scipy"]),
]

LABELS = {
    "jax": "JAX",
    "casadi": "CasADi C (gcc -O3)",
    "diffsol": "diffsol + DiffSL",
    "scipy": "SciPy BDF",
}

# Per-row labels where a peer computes something different from sci.
SPECIAL = {
    ("bruss32.jac", "jax"): "JAX jacfwd (dense)",
    ("bruss64.jac", "jax"): "JAX jacfwd (dense)",
    ("pinn.loss_grad", "jax"): "JAX jit(value_and_grad)",
    ("pinn.loss", "jax"): "JAX jit(loss)",
    ("pinn.compile", "jax"): "JAX jit (trace + XLA)",
}

KERNELS = ["pinn.loss_grad", "pinn.loss", "bruss32.rhs", "bruss32.jac", "bruss64.rhs", "bruss64.jac"]

FILES = {
    "sci": ["sci.json"],
    "jax": ["jax_pinn.json", "jax_brusselator.json"],
    "casadi": ["casadi.json"],
    "diffsol": ["diffsol.json"],
    "scipy": ["scipy.json"],
}


def load_tools(d):
    tools = {}
    for tool, names in FILES.items():
        merged = {"results": {}, "version": None}
        for name in names:
            path = os.path.join(d, name)
            if not os.path.exists(path):
                continue
            with open(path) as f:
                doc = json.load(f)
            merged["results"].update(doc.get("results", {}))
            for k, v in doc.items():
                if k != "results":
                    merged.setdefault(k, v)
                    if merged[k] is None:
                        merged[k] = v
        if merged["results"]:
            tools[tool] = merged
    return tools


def fmt_time(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def fmt_ratio(r):
    if r is None:
        return "—"
    if r >= 100 or r < 0.01:
        return f"{r:.1e}"
    return f"{r:.3g}"


def fmt_diff(x):
    if x is None:
        return "—"
    return "0" if x == 0 else f"{x:.1e}"


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool only blanks its line
        return "?"


def machine(tools, load_before):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    peak = tools.get("sci", {}).get("peak", {})
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "rustc": sh(["rustc", "--version"]),
        "gcc": sh(["gcc", "--version"]).splitlines()[0] if sh(["gcc", "--version"]) != "?" else "?",
        "python": platform.python_version(),
        "load_before": load_before,
        "peak": peak,
    }


def build_rows(tools):
    sci = tools.get("sci", {}).get("results", {})
    out = []
    for key, problem, measure, peers in ROWS:
        s = sci.get(key)
        for peer in peers:
            p = tools.get(peer, {}).get("results", {}).get(key)
            if s is None and p is None:
                continue
            ratio = s["median_s"] / p["median_s"] if s and p else None
            check = (p or {}).get("check", {})
            out.append(
                {
                    "key": key,
                    "problem": problem,
                    "measure": measure,
                    "peer": peer,
                    "label": SPECIAL.get((key, peer), LABELS[peer]),
                    "sci": s["median_s"] if s else None,
                    "peer_s": p["median_s"] if p else None,
                    "ratio": ratio,
                    "check": check.get("vs_sci"),
                    "ref_sci": (s or {}).get("check", {}).get("vs_reference"),
                    "ref_peer": check.get("vs_reference"),
                    "sci_stats": (s or {}).get("stats"),
                    "peer_stats": (p or {}).get("stats"),
                    "samples": ((s or {}).get("samples"), (p or {}).get("samples")),
                }
            )
    return out


def table(rows):
    lines = [
        "| problem | measure | sci | peer | peer time | sci / peer | peer vs sci (max rel. diff.) "
        "| samples (sci / peer) |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        samples = " / ".join("—" if x is None else str(x) for x in r["samples"])
        lines.append(
            f"| {r['problem']} | {r['measure']} | {fmt_time(r['sci'])} | {r['label']} | "
            f"{fmt_time(r['peer_s'])} | {fmt_ratio(r['ratio'])} | {fmt_diff(r['check'])} "
            f"| {samples} |"
        )
    return "\n".join(lines)


def solve_table(rows):
    lines = [
        "| problem | tool | time | error vs reference | solver work |",
        "|---|---|---:|---:|---|",
    ]
    done = set()
    for r in rows:
        if not r["key"].endswith(".solve"):
            continue
        if r["key"] not in done:
            done.add(r["key"])
            lines.append(
                f"| {r['problem']} | sci | {fmt_time(r['sci'])} | {fmt_diff(r['ref_sci'])} | "
                f"{stats_text(r['sci_stats'])} |"
            )
        lines.append(
            f"| {r['problem']} | {r['label']} | {fmt_time(r['peer_s'])} | "
            f"{fmt_diff(r['ref_peer'])} | {stats_text(r['peer_stats'])} |"
        )
    return "\n".join(lines)


def stats_text(st):
    if not st:
        return ""
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in st.items())


def flop_table(tools, mach):
    sci = tools.get("sci", {}).get("results", {})
    peak = mach["peak"].get("peak_gflops")
    peers = ["jax", "casadi", "diffsol"]
    head = "| kernel | FLOPs | sci GFLOP/s | sci % of peak | " + " | ".join(
        f"{LABELS[p]} GFLOP/s" for p in peers
    )
    lines = [head + " |", "|---|---:|---:|---:|" + "---:|" * len(peers)]
    names = {
        "pinn.loss_grad": "PINN loss + gradient",
        "pinn.loss": "PINN loss alone",
        "bruss32.rhs": "Brusselator N=32 rhs",
        "bruss32.jac": "Brusselator N=32 sparse Jacobian",
        "bruss64.rhs": "Brusselator N=64 rhs",
        "bruss64.jac": "Brusselator N=64 sparse Jacobian",
    }
    for k in KERNELS:
        s = sci.get(k)
        if not s or "flops" not in s:
            continue
        fl = s["flops"]
        g = fl / s["median_s"] / 1e9
        pct = f"{100 * g / peak:.2f} %" if peak else "—"
        cells = []
        for p in peers:
            r = tools.get(p, {}).get("results", {}).get(k)
            cells.append(f"{fl / r['median_s'] / 1e9:.2f}" if r else "—")
        lines.append(f"| {names[k]} | {fl:,} | {g:.2f} | {pct} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(rows):
    def ratio(key, peer):
        for r in rows:
            if r["key"] == key and r["peer"] == peer:
                return r["ratio"]
        return None

    def verdict(ok):
        return "—" if ok is None else ("**met**" if ok else "**not met**")

    out = []
    r = ratio("pinn.loss_grad", "jax")
    out.append(
        (
            "PINN loss + gradient ≥ 2× faster than JAX on CPU (sci / JAX ≤ 0.5)",
            fmt_ratio(r),
            verdict(None if r is None else r <= 0.5),
        )
    )
    for n in (32, 64):
        r = ratio(f"bruss{n}.jac", "casadi")
        out.append(
            (
                f"Brusselator N={n} sparse Jacobian no slower than CasADi's C (≤ 1)",
                fmt_ratio(r),
                verdict(None if r is None else r <= 1),
            )
        )
    for n in (32, 64):
        r = ratio(f"bruss{n}.compile", "casadi")
        out.append(
            (
                f"Brusselator N={n} compiled ≥ 100× faster than CasADi + gcc (≤ 0.01)",
                fmt_ratio(r),
                verdict(None if r is None else r <= 0.01),
            )
        )
    for key, name in [("robertson.solve", "Robertson"), ("bruss32.solve", "Brusselator N=32")]:
        r = ratio(key, "diffsol")
        out.append(
            (
                f"{name} stiff solve no slower than diffsol (≤ 1)",
                fmt_ratio(r),
                verdict(None if r is None else r <= 1),
            )
        )
    lines = ["| target | sci / peer | |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in out]
    return "\n".join(lines)


def plot(rows, path):
    rs = [r for r in rows if r["ratio"] is not None]
    labels = [f"{r['problem']} · {r['measure']} vs {r['label']}" for r in rs]
    vals = [r["ratio"] for r in rs]
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rs) + 1.4))
    colors = ["#2a7f62" if v <= 1 else "#b5452b" for v in vals]
    ypos = list(range(len(rs)))[::-1]
    ax.barh(ypos, vals, color=colors, height=0.7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(ypos)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("time sci / time peer (log scale; left of 1: sci faster)")
    ax.set_title("sci against its peers, one run on one machine", fontsize=10)
    for y, v in zip(ypos, vals):
        ax.text(v, y, f" {fmt_ratio(v)}", va="center", fontsize=7)
    fig.tight_layout()
    plt.rcParams["svg.fonttype"] = "none"
    fig.savefig(path, format="svg")
    plt.close(fig)


def versions(tools):
    lines = []
    for t in ["sci", "jax", "casadi", "diffsol", "scipy"]:
        if t in tools:
            v = tools[t].get("version") or "?"
            if t == "sci":
                v = f"sci {v} (Cranelift JIT)"
            th = tools[t].get("threads")
            lines.append(f"- {LABELS.get(t, 'sci')}: {v}; threads available: {th}")
    return "\n".join(lines)


def main():
    results_dir, docs_dir = sys.argv[1], sys.argv[2]
    load_before = os.environ.get("BENCH_LOAD_BEFORE", "?")
    command = os.environ.get("BENCH_COMMAND", "bench/run.sh")
    tools = load_tools(results_dir)
    mach = machine(tools, load_before)
    rows = build_rows(tools)
    peak = mach["peak"]
    peak_line = (
        f"{peak.get('peak_gflops', 0):.1f} GFLOP/s per core ({peak.get('peak_kind', '?')}; "
        + ", ".join(
            f"{k.replace('_gflops', '')} {v:.1f}"
            for k, v in peak.items()
            if k.endswith("_gflops") and k != "peak_gflops"
        )
        + f"; {peak.get('method', '')})"
        if peak
        else "not measured"
    )
    header = f"""# Benchmarks: sci against its peers

Measured by `{command}` on {mach['date']}, every number in one run on one machine.
Medians; the ratio is sci's time over the peer's (below 1: sci is faster). Method, sizes and
tolerances: [`bench/README.md`](../bench/README.md).

**Machine.** {mach['cpu']}, {mach['cores']} cores, {mach['memory']} RAM, {mach['os']};
load average before the run: {mach['load_before']}. Peak f64 throughput, measured:
{peak_line}.

**Versions.** {mach['rustc']}; {mach['gcc']}; Python {mach['python']}.
{versions(tools)}
"""
    body = f"""
## Side by side

{table(rows)}

"Max rel. diff." is the peer's answer against sci's on the same inputs, `max|peer − sci| /
max|sci|` (for solves: at every output time). Kernels must agree to 1e-10.

## Stiff solves: accuracy and work

Error against a tight reference (sci's BDF at rtol 1e-10, atol 1e-13), same norm.

{solve_table(rows)}

## FLOPs and fraction of peak

FLOPs are counted on sci's IR (`sci_passes::ad::cost::flops`, per point for batched
values): one per arithmetic operation or elementary function (tanh, sin count as one), two
per multiply-add of a product. The same count divided by each peer's time gives its
equivalent rate. Peak: one core's measured FMA throughput (above); sci's code is
single-threaded.

{flop_table(tools, mach)}

## Targets (issue 8)

{targets(rows)}
"""
    text = header + body
    print(text)
    os.makedirs(docs_dir, exist_ok=True)
    with open(os.path.join(docs_dir, "benchmarks.md"), "w") as f:
        f.write(text.replace("\n\n\n", "\n\n"))
        f.write("\n![sci / peer per benchmark](benchmarks.svg)\n")
    plot(rows, os.path.join(docs_dir, "benchmarks.svg"))


if __name__ == "__main__":
    main()
