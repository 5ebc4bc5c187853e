"""`Model.ensemble`: members from a description or a dict, against single solves and
closed forms, failures kept with their values, the statistics across members."""

import numpy as np
import pytest

import sci

from conftest import EXAMPLES

DECAY = """model Decay {
    param k = 0.5
    state x = 2.0
    der(x) = -k * x
    domain time: t in [0, 2]
}"""


def test_a_dict_of_members_matches_closed_forms():
    model = sci.compile(DECAY).model()
    k = np.array([0.1, 0.5, 1.0])
    x0 = np.array([1.0, 2.0, 3.0])
    t = np.linspace(0, 2, 5)
    run = model.ensemble({"k": k, "x": x0}, t, rtol=1e-10, atol=1e-12)
    assert len(run) == 3 and run.names == ["k", "x"]
    np.testing.assert_array_equal(run.values, np.stack([k, x0], axis=1))
    assert run.y.shape == (3, 5, 1)
    exact = x0[:, None] * np.exp(-k[:, None] * t[None, :])
    np.testing.assert_allclose(run.y[:, :, 0], exact, rtol=1e-8)
    assert all(run.ok) and run.failures == []


def test_a_description_gives_the_members_single_solves_give():
    model = sci.compile(EXAMPLES / "robertson.sci").model()
    t = np.array([0.0, 1.0, 40.0])
    run = model.ensemble("lhs 8 seed 2: k1 = 0.036..0.044; k3 = 9e3..1.1e4", t, threads=1)
    assert run.values.shape == (8, 2)
    for member, (k1, k3) in enumerate(run.values):
        one = model.simulate(t, {"k1": k1, "k3": k3})
        np.testing.assert_array_equal(run.y[member], one.y)
    summary = run.summary()
    np.testing.assert_array_equal(summary["t"], t)
    np.testing.assert_allclose(summary["y1_mean"], run.y[:, :, 0].mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(summary["y1_q50"], np.median(run.y[:, :, 0], axis=0), rtol=1e-14)


def test_failed_members_are_nan_and_listed():
    model = sci.compile(EXAMPLES / "robertson.sci").model()
    run = model.ensemble({"y1": [1.0, -1e300]}, [0.0, 1.0])
    assert run.ok == [True, False]
    assert np.isnan(run.y[1]).all() and not np.isnan(run.y[0]).any()
    (index, values, why), = run.failures
    assert index == 1 and values == {"y1": -1e300} and why


def test_bad_members_are_errors():
    model = sci.compile(DECAY).model()
    with pytest.raises(ValueError, match="value per member"):
        model.ensemble({"k": [1.0, 2.0], "x": [1.0]})
    with pytest.raises(Exception, match="no parameter or state `q`"):
        model.ensemble("grid: q = 1, 2")


def test_without_times_the_members_share_simulates_default_times():
    model = sci.compile(DECAY).model()
    run = model.ensemble({"k": [0.5, 1.0]})
    np.testing.assert_array_equal(run.t, model.simulate().t)
    assert run.y.shape == (2, 201, 1)
