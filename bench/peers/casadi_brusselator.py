"""CasADi peer: the 2-D Brusselator of examples/brusselator2d.sci, its right-hand side and
sparse Jacobian (`casadi.jacobian`) generated as C by CasADi's CodeGenerator, compiled with
`gcc -O3` into a shared library, and timed per call from C (a loop in a small harness, so
Python's call overhead is not counted). Two formulations:

- `casadi` (SX): the usual one for speed, every grid point's expression unrolled into SX
  (with common subexpressions eliminated); the Jacobian is straight-line code.
- `casadi_map` (MX + map): one grid point's stencil as an SX Function, `map`ped over the
  grid and fed by index gathers; the generated code is loops, which gcc compiles quickly.

Compile time = building the expressions and Functions + generating C + `gcc -O3`; the three
parts are reported separately too. gcc is stopped after GCC_TIMEOUT_S seconds or at
GCC_MEMORY_GB of address space (the SX code at N = 64 needs more than either); the compile
time is then reported as a lower bound and that variant has no per-call timings.
"""

import ctypes
import os
import resource
import signal
import subprocess
import tempfile
import time

import casadi as ca
import numpy as np

from common import args, csr_to_dict, load, rel_diff, save, sparse_diff, summary

HARNESS = r"""
#include <stdlib.h>
#include <time.h>
typedef long long int casadi_int;
typedef int (*fn_t)(const double**, double**, casadi_int*, double*, int);
int bru_rhs(const double**, double**, casadi_int*, double*, int);
int bru_jac(const double**, double**, casadi_int*, double*, int);

/* Calls the rhs (which = 0) or the Jacobian (which = 1) n times; returns seconds. The
   argument and result arrays have the lengths CasADi asks for (sz_arg, sz_res). */
double run_loop(int which, long n, const double* y, const double* p, double* out,
                casadi_int* iw, double* w, long sz_arg, long sz_res) {
    fn_t f = which == 0 ? bru_rhs : bru_jac;
    const double** arg = calloc(sz_arg < 2 ? 2 : sz_arg, sizeof *arg);
    double** res = calloc(sz_res < 1 ? 1 : sz_res, sizeof *res);
    arg[0] = y;
    arg[1] = p;
    res[0] = out;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) f(arg, res, iw, w, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    free(arg);
    free(res);
    return (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
}
"""


def build_sx(n):
    """SX: every point's expressions unrolled (rhs and sparse Jacobian Functions)."""
    nn = n * n
    y = ca.SX.sym("y", 2 * nn)
    p = ca.SX.sym("p", 3)
    a, b, alpha = p[0], p[1], p[2]
    inv_dx2 = float(n * n)
    u = [y[k] for k in range(nn)]
    v = [y[nn + k] for k in range(nn)]

    def lap(w, i, j):
        return (
            w[((i - 1) % n) * n + j]
            + w[((i + 1) % n) * n + j]
            + w[i * n + (j - 1) % n]
            + w[i * n + (j + 1) % n]
            - 4 * w[i * n + j]
        )

    du, dv = [], []
    for i in range(n):
        for j in range(n):
            k = i * n + j
            du.append(a + u[k] ** 2 * v[k] - (b + 1) * u[k] + alpha * lap(u, i, j) * inv_dx2)
            dv.append(b * u[k] - u[k] ** 2 * v[k] + alpha * lap(v, i, j) * inv_dx2)
    rhs = ca.vertcat(*du, *dv)
    jac = ca.jacobian(rhs, y)
    opts = {"cse": True}
    return ca.Function("bru_rhs", [y, p], [rhs], opts), ca.Function("bru_jac", [y, p], [jac], opts)


def build_map(n):
    """MX + map: one point's stencil, mapped over the grid (rhs and sparse Jacobian)."""
    nn = n * n
    us, vs, ps = ca.SX.sym("u", 5), ca.SX.sym("v", 5), ca.SX.sym("p", 3)
    a, b, alpha = ps[0], ps[1], ps[2]
    inv_dx2 = float(n * n)
    lap_u = us[1] + us[2] + us[3] + us[4] - 4 * us[0]
    lap_v = vs[1] + vs[2] + vs[3] + vs[4] - 4 * vs[0]
    du = a + us[0] ** 2 * vs[0] - (b + 1) * us[0] + alpha * lap_u * inv_dx2
    dv = b * us[0] - us[0] ** 2 * vs[0] + alpha * lap_v * inv_dx2
    point = ca.Function("point", [us, vs, ps], [ca.vertcat(du, dv)]).map(nn)
    # Flat indices of each point and its four periodic neighbours.
    idx = np.arange(nn).reshape(n, n)
    neighbours = [
        [int(k) for k in m.ravel()]
        for m in (idx, np.roll(idx, 1, 0), np.roll(idx, -1, 0), np.roll(idx, 1, 1), np.roll(idx, -1, 1))
    ]
    y = ca.MX.sym("y", 2 * nn)
    p = ca.MX.sym("p", 3)
    u, v = y[:nn], y[nn:]
    gather = lambda w: ca.vertcat(*[ca.transpose(w[k]) for k in neighbours])
    out = point(gather(u), gather(v), ca.repmat(p, 1, nn))
    rhs = ca.vertcat(ca.transpose(out[0, :]), ca.transpose(out[1, :]))
    jac = ca.jacobian(rhs, y)
    return ca.Function("bru_rhs", [y, p], [rhs]), ca.Function("bru_jac", [y, p], [jac])


VARIANTS = {"casadi": build_sx, "casadi_map": build_map}
# BENCH_GCC_TIMEOUT overrides the limit (seconds), for smoke runs.
GCC_TIMEOUT_S = float(os.environ.get("BENCH_GCC_TIMEOUT", "300"))
GCC_MEMORY_GB = 8
# The largest size the fully unrolled SX code is tried at: gcc -O3 runs out of its address
# space at N = 64 already (reported with the time it took), and the SX graph of N = 128
# would take the Python process minutes and gigabytes before gcc even starts.
SX_MAX_N = 64


def generate(f, j, directory):
    cg = ca.CodeGenerator("bru.c", {"with_header": False})
    cg.add(f)
    cg.add(j)
    cg.generate(directory + os.sep)
    return os.path.join(directory, "bru.c")


def gcc(args_, timeout=None):
    """Runs gcc; with `timeout`, also caps its address space at GCC_MEMORY_GB. gcc runs in
    a session of its own so that on a timeout its compiler proper (cc1, a child of the
    driver) is stopped too, not left running."""

    def limit():
        cap = GCC_MEMORY_GB << 30
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    proc = subprocess.Popen(
        ["gcc", *args_], start_new_session=True, preexec_fn=limit if timeout else None
    )
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if code != 0:
        raise subprocess.CalledProcessError(code, ["gcc", *args_])


def compile_all(build, n, directory):
    """Build + generate + gcc -O3; returns (seconds per part, f, j, object file). Raises
    `subprocess.TimeoutExpired` or `CalledProcessError` when gcc is stopped."""
    t0 = time.perf_counter()
    f, j = build(n)
    t1 = time.perf_counter()
    src = generate(f, j, directory)
    t2 = time.perf_counter()
    obj = os.path.join(directory, "bru.o")
    gcc(["-O3", "-fPIC", "-c", src, "-o", obj], timeout=GCC_TIMEOUT_S)
    t3 = time.perf_counter()
    return {"build": t1 - t0, "codegen": t2 - t1, "gcc": t3 - t2}, f, j, obj


def time_c(run, min_samples, budget_s):
    """The procedure of common.time_calls, with the call loop in C: `run(k)` makes k calls
    and returns the seconds they took."""
    k = 1
    while True:
        e = run(k)
        if e >= 2e-3 or k >= 1 << 24:
            break
        k = min(max(k * 2, int(k * 2e-3 / max(e, 1e-9) * 1.2)), 1 << 24)
    per_call = []
    start = time.perf_counter()
    while len(per_call) < min_samples or (
        time.perf_counter() - start < budget_s and len(per_call) < 201
    ):
        per_call.append(run(k) / k)
    return summary(per_call, k)


def measure(build, case, scale, results):
    """Compile time and per-call times of one formulation at one size, into `results`."""
    n = case["n"]
    key = f"bruss{n}"
    with tempfile.TemporaryDirectory() as d:
        # Compile time: fresh expressions, fresh C, fresh gcc each time. gcc can take
        # minutes, so this is repeated only while the budget lasts.
        parts, runs = [], []
        budget = time.perf_counter() + 60.0 * scale
        while not runs or (time.perf_counter() < budget and len(runs) < 3):
            t0 = time.perf_counter()
            try:
                part, f, j, obj = compile_all(build, n, d)
            except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as e:
                spent = time.perf_counter() - t0
                why = (
                    f"gcc -O3 did not finish in {GCC_TIMEOUT_S:.0f} s"
                    if isinstance(e, subprocess.TimeoutExpired)
                    else f"gcc -O3 failed (address space capped at {GCC_MEMORY_GB} GiB)"
                )
                results[f"{key}.compile"] = {"median_s": None, "lower_bound_s": spent, "failed": why}
                print(f"  N={n}: {why} after {spent:.0f} s", flush=True)
                return
            parts.append(part)
            runs.append(sum(part.values()))
        comp = summary(runs)
        comp["parts_median_s"] = {k: float(np.median([p[k] for p in parts])) for k in parts[0]}
        comp["gcc_max_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        results[f"{key}.compile"] = comp

        # The library the timings use: the generated object + the timing harness.
        harness = os.path.join(d, "harness.c")
        with open(harness, "w") as h:
            h.write(HARNESS)
        so = os.path.join(d, "bru.so")
        gcc(["-O3", "-fPIC", "-shared", obj, harness, "-o", so])
        lib = ctypes.CDLL(so)
        lib.run_loop.restype = ctypes.c_double
        lib.run_loop.argtypes = (
            [ctypes.c_int, ctypes.c_long] + [ctypes.c_void_p] * 5 + [ctypes.c_long] * 2
        )

        y = np.ascontiguousarray(case["y"], dtype=np.float64)
        p = np.ascontiguousarray(case["params"], dtype=np.float64)
        for which, fn, name in [(0, f, "rhs"), (1, j, "jac")]:
            iw = np.zeros(max(fn.sz_iw(), 1), dtype=np.int64)
            w = np.zeros(max(fn.sz_w(), 1), dtype=np.float64)
            out = np.zeros(max(fn.nnz_out(0), 1), dtype=np.float64)
            ptrs = [x.ctypes.data_as(ctypes.c_void_p) for x in (y, p, out, iw, w)]
            sizes = (fn.sz_arg(), fn.sz_res())

            def run(k, which=which, ptrs=ptrs, sizes=sizes):
                return lib.run_loop(which, k, *ptrs, *sizes)

            run(1)
            if name == "rhs":
                check = {"vs_sci": rel_diff(out[: 2 * n * n], case["rhs"])}
            else:
                rows, cols = fn.sparsity_out(0).get_triplet()
                peer = {}
                for r, c, x in zip(rows, cols, out):
                    peer[(r, c)] = peer.get((r, c), 0.0) + float(x)
                diff, note = sparse_diff(peer, csr_to_dict(case))
                check = {"vs_sci": diff, "pattern": note}
            t = time_c(run, 11, 2.0 * scale)
            t["check"] = check
            results[f"{key}.{name}"] = t
        print(
            f"  N={n}: compile {comp['median_s']:.2f} s {comp['parts_median_s']}, "
            f"rhs {results[key + '.rhs']['median_s'] * 1e6:.1f} us, "
            f"jac {results[key + '.jac']['median_s'] * 1e6:.1f} us, checks "
            f"{results[key + '.rhs']['check']['vs_sci']:.1e} "
            f"{results[key + '.jac']['check']['vs_sci']:.1e}",
            flush=True,
        )


def main():
    a = args(__doc__)
    cases = load(a.data)["brusselator"]
    gcc_version = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout
    gcc_version = gcc_version.splitlines()[0]
    for tool, build in VARIANTS.items():
        print(f"{tool}:", flush=True)
        results = {}
        for case in cases:
            n = case["n"]
            if tool == "casadi" and n > SX_MAX_N:
                why = f"not attempted: gcc -O3 already fails at N = {SX_MAX_N}"
                results[f"bruss{n}.compile"] = {"median_s": None, "failed": why}
                print(f"  N={n}: {why}", flush=True)
                continue
            measure(build, case, a.scale, results)
        form = "SX, cse" if tool == "casadi" else "MX + map"
        out = a.out if tool == "casadi" else os.path.join(os.path.dirname(a.out), f"{tool}.json")
        save(
            out,
            tool,
            f"casadi {ca.__version__} ({form}), C by CodeGenerator, {gcc_version} -O3",
            results,
            threads=1,
        )


if __name__ == "__main__":
    main()
