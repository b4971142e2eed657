#!/usr/bin/env bash
# Prints the path of a Python interpreter that has the official MCP Python SDK (test/python/requirements.txt) as
# the last line of stdout; progress goes to stderr. A virtual environment cached outside the repository, keyed by
# the requirements file's hash, so a changed pin installs afresh and an unchanged one costs nothing.
#
# Exit status 3 (and a reason on stderr) when this machine has no Python 3.10 or newer: the SDK needs it, and the
# test that uses it then skips with that reason. Any other failure (pip cannot reach PyPI, say) is an error.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
requirements="$here/requirements.txt"
cache_root="${MCP_SIDECAR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-sidecar}"

say() { printf 'test/python/install.sh: %s\n' "$*" >&2; }

python=""
for candidate in "${MCP_SIDECAR_PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
    python="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$python" ]; then
  # Debian's python3 lacks ensurepip until python3-venv is installed: venv could not install pip.
  say "no Python 3.10 or newer with the venv and ensurepip modules (Debian: apt-get install python3-venv; or set MCP_SIDECAR_PYTHON to one): the Python SDK client test will skip"
  exit 3
fi

hash="$(sha256sum "$requirements" | cut -c1-12)"
venv="$cache_root/python-mcp-$hash"
# Usable, not merely present: a Python upgraded under the venv leaves a bin/python that no longer starts.
works() { [ -f "$venv/.installed" ] && "$venv/bin/python" -c 'import mcp.client' >/dev/null 2>&1; }
if works; then
  say "using cached $venv"
  echo "$venv/bin/python"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.python-mcp.lock"
flock 9
if works; then echo "$venv/bin/python"; exit 0; fi

say "creating $venv with $python ($("$python" --version 2>&1)) and installing the MCP Python SDK from PyPI"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2 ||
  { say "pip install -r $requirements failed (is PyPI reachable? pip config list shows the index)"; rm -rf "$venv"; exit 1; }
touch "$venv/.installed"
echo "$venv/bin/python"
