#!/usr/bin/env bash
#SBATCH --job-name=effbench
#SBATCH --array=1-4
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --gres=gpu:1
#SBATCH --time=03:00:00
#SBATCH --signal=B:TERM@300
#SBATCH --output=effbench-%A_%a.out
#
# effbench on a SLURM cluster (docs/ci.md): an array job runs one shard of a suite per task, each into a
# database on the node's local disk (SQLite's WAL does not work on network filesystems — docs/store.md), copies it
# to a shared results folder when done, and a dependent job merges the shards into one database and a report.
#
#   scripts/slurm-array.sh submit          on the login node: submits the array (shards 1..N) and the merge job
#                                          that waits for it (afterany: it merges what finished and says what did not)
#   sbatch scripts/slurm-array.sh          the array alone (each task runs shard $SLURM_ARRAY_TASK_ID of N)
#   scripts/slurm-array.sh merge           merge by hand (RUN_NAME names the run folder)
#
# Settings (environment variables; sbatch passes the environment on by default):
#   SUITE         suite file (default suites/gpu-nightly.ts)
#   SHARDS        shard count for `submit` (default 4; an `sbatch --array=1-8 …` sets it for the array alone)
#   RESULTS_DIR   shared folder for the shard files, the merged database and the report (default ./effbench-results)
#   RUN_NAME      sub-folder of this run (default the array job id); resubmit with the same RUN_NAME to resume:
#                 each shard continues from its copied database with `bench run --resume`
#   BASELINE_DB   when set, the merge job runs `bench compare $BASELINE_DB merged.db` and fails on a regression
#   THRESHOLD     bench compare --threshold (default 5%)
#   NODE          Node ≥ 20.19 binary (default node on PATH; e.g. after `module load nodejs`)
#   BENCH_PYTHON  Python with CUDA torch, transformers and peft for the torch runner (default python3)
set -euo pipefail

ROOT="${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$ROOT"
SUITE="${SUITE:-suites/gpu-nightly.ts}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/effbench-results}"
NODE="${NODE:-node}"
BENCH=("$NODE" "$ROOT/bin/bench.js")
LOCAL_TMP="${SLURM_TMPDIR:-${TMPDIR:-/tmp}}"

submit() {
  local shards="${SHARDS:-4}"
  local array_id
  array_id=$(sbatch --parsable --array="1-$shards" --export=ALL "$ROOT/scripts/slurm-array.sh")
  array_id="${array_id%%;*}"
  local run_name="${RUN_NAME:-$array_id}"
  # --wrap reads no #SBATCH lines: the merge job is a one-CPU job without a GPU.
  local merge_id
  merge_id=$(sbatch --parsable --dependency="afterany:$array_id" --job-name=effbench-merge --ntasks=1 --cpus-per-task=1 \
    --time=00:30:00 --output="effbench-merge-%j.out" --export="ALL,RUN_NAME=$run_name,SHARDS=$shards" \
    --wrap="bash '$ROOT/scripts/slurm-array.sh' merge")
  echo "submitted shards: job $array_id (array 1-$shards); merge: job $merge_id → $RESULTS_DIR/$run_name"
}

shard() {
  local task="${SLURM_ARRAY_TASK_ID:?run as an array task (sbatch scripts/slurm-array.sh), or use: submit | merge}"
  local count="${SLURM_ARRAY_TASK_COUNT:-${SLURM_ARRAY_TASK_MAX:?}}"
  local run_dir="$RESULTS_DIR/${RUN_NAME:-$SLURM_ARRAY_JOB_ID}"
  local work="$LOCAL_TMP/effbench-${SLURM_ARRAY_JOB_ID}-$task"
  local db="$work/shard-$task.db"
  mkdir -p "$run_dir" "$work"
  local resume=()
  if [ -f "$run_dir/shard-$task.db" ]; then
    # A resubmitted run: continue from what this shard already finished.
    cp "$run_dir/shard-$task.db" "$db"
    if [ -f "$run_dir/shard-$task.db-wal" ]; then cp "$run_dir/shard-$task.db-wal" "$db-wal"; fi
    resume=(--resume)
  fi
  # Copy the local database to the shared folder whatever happens (a failed case, the time limit).
  # A -wal file is left only when bench did not close the database (killed): its committed cases live there.
  save() {
    if [ -f "$db" ]; then
      if [ -f "$db-wal" ]; then cp "$db-wal" "$run_dir/shard-$task.db-wal"; else rm -f "$run_dir/shard-$task.db-wal"; fi
      cp "$db" "$run_dir/shard-$task.db.partial" && mv "$run_dir/shard-$task.db.partial" "$run_dir/shard-$task.db"
    fi
  }
  trap save EXIT
  echo "effbench shard $task/$count of $SUITE on $(hostname) → $db (then $run_dir)"
  # bench runs in the background so that the batch shell can pass SLURM's early TERM on: bench then stops after
  # the current case and closes the database cleanly.
  "${BENCH[@]}" run "$SUITE" --shard "$task/$count" --db "$db" --python "${BENCH_PYTHON:-python3}" ${resume[@]+"${resume[@]}"} &
  local pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null || true' TERM
  local code=0
  wait "$pid" || code=$?
  # A trapped TERM interrupts the first wait: wait again for bench to close the database.
  if kill -0 "$pid" 2>/dev/null; then wait "$pid" || code=$?; fi
  echo "bench run exited $code"
  exit "$code"
}

merge() {
  local run_dir="$RESULTS_DIR/${RUN_NAME:?set RUN_NAME to the run folder under $RESULTS_DIR}"
  local shards="${SHARDS:-}"
  local work="$LOCAL_TMP/effbench-merge-${SLURM_JOB_ID:-$$}"
  mkdir -p "$work"
  local inputs=() missing=()
  if [ -n "$shards" ]; then
    for i in $(seq 1 "$shards"); do
      if [ -f "$run_dir/shard-$i.db" ]; then inputs+=("$run_dir/shard-$i.db"); else missing+=("$i"); fi
    done
  else
    for f in "$run_dir"/shard-*.db; do [ -f "$f" ] && inputs+=("$f"); done
  fi
  if [ "${#inputs[@]}" -eq 0 ]; then echo "no shard databases in $run_dir" >&2; exit 2; fi
  # Merge on local disk too, then copy the finished file to the shared folder.
  for f in "${inputs[@]}"; do
    cp "$f" "$work/"
    if [ -f "$f-wal" ]; then cp "$f-wal" "$work/"; fi
  done
  rm -f "$work/merged.db"
  "${BENCH[@]}" merge "$work/merged.db" "$work"/shard-*.db
  cp "$work/merged.db" "$run_dir/merged.db.partial" && mv "$run_dir/merged.db.partial" "$run_dir/merged.db"
  "${BENCH[@]}" report "$work/merged.db" -o "$run_dir/site"
  echo "merged ${#inputs[@]} shard(s) → $run_dir/merged.db; report: $run_dir/site/index.html"
  local code=0
  if [ -n "${BASELINE_DB:-}" ]; then
    "${BENCH[@]}" compare "$BASELINE_DB" "$work/merged.db" --threshold "${THRESHOLD:-5%}" --markdown | tee "$run_dir/compare.md" || code=${PIPESTATUS[0]}
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "missing shard(s): ${missing[*]} — see effbench-<job>_<task>.out; resubmit with RUN_NAME=${RUN_NAME} to resume them" >&2
    [ "$code" -eq 0 ] && code=1
  fi
  rm -rf "$work"
  exit "$code"
}

case "${1:-shard}" in
  submit) submit ;;
  shard) shard ;;
  merge) merge ;;
  *) echo "usage: scripts/slurm-array.sh [submit|shard|merge]" >&2; exit 2 ;;
esac
