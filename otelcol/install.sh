#!/usr/bin/env bash
# Prints the path of an OpenTelemetry Collector binary as the last line of stdout (progress goes to stderr).
#
# Order: $OTELCOL_BIN, then a binary cached by an earlier run, then a build from the Go module proxy with the
# Collector's own builder (ocb), from a manifest with the core distribution's otlp receiver and debug exporter
# only (the tracing test reads spans from the debug exporter's detailed output). Used by the tracing test only.
set -euo pipefail

OTELCOL_VERSION=0.165.0

cache_root="${MCP_SIDECAR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-sidecar}"
dest_dir="$cache_root/otelcol-$OTELCOL_VERSION"
dest="$dest_dir/otelcol"

say() { printf 'otelcol/install.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
works() { [ -x "$1" ] && "$1" components >/dev/null 2>&1; }

if [ -n "${OTELCOL_BIN:-}" ]; then
  works "$OTELCOL_BIN" || die "OTELCOL_BIN=$OTELCOL_BIN is not a working collector (\"$OTELCOL_BIN components\" failed); unset it to build one"
  echo "$OTELCOL_BIN"
  exit 0
fi
if works "$dest"; then
  say "using cached $dest"
  echo "$dest"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "no collector at $dest and no Go toolchain to build one: install Go (https://go.dev/dl) or set OTELCOL_BIN"

mkdir -p "$dest_dir"
exec 9>"$dest_dir/.lock"
if ! flock -n 9; then
  say "another install is building the collector; waiting for it (lock $dest_dir/.lock)"
  flock 9
fi
if works "$dest"; then echo "$dest"; exit 0; fi

started=$(date +%s)
work="$(mktemp -d -p "$dest_dir")"
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

say "building the Collector builder v$OTELCOL_VERSION from the Go module proxy"
GOBIN="$work/bin" go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION" \
  || die "go install go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION failed (is GOPROXY reachable? go env GOPROXY = $(go env GOPROXY))"

cat >"$work/manifest.yaml" <<MANIFEST
dist:
  name: otelcol
  description: OTLP receiver and debug exporter, for the mcp-sidecar tracing test
  output_path: $work/build
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v$OTELCOL_VERSION
exporters:
  - gomod: go.opentelemetry.io/collector/exporter/debugexporter v$OTELCOL_VERSION
MANIFEST

say "compiling the collector (a few minutes on a cold cache)"
CGO_ENABLED=0 "$work/bin/builder" --config="$work/manifest.yaml" >&2 || die "the collector build failed (see the builder output above)"
"$work/build/otelcol" components >/dev/null || die "the built collector does not run: $work/build/otelcol components failed"
mv -f "$work/build/otelcol" "$dest"
say "built the collector ($("$dest" components | grep -c "name:") components) in $(( $(date +%s) - started ))s"
echo "$dest"
