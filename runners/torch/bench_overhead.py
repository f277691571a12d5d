"""Python-only twin of `npm run bench:runners` for machines without Node (GPU machines), with the same design: the
harness path is the real worker (worker.py over JSON lines, its measure loop), the baseline bare_loop.py --serve;
pairs of fresh processes that take turns in short bursts (alternating), the same fixed warm-up count (the case's
protocol.warmupMinIterations, with warmupMaxMs 1). Headline: the median of the time-matched burst ratios with a
hierarchical-bootstrap 95% CI (pairs, then bursts); beside it the ratio of the pooled medians, sides resampled apart.

    python runners/torch/bench_overhead.py spec.json [pairs] [bursts]     spec: {"case": Case, "weights": path}
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


def bootstrap_median(groups, resamples=4000, seed=1):
    """Median of all values with a hierarchical percentile CI (resample groups, then values within them)."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(g) for g in groups]
    draws = []
    for _ in range(resamples):
        picked = [groups[i] for i in rng.integers(0, len(groups), len(groups))]
        draws.append(np.median(np.concatenate([g[rng.integers(0, len(g), len(g))] for g in picked])))
    return float(np.median(np.concatenate(groups))), float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def main():
    spec = json.load(open(sys.argv[1]))
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    bursts = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    root = os.path.dirname(sys.argv[1])
    case, weights = spec["case"], os.path.join(root, spec["weights"])
    case_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench-overhead-case.json")
    json.dump(case, open(case_file, "w"))
    warmup = int(case["protocol"]["warmupMinIterations"])

    def start_worker():
        proc = subprocess.Popen([sys.executable, "-u", os.path.join(HERE, "worker.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        return proc, json.loads(proc.stdout.readline())

    def harness_burst(worker, rid):
        worker.stdin.write(json.dumps({"id": rid, "type": "run", "case": case, "repeat": 0, "weightsPath": weights}) + "\n")
        while True:
            reply = json.loads(worker.stdout.readline())
            if reply["type"] in ("result", "error"):
                break
        if reply["type"] == "error" or reply["outcome"]["status"] != "completed":
            raise SystemExit(f"harness run failed: {reply}")
        return reply["outcome"]["series"][0]["values"]

    def bare_burst(bare):
        bare.stdin.write("go\n")
        return json.loads(bare.stdout.readline())

    harness, bare_all, ratios = [], [], []
    for pair in range(pairs):
        worker, _ = start_worker()
        bare = subprocess.Popen([sys.executable, "-u", os.path.join(HERE, "bare_loop.py"), "--serve", case_file, weights, str(warmup)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        h_all, b_all, pair_ratios = [], [], []
        for burst in range(bursts):
            if (pair + burst) % 2 == 0:
                h = harness_burst(worker, pair * bursts + burst)
                b = bare_burst(bare)
            else:
                b = bare_burst(bare)
                h = harness_burst(worker, pair * bursts + burst)
            h_all += h
            b_all += b
            pair_ratios.append(float(np.median(h) / np.median(b)))
        for proc in (worker, bare):
            proc.stdin.close()
            proc.wait()
        harness.append(h_all)
        bare_all.append(b_all)
        ratios.append(pair_ratios)
        print(f"pair {pair + 1}/{pairs}: harness p50 {np.median(h_all):.3f} ms, bare {np.median(b_all):.3f} ms", file=sys.stderr, flush=True)
    bare = bare_all
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
    paired, paired_low, paired_high = bootstrap_median(ratios)
    result = {
        "case": case["name"],
        "torch": hello["torch"],
        "cpuCount": os.cpu_count(),
        "pairs": pairs,
        "bursts": bursts,
        "timeMatchedRatio": paired,
        "timeMatchedCi95": [paired_low, paired_high],
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
