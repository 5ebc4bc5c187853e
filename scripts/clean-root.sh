#!/usr/bin/env bash
# Proves the README's two commands on a clean system: builds a fresh, minimal Debian 12 root
# from Debian's packages (debootstrap), adds only what "a machine with Rust" has (the host's
# Rust toolchain, mounted read-only; gcc and libc6-dev, rustup's own prerequisites; git and
# CA certificates to clone and download), clones this repository's HEAD into it and runs the
# README's two commands there, in order, timing each. Anything an install step forgets is
# missing there, unlike on a developer's machine. Not part of CI: it takes most of an hour.
#
#   scripts/clean-root.sh [DIR]      DIR: where the root goes (default target/clean-root;
#                                    removed and made anew). Needs root, debootstrap and the
#                                    Debian mirror. Log: DIR.log; times: DIR.times.
#   scripts/clean-root.sh --again [DIR]
#                                    after fixing what a run found: the same root (what the
#                                    scripts installed there stays, nothing by hand), this
#                                    repository's new HEAD checked out in its clone, both
#                                    commands run again (builds are reused, so times are
#                                    not a fresh machine's).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
again=0
if [ "${1:-}" = --again ]; then
    again=1
    shift
fi
root=$(realpath -m "${1:-target/clean-root}")
log=$root.log
times=$root.times
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin

if [ "$(id -u)" != 0 ]; then
    echo "error: scripts/clean-root.sh needs root (debootstrap, chroot, mounts)" >&2
    exit 2
fi
command -v debootstrap >/dev/null || {
    echo "error: debootstrap is missing: apt-get install debootstrap" >&2
    exit 2
}

mounts=()
cleanup() {
    local m
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        m=${mounts[i]}
        umount -l "$m" 2>/dev/null || true
    done
}
trap cleanup EXIT
mount_in() { # OPTIONS... SOURCE TARGET
    local target=${*: -1}
    mkdir -p "$target"
    mount "$@"
    mounts+=("$target")
}

mounted_under_root() { findmnt -rn -o TARGET | grep -F "$root/" || true; }
# A run that was killed may have left its mounts (/dev among them, read-write): unmount them
# before touching the old root, and refuse if any remain.
for m in $(mounted_under_root | sort -r); do umount -l "$m" || true; done
if [ -n "$(mounted_under_root)" ]; then
    echo "error: still mounted under $root: $(mounted_under_root | tr '\n' ' ')" >&2
    exit 1
fi
if [ "$again" = 1 ]; then
    [ -d "$root/root/sci/.git" ] || {
        echo "error: no earlier root at $root to run again" >&2
        exit 2
    }
    echo "== the same Debian 12 root at $root, again (log: $log)"
else
    echo "== a fresh Debian 12 root at $root (log: $log)"
    rm -rf "$root"
    mkdir -p "$root"
    : >"$log"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >>"$log" 2>&1
fi
# The suites of a standard Debian 12 installation; LLVM/MLIR 22 are in bookworm-security.
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount_in -t proc proc "$root/proc"
mount_in --rbind /dev "$root/dev"
mount_in -t tmpfs tmpfs "$root/tmp"
mount_in --bind -o ro "$rustup_home" "$root/opt/rust/rustup"
mount_in --bind -o ro "$cargo_bin" "$root/opt/rust/bin"
mount_in --bind -o ro "$repo" "$root/opt/upstream"

# The CA settings of the host's network (a TLS-intercepting proxy's certificate, and the
# variables that point pip and cargo at the system store) belong to this network, not to the
# project: a machine here has them, so the root gets them too.
ca_env=()
for var in SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE PIP_CERT GIT_SSL_CAINFO; do
    [ -n "${!var:-}" ] && ca_env+=("$var=${!var}")
done
in_root() { # COMMAND (a bash script run as root inside the root, in /root/sci)
    chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 "${ca_env[@]}" \
        PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        RUSTUP_HOME=/opt/rust/rustup CARGO_HOME=/root/.cargo RUSTUP_TOOLCHAIN="$toolchain" \
        /bin/bash -euo pipefail -c "$1"
}
toolchain=$(rustup show active-toolchain | cut -d' ' -f1)

commit=$(git -C "$repo" rev-parse HEAD)
if [ "$again" = 0 ]; then
    echo "== what a machine with Rust has: gcc, libc6-dev, git, ca-certificates"
    in_root 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends gcc libc6-dev git ca-certificates' >>"$log" 2>&1
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        mkdir -p "$root/usr/local/share/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        in_root 'update-ca-certificates' >>"$log" 2>&1
    fi
    in_root "git clone -q /opt/upstream /root/sci && cd /root/sci && git checkout -q $commit" \
        >>"$log" 2>&1
    echo "   cloned $commit"
else
    in_root "cd /root/sci && git fetch -q /opt/upstream && git checkout -q $commit" >>"$log" 2>&1
    echo "   checked out $commit"
fi

run_timed() { # NAME COMMAND
    local start end status=0
    echo "== $1: $2"
    start=$(date +%s)
    in_root "cd /root/sci && $2" >>"$log" 2>&1 || status=$?
    end=$(date +%s)
    printf '%s\t%s\t%d s\texit %d%s\n' "$1" "$2" $((end - start)) "$status" \
        "$([ "$again" = 1 ] && echo ' (again: builds reused)')" | tee -a "$times"
    return "$status"
}
[ "$again" = 1 ] || : >"$times"
run_timed "first command" \
    "cargo run --release -- run examples/robertson.sci --out robertson.csv --plot robertson.svg --log-t"
run_timed "second command" "scripts/test.sh"
echo "== both commands succeeded on a clean Debian 12 root ($times)"
