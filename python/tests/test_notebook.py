"""The example notebook (examples/python_quickstart.ipynb) runs top to bottom: simulate,
fit with SciPy through sci's sensitivities, plot, a gradient inside JAX. Its own asserts
check the fit and the gradient."""

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from conftest import EXAMPLES  # noqa: E402


def test_the_quickstart_notebook_runs(monkeypatch):
    # The kernel draws with matplotlib's inline back end (PNG outputs), whatever the
    # environment says.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(EXAMPLES / "python_quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plots were drawn"
