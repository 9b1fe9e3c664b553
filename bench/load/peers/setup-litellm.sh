#!/usr/bin/env bash
# Installs the pinned LiteLLM proxy (the peer of issue 8 part 3) into a venv
# OUTSIDE the checkout and prints the venv's path as its last line.
#
#   venv=$(bash bench/load/peers/setup-litellm.sh | tail -n 1)
#   "$venv/bin/litellm" --version
#
# The venv lives at ${AIRLOCK_CACHE:-$HOME/.cache/airlock}/litellm-venv-<hash>,
# where <hash> covers requirements-litellm.txt and the Python version, so a
# changed pin gives a new venv and an unchanged one is reused (idempotent: a
# second run installs nothing). Every package is pinned in
# requirements-litellm.txt and installed with --no-deps, then `pip check`
# verifies the set is consistent. Environment: PYTHON (default python3,
# needs >= 3.10), AIRLOCK_CACHE.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements-litellm.txt"
py="${PYTHON:-python3}"

"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || {
  echo "setup-litellm.sh: $py is older than 3.10; LiteLLM needs 3.10+" >&2
  exit 1
}
pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
hash=$({ cat "$req"; echo "python $pyver"; } | sha256sum | cut -c1-12)
cache="${AIRLOCK_CACHE:-$HOME/.cache/airlock}"
venv="$cache/litellm-venv-$hash"
marker="$venv/.airlock-installed"

if [[ ! -f $marker ]]; then
  # A venv without the marker is a half-finished install: start over.
  rm -rf "$venv"
  mkdir -p "$cache"
  echo "setup-litellm.sh: creating $venv (python $pyver)" >&2
  "$py" -m venv "$venv"
  # No pip version check, no progress bars; pip reaches only the package index.
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
  timeout 1200 "$venv/bin/pip" install --quiet --no-deps --require-virtualenv -r "$req" >&2
  "$venv/bin/pip" check >&2
  cp "$req" "$marker"
fi
echo "setup-litellm.sh: $("$venv/bin/pip" show litellm 2>/dev/null | awk '/^Version:/ {print "litellm " $2}') in" >&2
echo "$venv"
