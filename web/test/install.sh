#!/usr/bin/env bash
# Installs playwright-core, the library web/test/browser.mjs drives headless Chromium with,
# from npm into target/web-tools/node_modules, idempotently: nothing is downloaded when the
# pinned version is already there. Prints the node_modules path (the last line of stdout).
#
# playwright-core is the driver alone: it downloads no browser, and the test launches the
# system's Chromium (Debian's `chromium`; scripts/install-system.sh web). The pin is the
# release made for Chromium 156, the version Debian 12 ships today: Playwright speaks the
# DevTools protocol of its own Chromium release, and newer browsers stay compatible with
# it far longer than older ones do, so bump the pin when Debian's Chromium moves ahead.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=1.64.1
dest="$PWD/target/web-tools"
package="$dest/node_modules/playwright-core/package.json"

installed() {
    [ -f "$package" ] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
        "$package" "$version"
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "error: node and npm are needed (scripts/install-system.sh web)" >&2
    exit 1
fi
if ! installed; then
    mkdir -p "$dest"
    npm install --prefix "$dest" --no-audit --no-fund --no-save --no-package-lock \
        --loglevel=error "playwright-core@$version" >&2
    installed || { echo "error: playwright-core $version did not install into $dest" >&2; exit 1; }
fi
echo "$dest/node_modules"
