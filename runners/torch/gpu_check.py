"""A short CUDA check of the torch worker for GPU machines without Node (run by scripts/gpu-smoke.sh): runs prepared cases
(written here by runners/torch/gpu-check-prepare.ts with their weights) through the worker's own code, and checks
fp32 CUDA logits against CPU torch logits computed at preparation.

    python runners/torch/gpu_check.py .cache/torch-gpu  ->  $OUT/torch-gpu-check.json and a summary on stdout
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the worker in the source tree
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import scenarios  # noqa: E402
import worker  # noqa: E402, F401  (its import redirects stray prints to stderr; the handshake facts come from it)


def main():
    root = sys.argv[1]
    out_dir = os.environ.get("OUT", ".")
    plan = json.load(open(os.path.join(root, "plan.json")))
    report = {"hello": worker.hello(), "cases": [], "logits": []}
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    # Dry runs here: GPU_CHECK_DEVICE=cpu GPU_CHECK_FILTER=train-step runs the same cases on the CPU.
    device = os.environ.get("GPU_CHECK_DEVICE")
    name_filter = os.environ.get("GPU_CHECK_FILTER", "")
    for item in plan["cases"]:
        case, weights = item["case"], os.path.join(root, item["weights"])
        if name_filter not in case["name"]:
            continue
        if device:
            case["settings"]["device"] = device
        t0 = time.perf_counter()
        try:
            outcome = scenarios.run_repeat(case, 0, weights, lambda phase: None)
        except Exception as error:
            outcome = {"status": "failed", "reason": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        entry = {"name": case["name"], "status": outcome["status"], "wallS": round(time.perf_counter() - t0, 2)}
        if outcome["status"] == "completed":
            lat = sorted(outcome["series"][0]["values"])
            entry.update(
                p50Ms=lat[len(lat) // 2],
                iterations=len(lat),
                tokensPerIteration=outcome["tokensPerIteration"],
                scalars={s["metric"]: s["value"] for s in outcome["scalars"]},
                settings=outcome["settings"],
                extra={s["metric"]: sorted(s["values"])[len(s["values"]) // 2] for s in outcome["series"][1:]},
            )
        else:
            entry["reason"] = outcome.get("reason")
            entry["traceback"] = outcome.get("traceback")
        report["cases"].append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k not in ("settings", "traceback")}), file=sys.stderr, flush=True)
    for item in plan["logits"]:
        case, weights = item["case"], os.path.join(root, item["weights"])
        try:
            shape, data, _, _ = scenarios.forward_logits(case, weights, item["inputIds"])
            got = torch.tensor(data, dtype=torch.float64)
            want = torch.tensor(item["cpuLogits"], dtype=torch.float64)
            rel = float((got - want).norm() / want.norm())
            entry = {"name": case["name"], "device": str(scenarios.resolve_device(case)), "relativeL2VsCpu": rel}
        except Exception as error:
            entry = {"name": case["name"], "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        report["logits"].append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)
    with open(os.path.join(out_dir, "torch-gpu-check.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
