#!/bin/sh
# build.sh -- install what mod_websocket needs, build it, and optionally
# start the demo or run the tests.  The README's two commands:
#
#   ./build.sh start     demo site on http://localhost:8080/ (PORT=n to move)
#   ./build.sh test      every test (unit + integration); CI runs this
#
# Plain `./build.sh` only installs dependencies and builds.  Debian
# packages come from apt (run as root, or with sudo available); the Node
# test client comes from npm into tests/node/node_modules.
set -eu
cd "$(dirname "$0")"

# Build: apxs (apache2-dev), APR, Check, OpenSSL, zlib, jansson (JSON:
# HTTP publishing's answers, the chat handler), hiredis (channels over
# Redis).  Run: apache2-bin
# (httpd itself and its modules; no system service is started), media-types
# (mime.types), apache2-utils (htpasswd).  Tests: Python websockets,
# h2 (the HTTP/2 client for WebSockets over HTTP/2) and pytest, openssl
# (test certificates), curl, clang and its libFuzzer runtime (make fuzz),
# redis-server (the tests start their own on a free port; Debian's redis
# service is not started), chromium (the browser tests drive it with
# playwright-core from npm: no browser download), nginx-light and
# libnginx-mod-nchan (the benchmark peer of `make bench`; Debian's nginx
# service is not started).
DEBS="apache2-bin apache2-dev apache2-utils media-types libapr1-dev
libaprutil1-dev check pkg-config libssl-dev zlib1g-dev libjansson-dev
libhiredis-dev redis-server chromium nginx-light libnginx-mod-nchan python3 python3-websockets python3-h2 python3-pytest openssl curl make gcc clang
libclang-rt-14-dev"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=""
for p in $DEBS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# Node is only installed from Debian if the machine has none.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "build.sh: installing Debian packages:$missing"
    as_root apt-get update -qq
    # No package may start its system service (redis-server's would take
    # port 6379): a policy-rc.d that refuses, for the install only.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# build.sh: no service starts during its apt-get\nexit 101\n' \
            | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $missing >/dev/null || {
        [ -z "$policy" ] || as_root rm -f "$policy"; exit 1; }
    [ -z "$policy" ] || as_root rm -f "$policy"
fi

if [ ! -d tests/node/node_modules/ws ] \
   || [ ! -d tests/node/node_modules/playwright-core ]; then
    echo "build.sh: installing the Node test clients (npm ci: ws, playwright-core)"
    npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
fi
# The demo's React and Vue examples load React, ReactDOM, htm and Vue in
# the browser without a build step: from npm into demo/node_modules.
if [ ! -d demo/node_modules/react ] || [ ! -d demo/node_modules/vue ]; then
    echo "build.sh: installing the demo's browser libraries (npm ci: react, react-dom, htm, vue)"
    npm ci --prefix demo --no-audit --no-fund --loglevel=error
fi

make all

case "${1:-}" in
    start) make start PORT="${PORT:-8080}" ;;
    test) make test ;;
    "") ;;
    *) echo "usage: $0 [start|test]" >&2; exit 2 ;;
esac
