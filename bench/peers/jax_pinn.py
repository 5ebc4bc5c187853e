"""JAX peer: the Burgers PINN of examples/burgers_pinn.sci, loss + gradient with
`jax.jit(jax.value_and_grad(loss))`, on sci's network weights and collocation points.

The network is sci's `mlp(hidden: [20, 20, 20], activation: tanh)`: u(t, x) =
W3 tanh(W2 tanh(W1 tanh(W0 [t, x] + b0) + b1) + b2) + b3, with θ laid out as sci lays it
out (each W row-major, out × in, then its b). Input derivatives are taken in forward mode
(`jax.jvp`; u, u_x, u_xx in one nested pass, u_t in another) and `vmap`ped over the points,
the fastest of the formulations we tried (see bench/README.md); the gradient with respect
to θ is reverse mode over all of it, as sci's is.
"""

import math
import os
import time

import jax
import jax.numpy as jnp

from common import args, load, rel_diff, save, summary, time_calls

jax.config.update("jax_enable_x64", True)


def make_loss(layers, nu, mode):
    # (W, b) slices of θ per layer, in order.
    slots = {s["name"]: s for s in layers}
    depth = len(layers) // 2
    shapes = []
    for k in range(depth):
        w, b = slots[f"u.w{k}"], slots[f"u.b{k}"]
        shapes.append((w["offset"], tuple(w["shape"]), b["offset"], b["shape"][0]))

    def net(theta, t, x):
        h = jnp.stack([t, x])
        for k, (wo, ws, bo, bn) in enumerate(shapes):
            w = theta[wo : wo + ws[0] * ws[1]].reshape(ws)
            b = theta[bo : bo + bn]
            h = w @ h + b
            if k < depth - 1:
                h = jnp.tanh(h)
        return h[0]

    if mode == "forward":

        def pde(theta, t, x):
            def u_ux(x):
                return jax.jvp(lambda x: net(theta, t, x), (x,), (jnp.ones_like(x),))

            (u, ux), (_, uxx) = jax.jvp(u_ux, (x,), (jnp.ones_like(x),))
            _, ut = jax.jvp(lambda t: net(theta, t, x), (t,), (jnp.ones_like(t),))
            return ut + u * ux - nu * uxx

    else:  # nested reverse mode, the textbook formulation

        def pde(theta, t, x):
            u = net(theta, t, x)
            ut = jax.grad(net, argnums=1)(theta, t, x)
            ux_fn = jax.grad(net, argnums=2)
            ux = ux_fn(theta, t, x)
            uxx = jax.grad(ux_fn, argnums=2)(theta, t, x)
            return ut + u * ux - nu * uxx

    batched_net = jax.vmap(net, in_axes=(None, 0, 0))
    batched_pde = jax.vmap(pde, in_axes=(None, 0, 0))

    def loss(theta, pt, px, it, ix, bt, bx):
        r = batched_pde(theta, pt, px)
        i = batched_net(theta, it, ix) + jnp.sin(math.pi * ix)
        b = batched_net(theta, bt, bx)
        return jnp.mean(r**2) + jnp.mean(i**2) + jnp.mean(b**2)

    return loss


def main():
    a = args(__doc__)
    data = load(a.data)["pinn"]
    pts = data["points"]
    theta = jnp.asarray(data["theta"])
    inputs = [
        jnp.asarray(pts[k])
        for k in ["pde.t", "pde.x", "initial.t", "initial.x", "boundary.t", "boundary.x"]
    ]

    def compiled(mode):
        """Ahead-of-time compilation (what the compile time measures)."""
        f = jax.jit(jax.value_and_grad(make_loss(data["layers"], data["nu"], mode)))
        return f.lower(theta, *inputs).compile()

    def jitted(mode):
        """The jitted function, warmed up: calls take JAX's fast C++ dispatch path."""
        f = jax.jit(jax.value_and_grad(make_loss(data["layers"], data["nu"], mode)))
        step(f)
        return f

    def step(f):
        loss, grad = f(theta, *inputs)
        loss.block_until_ready()
        grad.block_until_ready()
        return loss, grad

    results = {}
    modes = {}
    for mode in ["forward", "reverse"]:
        f = jitted(mode)
        loss, grad = step(f)
        check = {
            "loss": rel_diff([float(loss)], [data["loss"]]),
            "grad": rel_diff(grad, data["grad"]),
        }
        check["vs_sci"] = max(check["loss"], check["grad"])
        t = time_calls(lambda: step(f), 11, 3.0 * a.scale)
        t["check"] = check
        t["variant"] = mode
        modes[mode] = t
        print(f"jax pinn {mode}: {t['median_s'] * 1e3:.3f} ms/step, check {check}")
    best = min(modes, key=lambda m: modes[m]["median_s"])
    results["pinn.loss_grad"] = dict(modes[best])
    results["pinn.loss_grad"]["other_variants"] = {
        m: modes[m]["median_s"] for m in modes if m != best
    }

    # The loss alone, for where the time goes.
    loss_fn = jax.jit(make_loss(data["layers"], data["nu"], best))
    loss_fn(theta, *inputs).block_until_ready()
    t = time_calls(lambda: loss_fn(theta, *inputs).block_until_ready(), 11, 2.0 * a.scale)
    t["check"] = {"vs_sci": rel_diff([float(loss_fn(theta, *inputs))], [data["loss"]])}
    results["pinn.loss"] = t

    # Compile time: trace + lower + XLA compile of a fresh function each time.
    times = []
    budget = time.perf_counter() + 10.0 * a.scale
    while len(times) < 5 or (time.perf_counter() < budget and len(times) < 21):
        t = time.perf_counter()
        compiled(best)
        times.append(time.perf_counter() - t)
    results["pinn.compile"] = summary(times)
    results["pinn.compile"]["variant"] = best

    save(
        a.out,
        "jax",
        f"jax {jax.__version__} (jaxlib, CPU, float64)",
        results,
        threads=len(os.sched_getaffinity(0)),
        devices=[str(d) for d in jax.devices()],
    )


if __name__ == "__main__":
    main()
