"""Shared fixtures: the repository's paths, the `sci` command-line tool the comparisons run,
and JAX in 64-bit mode (sci computes in float64)."""

import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def sci_binary() -> str:
    """The `sci` tool: $SCI_BIN, else the repository's debug build (built if missing)."""
    path = os.environ.get("SCI_BIN")
    if path:
        return path
    built = REPO / "target" / "debug" / "sci"
    if not built.exists():
        subprocess.run(
            ["cargo", "build", "--quiet", "--locked", "--bin", "sci"], cwd=REPO, check=True
        )
    return str(built)


@pytest.fixture(scope="session")
def sci_cli():
    """Runs `sci ARGS…` and returns the completed process (raising on a non-zero exit)."""
    binary = sci_binary()

    def run(*args, cwd=REPO):
        return subprocess.run(
            [binary, *map(str, args)], cwd=cwd, check=True, capture_output=True, text=True
        )

    return run


@pytest.fixture(scope="session")
def cargo():
    if shutil.which("cargo") is None:
        pytest.fail("the tests compare against the Rust API and need `cargo`")

    def run(*args):
        return subprocess.run(
            ["cargo", *args], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout

    return run


def pytest_configure(config):
    try:
        import jax
    except ImportError:
        return
    jax.config.update("jax_enable_x64", True)
