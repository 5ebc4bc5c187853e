"""Losses, gradients and training from Python: the same numbers as the Rust API (exactly),
gradients against finite differences, `train` with its stopping rules and callback."""

import json

import numpy as np
import pytest

import sci

from conftest import EXAMPLES


@pytest.fixture(scope="module")
def burgers():
    return sci.compile(EXAMPLES / "burgers_pinn.sci").model()


def test_pinn_loss_and_gradient_equal_the_rust_apis_exactly(burgers, cargo):
    rust = json.loads(
        cargo("run", "--quiet", "--locked", "--example", "loss_and_grad", "--",
              str(EXAMPLES / "burgers_pinn.sci"), "3")
    )
    loss, grad = burgers.loss_and_grad(seed=3)
    assert loss == rust["loss"]
    np.testing.assert_array_equal(grad, rust["grad"])
    # The same points given explicitly: the same bits.
    inputs = burgers.sample_inputs(seed=3)
    loss2, grad2 = burgers.loss_and_grad(burgers.params, inputs)
    assert loss2 == loss
    np.testing.assert_array_equal(grad2, grad)
    assert burgers.loss(inputs=inputs) == loss


def test_ode_fit_loss_and_gradient_equal_the_rust_apis_exactly(cargo):
    model = sci.compile(EXAMPLES / "lv_ude.sci").model()
    rust = json.loads(
        cargo("run", "--quiet", "--locked", "--example", "loss_and_grad", "--",
              str(EXAMPLES / "lv_ude.sci"))
    )
    loss, grad = model.loss_and_grad()
    assert loss == rust["loss"]
    np.testing.assert_array_equal(grad, rust["grad"])


def test_gradient_matches_finite_differences(burgers):
    inputs = {name: values[:64] if name.startswith("pde") else values
              for name, values in burgers.sample_inputs().items()}
    theta = burgers.params
    _, grad = burgers.loss_and_grad(theta, inputs)
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(theta.size)
    h = 1e-6
    fd = (burgers.loss(theta + h * direction, inputs)
          - burgers.loss(theta - h * direction, inputs)) / (2 * h)
    assert grad @ direction == pytest.approx(fd, rel=1e-6)


def test_loss_inputs_are_checked(burgers):
    inputs = burgers.sample_inputs()
    assert [name for name, _ in burgers.loss_inputs] == list(inputs)
    with pytest.raises(KeyError, match="lacks the loss inputs pde.x"):
        burgers.loss(inputs={k: v for k, v in inputs.items() if k != "pde.x"})
    with pytest.raises(KeyError, match="no input `pde.y`"):
        burgers.loss(inputs={**inputs, "pde.y": inputs["pde.x"]})
    bad = dict(inputs)
    bad["pde.x"] = bad["pde.x"][:-1]
    with pytest.raises(ValueError):
        burgers.loss(inputs=bad)


def test_training_lowers_the_loss_and_returns_the_best_parameters(burgers):
    result = burgers.train(steps=30, optimizer="adam", lr=1e-3, seed=1)
    assert result.steps == 30 and result.stopped == "steps"
    assert len(result.losses) == 31
    assert result.loss < result.losses[0]
    assert result.loss == pytest.approx(burgers.loss(result.params, seed=1), rel=1e-12)
    assert result.optimizer == "adam" and result.evaluations >= 30


def test_a_callback_sees_every_step_and_can_stop_the_run(burgers):
    seen = []

    def callback(step, loss):
        seen.append((step, loss))
        return step < 5

    result = burgers.train(steps=100, optimizer="adam", callback=callback)
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5]
    assert result.stopped == "interrupted" and result.steps == 5


def test_an_exception_in_the_callback_propagates(burgers):
    def callback(step, loss):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        burgers.train(steps=10, optimizer="adam", callback=callback)


def test_gradients_through_ode_solves_by_forward_sensitivities_and_the_adjoint():
    # The UDE's 354 parameters; one Adam step moves each by about lr · sign(gradient), so
    # equal steps mean gradients that agree component by component.
    model = sci.compile(EXAMPLES / "lv_ude.sci").model()
    short = dict(steps=1, optimizer="adam", lr=1e-3)
    adjoint = model.train(sensitivity="adjoint", **short)
    forward = model.train(sensitivity="forward", **short)
    assert adjoint.losses[0] == pytest.approx(forward.losses[0], rel=1e-5)
    np.testing.assert_allclose(adjoint.params, forward.params, rtol=0, atol=1e-7)
    assert np.abs(adjoint.params - model.params).max() > 0.5e-3
    with pytest.raises(ValueError, match="forward, adjoint, auto"):
        model.train(sensitivity="backward", **short)


def test_fitting_an_ode_recovers_its_parameters():
    model = sci.compile(EXAMPLES / "lv_ude.sci").model()
    result = model.train(steps=40)
    assert result.optimizer == "lbfgs"
    assert result.loss < 0.1 * result.losses[0]


def test_frozen_and_fixed_parameters_stay(burgers):
    first = next(iter(burgers.parameters()))
    result = burgers.train(steps=5, optimizer="adam", freeze=[first])
    before = burgers.parameters()[first]
    after = burgers.parameters(result.params)[first]
    np.testing.assert_array_equal(after, before)
    with pytest.raises(KeyError, match="not a parameter"):
        burgers.train(steps=5, freeze=["nope"])
    with pytest.raises(ValueError, match="no optimiser called `sgd`"):
        burgers.train(steps=5, optimizer="sgd")
