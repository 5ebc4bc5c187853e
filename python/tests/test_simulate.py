"""`Model.simulate`: the same trajectories as `sci run` (to 1e-12; they are the same
computation), solver choices, sensitivities against finite differences, events, DAEs,
and errors."""

import numpy as np
import pytest

import sci

from conftest import EXAMPLES


def cli_trajectory(sci_cli, tmp_path, example, *flags):
    out = tmp_path / f"{example}.npz"
    sci_cli("run", EXAMPLES / f"{example}.sci", "--out", out, *flags)
    with np.load(out) as data:
        return {name: data[name] for name in data.files}


@pytest.mark.parametrize(
    "example, flags",
    [
        ("lotka_volterra", []),
        ("robertson", ["--solver", "bdf", "--rtol", "1e-8", "--atol", "1e-12"]),
        ("van_der_pol", []),
        ("pendulum_dae", []),
        ("bouncing_ball", []),
        ("heat1d", ["--jacobian", "sparse", "--solver", "bdf"]),
    ],
)
def test_trajectories_equal_the_command_lines(sci_cli, tmp_path, example, flags):
    cli = cli_trajectory(sci_cli, tmp_path, example, *flags)
    model = sci.compile(EXAMPLES / f"{example}.sci").model()
    options = dict(zip(flags[::2], flags[1::2]))
    sol = model.simulate(
        cli["t"],
        solver=options.get("--solver", "auto"),
        rtol=float(options.get("--rtol", 1e-6)),
        atol=float(options.get("--atol", 1e-9)),
        jacobian=options.get("--jacobian", "auto"),
    )
    np.testing.assert_array_equal(sol.t, cli["t"])
    offset = 0
    for name in dict.fromkeys(n.split("[")[0] for n in sol.state_names):
        values = cli[name].reshape(len(sol.t), -1)
        ours = sol.y[:, offset : offset + values.shape[1]]
        np.testing.assert_allclose(ours, values, rtol=1e-12, atol=1e-12 * np.abs(values).max())
        offset += values.shape[1]
    assert offset == model.n_states
    if "events.t" in cli:
        np.testing.assert_allclose([e["t"] for e in sol.events], cli["events.t"], rtol=1e-12)


def test_solution_fields_and_columns():
    model = sci.compile(EXAMPLES / "lotka_volterra.sci").model()
    sol = model.simulate(np.linspace(0, 5, 11))
    assert sol.y.shape == (11, 2) and sol.outputs.shape == (11, 2)
    np.testing.assert_array_equal(sol["prey"], sol.y[:, 0])
    np.testing.assert_array_equal(sol["t"], sol.t)
    np.testing.assert_array_equal(sol[sol.output_names[0]], sol.outputs[:, 0])
    assert sol.stats["method"] == "tsit5" and sol.stats["steps"] > 0
    assert sol.sensitivities is None and sol.events == []
    with pytest.raises(KeyError, match="no state or output `wolves`"):
        sol["wolves"]


def test_the_declared_span_is_used_without_times():
    model = sci.compile(EXAMPLES / "lotka_volterra.sci").model()
    sol = model.simulate()
    t0, t1 = model.time_span
    assert (sol.t[0], sol.t[-1]) == (t0, t1)
    steps = model.simulate("steps")
    assert len(steps.t) == steps.stats["steps"] + 1


def test_sensitivities_match_finite_differences():
    model = sci.compile(EXAMPLES / "lotka_volterra.sci").model()
    times = np.linspace(0, 2, 5)
    sol = model.simulate(times, rtol=1e-10, atol=1e-12, sensitivities=True)
    assert sol.sensitivities.shape == (5, 2, 4)
    h = 1e-6
    for j in range(4):
        up, down = model.params.copy(), model.params.copy()
        up[j] += h
        down[j] -= h
        fd = (
            model.simulate(times, up, rtol=1e-12, atol=1e-14).y
            - model.simulate(times, down, rtol=1e-12, atol=1e-14).y
        ) / (2 * h)
        np.testing.assert_allclose(sol.sensitivities[:, :, j], fd, rtol=1e-4, atol=1e-6)


def test_events_are_reported():
    model = sci.compile(EXAMPLES / "bouncing_ball.sci").model()
    sol = model.simulate(np.linspace(0, 3, 31))
    first = sol.events[0]
    assert first["label"] == "h < 0"
    assert first["t"] == pytest.approx(np.sqrt(2 * 10 / 9.81), rel=1e-8)
    assert first["y_after"][1] == pytest.approx(-0.8 * first["y_before"][1], rel=1e-12)


def test_time_units_are_reported():
    model = sci.compile(EXAMPLES / "sir.sci").model()
    assert model.simulate().time_unit == "day"


def test_bad_options_are_value_errors_and_failures_solve_errors():
    model = sci.compile(EXAMPLES / "robertson.sci").model()
    with pytest.raises(ValueError, match="no ODE solver called `rk99`"):
        model.simulate(solver="rk99")
    with pytest.raises(ValueError, match="Jacobian kind"):
        model.simulate(jacobian="diagonal")
    with pytest.raises(ValueError, match='or "steps"'):
        model.simulate("every step")
    with pytest.raises(ValueError, match="1-D array of times"):
        model.simulate(np.ones((2, 2)))
    with pytest.raises(sci.SolveError):
        model.simulate(solver="tsit5", max_steps=50)
    assert issubclass(sci.SolveError, RuntimeError)


def test_the_solve_releases_the_gil():
    import threading
    import time

    model = sci.compile(EXAMPLES / "brusselator2d.sci").model()
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=tick)
    thread.start()
    started = time.perf_counter()
    model.simulate(np.linspace(0, 1, 3), solver="bdf")
    elapsed = time.perf_counter() - started
    done.set()
    thread.join()
    during = [t for t in ticks if started < t < started + elapsed]
    # The other thread kept running while the solve did (a held GIL would starve it).
    assert elapsed < 0.05 or len(during) >= 3
