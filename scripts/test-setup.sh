#!/usr/bin/env bash
# Everything `npm test` needs on a fresh machine, idempotent and quick when already done:
# dependencies, the build, a Consul agent binary and the decK binary (both built from the Go module proxy
# into a cache outside the repository on first use).
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
