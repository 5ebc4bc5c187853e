#!/usr/bin/env bash
# The language server tested with an independent LSP client: pytest-lsp (pygls) from PyPI.
#
#   tests/lsp_client/run.sh [pytest args...]
#
# Installs the pinned client (requirements.txt) into target/lsp-client/venv, idempotently:
# nothing is installed when the venv already matches requirements.txt. The wheels of the
# first install are kept in target/lsp-client/wheels, so a later (re)install works offline.
# Builds the `sci` binary, then runs the tests against `sci lsp`. Skipped, with a message,
# only when Python's pip is not available at all.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -m pip --version >/dev/null 2>&1; then
    echo "SKIPPED: the independent LSP client test (pytest-lsp) needs Python 3 with pip, and \`$python -m pip\` is not available."
    exit 0
fi

cd "$root"
target="$(cargo metadata --format-version 1 --no-deps --locked \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
state="$target/lsp-client"
venv="$state/venv"
wheels="$state/wheels"
requirements="$here/requirements.txt"
quiet=(--quiet --disable-pip-version-check)

# pip of the venv, or the system pip aimed at the venv when the venv has none (Debian
# without python3-venv's ensurepip).
vpip() {
    if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        "$venv/bin/python" -m pip "$@"
    else
        "$python" -m pip --python "$venv/bin/python" "$@"
    fi
}

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/.requirements"; then
    echo "installing the LSP test client into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv" 2>/dev/null || "$python" -m venv --without-pip "$venv"
    # Offline first, from the wheels of an earlier install; else download them once.
    if ! vpip install "${quiet[@]}" --no-index --find-links "$wheels" -r "$requirements" 2>/dev/null; then
        mkdir -p "$wheels"
        vpip download "${quiet[@]}" --dest "$wheels" -r "$requirements"
        vpip install "${quiet[@]}" --no-index --find-links "$wheels" -r "$requirements"
    fi
    cp "$requirements" "$venv/.requirements"
fi

cargo build --quiet --locked --bin sci
export SCI_BIN="$target/debug/sci"
export PYTHONDONTWRITEBYTECODE=1
cd "$here"
exec "$venv/bin/python" -m pytest -q "$@"
