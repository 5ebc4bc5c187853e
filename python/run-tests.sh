#!/usr/bin/env bash
# The Python package's tests: builds and installs the package into a venv as a user would
# (`pip install ./python`), then runs pytest (python/tests: the API, JAX, the notebook).
#
#   python/run-tests.sh [pytest args...]
#
# The venv is target/python-venv, made and filled from requirements-test.txt (PyPI)
# idempotently: nothing is installed when it already matches. Wheels of the first install
# are kept in target/python-wheels, so a later reinstall works offline. The extension is
# compiled into target/python (its own Cargo workspace: the default Rust build never
# needs Python), so a second run only recompiles what changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
cd "$root"

target="$(cargo metadata --format-version 1 --no-deps --locked \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
venv="$target/python-venv"
wheels="$target/python-wheels"
requirements="$here/requirements-test.txt"
quiet=(--quiet --disable-pip-version-check)

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/.requirements"; then
    echo "installing the Python test environment into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # Offline first, from the wheels of an earlier install; else download them once.
    if ! "$venv/bin/pip" install "${quiet[@]}" --no-index --find-links "$wheels" -r "$requirements" 2>/dev/null; then
        mkdir -p "$wheels"
        "$venv/bin/pip" download "${quiet[@]}" --dest "$wheels" -r "$requirements"
        "$venv/bin/pip" install "${quiet[@]}" --no-index --find-links "$wheels" -r "$requirements"
    fi
    cp "$requirements" "$venv/.requirements"
fi

# The package as a user installs it (maturin from the venv, so no download per build).
echo "pip install ./python (compiling into $target/python)"
PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$target/python" "$venv/bin/pip" install "${quiet[@]}" \
    --no-build-isolation --no-deps --force-reinstall "$here"

# The tests compare with the command-line tool and the Rust API.
cargo build --quiet --locked --bin sci
export SCI_BIN="$target/debug/sci"
export PYTHONDONTWRITEBYTECODE=1
# Outside python/, so `import sci` is the installed package, not the source folder.
cd "$root"
exec "$venv/bin/pytest" -q -p no:cacheprovider "$here/tests" "$@"
