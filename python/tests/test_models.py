"""A model's entry points from Python: right-hand side, initial state, outputs, the
Jacobians (dense, sparse, against finite differences), parameters by name, and the checks
on what is passed in."""

import numpy as np
import pytest
import scipy.sparse

import sci

from conftest import EXAMPLES


@pytest.fixture(scope="module")
def lv():
    return sci.compile(EXAMPLES / "lotka_volterra.sci").model()


def central_difference(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        columns.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(columns, axis=-1)


def test_names_sizes_and_defaults(lv):
    assert (lv.n_states, lv.n_params, lv.n_outputs) == (2, 4, 2)
    assert lv.state_names == ["prey", "pred"]
    assert lv.param_names == ["alpha", "beta", "gamma", "delta"]
    assert lv.parameters() == {"alpha": 1.5, "beta": 1.0, "gamma": 3.0, "delta": 1.0}
    np.testing.assert_array_equal(lv.params, [1.5, 1.0, 3.0, 1.0])
    assert lv.time_span is not None
    assert "LotkaVolterra" in repr(lv)


def test_rhs_matches_the_equations(lv):
    y = np.array([10.0, 5.0])
    a, b, g, d = lv.params
    expected = [a * y[0] - b * y[0] * y[1], -g * y[1] + d * y[0] * y[1]]
    np.testing.assert_allclose(lv.rhs(0.0, y), expected, rtol=1e-15)
    np.testing.assert_array_equal(lv.y0(), [10.0, 5.0])


def test_parameters_by_name_change_only_those(lv):
    y = np.array([1.0, 2.0])
    theta = lv.theta_of({"alpha": 2.0})
    np.testing.assert_array_equal(theta, [2.0, 1.0, 3.0, 1.0])
    np.testing.assert_array_equal(lv.rhs(0.0, y, {"alpha": 2.0}), lv.rhs(0.0, y, theta))
    assert lv.parameters(theta)["alpha"] == 2.0
    with pytest.raises(KeyError, match="no parameter `alfa`; its parameters are: alpha"):
        lv.rhs(0.0, y, {"alfa": 2.0})
    with pytest.raises(ValueError, match=r"`params\[\"alpha\"\]` must have shape \(\)"):
        lv.rhs(0.0, y, {"alpha": [1.0, 2.0]})


def test_array_parameters_keep_their_shapes():
    model = sci.compile(EXAMPLES / "burgers_pinn.sci").model()
    params = model.parameters()
    shapes = {name: np.shape(value) for name, value in params.items()}
    assert sum(int(np.prod(s)) for s in shapes.values()) == model.n_params
    first = next(name for name, s in shapes.items() if len(s) == 2)
    changed = model.theta_of({first: np.zeros(shapes[first])})
    assert np.count_nonzero(changed) < np.count_nonzero(model.params)


def test_bad_inputs_raise_clear_python_errors(lv):
    with pytest.raises(ValueError, match=r"1-D array of 2 numbers \(the states prey, pred\); it has shape \(3,\)"):
        lv.rhs(0.0, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"shape \(2, 1\)"):
        lv.rhs(0.0, np.ones((2, 1)))
    with pytest.raises(TypeError, match="complex numbers"):
        lv.rhs(0.0, np.array([1 + 1j, 2.0]))
    with pytest.raises(TypeError, match="dtype <U1"):
        lv.rhs(0.0, ["a", "b"])
    with pytest.raises(TypeError):
        lv.rhs(0.0, [object(), object()])
    with pytest.raises(ValueError, match="params"):
        lv.rhs(0.0, [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(TypeError):
        lv.rhs("soon", [1.0, 2.0])


def test_inputs_of_other_dtypes_and_layouts_are_read(lv):
    expected = lv.rhs(0.0, np.array([3.0, 4.0]))
    np.testing.assert_array_equal(lv.rhs(0.0, [3, 4]), expected)
    np.testing.assert_array_equal(lv.rhs(0.0, np.array([3, 4], dtype=np.float32)), expected)
    strided = np.array([3.0, 0.0, 4.0, 0.0])[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(lv.rhs(0.0, strided), expected)
    # Non-finite numbers are computed with, not refused.
    assert np.isnan(lv.rhs(0.0, [np.nan, 1.0])).any()


def test_dense_jacobians_match_finite_differences(lv):
    y = np.array([2.0, 3.0])
    jac = lv.jacobian(0.5, y)
    assert jac.shape == (2, 2)
    np.testing.assert_allclose(jac, central_difference(lambda v: lv.rhs(0.5, v), y), rtol=1e-8)
    pjac = lv.param_jacobian(0.5, y)
    assert pjac.shape == (2, 4)
    np.testing.assert_allclose(
        pjac, central_difference(lambda p: lv.rhs(0.5, y, p), lv.params), rtol=1e-8, atol=1e-9
    )


def test_reverse_products_are_the_transposed_jacobians(lv):
    y, v = np.array([2.0, 3.0]), np.array([0.7, -1.3])
    vjp_y, vjp_p = lv.rhs_vjp(0.5, y, v)
    np.testing.assert_allclose(vjp_y, v @ lv.jacobian(0.5, y), rtol=1e-14)
    np.testing.assert_allclose(vjp_p, v @ lv.param_jacobian(0.5, y), rtol=1e-14)
    with pytest.raises(ValueError, match="`v` must be a 1-D array of 2 numbers"):
        lv.rhs_vjp(0.5, y, [1.0])


def test_sparse_jacobian_is_a_csr_array_equal_to_the_dense_one():
    model = sci.compile(EXAMPLES / "brusselator2d.sci").model()
    y = model.y0() + 0.01 * np.sin(np.arange(model.n_states))
    sparse = model.jacobian(0.2, y, sparse=True)
    assert isinstance(sparse, scipy.sparse.csr_array)
    assert sparse.shape == (model.n_states, model.n_states)
    assert sparse.nnz == 12288
    np.testing.assert_array_equal(sparse.toarray(), model.jacobian(0.2, y))


def test_outputs(lv):
    out = lv.outputs(0.0, [2.0, 3.0])
    assert out.shape == (2,)
    assert lv.output_names and len(lv.output_names) == 2


def test_model_without_a_loss_says_so(lv):
    with pytest.raises(ValueError, match="loss"):
        lv.loss_and_grad(inputs={})
    with pytest.raises(ValueError, match="no loss"):
        lv.loss()
