"""Execution modes of the torch runner (docs/torch-runner.md): `eager` (scenarios.py as is), `cuda-graph` (prefill and
decode captured once per case, replayed in the measure loop) and `compile` (torch.compile of the forward).

Decode in both non-eager modes runs one token per sequence at context promptTokens over a StaticCache of promptTokens+1
slots, the same work every step. transformers' StaticCache ignores positions and advances its own device counter
(`cumulative_length`) on every update, so each step first resets that counter to promptTokens in place — inside the
captured graph, so that replays never run past the cache (an overrun hits an index_copy_ device assert that kills the
process). Attention spans all max_cache_len slots, so a static 4D mask buffer (all promptTokens+1 positions valid) is
passed: without one, the q_len-1 path can attend to nothing and return wrong logits with no error, and transformers'
mask helper syncs on a CUDA tensor, which breaks capture.
"""

import os
import shutil
import tempfile
import time

import torch

from hf_model import Unsupported, family

MODES = ("eager", "cuda-graph", "compile")
GRAPH_SCENARIOS = ("prefill", "decode")
COMPILE_SCENARIOS = ("prefill", "decode")
# Warm-up calls on a side stream before capture (cuBLAS handles, autotuning and lazy init happen outside the graph).
CAPTURE_WARMUP = 3


def mode_of(case):
    return (case.get("settings") or {}).get("mode", "eager")


def unsupported_reason(case, device):
    """Why this case cannot run in its mode here, or None. Never silently eager."""
    mode = mode_of(case)
    if mode not in MODES:
        return f"unknown execution mode {mode!r} (one of {', '.join(MODES)})"
    if mode == "eager":
        return None
    scenario = case["scenario"]
    technique = case.get("technique") or {"kind": "base"}
    kind = technique.get("kind", "base")
    if mode == "cuda-graph":
        if device.type != "cuda":
            return "cuda-graph mode captures CUDA graphs, which need a CUDA device: this case runs on the CPU (torch.device cpu, or no CUDA in this torch) — use mode eager or compile here"
        if scenario not in GRAPH_SCENARIOS:
            return f"cuda-graph mode captures prefill and decode; the {scenario} scenario is not captured (run it in eager mode)"
        if case["model"].get("moe"):
            return "cuda-graph mode: transformers' Mixtral experts select tokens with .nonzero(), a host sync that cannot be captured — run MoE models in eager mode"
        if family(technique) == "mole":
            return f"cuda-graph mode: {kind} routes tokens with data-dependent torch.where/nonzero, which cannot be captured — run it in eager mode"
    if mode == "compile":
        if scenario not in COMPILE_SCENARIOS:
            return f"compile mode compiles the forward of prefill and decode; the {scenario} scenario is not compiled (run it in eager mode)"
        if case["model"].get("moe") or family(technique) == "mole":
            return "compile mode: data-dependent expert routing (nonzero / torch.where) breaks the compiled graph — run MoE and mixtures of LoRA experts in eager mode"
    return None


def static_mask(batch, kv_length, device):
    """The 4D boolean mask of one query over kv_length keys, all valid: passed as is (transformers returns a 4D mask
    unchanged), so no mask is built inside the step."""
    return torch.ones((batch, 1, 1, kv_length), dtype=torch.bool, device=device)


class StaticDecode:
    """One decode step at context promptTokens over a StaticCache of promptTokens+1 slots; `step()` resets the cache's
    counters in place, runs the forward and leaves the logits in `self.logits` (a static buffer once captured)."""

    def __init__(self, model, ids, forward=None):
        from transformers import StaticCache

        batch, prompt = ids.shape
        self.model = model
        self.forward = forward if forward is not None else model
        self.prompt = prompt
        config = model.config if hasattr(model, "config") else model.base_model.config
        self.cache = StaticCache(config=config, max_cache_len=prompt + 1)
        with torch.inference_mode():
            model(input_ids=ids, past_key_values=self.cache, use_cache=True, logits_to_keep=1)
        self.counters = [layer.cumulative_length for layer in self.cache.layers]
        self.next_ids = ids[:, -1:].clone()
        self.position_ids = torch.full((batch, 1), prompt, dtype=torch.long, device=ids.device)
        self.mask = static_mask(batch, prompt + 1, ids.device)
        self.logits = None

    def step(self):
        with torch.inference_mode():
            for counter in self.counters:
                counter.fill_(self.prompt)
            out = self.forward(
                input_ids=self.next_ids,
                past_key_values=self.cache,
                position_ids=self.position_ids,
                attention_mask=self.mask,
                use_cache=True,
                logits_to_keep=1,
            )
            self.logits = out.logits
        return self.logits


def capture(fn, device):
    """Captures `fn` into a CUDA graph after warm-up calls on a side stream; returns (replay, capture_ms)."""
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(CAPTURE_WARMUP):
            fn()
    torch.cuda.current_stream(device).wait_stream(stream)
    torch.cuda.synchronize(device)
    graph = torch.cuda.CUDAGraph()
    t0 = time.perf_counter()
    with torch.cuda.graph(graph):
        fn()
    torch.cuda.synchronize(device)
    return graph.replay, (time.perf_counter() - t0) * 1e3, graph


class ColdInductorCache:
    """A fresh inductor (and Triton) cache directory for one case and repeat, removed afterwards: every repeat's
    compile is cold, so compile_ms is comparable across repeats and cases (a warm on-disk cache would make repeat 2
    compile faster than repeat 1). Dynamo's in-process cache is reset too."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="effbench-inductor-")
        self.saved = {k: os.environ.get(k) for k in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = self.dir
        os.environ["TRITON_CACHE_DIR"] = os.path.join(self.dir, "triton")
        torch._dynamo.reset()
        return self

    def __exit__(self, *exc):
        torch._dynamo.reset()
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def compiled_forward(model, compile_mode):
    return torch.compile(model, mode=None if compile_mode == "default" else compile_mode, dynamic=False)


def build_iteration(case, model, ids, device, settings):
    """The timed iteration of a prefill or decode case in a non-eager mode, plus `prepare_ms` (capture or compile
    time, measured before warm-up and kept out of it) and a `logits()` getter for equality checks."""
    mode = mode_of(case)
    scenario = case["scenario"]
    compile_mode = (case.get("settings") or {}).get("compileMode", "default")
    forward = compiled_forward(model, compile_mode) if mode == "compile" else model
    t0 = time.perf_counter()
    if scenario == "decode":
        decode = StaticDecode(model, ids, forward)
        fn, tokens, logits = decode.step, ids.shape[0], lambda: decode.logits
        settings["kvCache"] = "StaticCache of promptTokens+1 slots, counters reset in place each step, static 4D mask"
    else:
        state = {}
        batch, prompt = ids.shape
        # Under capture, a static causal mask: transformers' mask helper would sync on a CUDA tensor.
        mask = torch.ones((prompt, prompt), dtype=torch.bool, device=ids.device).tril()[None, None].expand(batch, 1, prompt, prompt) if mode == "cuda-graph" else None

        def fn():
            with torch.inference_mode():
                state["logits"] = forward(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=1).logits
            return state["logits"]

        tokens, logits = ids.numel(), lambda: state["logits"]
    if mode == "cuda-graph":
        _, capture_ms, graph = capture(fn, device)
        settings["cudaGraph"] = f"captured once per case after {CAPTURE_WARMUP} warm-up calls on a side stream, replayed per iteration"
        prepare = {"metric": "graph_capture_ms", "unit": "ms", "value": capture_ms, "label": "CUDA graph capture of the step (after side-stream warm-up), untimed by the loop"}

        def iteration():
            # The closure holds the graph (and its memory pool) for as long as the iteration lives.
            graph.replay()
    else:
        # The first call compiles (dynamo trace + inductor codegen); a second checks no recompile is pending.
        fn()
        first_ms = (time.perf_counter() - t0) * 1e3
        settings["compile"] = f"torch.compile(mode={compile_mode}, dynamic=False) of the model's forward; cold inductor cache per case and repeat"
        prepare = {"metric": "compile_ms", "unit": "ms", "value": first_ms, "label": "first call of the compiled forward (trace + codegen + one run), cold cache; kept out of warm-up and timing"}
        iteration = fn
    return iteration, tokens, logits, prepare
