"""Type stubs of `sci._sci`, the package's native half (PyO3). `sci` re-exports the
public names; see docs/python.md."""

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = Union[npt.ArrayLike, float]
Params = Union[None, npt.ArrayLike, Mapping[str, Union[float, npt.ArrayLike]]]

class CompileError(Exception):
    """A model failed to compile: `str(e)` is the rendered diagnostics (source excerpt,
    hint); `diagnostics` lists them as dicts with `code`, `severity`, `message`, `line`,
    `column` (1-based), `notes` and `help`."""

    diagnostics: List[Dict[str, Any]]

class SolveError(RuntimeError):
    """A computation failed on valid input (the solver could not meet its tolerances,
    the loss became NaN)."""

class Program:
    """A compiled sci file: its models and free functions."""

    @property
    def models(self) -> List[str]: ...
    @property
    def functions(self) -> List[str]: ...
    @property
    def backend(self) -> str: ...
    @property
    def warnings(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def input_files(self) -> List[str]: ...
    def model(self, name: Optional[str] = None) -> Model: ...
    def __getitem__(self, name: str) -> Model: ...
    def function(self, name: str) -> Function: ...
    def ir(self, name: str) -> str: ...

class Model:
    """A compiled model. `params` arguments take θ as a vector (`model.params` is the
    default), a dict `{name: value}` of the parameters to change, or None (the defaults)."""

    @property
    def name(self) -> str: ...
    @property
    def program(self) -> Program: ...
    @property
    def n_states(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def state_names(self) -> List[str]: ...
    @property
    def param_names(self) -> List[str]: ...
    @property
    def output_names(self) -> List[str]: ...
    @property
    def params(self) -> np.ndarray: ...
    @property
    def fixed_params(self) -> List[str]: ...
    @property
    def time_span(self) -> Optional[Tuple[float, float]]: ...
    @property
    def loss_inputs(self) -> List[Tuple[str, List[int]]]: ...
    def parameters(self, params: Params = None) -> Dict[str, Union[float, np.ndarray]]: ...
    def theta_of(self, params: Params = None) -> np.ndarray: ...
    def rhs(self, t: float, y: npt.ArrayLike, params: Params = None) -> np.ndarray: ...
    def y0(self, params: Params = None) -> np.ndarray: ...
    def outputs(self, t: float, y: npt.ArrayLike, params: Params = None) -> np.ndarray: ...
    def jacobian(
        self, t: float, y: npt.ArrayLike, params: Params = None, *, sparse: bool = False
    ) -> Any:
        """Dense `(n, n)` array, or a `scipy.sparse.csr_array` with `sparse=True`."""
    def param_jacobian(self, t: float, y: npt.ArrayLike, params: Params = None) -> np.ndarray: ...
    def rhs_vjp(
        self, t: float, y: npt.ArrayLike, v: npt.ArrayLike, params: Params = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """`(vᵀ ∂f/∂y, vᵀ ∂f/∂θ)`: one reverse-mode sweep of the compiled `vjp.rhs`."""
    def sample_inputs(self, seed: int = 0) -> Dict[str, np.ndarray]: ...
    def loss(
        self,
        params: Params = None,
        inputs: Optional[Mapping[str, npt.ArrayLike]] = None,
        *,
        seed: int = 0,
    ) -> float: ...
    def loss_and_grad(
        self,
        params: Params = None,
        inputs: Optional[Mapping[str, npt.ArrayLike]] = None,
        *,
        seed: int = 0,
    ) -> Tuple[float, np.ndarray]: ...
    def simulate(
        self,
        t_eval: Union[None, str, npt.ArrayLike] = None,
        params: Params = None,
        *,
        t_span: Optional[Tuple[float, float]] = None,
        solver: str = "auto",
        rtol: float = 1e-6,
        atol: float = 1e-9,
        sensitivities: bool = False,
        max_steps: int = 1_000_000,
        jacobian: str = "auto",
    ) -> Solution:
        """Solve the ODE (or DAE). `t_eval`: output times (default: 201 evenly spaced over
        the span), or "steps" for the solver's own steps. `t_span` defaults to
        (declared start, last of `t_eval`), else the declared span. `solver`: auto, tsit5,
        bdf, esdirk34, trbdf2. `jacobian`: auto, dense, sparse. The GIL is released."""
    def ensemble(
        self,
        members: Union[str, Mapping[str, npt.ArrayLike]],
        t_eval: Optional[npt.ArrayLike] = None,
        params: Params = None,
        *,
        threads: int = 0,
        t_span: Optional[Tuple[float, float]] = None,
        solver: str = "auto",
        rtol: float = 1e-6,
        atol: float = 1e-9,
        max_steps: int = 1_000_000,
        jacobian: str = "auto",
    ) -> EnsembleResult:
        """One solve per member, on `threads` threads (0: every core) with the GIL
        released. `members`: a description as `sci run --ensemble` takes
        ("lhs 64 seed 1: k1 = 0.03..0.05; k2 = 1e6..1e8 log", "grid: k = 0..1 x5; y1 = 1, 2",
        a CSV path) or a dict of values per member ({"k1": [...], "y1": [...]}); names are
        parameters or states (initial values). `params` sets what the members do not vary.
        Without `t_eval`, the 201 evenly spaced times of `simulate`. Failed members are NaN in
        `y` and listed in `failures`."""
    def train(
        self,
        params: Params = None,
        *,
        steps: Optional[int] = None,
        optimizer: Optional[str] = None,
        lr: Optional[float] = None,
        seed: int = 0,
        resample_every: Optional[int] = None,
        loss_tol: Optional[float] = None,
        patience: Optional[int] = None,
        freeze: Sequence[str] = (),
        callback: Optional[Callable[[int, float], Optional[bool]]] = None,
        solver: str = "auto",
        rtol: float = 1e-8,
        atol: float = 1e-10,
        sensitivity: str = "auto",
    ) -> TrainResult:
        """Train θ on the model's loss as `sci train` does (optimiser and steps default to
        the loss kind's schedule). `callback(step, loss)` returning False stops the run;
        Ctrl-C stops it too. `sensitivity`: how gradients through ODE solves get dy/dθ,
        forward, adjoint or auto (as `sci train --sensitivity`). The GIL is released
        between callbacks."""

class Function:
    """A free function: call it with numbers or arrays."""

    @property
    def name(self) -> str: ...
    def __call__(self, *args: ArrayLike) -> Union[float, np.ndarray]: ...

class Solution:
    model: str
    t: np.ndarray
    y: np.ndarray
    outputs: np.ndarray
    sensitivities: Optional[np.ndarray]
    state_names: List[str]
    output_names: List[str]
    stats: Dict[str, Any]
    events: List[Dict[str, Any]]
    stopped_by: Optional[int]
    time_unit: Optional[str]
    def __getitem__(self, name: str) -> np.ndarray: ...

class EnsembleResult:
    names: List[str]
    values: np.ndarray
    t: np.ndarray
    y: np.ndarray
    outputs: np.ndarray
    state_names: List[str]
    output_names: List[str]
    ok: List[bool]
    failures: List[Tuple[int, Dict[str, float], str]]
    def summary(self) -> Dict[str, np.ndarray]: ...
    def __len__(self) -> int: ...

class TrainResult:
    params: np.ndarray
    loss: float
    losses: np.ndarray
    steps: int
    evaluations: int
    stopped: str
    optimizer: str
    seconds: float

def compile_source(
    text: str,
    name: str = "<string>",
    *,
    data_dir: str = ".",
    backend: str = "cranelift",
    threads: int = 0,
    constants: Optional[Mapping[str, Any]] = None,
    ir: bool = False,
) -> Program: ...
def jax_register(model: Model, op: str, inputs: Sequence[str] = ...) -> int: ...
def jax_register_function(function: Function, shapes: Sequence[Sequence[int]]) -> int: ...
def ffi_handler_address() -> int: ...
