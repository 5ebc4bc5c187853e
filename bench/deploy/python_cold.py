"""bench/deploy.sh: one cold start of a Python process serving a compiled model through
ctypes: load the shared library (`sci compile model.sci -o model.so`), one call of `rhs`;
then (with --calls) the median time of a warm call. Prints one JSON line; times in seconds.
Only the standard library: `python3 bench/deploy/python_cold.py model.so Model n_states
THETA [--calls]`, THETA the default parameters, comma-separated (the shared library has the
functions only; the header `--emit header` and `model.json` list the defaults)."""
import time

t0 = time.perf_counter()
import ctypes
import json
import sys

so, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
params = [float(x) for x in sys.argv[4].split(",")]
calls = "--calls" in sys.argv
t1 = time.perf_counter()
lib = ctypes.CDLL(so)
f64p = ctypes.POINTER(ctypes.c_double)
rhs = getattr(lib, f"sci_{model}_rhs")
rhs.argtypes = [ctypes.c_double, f64p, f64p, f64p]
rhs.restype = ctypes.c_int32
y0 = getattr(lib, f"sci_{model}_y0")
y0.argtypes = [f64p, f64p]
y0.restype = ctypes.c_int32
theta = (ctypes.c_double * len(params))(*params)
y = (ctypes.c_double * n)()
dy = (ctypes.c_double * n)()
t2 = time.perf_counter()
assert y0(theta, y) == 0
assert rhs(0.0, y, theta, dy) == 0
t3 = time.perf_counter()
out = {"runtime": "python-ctypes", "model": model, "n": n, "import_s": t1 - t0,
       "load_s": t2 - t1, "first_call_s": t3 - t2, "check": dy[0]}
if calls:
    k = 1
    while True:
        s = time.perf_counter()
        for _ in range(k):
            rhs(0.0, y, theta, dy)
        if time.perf_counter() - s >= 2e-3:
            break
        k *= 2
    samples = []
    for _ in range(51):
        s = time.perf_counter()
        for _ in range(k):
            rhs(0.0, y, theta, dy)
        samples.append((time.perf_counter() - s) / k)
    samples.sort()
    out["call_s"] = samples[25]
print(json.dumps(out))
