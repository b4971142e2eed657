#!/usr/bin/env bash
# Runs every test file: unit, integration (real MCP servers, a real Consul agent), contract, conformance, and
# the live Kong tests (which skip with a reason where no Docker engine is reachable).
# Two files at a time: the machine has two cores and most tests run real processes.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=(dist/test/*/*.test.js)
if [ ${#files[@]} -eq 0 ]; then
  echo "no compiled tests in dist/test: run 'npm test' (its pretest step builds them)" >&2
  exit 1
fi
# npm puts node_modules/.bin first on PATH, and the node@22 dev dependency (for the conformance CLI only) links
# a `node` there: run the tests, and so every sidecar they start, on the Node that runs npm (the supported 20+).
node_bin="${npm_node_execpath:-$(command -v node)}"
echo "tests run on $("$node_bin" -v) ($node_bin)"
exec "$node_bin" --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}"
