#!/usr/bin/env bash
# Creates .venv for the torch runner from this machine's local package index (no internet needed).
# Usage: scripts/setup-python.sh [python-interpreter]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-${BENCH_SETUP_PYTHON:-python3}}"
VENV="${BENCH_VENV:-.venv}"
# Each package the project needs, as pip installs it and as Python imports it (gguf: llama.cpp's reader, used by the
# llamacpp tests as the independent GGUF reader and dequantiser; fastapi … accelerate: what `transformers serve`, the
# serve runner's managed server, imports).
PACKAGES=(torch transformers peft safetensors numpy onnx onnxruntime gguf==0.19.0 fastapi uvicorn pydantic openai starlette rich accelerate)
MODULES=(torch transformers peft safetensors numpy onnx onnxruntime gguf fastapi uvicorn pydantic openai starlette rich accelerate)
missing=()
if [ -x "$VENV/bin/python" ]; then
  for i in "${!MODULES[@]}"; do
    "$VENV/bin/python" -c "import ${MODULES[$i]}" 2>/dev/null || missing+=("${PACKAGES[$i]}")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo "python env ready: $VENV"; exit 0; fi
  echo "python env $VENV lacks: ${missing[*]}"
else
  "$PY" -m venv "$VENV"
  missing=("${PACKAGES[@]}")
fi
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
  "${missing[@]}"
"$VENV/bin/python" -c 'import torch, transformers, peft, fastapi, uvicorn; print("python env ready:", torch.__version__, transformers.__version__, peft.__version__)'
