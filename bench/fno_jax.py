"""JAX peer of sci's Fourier neural operator benchmarks: the FNO of Li et al., "Fourier
Neural Operator for Parametric PDEs" (ICLR 2021), their `fourier_1d.py` (Burgers,
bench/fno.sh) and `fourier_2d.py` (Darcy flow, bench/fno2d.sh), trained on NPY files with
the paper's hyperparameters; measures the epoch time and the test error.

Run (bench/fno_jax.sh sets up the venv and the thread flags, then calls this script):

    python bench/fno_jax.py --a a.npy --u u.npy [--test 200] [--epochs 500] \
        [--eval-a a512.npy --eval-u u512.npy] [--threads 1] [--json out.json]
    python bench/fno_jax.py --check-layer [--write-reference DIR]

Specification (sci implements exactly this)
-------------------------------------------
Data. `--a`, `--u`: NPY arrays [N, s] (float64), or [N, s1, s2] for the 2-D network (the
rank of the files chooses it; see "2-D" below). The last `--test` (200) rows are the test
set, the rows before them the training set (normally 1000 train + 200 test). Computation
in `--dtype` (float64 by default, as sci; float32 only for information). The input enters
as (a - `--a-shift`)/`--a-scale` (default: unchanged in 1-D; (a - 7.5)/4.5 in 2-D, as
examples/darcy_fno.sci), applied to the loaded arrays once.

Input channels per grid point j: (a_j, x_j), x_j = j/(s-1) (numpy.linspace(0, 1, s)).

Network (channels first, v has shape [width, s] per sample):
    v = fc0([a_j, x_j])                          fc0 = Linear(2 -> width)
    for l in 0..layers-1:                        layers = 4
        v = K_l(v) + W_l v + b_l                 W_l: 1x1 conv = Linear(width -> width)
        v = gelu(v)            (not after the last layer; gelu exact: x/2 (1 + erf(x/sqrt 2)))
    u_j = fc2(gelu(fc1(v_j)))                    fc1 = Linear(width -> 128), fc2 = (128 -> 1)
  K(v) = irfft(Y, n = s) per output channel, Y[o, k] = sum_i X[i, k] R[i, o, k] for
  k < modes, Y[o, k] = 0 above, X = rfft(v) (numpy conventions: unnormalised forward,
  1/s backward; irfft ignores the imaginary part of the k = 0 bin, and of the k = s/2 bin
  if s is even and modes > s/2). R is complex [width_in, width_out, modes], held as two
  real arrays (real and imaginary parts), each an independent real parameter.
  Linear weights are [out, in] (PyTorch layout); the 1x1 convolution likewise.

Hyperparameters: modes 16, width 64 (1-D; 2-D below), 4 Fourier layers; batch 20; the
training set is shuffled every epoch (numpy.random.default_rng(seed); the same generator
first draws the initial weights, then one permutation per epoch); a last, smaller batch is
used when the batch does not divide the training set (PyTorch DataLoader, drop_last=False).
Adam (torch.optim.Adam semantics): lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay
1e-4 coupled (L2: g <- g + wd p before the moments), t = 1, 2, ... per step:
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps)
applied elementwise to every real parameter (real and imaginary parts of R separately,
as torch does with complex parameters). The learning rate is halved every 100 epochs
(StepLR step_size=100, gamma=0.5, stepped per epoch: epoch e (1-based) uses
lr 1e-3 * 0.5^floor((e-1)/100)).

Initialisation (as PyTorch): R's real and imaginary parts each scale * U[0, 1), scale =
1/(width*width); every Linear and 1x1 conv: weight and bias U(-1/sqrt(fan_in),
1/sqrt(fan_in)). Order of draws: fc0 (W, b), then per layer R_re, R_im, W, b, then fc1
(W, b), fc2 (W, b). (The numbers differ from torch's stream; only the distribution is
the same.) Parameter count: real scalars, a complex weight counts 2 (549,569 at the
defaults, as Li's count; asserted for Li's configurations, 1-D and 2-D).

2-D (files [N, s1, s2]; Li's fourier_2d.py without its domain padding, as sci's
`fno` on a real[s1, s2] column). Defaults modes 12, width 32, 4 layers. Input channels
per grid point (i, j): (a_ij, x_i, y_j), x_i = i/(s1-1), y_j = j/(s2-1); fc0 =
Linear(3 -> width); v has shape [width, s1, s2] per sample; the layers, GELUs, fc1 and
fc2 as in 1-D, pointwise over the grid. The spectral convolution:
  K(v) = irfft2(Y, s = (s1, s2)) per output channel (numpy's irfft2: a complex inverse
  DFT over the rows, then irfft over the columns), X = rfft2(v) (unnormalised), and
  Y[o, k1, k2] = sum_i X[i, k1, k2] R[i, o, r(k1), k2] on the kept frequencies, rows
  k1 in 0..modes-1 and s1-modes..s1-1 and columns k2 in 0..modes-1, zero elsewhere.
  R is complex [width_in, width_out, 2 modes, modes]: r(k1) = k1 for the low rows,
  k1 - s1 + 2 modes for the high ones, i.e. R's first `modes` rows are Li's weights1
  and the others weights2. Needs 2 modes <= s1 and modes <= s2/2 + 1 (no frequency
  kept twice). R's real and imaginary parts each scale * U[0, 1), scale =
  1/(width*width), drawn as one [in, out, 2 modes, modes] array each; the order of
  draws as in 1-D. Parameter count 2,368,001 at the defaults (Li's count).
  Loss: the relative L2 error per sample is the Frobenius norm over the grid,
  ||G(a) - u||_F / ||u||_F, averaged over the batch (sci's `mean(norm(...)/norm(u))`).
  Everything else (optimiser, weight decay, schedule, shuffles, timing, output) as in
  1-D; the JSON adds "dims" (1 or 2), "s" becomes [s1, s2], and --eval-a/--eval-u take
  [M, s1', s2'] arrays.

Loss: relative L2 per sample, ||G(a) - u||_2 / ||u||_2 over the grid, mean over the batch
(Li's code sums over the batch, `LpLoss(size_average=False)`; `--reduction sum` does
that, for information; with Adam it differs only in how strong eps and the coupled weight
decay are relative to the gradient). train_rel_l2 of an epoch: the per-sample losses of
its batches (before each update) averaged over the training set, as Li's train_l2. Test
error: the relative L2 averaged over the test set, after the epoch.

Timing: "time" of an epoch is the wall time of its training steps plus its test
evaluation (Li's t2 - t1), with results blocked on. Epoch 1 includes the JIT compilation,
so median_epoch_seconds leaves it out. The training step (value_and_grad + Adam) is one
jitted function on a whole batch, with the batch gathered inside it from the device-
resident training set. Measured on the 2-core development machine (synthetic data,
N 1200, s 256, the defaults, float64, JAX 0.10.2): about 2.1-2.3 s per epoch on 1 thread,
1.4-1.7 s on 2 threads (4.1 and 2.9 s with --no-malloc-tuning); epoch 1 about 1.5 s more.
In 2-D (`sci dataset darcy`, N 1200, 85 x 85, the defaults, 2 threads, on that machine
shared with another job, load average about 4): 54 s per epoch, epoch 1 83 s.

Output: per epoch `epoch E  train_rel_l2 X  test_rel_l2 Y  time T s`; with `--json OUT`:
{"epochs", "epoch_seconds": [...], "median_epoch_seconds", "train": [...], "test": [...],
"final_test", "params", "jax_version", "dtype", "threads", ...} plus, with `--eval-a/
--eval-u` (another resolution, all rows are evaluated with the trained model; the network
is resolution-independent as long as modes <= s/2 + 1), "zero_shot_test" and
"zero_shot_s".

Threads: `--threads N` (default: every core this process may use) is applied before JAX
is imported, by restricting the process's CPU affinity to N cores and, for N = 1, by
adding `--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1` to XLA_FLAGS.
The same can be done from outside: `taskset -c 0 env XLA_FLAGS=... python ...`.
Also before JAX starts, glibc malloc is set to keep freed memory (one arena, no mmap, no
trimming; see tune_malloc): otherwise XLA's per-step temporaries are page-faulted in anew
on every step, which doubles the step time at the benchmark's size. `--no-malloc-tuning`
leaves the defaults (for comparison); the JSON records "malloc_tuned".

Check mode (`--check-layer`): asserts, printing nothing on success, that one spectral
layer K (and one whole Fourier layer K(v) + W v + b, before the GELU) and their VJPs for
random inputs and cotangents equal a pure-NumPy reference (np.fft forward, a hand-written
adjoint backward) to 1e-12 (max |diff| / max |ref|), for several (s, modes) including
odd s and a mode at the Nyquist bin, and for the batched training-size layer; then the
same for the 2-D layer against np.fft.rfft2/irfft2 with the kept rows and columns cut out
and put back by index (a hand-written adjoint for the VJP: (c_k2/(s1 s2)) rfft2(cot) on
the kept frequencies, c as in 1-D over the columns), for odd and even s1 and s2, every
row kept (2 modes = s1), a column at the Nyquist bin, 85 x 85 with 12 modes, and the
batched training-size layer (20 samples, width 32).
`--write-reference DIR` (1-D only; with or without `--check-layer`) writes
DIR/fno_spectral_layer.npz, float64 throughout, one sample (no batch axis), width 4, s 16,
modes 3, seed 1234, the NumPy reference values:
    v            [4, 16]    input, channels x grid
    r_re, r_im   [4, 4, 3]  R = r_re + i r_im, [in, out, mode]
    w            [4, 4]     1x1 conv weight, [out, in];  b [4] its bias
    cot          [4, 16]    cotangent (same for both functions)
    k_out        [4, 16]    K(v)
    layer_out    [4, 16]    K(v) + w v + b  (no GELU)
    k_vjp_v, k_vjp_r_re, k_vjp_r_im                     cot^T d K / d(v, r_re, r_im)
    layer_vjp_v, layer_vjp_r_re, layer_vjp_r_im, layer_vjp_w, layer_vjp_b
                                                         cot^T d layer / d(...)
    modes        []         3 (int64)
Gradients with respect to R are the real gradients with respect to r_re and r_im.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

# ---------------------------------------------------------------------------------------
# Arguments and threads (before JAX is imported)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", help="NPY [N, s] or [N, s1, s2]: input functions a(x_j)")
    p.add_argument("--u", help="NPY, the shape of --a: solutions u(x_j)")
    p.add_argument("--test", type=int, default=200, help="last rows used as the test set")
    p.add_argument("--epochs", type=int, default=500)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--modes", type=int, help="default: 16 in 1-D, 12 in 2-D")
    p.add_argument("--width", type=int, help="default: 64 in 1-D, 32 in 2-D")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--step-size", type=int, default=100, help="StepLR step (epochs)")
    p.add_argument("--gamma", type=float, default=0.5, help="StepLR factor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument(
        "--reduction",
        choices=["mean", "sum"],
        default="mean",
        help="batch reduction of the training loss (mean: the benchmark; sum: Li's code)",
    )
    p.add_argument(
        "--a-shift",
        type=float,
        help="the input enters as (a - shift)/scale (default: 0 in 1-D, 7.5 in 2-D)",
    )
    p.add_argument("--a-scale", type=float, help="(default: 1 in 1-D, 4.5 in 2-D)")
    p.add_argument("--eval-a", help="NPY [M, s'] (or [M, s1', s2']): zero-shot inputs")
    p.add_argument("--eval-u", help="NPY, the shape of --eval-a: zero-shot solutions")
    p.add_argument("--eval-batch", type=int, default=100, help="rows per evaluation call")
    p.add_argument("--threads", type=int, default=0, help="cores to use (0: all)")
    p.add_argument("--json", help="write the results here")
    p.add_argument(
        "--no-malloc-tuning",
        action="store_true",
        help="leave glibc malloc's defaults (see tune_malloc)",
    )
    p.add_argument("--check-layer", action="store_true", help="assert the spectral layer")
    p.add_argument("--write-reference", metavar="DIR", help="write the layer reference NPZ")
    a = p.parse_args(argv)
    if not (a.check_layer or a.write_reference) and not (a.a and a.u):
        p.error("--a and --u are required (or --check-layer / --write-reference)")
    if (a.eval_a is None) != (a.eval_u is None):
        p.error("--eval-a and --eval-u go together")
    return a


def set_threads(n):
    """Restrict this process to `n` cores (0: leave as is); returns the cores usable."""
    cores = sorted(os.sched_getaffinity(0))
    if n and n < len(cores):
        cores = cores[:n]
        os.sched_setaffinity(0, cores)
    if len(cores) == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        extra = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " " + extra).strip()
    return len(cores)


def tune_malloc():
    """Keep glibc from handing XLA's per-call temporary buffers back to the kernel.

    XLA:CPU allocates the step's temporaries (tens of MB here) with malloc on every call;
    by default glibc serves them with mmap (or from a per-thread arena it trims with
    madvise) and frees them back, so every step page-faults its whole working set in
    again: 18,000 minor faults and 30 ms of system time per training step at the
    benchmark's size, twice the step's compute. One arena, no mmap and no trimming
    (mallopt, the same as MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0
    MALLOC_TRIM_THRESHOLD_=2147483647) make the steps reuse the same pages. Must run
    before JAX starts its threads. Returns whether it was applied."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        m_trim_threshold, m_mmap_max, m_arena_max = -1, -4, -8
        ok = libc.mallopt(m_arena_max, 1) == 1
        ok &= libc.mallopt(m_mmap_max, 0) == 1
        ok &= libc.mallopt(m_trim_threshold, 2**31 - 1) == 1
        return bool(ok)
    except (OSError, AttributeError):
        return False


ARGS = parse_args() if __name__ == "__main__" else None
THREADS = set_threads(ARGS.threads) if ARGS is not None else len(os.sched_getaffinity(0))
MALLOC_TUNED = tune_malloc() if ARGS is not None and not ARGS.no_malloc_tuning else False

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

jax.config.update("jax_enable_x64", True)

# ---------------------------------------------------------------------------------------
# The network


def spectral(v, r_re, r_im):
    """K(v) over the last axis: v [..., width_in, s] -> [..., width_out, s]."""
    s = v.shape[-1]
    modes = r_re.shape[-1]
    x = jnp.fft.rfft(v, axis=-1)[..., :modes]
    r = jax.lax.complex(r_re, r_im)
    y = jnp.einsum("...ix,iox->...ox", x, r)
    nbins = s // 2 + 1
    pad = [(0, 0)] * (y.ndim - 1) + [(0, nbins - modes)]
    return jnp.fft.irfft(jnp.pad(y, pad), n=s, axis=-1)


def conv1x1(v, w, b):
    """The 1x1 convolution: v [..., width_in, s], w [out, in], b [out]."""
    return jnp.einsum("oi,...is->...os", w, v) + b[:, None]


def fourier_layer(v, layer):
    return spectral(v, layer["r_re"], layer["r_im"]) + conv1x1(v, layer["w"], layer["b"])


def gelu(x):
    return jax.nn.gelu(x, approximate=False)


def forward(params, a):
    """a [B, s] -> u [B, s]."""
    s = a.shape[-1]
    x = jnp.asarray(np.linspace(0.0, 1.0, s), dtype=a.dtype)
    w0, b0 = params["fc0"]["w"], params["fc0"]["b"]
    # fc0 on (a_j, x_j), channels first: [B, width, s]
    v = w0[None, :, 0:1] * a[:, None, :] + (w0[:, 1:2] * x[None, :] + b0[:, None])[None]
    n = len(params["layers"])
    for l, layer in enumerate(params["layers"]):
        v = fourier_layer(v, layer)
        if l < n - 1:
            v = gelu(v)
    h = gelu(jnp.einsum("oi,bis->bso", params["fc1"]["w"], v) + params["fc1"]["b"])
    return jnp.einsum("oi,bsi->bso", params["fc2"]["w"], h)[..., 0] + params["fc2"]["b"][0]


def corners(x, modes):
    """The kept frequencies of a 2-D spectrum [..., s1, k2]: rows 0..modes-1, then rows
    s1-modes..s1-1 (the negative frequencies), of columns 0..modes-1:
    [..., 2 modes, modes]."""
    s1 = x.shape[-2]
    return jnp.concatenate([x[..., :modes, :modes], x[..., s1 - modes :, :modes]], axis=-2)


def spectral2d(v, r_re, r_im):
    """K(v) over the last two axes: v [..., width_in, s1, s2] -> [..., width_out, s1, s2].

    R [in, out, 2 modes, modes]: its first `modes` rows are Li's weights1 (the spectrum's
    rows 0..modes-1), the others weights2 (rows s1-modes..s1-1)."""
    s1, s2 = v.shape[-2:]
    modes = r_re.shape[-1]
    x = corners(jnp.fft.rfft2(v, axes=(-2, -1)), modes)
    r = jax.lax.complex(r_re, r_im)
    y = jnp.einsum("...ixy,ioxy->...oxy", x, r)
    # Back onto the whole half-spectrum [s1, s2/2 + 1], zero at every frequency not kept.
    gap = jnp.zeros(y.shape[:-2] + (s1 - 2 * modes, modes), y.dtype)
    y = jnp.concatenate([y[..., :modes, :], gap, y[..., modes:, :]], axis=-2)
    pad = [(0, 0)] * (y.ndim - 1) + [(0, s2 // 2 + 1 - modes)]
    return jnp.fft.irfft2(jnp.pad(y, pad), s=(s1, s2), axes=(-2, -1))


def conv1x1_2d(v, w, b):
    """The 1x1 convolution on a 2-D grid: v [..., in, s1, s2], w [out, in], b [out]."""
    return jnp.einsum("oi,...ixy->...oxy", w, v) + b[:, None, None]


def fourier_layer2d(v, layer):
    k = spectral2d(v, layer["r_re"], layer["r_im"])
    return k + conv1x1_2d(v, layer["w"], layer["b"])


def forward2d(params, a):
    """a [B, s1, s2] -> u [B, s1, s2] (Li's fourier_2d.py without its padding)."""
    s1, s2 = a.shape[-2:]
    x = jnp.asarray(np.linspace(0.0, 1.0, s1), dtype=a.dtype)[:, None]
    y = jnp.asarray(np.linspace(0.0, 1.0, s2), dtype=a.dtype)[None, :]
    w0, b0 = params["fc0"]["w"], params["fc0"]["b"]
    col = lambda j: w0[:, j, None, None]  # noqa: E731  column j of fc0, [width, 1, 1]
    # fc0 on (a_ij, x_i, y_j), channels first: [B, width, s1, s2]
    v = col(0)[None] * a[:, None] + (col(1) * x + col(2) * y + b0[:, None, None])[None]
    n = len(params["layers"])
    for l, layer in enumerate(params["layers"]):
        v = fourier_layer2d(v, layer)
        if l < n - 1:
            v = gelu(v)
    h = gelu(jnp.einsum("oi,bixy->bxyo", params["fc1"]["w"], v) + params["fc1"]["b"])
    out = jnp.einsum("oi,bxyi->bxyo", params["fc2"]["w"], h)[..., 0]
    return out + params["fc2"]["b"][0]


FORWARD = {1: forward, 2: forward2d}


def rel_l2(pred, u):
    """Per-sample ||pred - u|| / ||u|| over the grid (Frobenius on a 2-D grid): [B]."""
    axes = tuple(range(1, u.ndim))
    return jnp.linalg.norm(pred - u, axis=axes) / jnp.linalg.norm(u, axis=axes)


def init_params(rng, width, modes, layers, dtype, dims=1):
    def linear(fan_in, fan_out):
        bound = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=(fan_out, fan_in))
        b = rng.uniform(-bound, bound, size=(fan_out,))
        return {"w": w.astype(dtype), "b": b.astype(dtype)}

    scale = 1.0 / (width * width)
    # R per layer: [in, out, modes] in 1-D; [in, out, 2 modes, modes] in 2-D (Li's weights1
    # and weights2 stacked along the rows).
    r_shape = (width, width, modes) if dims == 1 else (width, width, 2 * modes, modes)
    params = {"fc0": linear(1 + dims, width), "layers": []}
    for _ in range(layers):
        r_re = scale * rng.random(r_shape)
        r_im = scale * rng.random(r_shape)
        lin = linear(width, width)
        params["layers"].append(
            {"r_re": r_re.astype(dtype), "r_im": r_im.astype(dtype), **lin}
        )
    params["fc1"] = linear(width, 128)
    params["fc2"] = linear(128, 1)
    return jax.tree_util.tree_map(jnp.asarray, params)


def count_params(params):
    return int(sum(np.size(p) for p in jax.tree_util.tree_leaves(params)))


# Li et al.'s parameter counts (their code's count_params, a complex weight counting 2) of
# the benchmark's networks: (dims, modes, width, layers) -> count.
LI_PARAMS = {(1, 16, 64, 4): 549_569, (2, 12, 32, 4): 2_368_001}


# ---------------------------------------------------------------------------------------
# Training

B1, B2, EPS = 0.9, 0.999, 1e-8


def make_step(forward_fn, weight_decay, reduction):
    def loss_fn(params, a, u):
        errs = rel_l2(forward_fn(params, a), u)
        return jnp.sum(errs) if reduction == "sum" else jnp.mean(errs), errs

    def step(params, m, v, t, lr, a_all, u_all, idx):
        a, u = a_all[idx], u_all[idx]
        (_, errs), g = jax.value_and_grad(loss_fn, has_aux=True)(params, a, u)
        c1 = 1.0 - B1**t
        c2 = jnp.sqrt(1.0 - B2**t)

        def upd(p, g, m, v):
            g = g + weight_decay * p
            m = B1 * m + (1.0 - B1) * g
            v = B2 * v + (1.0 - B2) * g * g
            p = p - (lr / c1) * m / (jnp.sqrt(v) / c2 + EPS)
            return p, m, v

        out = jax.tree_util.tree_map(upd, params, g, m, v)
        is_triple = lambda x: isinstance(x, tuple)  # noqa: E731
        pick = lambda i: jax.tree_util.tree_map(lambda x: x[i], out, is_leaf=is_triple)  # noqa: E731
        return pick(0), pick(1), pick(2), jnp.sum(errs)

    return jax.jit(step, donate_argnums=(0, 1, 2))


@jax.jit
def batch_errors(params, a, u):
    # The network's dimension is the rank of a batch of inputs less the batch axis.
    return rel_l2(FORWARD[a.ndim - 1](params, a), u)


def mean_error(params, a, u, chunk):
    """Mean relative L2 over all rows, evaluated `chunk` rows at a time."""
    total = 0.0
    for i in range(0, a.shape[0], chunk):
        total += float(jnp.sum(batch_errors(params, a[i : i + chunk], u[i : i + chunk])))
    return total / a.shape[0]


def load_pair(fa, fu, dtype, shift=0.0, scale=1.0):
    """The arrays a, u [N, s] or [N, s1, s2]; a enters the network as (a - shift)/scale
    (a normalisation of the data, done once: the same numbers as normalising each batch)."""
    a, u = np.load(fa), np.load(fu)
    if a.ndim not in (2, 3) or a.shape != u.shape:
        raise SystemExit(
            f"{fa} {a.shape} and {fu} {u.shape}: "
            "expected equal shapes [N, s] or [N, s1, s2]"
        )
    if shift != 0.0 or scale != 1.0:
        a = (a - shift) / scale
    return a.astype(dtype), u.astype(dtype)


def check_modes(dims, grid, modes):
    """Every kept frequency is a distinct bin of the half-spectrum (as sci checks)."""
    if dims == 1:
        if modes > grid[0] // 2 + 1:
            raise SystemExit(f"s {grid[0]}: modes {modes} > s/2 + 1 = {grid[0] // 2 + 1}")
        return
    s1, s2 = grid
    if 2 * modes > s1 or modes > s2 // 2 + 1:
        raise SystemExit(f"grid {s1}x{s2}: modes {modes} needs 2 modes <= s1, "
                         f"modes <= s2/2 + 1")


def resolve_defaults(args, dims):
    """The hyperparameters not given: Li's 1-D (fourier_1d.py) or 2-D (fourier_2d.py)
    network, and in 2-D the input's normalisation in examples/darcy_fno.sci."""
    one = dims == 1
    if args.modes is None:
        args.modes = 16 if one else 12
    if args.width is None:
        args.width = 64 if one else 32
    if args.a_shift is None:
        args.a_shift = 0.0 if one else 7.5
    if args.a_scale is None:
        args.a_scale = 1.0 if one else 4.5


def train(args):
    dtype = np.dtype(args.dtype)
    dims = np.load(args.a, mmap_mode="r").ndim - 1
    resolve_defaults(args, dims)
    a, u = load_pair(args.a, args.u, dtype, args.a_shift, args.a_scale)
    n, grid = a.shape[0], a.shape[1:]
    ntest = args.test
    ntrain = n - ntest
    if ntrain <= 0 or ntest <= 0:
        raise SystemExit(f"{n} rows: need more than --test {ntest}")
    check_modes(dims, grid, args.modes)
    a_tr, u_tr = jnp.asarray(a[:ntrain]), jnp.asarray(u[:ntrain])
    a_te, u_te = jnp.asarray(a[ntrain:]), jnp.asarray(u[ntrain:])

    rng = np.random.default_rng(args.seed)
    params = init_params(rng, args.width, args.modes, args.layers, dtype, dims)
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    nparams = count_params(params)
    li = LI_PARAMS.get((dims, args.modes, args.width, args.layers))
    assert li is None or nparams == li, f"{nparams} parameters, Li's network has {li}"
    step = make_step(FORWARD[dims], args.weight_decay, args.reduction)
    s = grid[0] if dims == 1 else list(grid)
    print(
        f"FNO-{dims}d JAX {jax.__version__}: s {s}, train {ntrain}, test {ntest}, modes "
        f"{args.modes}, width {args.width}, layers {args.layers}, params {nparams}, "
        f"{args.dtype}, threads {THREADS}, malloc tuned {MALLOC_TUNED}",
        flush=True,
    )

    t = 0
    epoch_s, train_err, test_err = [], [], []
    for epoch in range(1, args.epochs + 1):
        lr = args.lr * args.gamma ** ((epoch - 1) // args.step_size)
        lr_arr = np.asarray(lr, dtype=dtype)
        perm = rng.permutation(ntrain)
        t0 = time.perf_counter()
        sums = []
        for i in range(0, ntrain, args.batch):
            t += 1
            idx = jnp.asarray(perm[i : i + args.batch])
            params, m, v, err_sum = step(
                params, m, v, np.asarray(t, dtype=dtype), lr_arr, a_tr, u_tr, idx
            )
            sums.append(err_sum)
        tr = float(sum(float(x) for x in sums)) / ntrain
        te = mean_error(params, a_te, u_te, args.eval_batch)
        dt = time.perf_counter() - t0
        epoch_s.append(dt)
        train_err.append(tr)
        test_err.append(te)
        print(f"epoch {epoch}  train_rel_l2 {tr:.6e}  test_rel_l2 {te:.6e}  time {dt:.3f} s",
              flush=True)

    later = epoch_s[1:] if len(epoch_s) > 1 else epoch_s
    result = {
        "epochs": args.epochs,
        "epoch_seconds": epoch_s,
        "median_epoch_seconds": float(np.median(later)),
        "train": train_err,
        "test": test_err,
        "final_test": test_err[-1],
        "params": nparams,
        "jax_version": jax.__version__,
        "dtype": args.dtype,
        "threads": THREADS,
        "malloc_tuned": MALLOC_TUNED,
        "dims": dims,
        "s": s,
        "a_shift": args.a_shift,
        "a_scale": args.a_scale,
        "ntrain": ntrain,
        "ntest": ntest,
        "modes": args.modes,
        "width": args.width,
        "layers": args.layers,
        "batch": args.batch,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "reduction": args.reduction,
        "seed": args.seed,
    }
    if args.eval_a:
        ea, eu = load_pair(args.eval_a, args.eval_u, dtype, args.a_shift, args.a_scale)
        if ea.ndim - 1 != dims:
            raise SystemExit(f"{args.eval_a} {ea.shape}: not a {dims}-D grid like --a")
        check_modes(dims, ea.shape[1:], args.modes)
        z = mean_error(params, jnp.asarray(ea), jnp.asarray(eu), args.eval_batch)
        zs = int(ea.shape[1]) if dims == 1 else list(ea.shape[1:])
        result["zero_shot_test"] = z
        result["zero_shot_s"] = zs
        print(f"zero_shot s {zs}  rows {ea.shape[0]}  test_rel_l2 {z:.6e}", flush=True)
    print(f"median epoch {result['median_epoch_seconds']:.3f} s  final test "
          f"{result['final_test']:.6e}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return result


# ---------------------------------------------------------------------------------------
# NumPy reference of one spectral / Fourier layer (one sample, no batch axis)


def np_spectral(v, r_re, r_im):
    s = v.shape[-1]
    modes = r_re.shape[-1]
    x = np.fft.rfft(v, axis=-1)[:, :modes]
    y = np.zeros((r_re.shape[1], s // 2 + 1), dtype=complex)
    y[:, :modes] = np.einsum("ix,iox->ox", x, r_re + 1j * r_im)
    return np.fft.irfft(y, n=s, axis=-1)


def np_spectral_vjp(v, r_re, r_im, cot):
    """cot^T dK/d(v, r_re, r_im), written out with np.fft.

    irfft(Y, n)_j = (1/n) sum_k c_k (Re Y_k cos(2 pi k j/n) - Im Y_k sin(2 pi k j/n)), with
    c_0 = 1, c_{n/2} = 1 (n even), c_k = 2 otherwise; so the real gradient with respect to
    Y_k, as the complex number dRe + i dIm, is (c_k/n) rfft(cot)_k. For Y = X R (complex),
    dR = conj(X) dY and dX = conj(R) dY. X_k = sum_j v_j e^{-2 pi i k j/n}, so
    dv_j = Re sum_{k<modes} dX_k e^{+2 pi i k j/n} = Re(n ifft(dX zero-padded to n))_j."""
    s = v.shape[-1]
    modes = r_re.shape[-1]
    r = r_re + 1j * r_im
    x = np.fft.rfft(v, axis=-1)[:, :modes]
    c = np.full(modes, 2.0)
    c[0] = 1.0
    if s % 2 == 0 and modes > s // 2:
        c[s // 2] = 1.0
    dy = np.fft.rfft(cot, axis=-1)[:, :modes] * c / s  # [out, modes]
    dr = np.conj(x)[:, None, :] * dy[None, :, :]  # [in, out, modes]
    dx = np.einsum("iox,ox->ix", np.conj(r), dy)  # [in, modes]
    full = np.zeros((v.shape[0], s), dtype=complex)
    full[:, :modes] = dx
    dv = np.real(s * np.fft.ifft(full, axis=-1))
    return dv, dr.real, dr.imag


def np_layer(v, r_re, r_im, w, b):
    return np_spectral(v, r_re, r_im) + w @ v + b[:, None]


def np_layer_vjp(v, r_re, r_im, w, b, cot):
    dv, dre, dim = np_spectral_vjp(v, r_re, r_im, cot)
    return dv + w.T @ cot, dre, dim, cot @ v.T, cot.sum(axis=-1)


# The 2-D layer, from np.fft.rfft2 / irfft2 with the corners cut out by index.


def np_rows(s1, modes):
    """The spectrum's kept rows: 0..modes-1 and s1-modes..s1-1."""
    return np.r_[0:modes, s1 - modes : s1]


def np_spectral2d(v, r_re, r_im):
    """v [in, s1, s2], R [in, out, 2 modes, modes] -> [out, s1, s2]."""
    s1, s2 = v.shape[-2:]
    modes = r_re.shape[-1]
    rows = np_rows(s1, modes)
    x = np.fft.rfft2(v)[:, rows, :modes]
    y = np.zeros((r_re.shape[1], s1, s2 // 2 + 1), dtype=complex)
    y[:, rows, :modes] = np.einsum("ixy,ioxy->oxy", x, r_re + 1j * r_im)
    return np.fft.irfft2(y, s=(s1, s2))


def np_spectral2d_vjp(v, r_re, r_im, cot):
    """cot^T dK/d(v, r_re, r_im) for the 2-D layer, written out with np.fft.

    irfft2(Y) is a complex inverse DFT over the rows (1/s1) and then the 1-D irfft over
    the columns; the real gradient with respect to Y (as dRe + i dIm) is therefore the
    1-D one over the columns (weights c_k/s2, see np_spectral_vjp) carried back through
    the rows' inverse DFT by its adjoint, (1/s1) times a forward DFT: (c_k/(s1 s2))
    rfft2(cot). The rest is as in 1-D, with v's adjoint Re(s1 s2 ifft2(dX on the
    corners, zero elsewhere))."""
    s1, s2 = v.shape[-2:]
    modes = r_re.shape[-1]
    rows = np_rows(s1, modes)
    r = r_re + 1j * r_im
    x = np.fft.rfft2(v)[:, rows, :modes]
    c = np.full(modes, 2.0)
    c[0] = 1.0
    if s2 % 2 == 0 and modes > s2 // 2:
        c[s2 // 2] = 1.0
    dy = np.fft.rfft2(cot)[:, rows, :modes] * c / (s1 * s2)  # [out, 2 modes, modes]
    dr = np.conj(x)[:, None] * dy[None]  # [in, out, 2 modes, modes]
    dx = np.einsum("ioxy,oxy->ixy", np.conj(r), dy)  # [in, 2 modes, modes]
    full = np.zeros(v.shape, dtype=complex)
    full[:, rows, :modes] = dx
    dv = np.real(s1 * s2 * np.fft.ifft2(full))
    return dv, dr.real, dr.imag


def np_layer2d(v, r_re, r_im, w, b):
    return np_spectral2d(v, r_re, r_im) + np.einsum("oi,ixy->oxy", w, v) + b[:, None, None]


def np_layer2d_vjp(v, r_re, r_im, w, b, cot):
    dv, dre, dim = np_spectral2d_vjp(v, r_re, r_im, cot)
    dv = dv + np.einsum("oi,oxy->ixy", w, cot)
    return dv, dre, dim, np.einsum("oxy,ixy->oi", cot, v), cot.sum(axis=(-2, -1))


def reference_case(rng, width, s, modes, batch=None):
    """Random inputs of one layer; `s` an int (1-D) or (s1, s2) (2-D)."""
    grid = (s,) if isinstance(s, int) else tuple(s)
    shape = (width, *grid) if batch is None else (batch, width, *grid)
    r_shape = (width, width, modes) if len(grid) == 1 else (width, width, 2 * modes, modes)
    v = rng.standard_normal(shape)
    r_re = rng.standard_normal(r_shape) / width
    r_im = rng.standard_normal(r_shape) / width
    w = rng.standard_normal((width, width)) / math.sqrt(width)
    b = rng.standard_normal(width)
    cot = rng.standard_normal(shape)
    return v, r_re, r_im, w, b, cot


def close(got, ref, tol=1e-12, what=""):
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    scale = max(float(np.max(np.abs(ref))), 1e-300)
    err = float(np.max(np.abs(got - ref))) / scale
    assert err <= tol, f"{what}: relative difference {err:.3e} > {tol:.0e}"


# Per dimension, the JAX spectral convolution and Fourier layer and their NumPy references
# (value, VJP), which check_layer holds to each other.
LAYERS = {
    1: (spectral, np_spectral, np_spectral_vjp, fourier_layer, np_layer, np_layer_vjp),
    2: (spectral2d, np_spectral2d, np_spectral2d_vjp, fourier_layer2d, np_layer2d,
        np_layer2d_vjp),
}


def check_case(dims, case, tag):
    """One case's spectral convolution K and Fourier layer, values and VJPs."""
    k, np_k, np_k_vjp, layer, np_layer_, np_layer_vjp_ = LAYERS[dims]
    v, r_re, r_im, w, b, cot = case
    lp = {"r_re": r_re, "r_im": r_im, "w": w, "b": b}
    out, vjp = jax.vjp(k, v, r_re, r_im)
    close(out, np_k(v, r_re, r_im), what=f"K {tag}")
    for name, g, ref in zip(("v", "r_re", "r_im"), vjp(cot), np_k_vjp(v, r_re, r_im, cot)):
        close(g, ref, what=f"K vjp {name} {tag}")
    out, vjp = jax.vjp(layer, v, lp)
    close(out, np_layer_(v, r_re, r_im, w, b), what=f"layer {tag}")
    gv, gl = vjp(cot)
    refs = np_layer_vjp_(v, r_re, r_im, w, b, cot)
    for name, g, ref in zip(("v", "r_re", "r_im", "w", "b"),
                            (gv, gl["r_re"], gl["r_im"], gl["w"], gl["b"]), refs):
        close(g, ref, what=f"layer vjp {name} {tag}")


def check_batched(dims, case, prefix):
    """The jitted layer on a batch (the shapes the benchmark runs) against the NumPy
    reference per sample, the weights' VJPs summed over the batch."""
    _, _, _, layer, np_layer_, np_layer_vjp_ = LAYERS[dims]
    v, r_re, r_im, w, b, cot = case
    lp = {"r_re": r_re, "r_im": r_im, "w": w, "b": b}
    out, vjp = jax.vjp(jax.jit(layer), v, lp)
    gv, gl = vjp(cot)
    batch = v.shape[0]
    close(out, np.stack([np_layer_(v[i], r_re, r_im, w, b) for i in range(batch)]),
          what=f"{prefix}batched layer")
    per = [np_layer_vjp_(v[i], r_re, r_im, w, b, cot[i]) for i in range(batch)]
    close(gv, np.stack([p[0] for p in per]), what=f"{prefix}batched vjp v")
    for k, name in enumerate(("r_re", "r_im", "w", "b"), start=1):
        close(gl[name], sum(p[k] for p in per), what=f"{prefix}batched vjp {name}")


def check_layer():
    rng = np.random.default_rng(7)
    for width, s, modes in [(4, 16, 3), (4, 16, 9), (3, 15, 8), (5, 17, 1), (6, 64, 16)]:
        check_case(1, reference_case(rng, width, s, modes),
                   f"width {width} s {s} modes {modes}")
    # The training-size layer, batched (the shapes the benchmark runs).
    check_batched(1, reference_case(rng, 64, 256, 16, batch=20), "")
    check_layer2d(rng)


def check_layer2d(rng):
    """The 2-D layer and its VJP against np_layer2d(_vjp): odd and even sizes, every row
    kept (2 modes = s1), the column at the Nyquist bin, then the benchmark's batch."""
    cases = [(3, (16, 16), 3), (4, (15, 17), 4), (3, (12, 10), 6), (2, (9, 8), 4),
             (5, (7, 13), 1), (4, (85, 85), 12)]
    for width, grid, modes in cases:
        check_case(2, reference_case(rng, width, grid, modes),
                   f"2-D width {width} grid {grid[0]}x{grid[1]} modes {modes}")
    # The training-size layer, batched: 20 samples, width 32, 85 x 85, 12 modes.
    check_batched(2, reference_case(rng, 32, (85, 85), 12, batch=20), "2-D ")


def write_reference(directory):
    rng = np.random.default_rng(1234)
    v, r_re, r_im, w, b, cot = reference_case(rng, 4, 16, 3)
    k_vjp = np_spectral_vjp(v, r_re, r_im, cot)
    l_vjp = np_layer_vjp(v, r_re, r_im, w, b, cot)
    arrays = {
        "v": v, "r_re": r_re, "r_im": r_im, "w": w, "b": b, "cot": cot,
        "k_out": np_spectral(v, r_re, r_im),
        "layer_out": np_layer(v, r_re, r_im, w, b),
        "k_vjp_v": k_vjp[0], "k_vjp_r_re": k_vjp[1], "k_vjp_r_im": k_vjp[2],
        "layer_vjp_v": l_vjp[0], "layer_vjp_r_re": l_vjp[1], "layer_vjp_r_im": l_vjp[2],
        "layer_vjp_w": l_vjp[3], "layer_vjp_b": l_vjp[4],
        "modes": np.int64(3),
    }
    # The reference agrees with JAX's autodiff (the same assertions as --check-layer).
    lp = {"r_re": r_re, "r_im": r_im, "w": w, "b": b}
    out, vjp = jax.vjp(fourier_layer, v, lp)
    close(out, arrays["layer_out"], what="reference layer")
    gv, gl = vjp(cot)
    close(gv, arrays["layer_vjp_v"], what="reference vjp v")
    close(gl["r_im"], arrays["layer_vjp_r_im"], what="reference vjp r_im")
    os.makedirs(directory, exist_ok=True)
    np.savez(os.path.join(directory, "fno_spectral_layer.npz"),
             **{k: np.asarray(x, dtype=np.float64) if k != "modes" else x
                for k, x in arrays.items()})


def main(args):
    if args.check_layer:
        check_layer()
    if args.write_reference:
        write_reference(args.write_reference)
    if args.a:
        train(args)


if __name__ == "__main__":
    sys.exit(main(ARGS))
