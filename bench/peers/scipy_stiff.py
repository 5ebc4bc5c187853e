"""SciPy peer: the stiff solves with `scipy.integrate.solve_ivp(method="BDF")` at the same
tolerances and output times as sci, with analytic Jacobians (dense for Robertson, sparse CSC
for the 2-D Brusselator, so SciPy factorises it with SuperLU). Both Jacobians and right-hand
sides are checked against sci's values first."""

import time

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from common import args, csr_to_dict, load, max_rel_diff, rel_diff, save, sparse_diff, time_calls


def robertson(inp, scale):
    k1, k2, k3 = inp["params"]

    def f(t, y):
        y1, y2, y3 = y
        return np.array(
            [-k1 * y1 + k3 * y2 * y3, k1 * y1 - k3 * y2 * y3 - k2 * y2 * y2, k2 * y2 * y2]
        )

    def jac(t, y):
        y1, y2, y3 = y
        return np.array(
            [
                [-k1, k3 * y3, k3 * y2],
                [k1, -k3 * y3 - 2 * k2 * y2, -k3 * y2],
                [0.0, 2 * k2 * y2, 0.0],
            ]
        )

    return solve_case(inp, f, jac, inp["y0"], scale, min_samples=5)


def brusselator_fns(n, params):
    nn = n * n
    a, b, alpha = params
    c = alpha * n * n  # alpha / dx^2

    def lap(w):
        w = w.reshape(n, n)
        return (
            np.roll(w, 1, 0) + np.roll(w, -1, 0) + np.roll(w, 1, 1) + np.roll(w, -1, 1) - 4 * w
        ).ravel()

    def f(t, y):
        u, v = y[:nn], y[nn:]
        uuv = u * u * v
        return np.concatenate([a + uuv - (b + 1) * u + c * lap(u), b * u - uuv + c * lap(v)])

    # The periodic 5-point Laplacian on the flat index i*n + j.
    idx = np.arange(nn).reshape(n, n)
    rows = np.repeat(idx.ravel(), 5)
    cols = np.stack(
        [
            idx,
            np.roll(idx, 1, 0),
            np.roll(idx, -1, 0),
            np.roll(idx, 1, 1),
            np.roll(idx, -1, 1),
        ],
        axis=-1,
    ).ravel()
    vals = np.tile([-4.0, 1.0, 1.0, 1.0, 1.0], nn)
    L = sp.csr_matrix((vals, (rows, cols)), shape=(nn, nn)) * c

    def jac(t, y):
        u, v = y[:nn], y[nn:]
        return sp.bmat(
            [
                [sp.diags(2 * u * v - (b + 1)) + L, sp.diags(u * u)],
                [sp.diags(b - 2 * u * v), sp.diags(-u * u) + L],
            ],
            format="csc",
        )

    return f, jac


def solve_case(inp, f, jac, y0, scale, min_samples, once=False):
    """Times the solve (`once`: by its one run, for a size too slow to repeat) and checks it
    against sci's values and the reference solution (when there is one)."""
    times = np.asarray(inp["times"])

    def solve():
        return solve_ivp(
            f,
            (0.0, inp["t_end"]),
            np.asarray(y0, dtype=float),
            method="BDF",
            t_eval=times,
            rtol=inp["rtol"],
            atol=inp["atol"],
            jac=jac,
        )

    started = time.perf_counter()
    sol = solve()
    first = time.perf_counter() - started
    if not sol.success:
        raise SystemExit(f"scipy: the solve failed: {sol.message}")
    y = sol.y.T.tolist()
    if once:
        t = {"median_s": first, "min_s": first, "max_s": first, "samples": 1, "calls_per_sample": 1}
    else:
        t = time_calls(solve, min_samples, 8.0 * scale)
    t["stats"] = {"rhs_evals": int(sol.nfev), "jacobian_evals": int(sol.njev), "lu": int(sol.nlu)}
    reference = inp.get("reference")
    t["check"] = {
        "vs_sci": max_rel_diff(y, inp["states"]),
        "vs_reference": None if reference is None else max_rel_diff(y, reference),
    }
    return t


def main():
    a = args(__doc__)
    data = load(a.data)
    results = {"robertson.solve": robertson(data["robertson"], a.scale)}
    print(f"scipy robertson: {results['robertson.solve']['median_s'] * 1e3:.2f} ms")

    # The Brusselator's kernels against sci's values at sci's test state, then the solve.
    inp = data["brusselator_solve"]
    n = inp["n"]
    f, jac = brusselator_fns(n, inp["params"])
    case = next(c for c in data["brusselator"] if c["n"] == n)
    y = np.asarray(case["y"])
    rhs_check = rel_diff(f(0.0, y), case["rhs"])
    j = jac(0.0, y).tocoo()
    peer = {}
    for r, c, v in zip(j.row, j.col, j.data):
        peer[(int(r), int(c))] = peer.get((int(r), int(c)), 0.0) + float(v)
    jac_check, _ = sparse_diff(peer, csr_to_dict(case))
    t = solve_case(inp, f, jac, inp["y0"], a.scale, min_samples=3)
    t["check"]["kernels"] = {"rhs": rhs_check, "jac": jac_check}
    results[f"bruss{n}.solve"] = t
    print(f"scipy bruss N={n}: {t['median_s']:.3f} s, checks {t['check']}")

    # The large size, solved once (its kernels were checked at N = 32: same formulas).
    large = data.get("brusselator_solve_large")
    if large is not None:
        n = large["n"]
        f, jac = brusselator_fns(n, large["params"])
        t = solve_case(large, f, jac, large["y0"], a.scale, min_samples=1, once=True)
        results[f"bruss{n}.solve"] = t
        print(f"scipy bruss N={n}: {t['median_s']:.1f} s, checks {t['check']}")
    save(a.out, "scipy", f"scipy {scipy.__version__}, numpy {np.__version__}", results, threads=1)


if __name__ == "__main__":
    main()
