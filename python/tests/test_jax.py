"""sci functions inside JAX: `jax.jit`, `jax.grad`/`value_and_grad` and `jax.vmap` through
the XLA FFI handler and through `jax.pure_callback`; gradients equal sci's own and a
pure-JAX version of the same loss."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import sci  # noqa: E402
import sci.jax  # noqa: E402

from conftest import EXAMPLES  # noqa: E402

VIAS = ["ffi", "callback"]


@pytest.fixture(scope="module")
def burgers():
    return sci.compile(EXAMPLES / "burgers_pinn.sci").model()


@pytest.fixture(scope="module")
def inputs(burgers):
    """The training points, with fewer PDE points (the pure-JAX reference is slow)."""
    drawn = burgers.sample_inputs(seed=2)
    return {k: (v[:512] if k.startswith("pde.") else v) for k, v in drawn.items()}


def jax_burgers_loss(params, inputs):
    """The Burgers PINN's loss written in JAX: the same network (tanh MLP, weights
    `u.wK` of shape (out, in), `u.bK`) and the same three residuals."""
    layers = sorted({k.split(".")[1][1:] for k in params if k.startswith("u.w")}, key=int)

    def u(t, x):
        h = jnp.stack([t, x])
        for k in layers[:-1]:
            h = jnp.tanh(params[f"u.w{k}"] @ h + params[f"u.b{k}"])
        last = layers[-1]
        return (params[f"u.w{last}"] @ h + params[f"u.b{last}"])[0]

    nu = 0.01 / jnp.pi
    u_t = jax.grad(u, 0)
    u_x = jax.grad(u, 1)
    u_xx = jax.grad(u_x, 1)

    def pde(t, x):
        return u_t(t, x) + u(t, x) * u_x(t, x) - nu * u_xx(t, x)

    def initial(t, x):
        return u(t, x) + jnp.sin(jnp.pi * x)

    r_pde = jax.vmap(pde)(inputs["pde.t"], inputs["pde.x"])
    r_init = jax.vmap(initial)(inputs["initial.t"], inputs["initial.x"])
    r_bound = jax.vmap(u)(inputs["boundary.t"], inputs["boundary.x"])
    return jnp.mean(r_pde**2) + jnp.mean(r_init**2) + jnp.mean(r_bound**2)


@pytest.mark.parametrize("via", VIAS)
def test_jax_grad_through_sci_equals_scis_gradient_and_pure_jax(burgers, inputs, via):
    theta = burgers.params
    loss = sci.jax.loss(burgers, via=via)
    value, grad = jax.jit(jax.value_and_grad(loss))(theta, inputs)
    sci_value, sci_grad = burgers.loss_and_grad(theta, inputs)
    assert float(value) == sci_value
    np.testing.assert_array_equal(np.asarray(grad), sci_grad)

    shapes = {name: np.shape(value) for name, value in burgers.parameters().items()}

    def pure(theta):
        named = {}
        offset = 0
        for name, shape in shapes.items():
            size = int(np.prod(shape))
            named[name] = theta[offset : offset + size].reshape(shape)
            offset += size
        return jax_burgers_loss(named, inputs)

    ref_value, ref_grad = jax.jit(jax.value_and_grad(pure))(jnp.asarray(theta))
    assert float(value) == pytest.approx(float(ref_value), rel=1e-12)
    scale = np.abs(np.asarray(ref_grad)).max()
    np.testing.assert_allclose(np.asarray(grad), np.asarray(ref_grad), rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("via", VIAS)
def test_vmap_over_parameters(burgers, inputs, via):
    loss = sci.jax.loss(burgers, via=via)
    thetas = jnp.stack([burgers.params, 0.5 * burgers.params])
    values = jax.jit(jax.vmap(loss, in_axes=(0, None)))(thetas, inputs)
    expected = [burgers.loss(np.asarray(t), inputs) for t in thetas]
    np.testing.assert_array_equal(np.asarray(values), expected)
    grads = jax.vmap(jax.grad(loss), in_axes=(0, None))(thetas, inputs)
    np.testing.assert_array_equal(
        np.asarray(grads[1]), burgers.loss_and_grad(np.asarray(thetas[1]), inputs)[1]
    )


def test_inputs_are_data_not_differentiated(burgers, inputs):
    loss = sci.jax.loss(burgers)
    grad_inputs = jax.grad(loss, argnums=1)(burgers.params, inputs)
    assert all(float(jnp.abs(g).max()) == 0.0 for g in grad_inputs.values())


def test_loss_argument_errors(burgers, inputs):
    loss = sci.jax.loss(burgers)
    with pytest.raises(KeyError, match="lacks the loss inputs pde.t"):
        loss(burgers.params, {k: v for k, v in inputs.items() if k != "pde.t"})
    with pytest.raises(ValueError, match="must have 921 elements"):
        loss(burgers.params[:10], inputs)
    bad = dict(inputs)
    bad["pde.x"] = bad["pde.x"][:-1]
    # Raised inside the compiled computation, with sci's message.
    with pytest.raises(Exception, match="batch|points|elements"):
        jax.block_until_ready(jax.jit(loss)(burgers.params, bad))


@pytest.mark.parametrize("via", VIAS)
def test_rhs_and_its_vector_jacobian_products(via):
    model = sci.compile(EXAMPLES / "lotka_volterra.sci").model()
    rhs = sci.jax.rhs(model, via=via)
    y = jnp.asarray([2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(jax.jit(rhs)(0.5, y)), model.rhs(0.5, np.asarray(y)))
    jac_y = jax.jacrev(lambda v: rhs(0.5, v))(y)
    np.testing.assert_array_equal(np.asarray(jac_y), model.jacobian(0.5, np.asarray(y)))
    theta = jnp.asarray(model.params)
    jac_p = jax.jacrev(lambda p: rhs(0.5, y, p))(theta)
    np.testing.assert_array_equal(np.asarray(jac_p), model.param_jacobian(0.5, np.asarray(y)))
    ys = jnp.stack([y, 2 * y, 3 * y])
    batched = jax.vmap(lambda v: rhs(0.5, v))(ys)
    np.testing.assert_array_equal(
        np.asarray(batched), np.stack([model.rhs(0.5, np.asarray(v)) for v in ys])
    )


@pytest.mark.parametrize("via", VIAS)
def test_free_functions_run_under_jit_and_vmap(via):
    f = sci.compile(EXAMPLES / "rosenbrock.sci").function("rosenbrock")
    g = sci.jax.function(f, via=via)
    x = jnp.asarray([0.5, -0.3, 0.1])
    assert float(jax.jit(g)(x)) == f(np.asarray(x))
    xs = jnp.stack([x, x + 1.0])
    np.testing.assert_array_equal(
        np.asarray(jax.vmap(g)(xs)), [f(np.asarray(v)) for v in xs]
    )
    with pytest.raises(Exception, match="(?i)differentiat|jvp|transpose"):
        jax.grad(g)(x)


def test_32_bit_jax_is_refused_with_the_fix(burgers, inputs):
    loss = sci.jax.loss(burgers)
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(RuntimeError, match="jax_enable_x64"):
            loss(burgers.params, inputs)
    finally:
        jax.config.update("jax_enable_x64", True)


def test_the_ffi_path_is_available_here():
    assert sci.jax.ffi_available()
