"""The Python package's cost over the Rust API, and of sci inside jax.jit: the calls of
`benches/api.rs` made from Python, in the same run (bench/python_api.sh), written to
docs/python-benchmarks.md.

    python bench/python_api.py RUST.json OUT.md
"""

import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import numpy as np

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import sci  # noqa: E402
import sci.jax  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
from common import time_calls  # noqa: E402

EXAMPLES = HERE.parent / "examples"
ROBERTSON_TIMES = [0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 1e5]
FFI_LOOP = 1000


def robertson_rhs_jnp(y, k):
    """Robertson's right-hand side in jnp (the baseline of the FFI loop)."""
    k1, k2, k3 = k[0], k[1], k[2]
    return jnp.stack([
        -k1 * y[0] + k3 * y[1] * y[2],
        k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2],
        k2 * y[1] ** 2,
    ])


def main(rust_path, out_path):
    rust = json.loads(pathlib.Path(rust_path).read_text())
    rows = []

    robertson = sci.compile(EXAMPLES / "robertson.sci").model()
    theta = robertson.params
    settings = dict(t_span=(0.0, 1e5), solver="bdf", rtol=1e-6, atol=1e-9, jacobian="dense")
    solve = time_calls(lambda: robertson.simulate(ROBERTSON_TIMES, theta, **settings), 11, 8.0)
    rows.append(("Robertson BDF solve to t = 1e5", rust["robertson.solve"]["median_s"],
                 solve["median_s"], "≤ 1.05"))
    # The same solve through the Rust API in this process, interleaved sample by sample
    # with the Python calls: the binding's own cost, free of drift between two runs.
    calls = max(1, int(2e-3 / solve["median_s"]))
    rust_side, python_side = [], []
    for _ in range(201):
        rust_side.append(sci._sci.rust_simulate_seconds(
            robertson, ROBERTSON_TIMES, theta, calls, **settings))
        started = time.perf_counter()
        for _ in range(calls):
            robertson.simulate(ROBERTSON_TIMES, theta, **settings)
        python_side.append((time.perf_counter() - started) / calls)
    rows.append(("Robertson BDF solve, interleaved in one process",
                 float(np.median(rust_side)), float(np.median(python_side)), "≤ 1.05"))
    y = robertson.y0()
    rhs = time_calls(lambda: robertson.rhs(0.0, y, theta), 11, 2.0)
    rows.append(("Robertson `rhs`, one call", rust["robertson.rhs"]["median_s"],
                 rhs["median_s"], "reported"))

    burgers = sci.compile(EXAMPLES / "burgers_pinn.sci").model()
    inputs = burgers.sample_inputs(0)
    assert {k: len(v) for k, v in inputs.items()} == rust["pinn.points"], "same points"
    theta = burgers.params
    direct = time_calls(lambda: burgers.loss_and_grad(theta, inputs), 11, 4.0)
    rows.append(("Burgers PINN loss + gradient", rust["pinn.loss_grad"]["median_s"],
                 direct["median_s"], "reported"))
    jax_inputs = {k: jnp.asarray(v) for k, v in inputs.items()}
    jax_theta = jnp.asarray(theta)
    for via in ["ffi", "callback"]:
        step = jax.jit(jax.value_and_grad(sci.jax.loss(burgers, via=via)))
        jax.block_until_ready(step(jax_theta, jax_inputs))
        timed = time_calls(lambda: jax.block_until_ready(step(jax_theta, jax_inputs)), 11, 4.0)
        rows.append((f"jax.jit(jax.value_and_grad(sci.jax.loss)), {via}",
                     direct["median_s"], timed["median_s"], "≤ 1.10" if via == "ffi" else "reported"))

    # The FFI call's own cost inside a compiled JAX loop: FFI_LOOP calls of sci's rhs
    # against the same loop over the right-hand side written in jnp.
    sci_rhs = sci.jax.rhs(robertson)
    k = jnp.asarray(robertson.params)

    def loop(f):
        def body(_, y):
            return y + 1e-12 * f(y)
        return jax.jit(lambda y0: jax.lax.fori_loop(0, FFI_LOOP, body, y0))

    with_ffi = loop(lambda v: sci_rhs(0.0, v, k))
    with_jnp = loop(lambda v: robertson_rhs_jnp(v, k))
    y0 = jnp.asarray(y)
    np.testing.assert_allclose(np.asarray(with_ffi(y0)), np.asarray(with_jnp(y0)), rtol=1e-12)
    t_ffi = time_calls(lambda: jax.block_until_ready(with_ffi(y0)), 11, 3.0)["median_s"] / FFI_LOOP
    t_jnp = time_calls(lambda: jax.block_until_ready(with_jnp(y0)), 11, 3.0)["median_s"] / FFI_LOOP
    ffi_overhead = t_ffi - t_jnp

    write(out_path, rows, t_ffi, t_jnp, ffi_overhead, rust["pinn.points"])


def fmt(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def write(out_path, rows, t_ffi, t_jnp, overhead, points):
    cpu = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# The Python package's overhead",
        "",
        f"Measured by `bench/python_api.sh` on {now}, every number in one run on one machine "
        f"({cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, JAX {jax.__version__}, sci {sci.__version__}). Medians; "
        "the Rust column is the same call through the Rust API (`benches/api.rs`, its own "
        "process; for the interleaved row, `Model::simulate` called in a loop inside this "
        "process, alternating sample by sample with the Python calls), the ratio is the "
        "Python column over it. See [`python.md`](python.md) for the package.",
        "",
        "| call | Rust API (or direct call) | from Python | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name, base, ours, target in rows:
        lines.append(f"| {name} | {fmt(base)} | {fmt(ours)} | {ours / base:.3f} | {target} |")
    lines += [
        "",
        "The JAX rows compare against the package's own `model.loss_and_grad` (the direct "
        "call), on the points `sci train` draws with seed 0 "
        f"({', '.join(f'{k}: {v}' for k, v in points.items())}).",
        "",
        f"**FFI call overhead**: inside a jitted `lax.fori_loop` of {FFI_LOOP} steps, one call "
        f"of Robertson's `rhs` through the FFI takes {fmt(t_ffi)} per step against "
        f"{fmt(t_jnp)} for the same right-hand side written in `jax.numpy`: "
        f"**{fmt(max(overhead, 0.0))}** per call for the custom call and sci's checks "
        "(target ≤ 5 µs).",
        "",
    ]
    pathlib.Path(out_path).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
