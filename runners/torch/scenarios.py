"""What a case times (prefill, decode, generate, train-step) and the warm-up/measure protocol, the Python twin of
runners/shared/measure-loop.ts. CUDA events on GPU, perf_counter on CPU, synchronised after every iteration."""

import gc
import os
import statistics
import time

import torch

import contextlib

import hf_model
import modes
from hf_model import DTYPES, Unsupported

# Warm-up is stable once the last WARMUP_WINDOW iterations vary by less than WARMUP_STABLE_CV (as measure-loop.ts).
WARMUP_WINDOW = 5
WARMUP_STABLE_CV = 0.05
_DEFAULT_THREADS = torch.get_num_threads()


def resolve_device(case):
    wanted = (case.get("settings") or {}).get("device", "auto")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise Unsupported("torch.device is cuda but this torch has no CUDA device (torch.cuda.is_available() is false)")
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(wanted)


def resolve_dtype(case):
    technique = case.get("technique") or {"kind": "base"}
    kind = technique.get("kind", "base")
    name = kind if hf_model.family(technique) == "half" else (case.get("settings") or {}).get("dtype", "fp32")
    return name, DTYPES[name]


class Timer:
    """Times one iteration: CUDA events on GPU (device time of the stream), perf_counter on CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.start_event = torch.cuda.Event(enable_timing=True)
            self.end_event = torch.cuda.Event(enable_timing=True)

    def time_ms(self, fn):
        if self.cuda:
            self.start_event.record()
            fn()
            self.end_event.record()
            self.end_event.synchronize()
            return self.start_event.elapsed_time(self.end_event)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3


def _stable(xs):
    if len(xs) < WARMUP_WINDOW:
        return False
    tail = xs[-WARMUP_WINDOW:]
    m = statistics.fmean(tail)
    return m > 0 and statistics.stdev(tail) / m < WARMUP_STABLE_CV


def measure_loop(iteration, protocol, timer, on_window, reset=None):
    """Warm-up until stable (or warmupMaxMs), then measure until both minMeasureMs and minIterations are met.
    `reset`, when given, runs untimed after every iteration (e.g. unmerging what a merge iteration merged)."""
    warmup = []
    warmup_start = time.perf_counter()
    while True:
        warmup.append(timer.time_ms(iteration))
        if reset:
            reset()
        elapsed_ms = (time.perf_counter() - warmup_start) * 1e3
        if len(warmup) >= protocol["warmupMinIterations"] and (_stable(warmup) or elapsed_ms >= protocol["warmupMaxMs"]):
            break
        if len(warmup) >= protocol["maxIterations"]:
            break
    on_window("measure-start")
    samples = []
    start = time.perf_counter()
    end = start
    while len(samples) < protocol["maxIterations"]:
        samples.append(timer.time_ms(iteration))
        end = time.perf_counter()
        if reset:
            reset()
        if len(samples) >= protocol["minIterations"] and (end - start) * 1e3 >= protocol["minMeasureMs"]:
            break
    on_window("measure-end")
    return samples, (end - start) * 1e3, len(warmup)


def reset_peak_memory(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def live_tensor_bytes(device):
    """Bytes of every tensor storage alive in the worker on `device`: the CUDA allocator's count, or on the CPU a scan
    of the live tensors (each storage once). What the case holds when its measure window opens."""
    if device.type == "cuda":
        return int(torch.cuda.memory_allocated(device)), "torch.cuda.memory_allocated at the measure window's start"
    seen = {}
    for obj in gc.get_objects():
        try:
            if isinstance(obj, torch.Tensor) and obj.device.type == "cpu" and not obj.is_meta:
                storage = obj.untyped_storage()
                seen[storage.data_ptr()] = storage.nbytes()
        except Exception:  # objects gc lists that cannot be inspected (weak proxies…)
            continue
    return int(sum(seen.values())), "live CPU tensor storages (gc scan, each storage once) at the measure window's start"


def _inputs(case, device, generator_seed):
    workload = case["workload"]
    generator = torch.Generator().manual_seed(generator_seed)
    ids = torch.randint(0, case["model"]["vocab"], (workload["batch"], workload["promptTokens"]), generator=generator)
    return ids.to(device)


def _prefill(model, ids):
    def iteration():
        with torch.inference_mode():
            model(input_ids=ids, use_cache=False, logits_to_keep=1)

    return iteration, ids.numel()


def _decode(model, ids):
    """One token per sequence at context promptTokens: the cache is prefilled once and cropped back after every
    step, so each iteration times the same work (as the ort runner feeds the same past)."""
    from transformers import DynamicCache

    batch, prompt = ids.shape
    # The model's own cache layers (sliding-window, linear-attention where its config has them), recording past states
    # so that crop(-1) can roll back a layer that already dropped states beyond its window.
    cache = DynamicCache(config=getattr(model, "config", None))
    if hasattr(cache, "activate_past_recording"):
        cache.activate_past_recording()
    with torch.inference_mode():
        model(input_ids=ids, past_key_values=cache, use_cache=True)
    next_ids = ids[:, -1:].contiguous()
    position_ids = torch.full((batch, 1), prompt, dtype=torch.long, device=ids.device)

    last = {}

    def iteration():
        with torch.inference_mode():
            last["logits"] = model(input_ids=next_ids, past_key_values=cache, position_ids=position_ids, use_cache=True, logits_to_keep=1).logits
            cache.crop(-1)

    iteration.last_logits = last  # the step's logits, for mode-equality checks (step_logits)
    try:  # a cache that cannot roll back (no past states kept): refuse, never time a growing cache
        iteration()
    except (ValueError, NotImplementedError, AttributeError, TypeError, RuntimeError) as error:
        raise Unsupported(
            "decode at a fixed context crops the cache back after each step (DynamicCache.crop(-1)), which this model's "
            f"cache refuses ({type(error).__name__}: {error}); use the generate scenario, which decodes forward without cropping"
        )
    return iteration, batch


def _generate(model, ids, new_tokens, timer, extra):
    """Greedy generation of newTokens tokens: the iteration is the whole request; TTFT (prefill + first token) and
    TPOT (mean of the following steps) are recorded per request."""
    from transformers import DynamicCache

    batch, prompt = ids.shape

    def iteration():
        cache = DynamicCache()
        steps = []
        with torch.inference_mode():
            state = {}

            def first():
                out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
                state["next"] = out.logits[:, -1:].argmax(-1)

            steps.append(timer.time_ms(first))
            for step in range(1, new_tokens):
                position_ids = torch.full((batch, 1), prompt + step - 1, dtype=torch.long, device=ids.device)

                def one():
                    out = model(input_ids=state["next"], past_key_values=cache, position_ids=position_ids, use_cache=True, logits_to_keep=1)
                    state["next"] = out.logits[:, -1:].argmax(-1)

                steps.append(timer.time_ms(one))
        extra["ttft_ms"].append(steps[0])
        if len(steps) > 1:
            extra["tpot_ms"].append(statistics.fmean(steps[1:]))

    return iteration, batch * new_tokens


def _train_step(model, ids, settings, technique, extra):
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise Unsupported("the model has no trainable parameters for a train step")
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    labels = ids.clone()
    aux_coefficient = float(technique.get("auxLossCoefficient", 0.01)) if technique.get("kind") == "mixlora" else None
    if aux_coefficient is not None:
        import mole

    def iteration():
        loss = model(input_ids=ids, labels=labels, use_cache=False).loss
        if aux_coefficient is not None:
            # MixLoRA's load-balance loss (docs/mole.md): reported per step, added to the loss with its coefficient.
            aux = mole.aux_loss(model)
            # Kept as a tensor: float() here would sync the GPU inside the timed step; converted after the window.
            extra["aux_loss"].append(aux.detach())
            loss = loss + aux_coefficient * aux
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    settings["optimizer"] = "AdamW (lr 1e-4) on trainable parameters only"
    return iteration, ids.numel()


def _adapter_swap(model, ids, timer, extra):
    """A multi-adapter server's switch between requests: copy another adapter's weights from host memory into the
    model's adapter slot (pinned host memory and non-blocking copies on CUDA), set_adapter, then one decode step at
    context promptTokens. `swap_ms` is the copy + set_adapter part alone."""
    if not hasattr(model, "set_adapter") or "default" not in getattr(model, "peft_config", {}):
        raise Unsupported("adapter-swap needs an unmerged adapter (lora, rslora or dora with merged: false)")
    try:
        model.add_adapter("swap", model.peft_config["default"])
    except (ValueError, TypeError, NotImplementedError, RuntimeError) as error:  # e.g. a tuner that allows one adapter only
        raise Unsupported(f"peft refused a second adapter of this tuner: {type(error).__name__}: {error}")
    defaults = {n: p for n, p in model.named_parameters() if ".default." in n}
    slots = {n: p for n, p in model.named_parameters() if ".swap." in n}
    cuda = ids.device.type == "cuda"
    # Two different adapters of the same shape alternate: the loaded one and its negation.
    sources = []
    for sign in (1.0, -1.0):
        host = {}
        for name, param in defaults.items():
            tensor = (param.detach() * sign).cpu()
            host[name.replace(".default.", ".swap.")] = tensor.pin_memory() if cuda else tensor
        sources.append(host)
    decode_step, tokens = _decode(model, ids)
    state = {"next": 0}

    def swap():
        source = sources[state["next"] % 2]
        state["next"] += 1
        with torch.no_grad():
            for name, tensor in source.items():
                slots[name].copy_(tensor, non_blocking=True)
        model.set_adapter("swap")

    swap_timer = Timer(ids.device)

    def iteration():
        extra["swap_ms"].append(swap_timer.time_ms(swap))
        decode_step()

    return iteration, tokens


def _merge(model):
    """Folding the adapters into the base weights (peft merge_adapter); each iteration is unmerged again, untimed."""
    if not hasattr(model, "merge_adapter") or "default" not in getattr(model, "peft_config", {}):
        raise Unsupported("merge needs an unmerged adapter (lora, rslora or dora with merged: false)")

    def iteration():
        with torch.no_grad():
            model.merge_adapter()

    def reset():
        with torch.no_grad():
            model.unmerge_adapter()

    try:  # an untimed probe: a tuner without merge support is unsupported with peft's reason
        iteration()
        reset()
    except (AttributeError, NotImplementedError, ValueError, TypeError) as error:
        raise Unsupported(f"peft cannot merge this tuner: {type(error).__name__}: {error}")
    return iteration, reset


def _set_threads(case):
    threads = (case.get("settings") or {}).get("threads") or _DEFAULT_THREADS
    # One worker serves many cases: set the thread count on every case, not only when the suite names one.
    torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def _free(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_repeat(case, repeat, weights_path, on_window, fidelity_input_ids=None, base_weights_path=None):
    try:
        with modes.ColdInductorCache() if modes.mode_of(case) == "compile" else contextlib.nullcontext():
            return _run_repeat(case, repeat, weights_path, on_window, fidelity_input_ids, base_weights_path)
    except Unsupported as reason:
        return {"status": "unsupported", "reason": str(reason)}


def _routing_pass(model, scenario, ids, iteration, mole_kind=False):
    """One untimed pass after the measure window that records the routers' choices (routing metrics, as the ort
    child does with one extra run): the timed iteration itself, or for a train step its forward alone. MoE: {layer:
    [T·k]}; a mixture of LoRA experts: {"indices": {routing output name: [T·k]}, "tokens": T}."""
    if mole_kind:
        import mole

        capture = mole.MoleRoutingCapture(model, first_forward_only=scenario == "generate")
    else:
        import moe_block

        capture = moe_block.RoutingCapture(model, first_forward_only=scenario == "generate")
    with capture:
        if scenario == "train-step":
            with torch.no_grad():
                model(input_ids=ids, use_cache=False, logits_to_keep=1)
        else:
            iteration()
    return {"indices": capture.indices(), "tokens": capture.tokens()} if mole_kind else capture.indices()


def _run_repeat(case, repeat, weights_path, on_window, fidelity_input_ids=None, base_weights_path=None):
    scenario = case["scenario"]
    technique = case.get("technique") or {"kind": "base"}
    device = resolve_device(case)
    dtype_name, dtype = resolve_dtype(case)
    mode = modes.mode_of(case)
    mode_reason = modes.unsupported_reason(case, device)
    if mode_reason:
        raise Unsupported(mode_reason)
    if scenario in ("adapter-swap", "merge") and hf_model.family(technique) not in ("adapter", "peft"):
        raise Unsupported(f"the {scenario} scenario needs an adapter technique (lora, rslora, dora, peft)")
    if technique.get("kind") == "int4":
        import weight_quant

        reason = weight_quant.int4_unsupported_reason(device, dtype)
        if reason:
            raise Unsupported(reason)
    if device.type == "cpu" and dtype_name == "fp16" and scenario == "train-step":
        raise Unsupported("fp16 training on CPU: torch has no fp16 AdamW path worth timing here; use bf16 or fp32")
    threads = _set_threads(case)
    training = scenario == "train-step"
    torch.manual_seed(case["protocol"].get("seed", 1))
    settings = {"device": str(device), "dtype": dtype_name, "mode": mode, "threads": threads, "torch": torch.__version__, "timer": "cuda-events" if device.type == "cuda" else "perf_counter"}
    if device.type == "cuda":
        uuid = getattr(torch.cuda.get_device_properties(device), "uuid", None)
        settings["deviceUuid"] = None if uuid is None else (str(uuid) if str(uuid).startswith("GPU-") else f"GPU-{uuid}")
    model = None
    technique_logits = None
    fidelity_scalars = []
    fidelity_wanted = bool(fidelity_input_ids) and technique.get("kind", "base") != "base"
    if fidelity_wanted and weights_path is None:
        # Worker-seeded weights are for models too large for a weights file; fidelity's fp32 base copy would not fit.
        fidelity_wanted = False
        fidelity_scalars = [{"metric": "rel_l2_error", "unit": "ratio", "value": None, "reason": "fidelity skipped: worker-seeded weights (a model too large for a weights file), whose fp32 base copy for fidelity would not fit — run a smaller shape (or weights.source: file) for fidelity"}]
    try:
        model, notes, counts = hf_model.build_model(case, weights_path, device, dtype, training=training)
        held_bytes = hf_model.held_bytes(model)
        settings.update(notes)
        if fidelity_wanted:
            import fidelity

            try:
                # The technique's logits before any timed step (a train step changes the adapters); the base model's
                # come after the measure window, so that no second model was ever resident while timing.
                technique_logits = fidelity.technique_logits(model, fidelity_input_ids, device)
            except Exception as error:
                fidelity_scalars = fidelity.not_computed(error)
        if training:
            model.train()
            if (case.get("settings") or {}).get("gradientCheckpointing"):
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
                if hasattr(model, "enable_input_require_grads"):
                    model.enable_input_require_grads()
                settings["gradientCheckpointing"] = True
            else:
                settings["gradientCheckpointing"] = False
        else:
            model.eval()
        ids = _inputs(case, device, case["protocol"].get("seed", 1))
        timer = Timer(device)
        extra = {"ttft_ms": [], "tpot_ms": [], "swap_ms": [], "aux_loss": []}
        reset = None
        prepare_scalars = []
        if mode != "eager":
            iteration, tokens, _, prepare = modes.build_iteration(case, model, ids, device, settings)
            prepare_scalars.append(prepare)
        elif scenario == "prefill":
            iteration, tokens = _prefill(model, ids)
        elif scenario == "decode":
            iteration, tokens = _decode(model, ids)
        elif scenario == "generate":
            iteration, tokens = _generate(model, ids, case["workload"].get("newTokens", 1), Timer(device), extra)
        elif scenario == "train-step":
            iteration, tokens = _train_step(model, ids, settings, technique, extra)
        elif scenario == "adapter-swap":
            iteration, tokens = _adapter_swap(model, ids, Timer(device), extra)
        elif scenario == "merge":
            # No tokens are processed: throughput does not apply to a merge.
            (iteration, reset), tokens = _merge(model), 0
        else:
            raise Unsupported(f"unknown scenario {scenario!r}")
        _free(device)
        tensor_bytes, tensor_bytes_label = live_tensor_bytes(device)
        memory_reset = reset_peak_memory(device)
        samples, window_ms, warmup_iterations = measure_loop(iteration, case["protocol"], timer, on_window, reset)
        mole_kind = hf_model.family(technique) == "mole"
        routing = _routing_pass(model, scenario, ids, iteration, mole_kind) if (case["model"].get("moe") or mole_kind) and scenario != "merge" else None
        import gpu_profile

        # Untimed, after the window: the GPU's own time per iteration and its share of the wall time.
        busy_scalars = gpu_profile.profiling_pass(iteration, device, statistics.median(samples), reset)

        series = [{"metric": "latency_ms", "unit": "ms", "values": samples}]
        for metric in ("ttft_ms", "tpot_ms", "swap_ms"):
            if extra[metric]:
                # Warm-up requests are dropped: keep the last len(samples) per-request values.
                series.append({"metric": metric, "unit": "ms", "values": extra[metric][-len(samples) :]})
        if extra["aux_loss"]:
            # The load-balance loss of each timed step (warm-up steps dropped).
            series.append({"metric": "aux_loss", "unit": "ratio", "values": [float(a) for a in extra["aux_loss"][-len(samples) :]]})
        scalars = [
            {"metric": "params_trainable", "unit": "count", "value": None, "reason": f"{technique['kind']} alone is not fine-tuned: its quantised weights have no gradient (as the TypeScript accounting says)"}
            if hf_model.family(technique) == "quantized"
            else {"metric": "params_trainable", "unit": "count", "value": counts["trainable"], "label": "peft get_nb_trainable_parameters (trainable)"},
            {"metric": "params_total_runner", "unit": "count", "value": counts["total"], "label": "peft get_nb_trainable_parameters (all), packed weights counted as the parameters they stand for"},
            {"metric": "tensor_bytes_at_measure_start", "unit": "B", "value": tensor_bytes, "label": tensor_bytes_label},
            {"metric": "weight_bytes", "unit": "B", "value": held_bytes, "label": f"parameters and buffers as the worker holds them ({dtype_name}; int4/int8 packed with their scales)"},
        ]
        if case["model"].get("hf") or (hf_model.family(technique) == "peft" and not case["model"].get("moe")):
            # A peft tuner's counts are peft's (the TypeScript accounting has formulas for a few tuners only).
            scalars.append({"metric": "params_total", "unit": "count", "value": counts["total"], "label": "peft get_nb_trainable_parameters (all)"})
            active = counts["total"]
            if case["model"].get("hf"):
                import hf_seeded

                active = hf_seeded.active_params(model, model.config if hasattr(model, "config") else None)
            scalars.append(
                {"metric": "params_active_per_token", "unit": "count", "value": active, "label": "all but the routed experts a token skips (1 − k/E of each *Experts module)"}
                if active is not None
                else {"metric": "params_active_per_token", "unit": "count", "value": None, "reason": "a MoE config without num_experts_per_tok"}
            )
        if device.type == "cuda":
            scalars.append({"metric": "torch_max_memory_allocated_bytes", "unit": "B", "value": int(torch.cuda.max_memory_allocated(device)), "label": "torch allocator peak since the end of model load"})
            host_peak = peak_rss_bytes()
            scalars.append(
                {"metric": "peak_rss_bytes", "unit": "B", "value": host_peak, "label": "host RSS peak of the worker (not reset per case on CUDA)"}
                if host_peak is not None
                else {"metric": "peak_rss_bytes", "unit": "B", "value": None, "reason": "/proc/self/status not readable"}
            )
        else:
            peak = peak_rss_bytes() if memory_reset else None
            scalars.append(
                {"metric": "peak_rss_bytes", "unit": "B", "value": peak, "label": "VmHWM of the worker, reset after model load (CPU analogue of the allocator peak)"}
                if peak is not None
                else {"metric": "peak_rss_bytes", "unit": "B", "value": None, "reason": "/proc/self/clear_refs or /proc/self/status not usable"}
            )
        if technique_logits is not None:
            model = None
            _free(device)
            try:
                # A compressed MoE's file holds the compressed experts: its base comes from the base's own file.
                base_logits = fidelity.base_logits(case, base_weights_path or weights_path, device, fidelity_input_ids)
                fidelity_scalars = fidelity.scalars(fidelity.measures(base_logits, technique_logits), len(fidelity_input_ids[0]))
            except Exception as error:
                fidelity_scalars = fidelity.not_computed(error)
        scalars.extend(fidelity_scalars)
        scalars.extend(prepare_scalars)
        scalars.extend(busy_scalars)
        outcome = {
            "status": "completed",
            "series": series,
            "scalars": scalars,
            "tokensPerIteration": tokens,
            "measureWindowMs": window_ms,
            "settings": settings,
            "details": {"repeat": repeat, "warmupIterations": warmup_iterations, "pid": os.getpid(), "counts": counts},
        }
        if routing is not None:
            # Raw chosen experts; the harness summarises them (src/model/moe-routing.ts, mole-routing.ts) and drops them.
            outcome["moleRouting" if mole_kind else "routingIndices"] = routing
        return outcome
    finally:
        del model
        _free(device)


def forward_logits(case, weights_path, input_ids):
    """Full logits [batch, seq, vocab] of the case's model on given tokens, in float32 (for fidelity checks)."""
    device = resolve_device(case)
    _, dtype = resolve_dtype(case)
    _set_threads(case)
    model, notes, counts = hf_model.build_model(case, weights_path, device, dtype)
    model.eval()
    import moe_block

    mole_kind = hf_model.family(case.get("technique")) == "mole"
    if mole_kind:
        import mole
    with torch.inference_mode(), (mole.MoleRoutingCapture(model) if mole_kind else moe_block.RoutingCapture(model)) as capture:
        ids = torch.tensor(input_ids, dtype=torch.long, device=device)
        logits = model(input_ids=ids, use_cache=False).logits.float().cpu()
    del model
    _free(device)
    routing = capture.indices() if case["model"].get("moe") or mole_kind else None
    return list(logits.shape), logits.flatten().tolist(), {**counts, **notes}, routing


def step_logits(case, weights_path):
    """Logits of the case's timed step (prefill: last position; decode: the one new token) in its execution mode, on
    the case's own inputs, after two calls (so a captured graph has been replayed): what checks mode equality."""
    device = resolve_device(case)
    _, dtype = resolve_dtype(case)
    reason = modes.unsupported_reason(case, device)
    if reason:
        raise Unsupported(reason)
    _set_threads(case)
    torch.manual_seed(case["protocol"].get("seed", 1))
    with modes.ColdInductorCache() if modes.mode_of(case) == "compile" else contextlib.nullcontext():
        model, _, _ = hf_model.build_model(case, weights_path, device, dtype)
        model.eval()
        ids = _inputs(case, device, case["protocol"].get("seed", 1))
        if modes.mode_of(case) != "eager":
            iteration, _, logits, _ = modes.build_iteration(case, model, ids, device, {})
        elif case["scenario"] == "decode":
            iteration, _ = _decode(model, ids)
            logits = lambda: iteration.last_logits["logits"]
        else:
            state = {}

            def iteration():
                with torch.inference_mode():
                    state["logits"] = model(input_ids=ids, use_cache=False, logits_to_keep=1).logits

            logits = lambda: state["logits"]
        iteration()
        iteration()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        out = logits()[:, -1].float().cpu()
    del model
    _free(device)
    return list(out.shape), out.flatten().tolist()


def inspect_counts(case):
    return hf_model.inspect_counts(case)
