"""Compiled sci functions as JAX primitives: usable inside ``jax.jit``, ``jax.vmap`` and
``jax.grad``/``jax.value_and_grad``.

    import jax, jax.numpy as jnp, sci, sci.jax
    jax.config.update("jax_enable_x64", True)      # sci computes in float64
    model = sci.compile("examples/burgers_pinn.sci").model()
    loss = sci.jax.loss(model)                     # loss(theta, inputs) -> scalar
    value, grad = jax.jit(jax.value_and_grad(loss))(theta, inputs)

The calls go through XLA's FFI: a custom call into sci's compiled code, with no Python on
the call path (``via="ffi"``, the default where JAX has ``jax.ffi``); ``via="callback"``
uses ``jax.pure_callback`` instead. Gradients come from sci: the backward pass of ``loss``
is sci's compiled gradient (computed with the value in one call, the forward pass once),
that of ``rhs`` sci's compiled reverse-mode product (``vjp.rhs``).

What is differentiated: ``loss`` with respect to θ (its ``inputs`` — collocation points,
data — are data: they are read through ``jax.lax.stop_gradient``), ``rhs`` with respect to
``y`` and θ (not ``t``). A free function (``function``) has no derivative here; JAX says so
if one is asked for. ``vmap`` runs the call once per batch element.
"""

from __future__ import annotations

import ctypes
from typing import Callable, Dict, Mapping

import numpy as np

import jax
import jax.numpy as jnp

from . import _sci
from ._sci import Function, Model

__all__ = ["loss", "rhs", "function", "ffi_available"]

_TARGET = "sci_call"
_registered = False


def ffi_available() -> bool:
    """Whether this JAX has the FFI (``jax.ffi``) the default path uses."""
    return hasattr(jax, "ffi") and hasattr(jax.ffi, "ffi_call")


def _ensure_target() -> None:
    global _registered
    if not _registered:
        capsule = jax.ffi.pycapsule(ctypes.c_void_p(_sci.ffi_handler_address()))
        jax.ffi.register_ffi_target(_TARGET, capsule, platform="cpu")
        _registered = True


def _check_x64() -> None:
    if not jax.config.read("jax_enable_x64"):
        raise RuntimeError(
            "sci computes in float64, but JAX is in 32-bit mode: call "
            '`jax.config.update("jax_enable_x64", True)` first.'
        )


def _via(via: str) -> str:
    if via == "auto":
        return "ffi" if ffi_available() else "callback"
    if via not in ("ffi", "callback"):
        raise ValueError(f'`via` is "auto", "ffi" or "callback", not {via!r}.')
    if via == "ffi" and not ffi_available():
        raise RuntimeError("This JAX has no `jax.ffi`; use via=\"callback\".")
    return via


def _f64(x):
    return jnp.asarray(x, dtype=jnp.float64)


def _ffi(handle: int, results):
    _ensure_target()
    call = jax.ffi.ffi_call(_TARGET, results, vmap_method="sequential")

    def run(*args):
        return call(*args, handle=np.int64(handle))

    return run


def loss(model: Model, *, via: str = "auto") -> Callable:
    """``loss(theta, inputs)``: the model's loss at θ on ``inputs`` (a dict from each name
    of ``model.loss_inputs`` to its points; ``model.sample_inputs()`` gives what ``sci
    train`` uses), as a JAX function differentiable in θ."""
    via = _via(via)
    names = [name for name, _ in model.loss_inputs]
    n = model.n_params
    scalar = jax.ShapeDtypeStruct((), jnp.float64)
    grad_shape = jax.ShapeDtypeStruct((n,), jnp.float64)
    if via == "ffi":
        value = _ffi(_sci.jax_register(model, "loss", names), scalar)
        value_grad = _ffi(_sci.jax_register(model, "loss_and_grad", names), (scalar, grad_shape))
    else:
        def host_value(theta, *xs):
            return np.float64(model.loss(np.asarray(theta), dict(zip(names, map(np.asarray, xs)))))

        def host_value_grad(theta, *xs):
            v, g = model.loss_and_grad(np.asarray(theta), dict(zip(names, map(np.asarray, xs))))
            return np.float64(v), g

        def value(theta, *xs):
            return jax.pure_callback(host_value, scalar, theta, *xs, vmap_method="sequential")

        def value_grad(theta, *xs):
            return jax.pure_callback(
                host_value_grad, (scalar, grad_shape), theta, *xs, vmap_method="sequential"
            )

    @jax.custom_vjp
    def primitive(theta, *xs):
        return value(theta, *xs)

    def forward(theta, *xs):
        v, g = value_grad(theta, *xs)
        return v, (g, xs)

    def backward(saved, cotangent):
        g, xs = saved
        return (cotangent * g, *(jnp.zeros_like(x) for x in xs))

    primitive.defvjp(forward, backward)

    def call(theta, inputs: Mapping[str, object]):
        _check_x64()
        missing = [name for name in names if name not in inputs]
        if missing:
            raise KeyError(
                f"`inputs` lacks the loss inputs {', '.join(missing)}; "
                "`model.loss_inputs` lists them all."
            )
        extra = [name for name in inputs if name not in names]
        if extra:
            raise KeyError(
                f"The loss of `{model.name}` has no input `{extra[0]}`; "
                f"its inputs are: {', '.join(names)}."
            )
        theta = _f64(theta)
        if theta.shape[-1:] != (n,):
            raise ValueError(
                f"`theta` must have {n} elements (the parameters of `{model.name}`); "
                f"it has shape {theta.shape}."
            )
        xs = [jax.lax.stop_gradient(_f64(inputs[name])) for name in names]
        return primitive(theta, *xs)

    call.__doc__ = f"The loss of sci model `{model.name}`: loss(theta, inputs)."
    return call


def rhs(model: Model, *, via: str = "auto") -> Callable:
    """``rhs(t, y, theta)``: the model's right-hand side ``f(t, y; θ)`` as a JAX function,
    differentiable in ``y`` and θ (reverse mode: sci's compiled ``vjp.rhs``)."""
    via = _via(via)
    n, m = model.n_states, model.n_params
    out = jax.ShapeDtypeStruct((n,), jnp.float64)
    vjp_shapes = (out, jax.ShapeDtypeStruct((m,), jnp.float64))
    if via == "ffi":
        value = _ffi(_sci.jax_register(model, "rhs"), out)
        vjp = _ffi(_sci.jax_register(model, "rhs_vjp"), vjp_shapes)
    else:
        def host_value(t, y, theta):
            return model.rhs(float(t), np.asarray(y), np.asarray(theta))

        def host_vjp(t, y, theta, v):
            return model.rhs_vjp(float(t), np.asarray(y), np.asarray(v), np.asarray(theta))

        def value(t, y, theta):
            return jax.pure_callback(host_value, out, t, y, theta, vmap_method="sequential")

        def vjp(t, y, theta, v):
            return jax.pure_callback(host_vjp, vjp_shapes, t, y, theta, v, vmap_method="sequential")

    @jax.custom_vjp
    def primitive(t, y, theta):
        return value(t, y, theta)

    def forward(t, y, theta):
        return value(t, y, theta), (t, y, theta)

    def backward(saved, cotangent):
        t, y, theta = saved
        ct_y, ct_theta = vjp(t, y, theta, cotangent)
        return (jnp.zeros_like(t), ct_y, ct_theta)

    primitive.defvjp(forward, backward)

    def call(t, y, theta=None):
        _check_x64()
        theta = model.params if theta is None else theta
        return primitive(jax.lax.stop_gradient(_f64(t)), _f64(y), _f64(theta))

    call.__doc__ = f"The right-hand side of sci model `{model.name}`: rhs(t, y, theta)."
    return call


def function(fn: Function, *, via: str = "auto") -> Callable:
    """A free function of a program (``program.function("name")``) as a JAX function
    (forward only: JAX reports an error if its derivative is asked for)."""
    via = _via(via)
    handles: Dict[tuple, int] = {}

    def call(*args):
        _check_x64()
        args = [_f64(a) for a in args]
        shapes = tuple(tuple(a.shape) for a in args)
        # The result's shape: one call on zeros of these shapes, once per signature.
        if shapes not in handles:
            probe = fn(*[np.zeros(s) for s in shapes])
            handles[shapes] = (np.shape(probe), None)
        result_shape, handle = handles[shapes]
        out = jax.ShapeDtypeStruct(result_shape, jnp.float64)
        if via == "ffi":
            if handle is None:
                handle = _sci.jax_register_function(fn, [list(s) for s in shapes])
                handles[shapes] = (result_shape, handle)
            return _ffi(handle, out)(*args)
        return jax.pure_callback(
            lambda *xs: np.asarray(fn(*xs), dtype=np.float64), out, *args,
            vmap_method="sequential",
        )

    return call
