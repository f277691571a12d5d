"""The baseline of `npm run bench:runners`: the same model, weights and inputs as a torch harness case, timed by a
bare loop in a plain Python process (one clock read per block of iterations, no protocol, no JSON lines).

    python bare_loop.py case.json weights.safetensors [blocks] [per_block]  ->  one JSON list of block means (ms)
"""

import json
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the worker in the source tree
import time

import torch

import hf_model
import scenarios


def main():
    case = json.load(open(sys.argv[1]))
    weights_path = sys.argv[2]
    blocks = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    per_block = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    if case["scenario"] != "prefill":
        raise SystemExit("bare_loop.py times prefill cases only")
    device = scenarios.resolve_device(case)
    _, dtype = scenarios.resolve_dtype(case)
    threads = (case.get("torch") or {}).get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    model, _, _ = hf_model.build_model(case, weights_path, device, dtype)
    model.eval()
    ids = scenarios._inputs(case, device, case["protocol"].get("seed", 1))
    means = []
    with torch.inference_mode():
        for _ in range(20):
            model(input_ids=ids, use_cache=False, logits_to_keep=1)
        for _ in range(blocks):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(per_block):
                model(input_ids=ids, use_cache=False, logits_to_keep=1)
            if device.type == "cuda":
                torch.cuda.synchronize()
            means.append((time.perf_counter() - t0) * 1e3 / per_block)
    print(json.dumps(means), flush=True)


if __name__ == "__main__":
    main()
