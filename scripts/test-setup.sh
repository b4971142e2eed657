#!/usr/bin/env bash
# Everything `npm test` needs on a fresh machine, idempotent and quick when already done:
# dependencies, the build, a Consul agent binary and the decK binary (both built from the Go module proxy
# into a cache outside the repository on first use), and the MCP Python SDK in a cached virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# npm ci when node_modules is missing or older than the lockfile (a pull that changed dependencies).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

step "building TypeScript"
rm -rf dist
npx --no-install tsc -p tsconfig.json

step "Consul agent for the integration tests"
consul_bin="$(bash consul/install.sh | tail -n 1)"
echo "consul: $consul_bin"

step "OpenTelemetry Collector for the tracing test"
otelcol_bin="$(bash otelcol/install.sh | tail -n 1)"
echo "otelcol: $otelcol_bin"

step "decK for the Kong export tests"
deck_bin="$(bash kong/install-deck.sh | tail -n 1)"
echo "deck: $deck_bin"

step "the MCP Python SDK for the Python client test"
# Exit status 3: no Python 3.10 or newer here, so that test skips and says why; any other failure stops the set-up.
python_status=0
python_bin="$(bash test/python/install.sh | tail -n 1)" || python_status=$?
case "$python_status" in
  0) echo "python: $python_bin" ;;
  3) echo "python: no Python 3.10 or newer: the Python SDK client test will skip" ;;
  *) exit "$python_status" ;;
esac

# The browser tests drive Debian's chromium with playwright-core (no browser download: only registry packages
# reach this machine). Installed only when missing and only as root; elsewhere those tests skip and say why.
step "Chromium for the browser tests"
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
elif [ "$(id -u)" -ne 0 ]; then
  echo "chromium: /usr/bin/chromium is missing and we are not root: the browser tests will skip (install it with: sudo apt-get install -y chromium)"
elif ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: /usr/bin/chromium is missing and there is no apt-get: the browser tests will skip"
else
  # Other apt users on the machine hold the dpkg lock for a while: wait for it instead of failing.
  echo "chromium: installing Debian's chromium (apt-get update, then apt-get install -y chromium)"
  apt-get -o DPkg::Lock::Timeout=600 update ||
    echo "chromium: apt-get update failed; trying the install with the package lists already present"
  if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y chromium; then
    echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
  else
    echo "chromium: apt-get install chromium failed: the browser tests will skip"
  fi
fi
