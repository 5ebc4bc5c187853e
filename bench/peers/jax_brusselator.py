"""JAX peer: the 2-D Brusselator of examples/brusselator2d.sci (periodic, N x N grid, u then
v in the state, each row-major), its right-hand side and its dense Jacobian
(`jax.jit(jax.jacfwd(rhs))`), per call, on sci's states; and the time to compile both.
Where the dense Jacobian would not fit in memory (DENSE_LIMIT_GB; N = 128 needs 8 GiB),
only the right-hand side runs, and the Jacobian and compile rows say why."""

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import args, csr_to_dict, load, rel_diff, save, summary, time_calls

jax.config.update("jax_enable_x64", True)

# The largest dense Jacobian this peer builds, in GiB.
DENSE_LIMIT_GB = 2.0


def make_rhs(n):
    nn = n * n
    dx = 1.0 / n

    def lap(w):
        return (
            jnp.roll(w, 1, 0) + jnp.roll(w, -1, 0) + jnp.roll(w, 1, 1) + jnp.roll(w, -1, 1)
        ) - 4 * w

    def rhs(y, p):
        a, b, alpha = p[0], p[1], p[2]
        u = y[:nn].reshape(n, n)
        v = y[nn:].reshape(n, n)
        du = a + u * u * v - (b + 1) * u + alpha * lap(u) / dx**2
        dv = b * u - u * u * v + alpha * lap(v) / dx**2
        return jnp.concatenate([du.ravel(), dv.ravel()])

    return rhs


def compile_both(n, y, p):
    """Ahead-of-time compilation of both functions (what the compile time measures)."""
    rhs = make_rhs(n)
    f = jax.jit(rhs).lower(y, p).compile()
    j = jax.jit(jax.jacfwd(rhs)).lower(y, p).compile()
    return f, j


def jitted(n, y, p):
    """The jitted functions, warmed up: calls take JAX's fast C++ dispatch path, which the
    objects of `compile_both` do not."""
    rhs = make_rhs(n)
    f, j = jax.jit(rhs), jax.jit(jax.jacfwd(rhs))
    f(y, p).block_until_ready()
    j(y, p).block_until_ready()
    return f, j


def main():
    a = args(__doc__)
    cases = load(a.data)["brusselator"]
    results = {}
    for case in cases:
        n = case["n"]
        key = f"bruss{n}"
        y = jnp.asarray(case["y"])
        p = jnp.asarray(case["params"])
        dense_gb = (2 * n * n) ** 2 * 8 / 2**30
        if dense_gb > DENSE_LIMIT_GB:
            f = jax.jit(make_rhs(n))
            f(y, p).block_until_ready()
            t = time_calls(lambda: f(y, p).block_until_ready(), 11, 2.0 * a.scale)
            t["check"] = {"vs_sci": rel_diff(f(y, p), case["rhs"])}
            results[f"{key}.rhs"] = t
            why = f"not run: the dense Jacobian takes {dense_gb:.0f} GiB"
            results[f"{key}.jac"] = {"median_s": None, "failed": why}
            results[f"{key}.compile"] = {"median_s": None, "failed": why}
            print(f"jax bruss N={n}: rhs {t['median_s'] * 1e6:.1f} us; Jacobian {why}")
            continue
        f, j = jitted(n, y, p)
        dy = f(y, p).block_until_ready()
        jac = np.asarray(j(y, p).block_until_ready())
        rhs_check = rel_diff(dy, case["rhs"])
        sci = csr_to_dict(case)
        rows, cols = zip(*sci.keys())
        on = jac[np.array(rows), np.array(cols)]
        scale = max(abs(v) for v in sci.values())
        diff_on = float(np.max(np.abs(on - np.array(list(sci.values())))))
        off = float(np.abs(jac).sum() - np.abs(on).sum())
        jac_check = max(diff_on, abs(off)) / scale
        del jac

        t = time_calls(lambda: f(y, p).block_until_ready(), 11, 2.0 * a.scale)
        t["check"] = {"vs_sci": rhs_check}
        results[f"{key}.rhs"] = t
        t = time_calls(lambda: j(y, p).block_until_ready(), 5, 3.0 * a.scale)
        t["check"] = {"vs_sci": jac_check, "pattern": "dense"}
        results[f"{key}.jac"] = t

        times = []
        budget = time.perf_counter() + 10.0 * a.scale
        while len(times) < 3 or (time.perf_counter() < budget and len(times) < 11):
            t0 = time.perf_counter()
            compile_both(n, y, p)
            times.append(time.perf_counter() - t0)
        results[f"{key}.compile"] = summary(times)
        print(
            f"jax bruss N={n}: rhs {results[key + '.rhs']['median_s'] * 1e6:.1f} us, "
            f"jac {results[key + '.jac']['median_s'] * 1e3:.2f} ms, checks "
            f"{rhs_check:.1e} {jac_check:.1e}"
        )
    save(
        a.out,
        "jax",
        f"jax {jax.__version__} (jaxlib, CPU, float64)",
        results,
        threads=len(os.sched_getaffinity(0)),
    )


if __name__ == "__main__":
    main()
