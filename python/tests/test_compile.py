"""Compiling: from a path or source text, diagnostics as `sci.CompileError`, the cache,
pickling, IR text, free functions."""

import pathlib
import pickle

import numpy as np
import pytest

import sci

from conftest import EXAMPLES

SOURCE = """
model Decay {
    param k = 0.5
    state x = 2.0
    der(x) = -k * x
    domain time: t in [0, 4]
}
"""


def test_compiles_a_path_a_pathlib_path_and_source_text():
    by_text = sci.compile(str(EXAMPLES / "lotka_volterra.sci"))
    by_path = sci.compile(EXAMPLES / "lotka_volterra.sci")
    assert by_text.models == ["LotkaVolterra"] == by_path.models
    program = sci.compile(SOURCE)
    assert program.models == ["Decay"]
    assert program.backend == "cranelift"
    assert "der(x)" in program.source


def test_a_missing_file_is_file_not_found():
    with pytest.raises(FileNotFoundError, match="No sci model file"):
        sci.compile("no/such/model.sci")


def test_diagnostics_raise_compile_error_with_the_rendered_excerpt():
    bad = "model A {\n    state x = 1\n    der(x) = y\n}\n"
    with pytest.raises(sci.CompileError) as info:
        sci.compile(bad)
    text = str(info.value)
    assert "E0201" in text and "There is no definition called `y`" in text
    assert "der(x) = y" in text  # the source excerpt
    [d] = info.value.diagnostics
    assert d["code"] == "E0201" and d["severity"] == "error"
    assert (d["line"], d["column"]) == (3, 14)


def test_unit_errors_carry_their_hint():
    bad = "model A {\n    param k: h = 1\n    state x: m = 1\n    der(x) = x / k\n}\n"
    with pytest.raises(sci.CompileError) as info:
        sci.compile(bad)
    [d] = info.value.diagnostics
    assert d["code"] == "E0405"
    assert "0.000277777" in d["help"]
    assert any("domain time" in note for note in d["notes"])
    assert "Help:" in str(info.value)


def test_the_cache_returns_the_same_program_and_can_be_bypassed():
    a = sci.compile(SOURCE)
    assert sci.compile(SOURCE) is a
    assert sci.compile(SOURCE, cache=False) is not a
    sci.clear_cache()
    assert sci.compile(SOURCE) is not a


def test_a_changed_input_data_file_compiles_again(tmp_path):
    data = tmp_path / "forcing.csv"
    data.write_text("t,u\n0,1\n10,1\n")
    model = tmp_path / "forced.sci"
    model.write_text(
        """model Forced {
    data forcing(t, u) = csv("forcing.csv")
    state x = 0.0
    der(x) = interp(forcing.u, t)
    domain time: t in [0, 10]
}
"""
    )
    first = sci.compile(model)
    assert first.input_files == [str(tmp_path / "forcing.csv")]
    assert first.model().rhs(0.0, [0.0])[0] == 1.0
    assert sci.compile(model) is first
    data.write_text("t,u\n0,3\n10,3\n")
    second = sci.compile(model)
    assert second is not first
    assert second.model().rhs(0.0, [0.0])[0] == 3.0


def test_constants_replace_the_sources():
    program = sci.compile(
        "model C {\n    const n = 3\n    state x: real[n] = 1.0\n    der(x) = -x\n}\n",
        constants={"n": 5},
    )
    assert program.model().n_states == 5


def test_programs_models_and_functions_pickle():
    program = sci.compile(SOURCE)
    model = program.model()
    again = pickle.loads(pickle.dumps(model))
    assert again.name == "Decay"
    np.testing.assert_array_equal(again.rhs(0.0, [2.0]), model.rhs(0.0, [2.0]))
    # Unpickling in the same process finds the program in the cache: no compile.
    assert again.program is program
    f = sci.compile(EXAMPLES / "rosenbrock.sci").function("rosenbrock")
    g = pickle.loads(pickle.dumps(f))
    assert g(np.array([1.0, 1.0])) == f(np.array([1.0, 1.0]))


def test_unpickling_in_a_fresh_cache_compiles_the_source_again():
    model = sci.compile(SOURCE).model()
    data = pickle.dumps(model)
    sci.clear_cache()
    again = pickle.loads(data)
    assert again.program is not model.program
    assert again.program.source == model.program.source


def test_model_lookup_errors_name_the_models():
    program = sci.compile(EXAMPLES / "tanks.sci")
    with pytest.raises(ValueError, match="several models"):
        program.model()
    with pytest.raises(KeyError, match="no model named `Nope`"):
        program["Nope"]
    assert program["TwoTanks"].name == "TwoTanks"


def test_free_functions_scalar_and_array_results():
    program = sci.compile(EXAMPLES / "rosenbrock.sci")
    assert "rosenbrock" in program.functions
    f = program.function("rosenbrock")
    assert f(np.array([1.0, 1.0])) == 0.0
    x = np.array([0.5, -0.3])
    expected = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    assert f(x) == pytest.approx(expected, rel=1e-15)
    with pytest.raises(KeyError, match="no function named `nope`"):
        program.function("nope")


def test_ir_text_round_trips_through_compile():
    program = sci.compile(SOURCE)
    text = program.ir("Decay")
    assert text.startswith("module Decay") or "func rhs" in text
    again = sci._sci.compile_source(text, "decay.sir", ir=True)
    np.testing.assert_array_equal(
        again.model().rhs(0.0, [2.0]), program.model().rhs(0.0, [2.0])
    )


def test_the_interpreter_backend_agrees_with_cranelift():
    native = sci.compile(EXAMPLES / "brusselator.sci").model()
    interp = sci.compile(EXAMPLES / "brusselator.sci", backend="interp").model()
    y = native.y0()
    np.testing.assert_allclose(interp.rhs(0.3, y), native.rhs(0.3, y), rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="no `llvm` back end"):
        sci.compile(SOURCE, backend="llvm", cache=False)
    with pytest.raises(ValueError, match="no back end called `gpu`"):
        sci.compile(SOURCE, backend="gpu", cache=False)
