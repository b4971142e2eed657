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
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}"
