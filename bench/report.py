"""Puts the results of one `bench/run.sh` side by side: prints the table of medians and
ratios (sci / peer) with the machine's description, and writes docs/benchmarks.md and the
plot docs/benchmarks.svg.

usage: report.py RESULTS_DIR DOCS_DIR [PREVIOUS_RESULTS_DIR]
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

BRUSS_PEERS = ["casadi", "casadi_map", "jax", "diffsol"]

# (key, problem, measure, peers). A peer is a tool name, shown with its label.
ROWS = [
    ("pinn.compile", "Burgers PINN", "compile", ["jax"]),
    ("pinn.loss_grad", "Burgers PINN", "loss + gradient", ["jax", "jax_1core"]),
    ("pinn.loss_grad_1thread", "Burgers PINN", "loss + gradient, sci on 1 thread", ["jax_1core"]),
    ("pinn.loss", "Burgers PINN", "loss alone", ["jax", "jax_1core"]),
    ("bruss32.compile", "Brusselator N=32", "compile", BRUSS_PEERS),
    ("bruss32.rhs", "Brusselator N=32", "rhs", BRUSS_PEERS),
    ("bruss32.jac", "Brusselator N=32", "sparse Jacobian", BRUSS_PEERS),
    ("bruss64.compile", "Brusselator N=64", "compile", BRUSS_PEERS),
    ("bruss64.rhs", "Brusselator N=64", "rhs", BRUSS_PEERS),
    ("bruss64.jac", "Brusselator N=64", "sparse Jacobian", BRUSS_PEERS),
    ("bruss128.compile", "Brusselator N=128", "compile", BRUSS_PEERS),
    ("bruss128.rhs", "Brusselator N=128", "rhs", BRUSS_PEERS),
    ("bruss128.jac", "Brusselator N=128", "sparse Jacobian", BRUSS_PEERS),
    ("robertson.compile", "Robertson", "compile", ["diffsol"]),
    ("robertson.solve", "Robertson", "BDF solve to t = 1e5", ["diffsol", "scipy"]),
    ("bruss32.solve", "Brusselator N=32", "BDF solve to t = 10", ["diffsol", "scipy"]),
    ("bruss128.solve", "Brusselator N=128", "BDF solve to t = 10 (one solve)", ["diffsol", "scipy"]),
]

LABELS = {
    "jax": "JAX",
    "jax_1core": "JAX on 1 core",
    "casadi": "CasADi SX → C (gcc -O3)",
    "casadi_map": "CasADi MX map → C (gcc -O3)",
    "diffsol": "diffsol + DiffSL",
    "scipy": "SciPy BDF",
}

# Rows whose peer time is the peer's measurement of another key (sci measured a variant).
PEER_KEY = {"pinn.loss_grad_1thread": "pinn.loss_grad"}

# Per-row labels where a peer computes something different from sci.
SPECIAL = {
    ("bruss32.jac", "jax"): "JAX jacfwd (dense)",
    ("bruss64.jac", "jax"): "JAX jacfwd (dense)",
    ("bruss128.jac", "jax"): "JAX jacfwd (dense)",
    ("pinn.loss_grad", "jax"): "JAX jit(value_and_grad)",
    ("pinn.loss", "jax"): "JAX jit(loss)",
    ("pinn.loss_grad", "jax_1core"): "JAX jit(value_and_grad), 1 core",
    ("pinn.loss_grad_1thread", "jax_1core"): "JAX jit(value_and_grad), 1 core",
    ("pinn.loss", "jax_1core"): "JAX jit(loss), 1 core",
    ("pinn.compile", "jax"): "JAX jit (trace + XLA)",
    ("bruss32.compile", "jax"): "JAX jit of rhs + jacfwd",
    ("bruss64.compile", "jax"): "JAX jit of rhs + jacfwd",
    ("bruss128.compile", "jax"): "JAX jit of rhs + jacfwd",
}

KERNELS = [
    "pinn.loss_grad",
    "pinn.loss_grad_1thread",
    "pinn.loss",
    "bruss32.rhs",
    "bruss32.jac",
    "bruss64.rhs",
    "bruss64.jac",
    "bruss128.rhs",
    "bruss128.jac",
]

FILES = {
    "sci": ["sci.json"],
    "sci_llvm": ["sci_llvm.json"],
    "jax": ["jax_pinn.json", "jax_brusselator.json"],
    "jax_1core": ["jax_pinn_1core.json"],
    "casadi": ["casadi.json"],
    "casadi_map": ["casadi_map.json"],
    "diffsol": ["diffsol.json", "diffsol_large.json"],
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


def machine(tools, load_before, results_dir):
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
        # When sci's side was measured (the report may be written again later).
        "date": datetime.datetime.fromtimestamp(
            os.path.getmtime(os.path.join(results_dir, "sci.json")), datetime.timezone.utc
        ).strftime("%Y-%m-%d %H:%M UTC"),
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
    sci_llvm = tools.get("sci_llvm", {}).get("results", {})
    out = []
    for key, problem, measure, peers in ROWS:
        s = sci.get(key) or {}
        s_llvm = (sci_llvm.get(key) or {}).get("median_s")
        for peer in peers:
            peer_results = tools.get(peer, {}).get("results", {})
            p = peer_results.get(PEER_KEY.get(key, key))
            if not s and p is None:
                continue
            if p is None:
                # A kernel a peer could not build: say why instead of leaving a blank.
                compiled = peer_results.get(key.split(".")[0] + ".compile", {})
                p = {"failed": "not built: " + compiled["failed"]} if "failed" in compiled else {}
            s_med, p_med = s.get("median_s"), p.get("median_s")
            # A peer that could not finish gives a lower bound on its time, so an upper
            # bound on the ratio.
            bound = p.get("lower_bound_s") if p_med is None else None
            check = p.get("check", {})
            out.append(
                {
                    "key": key,
                    "problem": problem,
                    "measure": measure,
                    "peer": peer,
                    "label": SPECIAL.get((key, peer), LABELS[peer]),
                    "sci": s_med,
                    "sci_llvm": s_llvm,
                    "ratio_llvm": s_llvm / p_med if s_llvm and p_med else None,
                    "peer_s": p_med,
                    "peer_bound": bound,
                    "failed": p.get("failed"),
                    "ratio": s_med / p_med if s_med and p_med else None,
                    "ratio_bound": s_med / bound if s_med and bound else None,
                    "check": check.get("vs_sci"),
                    "ref_sci": s.get("check", {}).get("vs_reference"),
                    "ref_peer": check.get("vs_reference"),
                    "sci_stats": s.get("stats"),
                    "peer_stats": p.get("stats"),
                    "samples": (s.get("samples"), p.get("samples")),
                }
            )
    return out


def peer_time(r):
    if r["peer_s"] is None and r["peer_bound"] is not None:
        return f"> {fmt_time(r['peer_bound'])} ({r['failed']})"
    if r["peer_s"] is None and r["failed"]:
        return f"— ({r['failed']})"
    return fmt_time(r["peer_s"])


def ratio_text(r):
    if r["ratio"] is None and r["ratio_bound"] is not None:
        return f"< {fmt_ratio(r['ratio_bound'])}"
    return fmt_ratio(r["ratio"])


def table(rows):
    lines = [
        "| problem | measure | sci (Cranelift) | sci (LLVM) | peer | peer time | sci / peer "
        "| sci LLVM / peer | peer vs sci (max rel. diff.) | samples (sci / peer) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        samples = " / ".join("—" if x is None else str(x) for x in r["samples"])
        lines.append(
            f"| {r['problem']} | {r['measure']} | {fmt_time(r['sci'])} | "
            f"{fmt_time(r['sci_llvm'])} | {r['label']} | "
            f"{peer_time(r)} | {ratio_text(r)} | {fmt_ratio(r['ratio_llvm'])} | "
            f"{fmt_diff(r['check'])} "
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
    parts = []
    for k, v in st.items():
        if isinstance(v, bool):
            parts.append(("sparse LU" if v else "dense LU") if k == "sparse" else f"{k} {v}")
        else:
            parts.append(f"{k.replace('_', ' ')} {v}")
    return ", ".join(parts)


def flop_table(tools, mach):
    sci = tools.get("sci", {}).get("results", {})
    core_peak = mach["peak"].get("peak_gflops")
    threads = tools.get("sci", {}).get("threads") or 1
    peers = ["jax", "casadi", "casadi_map", "diffsol"]
    llvm = tools.get("sci_llvm", {}).get("results", {})
    head = "| kernel | FLOPs | sci GFLOP/s | sci % of peak | sci LLVM GFLOP/s | " + " | ".join(
        f"{LABELS[p]} GFLOP/s" for p in peers
    )
    lines = [head + " |", "|---|---:|---:|---:|---:|" + "---:|" * len(peers)]
    names = {
        "pinn.loss_grad": "PINN loss + gradient",
        "pinn.loss_grad_1thread": "PINN loss + gradient, 1 thread",
        "pinn.loss": "PINN loss alone",
        "bruss32.rhs": "Brusselator N=32 rhs",
        "bruss32.jac": "Brusselator N=32 sparse Jacobian",
        "bruss64.rhs": "Brusselator N=64 rhs",
        "bruss64.jac": "Brusselator N=64 sparse Jacobian",
        "bruss128.rhs": "Brusselator N=128 rhs",
        "bruss128.jac": "Brusselator N=128 sparse Jacobian",
    }
    for k in KERNELS:
        s = sci.get(k)
        if not s or "flops" not in s:
            continue
        fl = s["flops"]
        g = fl / s["median_s"] / 1e9
        # The machine's peak: one core's, times the cores sci's kernel ran on.
        cores = 1 if k.endswith("_1thread") or not k.startswith("pinn.") else threads
        peak = core_peak * cores if core_peak else None
        pct = f"{100 * g / peak:.2f} %" if peak else "—"
        cells = []
        for p in peers:
            r = tools.get(p, {}).get("results", {}).get(k)
            ok = r and r.get("median_s")
            cells.append(f"{fl / r['median_s'] / 1e9:.2f}" if ok else "—")
        lr = llvm.get(k)
        lg = f"{fl / lr['median_s'] / 1e9:.2f}" if lr and lr.get("median_s") else "—"
        lines.append(
            f"| {names[k]} | {fl:,} | {g:.2f} | {pct} | {lg} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def targets(rows):
    def find(key, peer):
        return next((r for r in rows if r["key"] == key and r["peer"] == peer), None)

    def line(text, key, peer, limit):
        r = find(key, peer)
        if r is None or (r["ratio"] is None and r["ratio_bound"] is None):
            return (text, "—", "—", "not measured")
        if r["ratio"] is not None:
            ok = r["ratio"] <= limit
        else:
            # Only an upper bound on the ratio: met if the bound is within the limit.
            ok = True if r["ratio_bound"] <= limit else None
        # Met when sci's default back end (Cranelift) meets it; LLVM's ratio is shown beside.
        verdict = "—" if ok is None else ("**met**" if ok else "**not met**")
        llvm = r["ratio_llvm"]
        if not ok and llvm is not None and llvm <= limit:
            verdict += " (met with `--backend llvm`)"
        return (text, ratio_text(r), fmt_ratio(llvm), verdict)

    out = [
        line(
            "PINN loss + gradient no slower than JAX on the same cores (≤ 1)",
            "pinn.loss_grad",
            "jax",
            1.0,
        ),
        line(
            "… on one thread, no slower than JAX pinned to one core (≤ 1)",
            "pinn.loss_grad_1thread",
            "jax_1core",
            1.0,
        ),
        line(
            "PINN loss alone no slower than JAX jit(loss) (≤ 1)",
            "pinn.loss",
            "jax",
            1.0,
        ),
        line(
            "PINN loss + gradient ≥ 2× faster than JAX on CPU (sci / JAX ≤ 0.5)",
            "pinn.loss_grad",
            "jax",
            0.5,
        ),
        line(
            "… the same against JAX pinned to one core (≤ 0.5)",
            "pinn.loss_grad",
            "jax_1core",
            0.5,
        ),
    ]
    for n in (32, 64, 128):
        out.append(
            line(
                f"Brusselator N={n} rhs no slower than {LABELS['diffsol']} (≤ 1)",
                f"bruss{n}.rhs",
                "diffsol",
                1.0,
            )
        )
        out.append(
            line(
                f"Brusselator N={n} sparse Jacobian ≤ 0.5× {LABELS['diffsol']}",
                f"bruss{n}.jac",
                "diffsol",
                0.5,
            )
        )
    out.append(
        line(
            f"Brusselator N=32 sparse Jacobian ≤ 2× {LABELS['casadi']}",
            "bruss32.jac",
            "casadi",
            2.0,
        )
    )
    for n in (32, 64):
        for peer in ("casadi", "casadi_map"):
            out.append(
                line(
                    f"Brusselator N={n} sparse Jacobian no slower than {LABELS[peer]} (≤ 1)",
                    f"bruss{n}.jac",
                    peer,
                    1.0,
                )
            )
    for n in (32, 64):
        out.append(
            line(
                f"Brusselator N={n} compiled ≥ 100× faster than {LABELS['casadi']} (≤ 0.01)",
                f"bruss{n}.compile",
                "casadi",
                0.01,
            )
        )
    for key, name in [("robertson.solve", "Robertson"), ("bruss32.solve", "Brusselator N=32")]:
        out.append(line(f"{name} stiff solve no slower than diffsol (≤ 1)", key, "diffsol", 1.0))
    lines = ["| target | sci / peer | sci LLVM / peer | |", "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in out]
    return "\n".join(lines)


def plot(rows, path):
    rs = [r for r in rows if r["ratio"] is not None or r["ratio_bound"] is not None]
    labels = [f"{r['problem']} · {r['measure']} vs {r['label']}" for r in rs]
    vals = [r["ratio"] if r["ratio"] is not None else r["ratio_bound"] for r in rs]
    bounds = [r["ratio"] is None for r in rs]
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(rs) + 1.4))
    colors = ["#2a7f62" if v <= 1 else "#b5452b" for v in vals]
    ypos = list(range(len(rs)))[::-1]
    # Bars run from 1 to the ratio, so sci's wins go left and its losses right.
    bars = ax.barh(ypos, [v - 1 for v in vals], left=1.0, color=colors, height=0.7)
    for bar, b in zip(bars, bounds):
        if b:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(ypos)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("time sci / time peer (log scale; left of 1: sci faster; hatched: upper bound)")
    ax.set_title("sci against its peers, one run on one machine", fontsize=10)
    for y, v, b in zip(ypos, vals, bounds):
        text = f"{'< ' if b else ''}{fmt_ratio(v)}"
        if v < 1:
            ax.text(v, y, text + " ", va="center", ha="right", fontsize=7)
        else:
            ax.text(v, y, " " + text, va="center", fontsize=7)
    fig.tight_layout()
    plt.rcParams["svg.fonttype"] = "none"
    fig.savefig(path, format="svg")
    plt.close(fig)


def versions(tools):
    lines = []
    for t in ["sci", "sci_llvm", "jax", "jax_1core", "casadi", "casadi_map", "diffsol", "scipy"]:
        if t in tools:
            v = tools[t].get("version") or "?"
            if t == "sci":
                v = f"sci {v} (Cranelift JIT)"
            if t == "sci_llvm":
                v = f"sci {v} (LLVM 22 JIT, O3, host CPU)"
            th = tools[t].get("threads")
            lines.append(f"- {LABELS.get(t, 'sci')}: {v}; threads available: {th}")
    return "\n".join(lines)


def reproducibility(rows, prev_dir, tools):
    """How far this run's medians are from the previous run's (same scale), if there is one."""
    if not prev_dir or not os.path.exists(os.path.join(prev_dir, "sci.json")):
        return "No earlier run to compare with."
    prev = load_tools(prev_dir)
    scale = lambda t: t.get("sci", {}).get("scale", 1.0)
    if scale(prev) != scale(tools):
        return "The previous run used another `BENCH_SCALE`; not compared."
    old = {(r["key"], r["peer"]): r for r in build_rows(prev)}
    changes = []
    seen = set()
    for r in rows:
        o = old.get((r["key"], r["peer"]))
        if not o:
            continue
        for tool, a, b in [("sci", r["sci"], o["sci"]), (r["label"], r["peer_s"], o["peer_s"])]:
            name = (r["key"], tool)
            if a and b and name not in seen:
                seen.add(name)
                changes.append((abs(a / b - 1), f"{r['problem']} {r['measure']} ({tool})"))
    if not changes:
        return "No common measurements with the previous run."
    changes.sort()
    med = changes[len(changes) // 2][0]
    big = [f"{n}: {100 * c:.0f} %" for c, n in changes if c > 0.2]
    text = (
        f"Against the previous run on this machine, the {len(changes)} medians moved by "
        f"{100 * med:.1f} % (median of the changes), at most {100 * changes[-1][0]:.0f} %."
    )
    if big:
        text += " Moved by more than 20 %: " + "; ".join(big) + "."
    return text


def main():
    results_dir, docs_dir = sys.argv[1], sys.argv[2]
    prev_dir = sys.argv[3] if len(sys.argv) > 3 else None
    load_before = os.environ.get("BENCH_LOAD_BEFORE", "?")
    command = os.environ.get("BENCH_COMMAND", "bench/run.sh")
    tools = load_tools(results_dir)
    mach = machine(tools, load_before, results_dir)
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
equivalent rate. Peak: one core's measured FMA throughput (above) times the cores the
kernel ran on: the PINN's batched maps run on every core (`--threads`, all by default), the
1-thread row and the Brusselator's kernels on one.

{flop_table(tools, mach)}

## Reproducibility

{reproducibility(rows, prev_dir, tools)}

## Targets (issues 8, 13 and 15)

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
