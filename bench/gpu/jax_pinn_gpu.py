"""JAX on the GPU: the Burgers PINN step `jax.jit(jax.value_and_grad(loss))` in float64 on
sci's θ and collocation points (written by `sci gpu-check --dump inputs.json`), the peer of
sci's GPU step in bench/gpu/run.sh.

The loss is bench/peers/jax_pinn.py's (copied next to this file by prepare.sh): the MLP
2-20-20-20-1 with tanh laid out as sci lays out θ, u_t + u u_x − ν u_xx on the PDE points
plus the initial and boundary residuals, each a mean of squares. Both formulations of the
input derivatives are timed (forward-mode `jvp` and nested `grad`); the faster one counts.
"""

import argparse
import json
import math
import sys

import jax
import jax.numpy as jnp

from common import rel_diff, time_calls
from jax_pinn import make_loss  # also switches on float64 (jax_enable_x64)

NU = 0.01 / math.pi  # examples/burgers_pinn.sci: const nu = 0.01 / π
INPUTS = ["pde.t", "pde.x", "initial.t", "initial.x", "boundary.t", "boundary.x"]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="inputs.json from sci gpu-check --dump")
    p.add_argument("--out", required=True, help="results file to write")
    p.add_argument("--budget", type=float, default=3.0, help="seconds of timing per variant")
    p.add_argument("--platform", default="gpu", help="gpu, or cpu to try the script without one")
    a = p.parse_args()

    found = [d for d in jax.devices() if d.platform == a.platform] if a.platform == "gpu" else jax.devices("cpu")
    if not found:
        print(f"error: JAX sees no GPU (devices: {jax.devices()})", file=sys.stderr)
        sys.exit(2)
    device = found[0]
    with open(a.data) as f:
        data = json.load(f)
    theta = jax.device_put(jnp.asarray(data["theta"], dtype=jnp.float64), device)
    inputs = [jax.device_put(jnp.asarray(data["points"][k], dtype=jnp.float64), device) for k in INPUTS]
    points = sum(len(data["points"][k]) for k in INPUTS[::2])

    def step(f):
        loss, grad = f(theta, *inputs)
        loss.block_until_ready()
        grad.block_until_ready()
        return loss, grad

    variants = {}
    for mode in ["forward", "reverse"]:
        f = jax.jit(jax.value_and_grad(make_loss(data["layers"], NU, mode)))
        loss, grad = step(f)  # compile and warm up
        check = {
            "loss": rel_diff([float(loss)], [data["loss"]]),
            "grad": rel_diff(grad, data["grad"]),
        }
        check["vs_sci"] = max(check["loss"], check["grad"])
        t = time_calls(lambda: step(f), 11, a.budget)
        t["check"] = check
        t["variant"] = mode
        variants[mode] = t
        print(
            f"jax {device.platform} {mode}: {t['median_s'] * 1e3:.3f} ms/step on {points} points, "
            f"difference from sci's CPU step {check['vs_sci']:.1e}"
        )
    best = min(variants, key=lambda m: variants[m]["median_s"])
    doc = {
        "tool": "jax",
        "version": jax.__version__,
        "device": getattr(device, "device_kind", str(device)),
        "points": points,
        "loss_grad": variants[best],
        "variants": variants,
    }
    with open(a.out, "w") as f:
        json.dump(doc, f)
    if variants[best]["check"]["vs_sci"] > 1e-8:
        print("error: JAX's step differs from sci's: not the same loss", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
