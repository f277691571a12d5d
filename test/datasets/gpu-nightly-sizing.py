# Sizes suites/gpu-nightly.ts on a real GPU before the torch runner exists: builds Llama-3.2-1B's real shape in bf16
# with transformers (seeded random weights) and times, with CUDA events, what each nightly case does — model build,
# prefill and decode at batch 8 × 512, a train step for full / LoRA r16 / DoRA r16 (peft) — plus the allocator peak.
# Usage (on a GPU machine): python test/datasets/gpu-nightly-sizing.py > $OUT/sizing.json
import json
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig

HF = json.load(open("datasets/architectures/llama-3.2-1b.json"))["hfConfig"]
BATCH, PROMPT = 8, 512
results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "transformers": transformers.__version__, "batch": BATCH, "promptTokens": PROMPT}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def build():
    config = LlamaConfig(**{k: v for k, v in HF.items() if k != "model_type"})
    torch.manual_seed(11)
    start = time.perf_counter()
    with torch.device("cuda"):
        try:
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        except TypeError:
            model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    torch.cuda.synchronize()
    return model, time.perf_counter() - start


def timed(fn, warmup=3, iters=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return {"medianMs": times[len(times) // 2], "minMs": times[0], "maxMs": times[-1], "iterations": iters}


def section(name, fn):
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    wall = time.perf_counter()
    try:
        value = fn()
        value["peakAllocatedBytes"] = torch.cuda.max_memory_allocated()
    except Exception as error:  # keep the other sections' numbers
        value = {"error": f"{type(error).__name__}: {error}"}
    value["wallS"] = round(time.perf_counter() - wall, 2)
    results[name] = value
    log(name, json.dumps(value))


ids = None


def inference():
    global ids
    model, build_s = build()
    model.eval()
    ids = torch.randint(0, HF["vocab_size"], (BATCH, PROMPT), device="cuda")
    out = {"buildS": round(build_s, 2), "totalParams": sum(p.numel() for p in model.parameters())}
    with torch.no_grad():
        try:  # the last position's logits only, as a serving prefill computes (older transformers lack the option)
            model(ids[:, :8], use_cache=False, logits_to_keep=1)
            keep = {"logits_to_keep": 1}
        except TypeError:
            keep = {}
        out["prefillLogitsToKeep"] = keep.get("logits_to_keep", "all")
        out["prefill"] = timed(lambda: model(ids, use_cache=False, **keep))
        cache = model(ids, use_cache=True).past_key_values
        step = torch.randint(0, HF["vocab_size"], (BATCH, 1), device="cuda")
        out["decodeStep"] = timed(lambda: model(step, past_key_values=cache, use_cache=True), warmup=3, iters=20)
    del model
    return out


def train(kind):
    def run():
        model, build_s = build()
        model.train()
        if kind != "full":
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], use_dora=(kind == "dora"))
            model = get_peft_model(model, config)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-5)

        def step():
            loss = model(ids, labels=ids).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        out = {"buildS": round(build_s, 2), "trainableParams": sum(p.numel() for p in params), "trainStep": timed(step, warmup=2, iters=5)}
        del model, optimizer
        return out

    return run


section("inference", inference)
for kind in ("full", "lora", "dora"):
    section(f"train-{kind}", train(kind))
print(json.dumps(results, indent=1))
