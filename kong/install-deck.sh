#!/usr/bin/env bash
# Prints the path of a decK binary as the last line of stdout (progress goes to stderr).
#
# decK checks the `mcp-sidecar kong-config` export (`deck file validate`). No Debian or npm package ships it, so
# the pinned release is built from the Go module proxy: `go mod download` the module, copy its folder out of the
# read-only module cache, `go build` there. Order: $DECK_BIN, then `deck` on PATH when it is the pinned version,
# then a binary cached by an earlier run, then a build.
#
# The pin is the newest v1.x release the module proxy serves here (v1.55.0); bump DECK_VERSION to move on.
# Idempotent and quick on a warm cache; a lock keeps two concurrent calls (two test files, two CI steps) from
# building at once: the second waits and then reuses the first one's binary.
set -euo pipefail

DECK_VERSION=1.55.0
MODULE=github.com/kong/deck

cache_root="${MCP_SIDECAR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-sidecar}"
dest_dir="$cache_root/deck-$DECK_VERSION"
dest="$dest_dir/deck"

say() { printf 'kong/install-deck.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

works() { [ -x "$1" ] && "$1" version >/dev/null 2>&1; }
version_of() { "$1" version 2>/dev/null | head -n 1; }

if [ -n "${DECK_BIN:-}" ]; then
  works "$DECK_BIN" || die "DECK_BIN=$DECK_BIN is not a working deck binary (\"$DECK_BIN version\" failed); unset it to build one"
  say "using \$DECK_BIN ($(version_of "$DECK_BIN"))"
  echo "$DECK_BIN"
  exit 0
fi

# Another deck version validates a different schema set: take one from PATH only when it is the pinned one.
if on_path="$(command -v deck 2>/dev/null)" && works "$on_path" && version_of "$on_path" | grep -q "v$DECK_VERSION"; then
  say "using deck from PATH ($(version_of "$on_path"))"
  echo "$on_path"
  exit 0
fi

if works "$dest"; then
  say "using cached $dest"
  echo "$dest"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "no deck found (\$DECK_BIN, PATH, $dest) and no Go toolchain to build one: install Go (https://go.dev/dl) or set DECK_BIN to a deck v$DECK_VERSION binary"

mkdir -p "$dest_dir"
exec 9>"$dest_dir/.lock"
if ! flock -n 9; then
  say "another install is building deck; waiting for it (lock $dest_dir/.lock)"
  flock 9
fi
# The holder may have finished the build while we waited.
if works "$dest"; then
  say "using cached $dest (built by a concurrent run)"
  echo "$dest"
  exit 0
fi

started=$(date +%s)
work="$(mktemp -d -p "$dest_dir")"  # a fresh build folder beside the cached binary
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# `go mod download -json` prints one JSON object; pick a string field without needing jq.
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n 1; }

say "building decK v$DECK_VERSION from the Go module proxy (a few minutes on a cold cache)"
say "downloading $MODULE@v$DECK_VERSION"
mod_json="$(cd "$work" && go mod download -json "$MODULE@v$DECK_VERSION")" \
  || die "go mod download $MODULE@v$DECK_VERSION failed (is GOPROXY reachable? go env GOPROXY = $(go env GOPROXY))"
mod_dir="$(json_field Dir <<<"$mod_json")"
[ -d "$mod_dir" ] || die "unexpected go mod download output: $mod_json"

src="$work/deck"
cp -R "$mod_dir" "$src"
chmod -R u+w "$src"

say "downloading dependencies (go mod download in the module folder)"
(cd "$src" && go mod download) || die "go mod download of decK's dependencies failed (see above)"

# decK prints its version from a variable set at link time; without it `deck version` says "dev".
say "compiling (CGO_ENABLED=0 go build)"
(cd "$src" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $MODULE/cmd.VERSION=v$DECK_VERSION" -o "$work/deck-bin" .) \
  || die "go build of decK failed (see the compiler output above)"
works "$work/deck-bin" || die "the built binary does not run: $work/deck-bin version failed"
mv -f "$work/deck-bin" "$dest"

say "built $(version_of "$dest") in $(( $(date +%s) - started ))s"
echo "$dest"
