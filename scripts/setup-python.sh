#!/usr/bin/env bash
# Creates .venv for the torch runner from this machine's local package index (no internet needed).
# Usage: scripts/setup-python.sh [python-interpreter]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-${BENCH_SETUP_PYTHON:-python3}}"
VENV="${BENCH_VENV:-.venv}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import torch, transformers, peft, safetensors' 2>/dev/null; then
  echo "python env ready: $VENV"; exit 0
fi
"$PY" -m venv "$VENV"
# Pass the local indexes explicitly: left as extra indexes, pip first retries the unreachable default one.
args=()
idx=$(pip config get global.extra-index-url 2>/dev/null || true)
first=1
for url in $idx; do
  if [ $first = 1 ]; then args+=(--index-url "$url"); first=0; else args+=(--extra-index-url "$url"); fi
done
links=$(pip config get global.find-links 2>/dev/null || true)
[ -n "$links" ] && args+=(--find-links "$links")
[ ${#args[@]} -eq 0 ] && echo "no local package index configured; using pip's default index"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check ${args[@]+"${args[@]}"} \
  torch transformers peft safetensors numpy onnx onnxruntime
"$VENV/bin/python" -c 'import torch, transformers, peft; print("python env ready:", torch.__version__, transformers.__version__, peft.__version__)'
