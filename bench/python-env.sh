# Sourced by the benchmark scripts (from the repository root): the peers' Python
# environment in target/bench/venv, created if missing, with bench/requirements.txt
# installed (pip does nothing when every pin is already there). Sets `py`.
# BENCH_PIP=missing installs only when the environment is new (the JAX wrapper, called
# by scripts that have installed already).
venv=target/bench/venv
py=$venv/bin/python
if [ ! -x "$py" ]; then
    python3 -m venv "$venv"
    "$py" -m pip install -q --upgrade pip
    "$py" -m pip install -q -r bench/requirements.txt
elif [ "${BENCH_PIP:-always}" != missing ]; then
    "$py" -m pip install -q -r bench/requirements.txt
fi
