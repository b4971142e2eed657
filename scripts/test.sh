#!/usr/bin/env bash
# Runs every test file: unit, integration (real MCP servers, a real Consul agent), contract, conformance, and
# the live Kong tests (which skip with a reason where no Docker engine is reachable).
# Two files at a time: the machine has two cores and most tests run real processes.
#
# The whole suite runs twice, one run after the other: on the Node that runs npm (the machine's) and on Node 24
# LTS (the image's runtime, from the `node24` dev dependency, npm package node@24). The tests start every
# sidecar and MCP server with process.execPath, so each run's processes are all on that run's Node. Both runs'
# closing summaries are repeated at the end; the script fails if either run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=(dist/test/*/*.test.js)
if [ ${#files[@]} -eq 0 ]; then
  echo "no compiled tests in dist/test: run 'npm test' (its pretest step builds them)" >&2
  exit 1
fi
# npm puts node_modules/.bin first on PATH, and the node@22 dev dependency (for the conformance CLI only) links
# a `node` there: the first run is on the Node that runs npm, not on whatever `node` comes first on PATH.
host_node="${npm_node_execpath:-$(command -v node)}"
node24=node_modules/node24/bin/node
if [ ! -x "$node24" ]; then
  echo "no Node 24 at $node24: install the dev dependencies ('npm ci'); the node24 alias (npm package node@24) provides it" >&2
  exit 1
fi
nodes=("$host_node")
major() { "$1" -p 'process.versions.node.split(".")[0]'; }
if [ "$(major "$host_node")" != "$(major "$node24")" ]; then nodes+=("$node24"); fi

# Formatting and lint first: drift fails the run before any test starts (npm run format fixes the first).
echo "=== prettier --check and eslint (npm run lint)"
npm run --silent lint >/dev/null || { npm run --silent lint; echo "formatting or lint problems (above): 'npm run format' fixes formatting" >&2; exit 1; }
echo "formatting and lint: ok"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
for i in "${!nodes[@]}"; do
  node_bin=${nodes[$i]}
  echo "=== tests on Node $("$node_bin" -v) ($node_bin)"
  # The spec reporter on both Nodes (20 picks TAP when stdout is not a terminal, 24 spec), so both end alike.
  rc=0
  "$node_bin" --test --test-reporter=spec --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}" 2>&1 |
    tee "$logs/$i" || rc=$?
  echo "$rc" >"$logs/$i.rc"
  [ "$rc" -eq 0 ] || failed=1
done

echo
echo "=== summary"
for i in "${!nodes[@]}"; do
  node_bin=${nodes[$i]}
  rc=$(cat "$logs/$i.rc")
  echo "Node $("$node_bin" -v) ($node_bin): $([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")"
  grep -E '^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [0-9.]+$' "$logs/$i" | sed 's/^/  /' || true
  # The spec reporter lists the failing tests after its summary; repeat their names.
  awk '/^✖ failing tests:/ { listing = 1; next } listing && /^ *✖ / { print "  " $0 }' "$logs/$i"
done
exit "$failed"
