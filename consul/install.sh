#!/usr/bin/env bash
# Prints the path of a Consul agent binary as the last line of stdout (progress goes to stderr).
#
# Order: $CONSUL_BIN, then `consul` on PATH, then a binary cached by an earlier run, then a build of the pinned
# release from the Go module proxy (no Debian or npm package ships Consul; Go and the proxy are all we need).
# The module zip of hashicorp/consul leaves out the nested modules its go.mod replaces with local folders
# (api, sdk, proto-public, envoyextensions, troubleshoot), so we fetch those (at the release commit, or at the
# tagged versions its go.mod requires where the proxy serves only tags) and put them back.
#
# Idempotent and quick on a warm cache; a lock keeps two concurrent calls (two test files, two CI steps) from
# building at once: the second waits and then reuses the first one's binary.
set -euo pipefail

CONSUL_VERSION=1.20.5
NESTED_MODULES=(api sdk proto-public envoyextensions troubleshoot)

cache_root="${MCP_SIDECAR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-sidecar}"
dest_dir="$cache_root/consul-$CONSUL_VERSION"
dest="$dest_dir/consul"

say() { printf 'consul/install.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

works() { [ -x "$1" ] && "$1" version >/dev/null 2>&1; }

if [ -n "${CONSUL_BIN:-}" ]; then
  works "$CONSUL_BIN" || die "CONSUL_BIN=$CONSUL_BIN is not a working consul binary (\"$CONSUL_BIN version\" failed); unset it to build one"
  say "using \$CONSUL_BIN ($("$CONSUL_BIN" version | head -n 1))"
  echo "$CONSUL_BIN"
  exit 0
fi

if on_path="$(command -v consul 2>/dev/null)" && works "$on_path"; then
  say "using consul from PATH ($("$on_path" version | head -n 1))"
  echo "$on_path"
  exit 0
fi

if works "$dest"; then
  say "using cached $dest"
  echo "$dest"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "no consul found (\$CONSUL_BIN, PATH, $dest) and no Go toolchain to build one: install Go (https://go.dev/dl) or set CONSUL_BIN to a consul binary"

mkdir -p "$dest_dir"
exec 9>"$dest_dir/.lock"
if ! flock -n 9; then
  say "another install is building consul; waiting for it (lock $dest_dir/.lock)"
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

say "building Consul v$CONSUL_VERSION from the Go module proxy (a few minutes on a cold cache)"
say "downloading github.com/hashicorp/consul@v$CONSUL_VERSION"
root_json="$(cd "$work" && go mod download -json "github.com/hashicorp/consul@v$CONSUL_VERSION")" \
  || die "go mod download github.com/hashicorp/consul@v$CONSUL_VERSION failed (is GOPROXY reachable? go env GOPROXY = $(go env GOPROXY))"
root_dir="$(json_field Dir <<<"$root_json")"
root_info="$(json_field Info <<<"$root_json")"
[ -d "$root_dir" ] && [ -f "$root_info" ] || die "unexpected go mod download output: $root_json"
commit="$(sed -n 's/.*"Hash":"\([0-9a-f]\{40\}\)".*/\1/p' "$root_info")"
if [ -n "$commit" ]; then say "release commit $commit"; else say "no Origin.Hash in $root_info: nested modules come from the versions go.mod requires"; fi

src="$work/consul"
cp -R "$root_dir" "$src"
chmod -R u+w "$src"

# The release's own go.mod names the tagged version of each nested module it was tested with.
required_version() { sed -n "s|^[[:space:]]*github.com/hashicorp/consul/$1 \(v[^ ]*\)\$|\1|p" "$src/go.mod" | head -n 1; }

# Prefer the exact release commit (a pseudo-version); some proxies serve only tagged versions, and then the
# version go.mod requires is the next best (the release builds with it: checked for v1.20.5).
download_nested() {
  local module="$1" version
  for version in ${commit:+"$commit"} "$(required_version "$module")"; do
    [ -n "$version" ] || continue
    local json dir
    if json="$(cd "$work" && go mod download -json "github.com/hashicorp/consul/$module@$version" 2>/dev/null)"; then
      dir="$(json_field Dir <<<"$json")"
      if [ -d "$dir" ]; then
        say "nested module $module: $(json_field Version <<<"$json")"
        echo "$dir"
        return 0
      fi
    fi
    say "nested module $module@$version not available from $(go env GOPROXY); trying the next candidate"
  done
  return 1
}

for module in "${NESTED_MODULES[@]}"; do
  nested_dir="$(download_nested "$module")" || die "cannot download github.com/hashicorp/consul/$module (neither at the release commit nor at the version go.mod requires)"
  rm -rf "${src:?}/$module"
  cp -R "$nested_dir" "$src/$module"
  chmod -R u+w "$src/$module"
done

say "compiling (CGO_ENABLED=0 go build)"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$work/consul-bin" .) || die "go build of consul failed (see the compiler output above)"
works "$work/consul-bin" || die "the built binary does not run: $work/consul-bin version failed"
mv -f "$work/consul-bin" "$dest"

say "built $("$dest" version | head -n 1) in $(( $(date +%s) - started ))s"
echo "$dest"
