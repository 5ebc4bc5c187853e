"""CasADi peer: the 2-D Brusselator of examples/brusselator2d.sci built from SX symbols, its
right-hand side and sparse Jacobian (`casadi.jacobian`) generated as C by CasADi's
CodeGenerator, compiled with `gcc -O3` into a shared library, and timed per call from C
(a loop in a small harness, so Python's call overhead is not counted).

Compile time = building the expressions and Functions + generating C + `gcc -O3`; the
three parts are reported separately too."""

import ctypes
import os
import subprocess
import sys
import tempfile
import time

import casadi as ca
import numpy as np

from common import args, csr_to_dict, load, rel_diff, save, sparse_diff, summary

HARNESS = r"""
#include <time.h>
typedef long long int casadi_int;
typedef int (*fn_t)(const double**, double**, casadi_int*, double*, int);
int bru_rhs(const double**, double**, casadi_int*, double*, int);
int bru_jac(const double**, double**, casadi_int*, double*, int);

/* Calls the rhs (which = 0) or the Jacobian (which = 1) n times; returns seconds. */
double run_loop(int which, long n, const double* y, const double* p, double* out,
                casadi_int* iw, double* w) {
    fn_t f = which == 0 ? bru_rhs : bru_jac;
    const double* arg[8] = {y, p, 0, 0, 0, 0, 0, 0};
    double* res[8] = {out, 0, 0, 0, 0, 0, 0, 0};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) f(arg, res, iw, w, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
}
"""


def build(n):
    """The SX expressions and Functions (rhs and sparse Jacobian)."""
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


def generate(f, j, directory):
    cg = ca.CodeGenerator("bru.c", {"with_header": False})
    cg.add(f)
    cg.add(j)
    cg.generate(directory + os.sep)
    return os.path.join(directory, "bru.c")


def gcc(args_):
    subprocess.run(["gcc", *args_], check=True)


def compile_all(n, directory):
    """Build + generate + gcc -O3; returns (seconds per part, f, j, object file)."""
    t0 = time.perf_counter()
    f, j = build(n)
    t1 = time.perf_counter()
    src = generate(f, j, directory)
    t2 = time.perf_counter()
    obj = os.path.join(directory, "bru.o")
    gcc(["-O3", "-fPIC", "-c", src, "-o", obj])
    t3 = time.perf_counter()
    return {"build": t1 - t0, "codegen": t2 - t1, "gcc": t3 - t2}, f, j, obj


def time_c(lib, which, y, p, out, iw, w, min_samples, budget_s):
    """The procedure of common.time_calls, with the call loop in C."""
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    run = lambda k: lib.run_loop(which, k, ptr(y), ptr(p), ptr(out), ptr(iw), ptr(w))
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


def main():
    a = args(__doc__)
    cases = load(a.data)["brusselator"]
    results = {}
    for case in cases:
        n = case["n"]
        key = f"bruss{n}"
        with tempfile.TemporaryDirectory() as d:
            # Compile time: fresh expressions, fresh C, fresh gcc each time. gcc takes a
            # minute or more here, so this is repeated only while the budget lasts.
            parts, runs = [], []
            budget = time.perf_counter() + 60.0 * a.scale
            while not runs or (time.perf_counter() < budget and len(runs) < 3):
                part, f, j, obj = compile_all(n, d)
                parts.append(part)
                runs.append(sum(part.values()))
            comp = summary(runs)
            comp["parts_median_s"] = {
                k: float(np.median([p[k] for p in parts])) for k in parts[0]
            }
            results[f"{key}.compile"] = comp

            # The library the timings use: the generated object + the timing harness.
            harness = os.path.join(d, "harness.c")
            with open(harness, "w") as h:
                h.write(HARNESS)
            so = os.path.join(d, "bru.so")
            gcc(["-O3", "-fPIC", "-shared", obj, harness, "-o", so])
            lib = ctypes.CDLL(so)
            lib.run_loop.restype = ctypes.c_double
            lib.run_loop.argtypes = [ctypes.c_int, ctypes.c_long] + [ctypes.c_void_p] * 5

            y = np.ascontiguousarray(case["y"], dtype=np.float64)
            p = np.ascontiguousarray(case["params"], dtype=np.float64)
            for which, fn, name in [(0, f, "rhs"), (1, j, "jac")]:
                if fn.sz_arg() > 8 or fn.sz_res() > 8:
                    sys.exit("casadi: the harness passes at most 8 arguments")
                iw = np.zeros(max(fn.sz_iw(), 1), dtype=np.int64)
                w = np.zeros(max(fn.sz_w(), 1), dtype=np.float64)
                out = np.zeros(max(fn.nnz_out(0), 1), dtype=np.float64)
                lib.run_loop(which, 1, *(x.ctypes.data_as(ctypes.c_void_p) for x in (y, p, out, iw, w)))
                if name == "rhs":
                    check = {"vs_sci": rel_diff(out[: 2 * n * n], case["rhs"])}
                else:
                    sp = fn.sparsity_out(0)
                    rows, cols = sp.get_triplet()
                    peer = {}
                    for r, c, x in zip(rows, cols, out):
                        peer[(r, c)] = peer.get((r, c), 0.0) + float(x)
                    diff, note = sparse_diff(peer, csr_to_dict(case))
                    check = {"vs_sci": diff, "pattern": note}
                t = time_c(lib, which, y, p, out, iw, w, 11, 2.0 * a.scale)
                t["check"] = check
                results[f"{key}.{name}"] = t
        print(
            f"casadi bruss N={n}: compile {comp['median_s']:.2f} s {comp['parts_median_s']}, "
            f"rhs {results[key + '.rhs']['median_s'] * 1e6:.1f} us, "
            f"jac {results[key + '.jac']['median_s'] * 1e6:.1f} us, checks "
            f"{results[key + '.rhs']['check']['vs_sci']:.1e} {results[key + '.jac']['check']['vs_sci']:.1e}"
        )
    gcc_version = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout
    save(
        a.out,
        "casadi",
        f"casadi {ca.__version__}, C by CodeGenerator (cse), {gcc_version.splitlines()[0]} -O3",
        results,
        threads=1,
    )


if __name__ == "__main__":
    main()
