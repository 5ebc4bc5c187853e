"""sci from Python: compile models written in the sci language to native code and use them
with NumPy arrays.

    import sci
    program = sci.compile("examples/lotka_volterra.sci")
    model = program.model()
    sol = model.simulate(t_eval=np.linspace(0, 20, 201))
    sol.y            # (201, 2) states
    model.jacobian(0.0, model.y0())

Training: ``model.train(steps=2000)``; a loss and its gradient: ``model.loss_and_grad(theta,
inputs)``. ``sci.jax`` makes compiled functions JAX primitives (``jax.jit``, ``jax.grad``,
``jax.vmap``). Errors in a model raise :class:`CompileError` with the rendered diagnostics.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Mapping, Optional, Sequence, Union

from . import _sci
from ._sci import (
    CompileError,
    EnsembleResult,
    Function,
    Model,
    Program,
    Solution,
    SolveError,
    TrainResult,
    __version__,
)

__all__ = [
    "compile",
    "CompileError",
    "SolveError",
    "Program",
    "Model",
    "Function",
    "Solution",
    "EnsembleResult",
    "TrainResult",
    "clear_cache",
    "__version__",
]

# Compiled programs by what they were compiled from, so that running a notebook cell again
# (or unpickling a model) does not compile again. Data files a model reads are part of the
# key (path, size, modification time), so a changed file compiles afresh.
_CACHE_SIZE = 32
_cache: "OrderedDict[tuple, Program]" = OrderedDict()
_cache_lock = threading.Lock()


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and "{" not in text and (
        text.endswith((".sci", ".sir")) or os.path.isfile(text)
    )


def _stat(path: str) -> tuple:
    try:
        st = os.stat(path)
        return (path, st.st_size, st.st_mtime_ns)
    except OSError:
        return (path, -1, -1)


def compile(
    path_or_source: Union[str, "os.PathLike[str]"],
    *,
    backend: str = "cranelift",
    threads: int = 0,
    constants: Optional[Mapping[str, Union[float, Sequence[float]]]] = None,
    data_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    cache: bool = True,
) -> Program:
    """Compile a sci model file, or sci source text, to native code.

    ``path_or_source`` is a path (a ``pathlib.Path``, or a string ending in ``.sci``/``.sir``
    or naming an existing file) or the source text itself. ``.sir`` files hold IR
    (``sci compile --emit ir``). ``backend`` is ``"cranelift"`` (the default) or
    ``"interp"`` (the reference interpreter). ``threads`` runs batched maps on that many
    threads (0: every core; results are the same bits for any number). ``constants``
    replaces the values of constants of the source (as ``sci run --param`` does).
    ``data_dir`` is where data files the model reads are found (default: the model file's
    folder, or the working directory for source text).

    Compiled programs are cached in the process by their source and options (and the data
    files they read), so compiling the same model again is free; ``cache=False`` compiles
    afresh. Raises :class:`CompileError` (message: the rendered diagnostics).
    """
    if isinstance(path_or_source, os.PathLike) or (
        isinstance(path_or_source, str) and _looks_like_path(path_or_source)
    ):
        path = os.fspath(path_or_source)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"No sci model file at `{path}`.") from None
        name = path
        folder = os.path.dirname(path) or "."
        ir = path.endswith(".sir")
    elif isinstance(path_or_source, str):
        text, name, folder, ir = path_or_source, "<string>", ".", False
    else:
        raise TypeError(
            f"sci.compile takes a path or source text, not {type(path_or_source).__name__}."
        )
    folder = os.fspath(data_dir) if data_dir is not None else folder
    consts = {k: constants[k] for k in sorted(constants)} if constants else {}
    return _compile(text, name, folder, backend, threads, consts, ir, cache)


def _compile(text, name, data_dir, backend, threads, constants, ir, cache=True) -> Program:
    key = (text, name, os.path.abspath(data_dir), backend, threads,
           tuple((k, repr(v)) for k, v in constants.items()), ir)
    if cache:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                program, files = hit
                if files == _files_key(program):
                    _cache.move_to_end(key)
                    return program
    program = _sci.compile_source(
        text, name, data_dir=data_dir, backend=backend, threads=threads,
        constants=constants or None, ir=ir,
    )
    if cache:
        with _cache_lock:
            _cache[key] = (program, _files_key(program))
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return program


def _files_key(program: Program) -> tuple:
    return tuple(_stat(path) for path in program.input_files)


def clear_cache() -> None:
    """Forget the compiled programs :func:`compile` keeps."""
    with _cache_lock:
        _cache.clear()


def _rebuild_program(text, name, data_dir, backend, threads, constants, ir) -> Program:
    return _compile(text, name, data_dir, backend, threads, dict(constants), ir)


def _rebuild_model(program: Program, name: str) -> Model:
    return program.model(name)


def _rebuild_function(program: Program, name: str) -> Function:
    return program.function(name)
