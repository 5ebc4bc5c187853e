#!/usr/bin/env bash
# Installs playwright-core, the library web/test/browser.mjs drives headless Chromium with,
# and TypeScript, whose `tsc --strict` checks the loader types `sci compile --target wasm32`
# writes (tests/wasm_node.rs, through SCI_TSC), from npm into target/web-tools/node_modules,
# idempotently: nothing is downloaded when the pinned versions are already there. Prints
# the node_modules path (the last line of stdout). Both in one `npm install`: npm removes
# what a later install without a package.json does not name.
#
# playwright-core is the driver alone: it downloads no browser, and the test launches the
# system's Chromium (Debian's `chromium`; scripts/install-system.sh web). The pin is the
# release made for Chromium 156, the version Debian 12 ships today: Playwright speaks the
# DevTools protocol of its own Chromium release, and newer browsers stay compatible with
# it far longer than older ones do, so bump the pin when Debian's Chromium moves ahead.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=1.64.1
typescript=5.9.3
dest="$PWD/target/web-tools"

has() { # PACKAGE VERSION
    local package="$dest/node_modules/$1/package.json"
    [ -f "$package" ] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
        "$package" "$2"
}
installed() {
    has playwright-core "$version" && has typescript "$typescript"
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "error: node and npm are needed (scripts/install-system.sh web)" >&2
    exit 1
fi
if ! installed; then
    mkdir -p "$dest"
    npm install --prefix "$dest" --no-audit --no-fund --no-save --no-package-lock \
        --loglevel=error "playwright-core@$version" "typescript@$typescript" >&2
    installed || {
        echo "error: playwright-core $version and typescript $typescript did not install into $dest" >&2
        exit 1
    }
fi
echo "$dest/node_modules"
