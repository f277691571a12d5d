"""The baseline of `npm run bench:runners`: the same model, weights and inputs as a torch harness case, timed by a
bare loop in a plain Python process: no protocol, no JSON lines, no window marks, no stability test. What it shares
with the harness on purpose is everything that is not the harness: the model build (hf_model.build_model), the
inputs, the thread count, the number of warm-up iterations, per-iteration perf_counter reads and the stopping rule
(at least `min_measure_ms` and `min_iterations`), so that the ratio of medians measures the harness alone.

    python bare_loop.py case.json weights.safetensors warmup_iterations  ->  one JSON list of per-iteration ms
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
    warmup_iterations = int(sys.argv[3])
    if case["scenario"] != "prefill":
        raise SystemExit("bare_loop.py times prefill cases only")
    protocol = case["protocol"]
    device = scenarios.resolve_device(case)
    _, dtype = scenarios.resolve_dtype(case)
    torch.set_num_threads(int((case.get("torch") or {}).get("threads") or torch.get_num_threads()))
    torch.manual_seed(protocol.get("seed", 1))
    model, _, _ = hf_model.build_model(case, weights_path, device, dtype)
    model.eval()
    ids = scenarios._inputs(case, device, protocol.get("seed", 1))
    cuda = device.type == "cuda"
    samples = []
    with torch.inference_mode():
        for _ in range(warmup_iterations):
            model(input_ids=ids, use_cache=False, logits_to_keep=1)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        while len(samples) < protocol["maxIterations"]:
            t0 = time.perf_counter()
            model(input_ids=ids, use_cache=False, logits_to_keep=1)
            if cuda:
                torch.cuda.synchronize()
            t1 = time.perf_counter()
            samples.append((t1 - t0) * 1e3)
            if len(samples) >= protocol["minIterations"] and (t1 - start) * 1e3 >= protocol["minMeasureMs"]:
                break
    print(json.dumps(samples), flush=True)


if __name__ == "__main__":
    main()
