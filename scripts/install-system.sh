#!/usr/bin/env bash
# Installs the Debian packages that the named features need (the list is scripts/prereqs.sh),
# idempotently: nothing happens when every check of every feature passes. Needs root (or
# sudo) and Debian 12's mirror, with the bookworm-security suite (LLVM/MLIR 22 come from it).
#
#   scripts/install-system.sh FEATURE...     features: rust python fonts llvm mlir cuda mpi bench
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prereqs.sh

if [ "$#" = 0 ]; then
    echo "usage: scripts/install-system.sh FEATURE...   (${prereq_features[*]})" >&2
    exit 2
fi
for feature in "$@"; do
    if ! printf '%s\n' "${prereq_features[@]}" | grep -qx -- "$feature"; then
        echo "error: unknown feature \`$feature\` (known: ${prereq_features[*]})" >&2
        exit 2
    fi
done
prereq_install "$@"
echo "the system packages that $* need are installed"
