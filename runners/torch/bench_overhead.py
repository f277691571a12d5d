"""Python-only twin of `npm run bench:runners` for machines without Node (GPU machines): the harness path is the real
worker (worker.py over JSON lines, its measure loop), the baseline bare_loop.py, each block in fresh processes on
both sides with alternating order and the same fixed warm-up count (the case's protocol.warmupMinIterations, with
warmupMaxMs 1), ratio of medians with a hierarchical-bootstrap 95% CI (resample blocks, then iterations within them).

    python runners/torch/bench_overhead.py .cache/torch-gpu/overhead.json [blocks]
"""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the worker in the source tree
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def bootstrap_ratio(a, b, resamples=4000, seed=1):
    rng = np.random.default_rng(seed)

    def draw(blocks):
        picked = [blocks[i] for i in rng.integers(0, len(blocks), len(blocks))]
        return np.median(np.concatenate([x[rng.integers(0, len(x), len(x))] for x in picked]))

    a = [np.asarray(x) for x in a]
    b = [np.asarray(x) for x in b]
    ratios = np.array([draw(a) / draw(b) for _ in range(resamples)])
    return float(np.median(np.concatenate(a)) / np.median(np.concatenate(b))), float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))


def main():
    spec = json.load(open(sys.argv[1]))
    blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    root = os.path.dirname(sys.argv[1])
    case, weights = spec["case"], os.path.join(root, spec["weights"])
    case_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench-overhead-case.json")
    json.dump(case, open(case_file, "w"))
    warmup = int(case["protocol"]["warmupMinIterations"])
    worker_cmd = [sys.executable, "-u", os.path.join(HERE, "worker.py")]

    def start_worker():
        proc = subprocess.Popen(worker_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        return proc, json.loads(proc.stdout.readline())

    def harness_block(block):
        # A fresh worker per block, as the bare side gets a fresh process (npm run bench:runners does the same).
        worker, _ = start_worker()
        worker.stdin.write(json.dumps({"id": block, "type": "run", "case": case, "repeat": 0, "weightsPath": weights}) + "\n")
        while True:
            reply = json.loads(worker.stdout.readline())
            if reply["type"] in ("result", "error"):
                break
        worker.stdin.close()
        worker.wait()
        if reply["type"] == "error" or reply["outcome"]["status"] != "completed":
            raise SystemExit(f"harness run failed: {reply}")
        return reply["outcome"]["series"][0]["values"]

    def bare_block():
        out = subprocess.run([sys.executable, "-u", os.path.join(HERE, "bare_loop.py"), case_file, weights, str(warmup)], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    harness, bare = [], []
    for block in range(blocks):
        if block % 2 == 0:
            harness.append(harness_block(block))
            bare.append(bare_block())
        else:
            bare.append(bare_block())
            harness.append(harness_block(block))
        print(f"block {block + 1}/{blocks}: harness p50 {np.median(harness[-1]):.3f} ms, bare {np.median(bare[-1]):.3f} ms", file=sys.stderr, flush=True)
    worker, hello = start_worker()
    pings = []
    for i in range(2100):
        t0 = time.perf_counter()
        worker.stdin.write(json.dumps({"id": 10_000 + i, "type": "ping"}) + "\n")
        worker.stdout.readline()
        if i >= 100:
            pings.append((time.perf_counter() - t0) * 1e6)
    worker.stdin.close()
    worker.wait()
    ratio, low, high = bootstrap_ratio(harness, bare)
    result = {
        "case": case["name"],
        "torch": hello["torch"],
        "cpuCount": os.cpu_count(),
        "blocks": blocks,
        "harnessMedianMs": float(np.median(np.concatenate([np.asarray(x) for x in harness]))),
        "bareMedianMs": float(np.median(np.concatenate([np.asarray(x) for x in bare]))),
        "ratio": ratio,
        "ci95": [low, high],
        "roundTripUsMedian (Python client)": float(np.median(pings)),
        "harness": harness,
        "bare": bare,
    }
    print(json.dumps({k: v for k, v in result.items() if k not in ("harness", "bare")}))
    with open(os.path.join(os.environ.get("OUT", "."), "torch-bench-overhead.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
