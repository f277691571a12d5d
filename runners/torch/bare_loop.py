"""The baseline of `npm run bench:runners`: the same model, weights and inputs as a torch harness case, timed by a
bare loop in a plain Python process: no protocol, no JSON lines, no window marks, no stability test. What it shares
with the harness on purpose is everything that is not the harness: the model build (hf_model.build_model), the
inputs, the thread count, the number of warm-up iterations, per-iteration perf_counter reads and the stopping rule
(at least `min_measure_ms` and `min_iterations`), so that the ratio of medians measures the harness alone.

    python bare_loop.py case.json weights.safetensors warmup_iterations  ->  one JSON list of per-iteration ms
    python bare_loop.py --serve case.json weights.safetensors warmup_iterations   (a burst per stdin line)
"""

import json
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the worker in the source tree
import time

import torch

import hf_model
import scenarios


def burst(case, weights_path, warmup_iterations):
    """One harness-equivalent request done bare: build the model, warm up, time each iteration until the stopping rule."""
    protocol = case["protocol"]
    device = scenarios.resolve_device(case)
    _, dtype = scenarios.resolve_dtype(case)
    torch.set_num_threads(int((case.get("settings") or {}).get("threads") or torch.get_num_threads()))
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
    del model
    return samples


def main():
    serve = "--serve" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--serve"]
    case = json.load(open(args[0]))
    weights_path = args[1]
    warmup_iterations = int(args[2])
    if case["scenario"] != "prefill":
        raise SystemExit("bare_loop.py times prefill cases only")
    if not serve:
        print(json.dumps(burst(case, weights_path, warmup_iterations)), flush=True)
        return
    # --serve: one burst per line on stdin, its samples as one JSON line on stdout (the control channel is outside
    # the timed loop; each burst rebuilds the model as each harness request does).
    for _ in sys.stdin:
        print(json.dumps(burst(case, weights_path, warmup_iterations)), flush=True)


if __name__ == "__main__":
    main()
