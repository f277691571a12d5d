"""A case's model as a real `transformers` architecture with the harness's own seeded weights, plus its technique.

The TypeScript side writes one safetensors file per (model, technique, seed) in Hugging Face naming: the base
tensors (`model.embed_tokens.weight`, `model.layers.{i}.self_attn.q_proj.weight` [out, in], ...) and, for
adapters, `<module>.lora_A.weight` [r, in], `<module>.lora_B.weight` [out, r] and `<module>.lora_magnitude_vector`
[out] with the module path of the base linear. This module maps them onto the model and onto peft's names.
"""

import torch



def family(technique):
    """The technique's family ("base", "adapter", "quantized", "half", "mole", …): the harness sends it with each case
    from its one technique registry, so this worker keeps no list of technique kinds."""
    return (technique or {}).get("family", "base")
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TARGET_GROUPS = {
    "all": ALL_PROJECTIONS,
    "all-linear": ALL_PROJECTIONS,
    "attention": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "attn": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mlp": ["gate_proj", "up_proj", "down_proj"],
    "ffn": ["gate_proj", "up_proj", "down_proj"],
    "qv": ["q_proj", "v_proj"],
}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class Unsupported(Exception):
    """A combination this worker cannot run here; recorded as `unsupported` with the message as the reason."""


def hf_config(model):
    """ModelConfig (src/suite/schema.ts) -> the matching transformers config and its name."""
    if model.get("checkpoint"):
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(model["checkpoint"]), "checkpoint"
    heads = model["heads"]
    common = dict(
        vocab_size=model["vocab"],
        hidden_size=model["hidden"],
        intermediate_size=model["ffn"],
        num_hidden_layers=model["layers"],
        num_attention_heads=heads,
        num_key_value_heads=model.get("kvHeads") or heads,
        head_dim=model.get("headDim") or model["hidden"] // heads,
        max_position_embeddings=model.get("maxPositions", 4096),
        rope_theta=float(model.get("ropeTheta", 10000)),
        rms_norm_eps=float(model.get("rmsNormEps", 1e-5)),
        tie_word_embeddings=bool(model.get("tieEmbeddings", False)),
        pad_token_id=None,
        bos_token_id=None,
        eos_token_id=None,
    )
    scaling = model.get("ropeScaling")
    if scaling:  # transformers' rope types linear / llama3 (src/model/architecture.ts scaledInvFreq is their twin)
        rope = {"rope_type": scaling["type"], "rope_theta": common["rope_theta"], "factor": float(scaling["factor"])}
        if scaling["type"] == "llama3":
            rope.update(low_freq_factor=float(scaling["lowFreqFactor"]), high_freq_factor=float(scaling["highFreqFactor"]), original_max_position_embeddings=int(scaling["originalMaxPositions"]))
        common["rope_parameters"] = rope
    if model.get("qkNorm"):
        if model.get("moe") or model.get("attentionBias"):
            raise Unsupported("q/k norms with a moe block or q/k/v biases: the torch runner builds q/k-norm models as dense Qwen3 without biases")
        from transformers import Qwen3Config

        return Qwen3Config(**common, attention_bias=False, use_sliding_window=False), "Qwen3ForCausalLM"
    if model.get("moe"):
        import moe_block
        from transformers import MixtralConfig

        if model.get("attentionBias"):
            raise Unsupported("a MoE model with q/k/v biases: the torch runner builds MoE models as Mixtral, which has none")
        try:
            extra = moe_block.moe_config_kwargs(model)
        except ValueError as error:
            raise Unsupported(str(error))
        return MixtralConfig(**{**common, **extra}, sliding_window=None), "MixtralForCausalLM"
    # Qwen2 is Llama with biases on q/k/v only (Llama's attention_bias would also put one on o_proj), so a
    # model with attention biases is built as Qwen2 whatever its family; Mistral without a sliding window is Llama.
    if model.get("attentionBias"):
        from transformers import Qwen2Config

        return Qwen2Config(**common, use_sliding_window=False), "Qwen2ForCausalLM"
    from transformers import LlamaConfig

    return LlamaConfig(**common, attention_bias=False, mlp_bias=False), "LlamaForCausalLM"


def compressed_experts(tensors):
    """Per MoE layer, the router outputs, stored experts and whether a slot → expert map exists, from a compressed
    MoE's weights file (expert-prune, mc-smoe, sub-moe: runners/torch/weights-file.ts)."""
    import re

    out = {}
    for name, tensor in tensors.items():
        match = re.match(r"model\.layers\.(\d+)\.mlp\.gate\.weight$", name)
        if match:
            layer = int(match.group(1))
            prefix = f"model.layers.{layer}.mlp"
            out[layer] = {"router": tensor.shape[0], "stored": tensors[f"{prefix}.experts.gate_up_proj"].shape[0], "map": f"{prefix}.expert_map" in tensors}
    return out


def meta_model(model_config, attn_implementation="sdpa", router_bias=False, technique=None, compressed=None):
    """The architecture on the meta device (no memory); MoE blocks replaced where ModelConfig.moe asks for more than
    Mixtral; a mixture of LoRA experts installed (runners/torch/mole.py) when the technique is one."""
    from transformers import AutoModelForCausalLM

    if model_config.get("hf"):  # any transformers causal LM by its config (runners/torch/hf_seeded.py)
        import hf_seeded

        if technique is not None and family(technique) == "mole":
            raise Unsupported("mixtures of LoRA experts are built on the IR's llama-family modules (runners/torch/mole.py): a model given as a transformers config is not one — use peft tuners (kind: peft) or lora/rslora/dora")
        try:
            model, config = hf_seeded.meta_model(model_config["hf"]["config"], attn_implementation)
        except hf_seeded.ConfigRefused as error:
            raise ValueError(f"model › hf › config: {error}")
        return model, config, type(model).__name__
    config, arch = hf_config(model_config)
    config._attn_implementation = attn_implementation
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, attn_implementation=attn_implementation)
        if model_config.get("moe"):
            import moe_block

            if moe_block.needs_project_block(model_config, router_bias, compressed):
                arch += " + " + moe_block.install(model, config, model_config, router_bias, compressed)
        if technique is not None and family(technique) == "mole":
            import mole

            if model_config.get("moe"):
                raise Unsupported(f"{technique['kind']} adapts a dense model; this model has a moe block")
            mole_notes = mole.install(model, technique, config, router_bias)
            arch += f" + effbench {technique['kind']} (runners/torch/mole.py)"
            model._effbench_mole_notes = mole_notes
    return model, config, arch


def _refresh_rotary(model, config, device):
    """to_empty leaves non-persistent buffers (the rotary inv_freq) uninitialised: rebuild them."""
    for module in model.modules():
        if hasattr(module, "inv_freq") and hasattr(module, "rope_type"):
            fresh = type(module)(config=config).to(device)
            for name, buffer in fresh.named_buffers(recurse=False):
                setattr(module, name, buffer)


def is_adapter_key(name):
    """Tensors of a technique, not of the base model (peft adapters, and the mixtures' experts, routers, classifier)."""
    return ".lora_A." in name or ".lora_B." in name or "lora_magnitude_vector" in name or ".mole_experts." in name or ".mole_router." in name or name.startswith("xlora_classifier.")


def peft_key(name):
    """`model.layers.0.self_attn.q_proj.lora_A.weight` -> peft's `base_model.model.<...>.lora_A.default.weight`."""
    if name.startswith("base_model.model."):
        return name
    for part in (".lora_A.", ".lora_B."):
        if part in name and ".default." not in name:
            name = name.replace(part + "weight", part + "default.weight")
    if "lora_magnitude_vector" in name and ".default" not in name:
        name = name.split("lora_magnitude_vector")[0] + "lora_magnitude_vector.default.weight"
    return "base_model.model." + name


def adapter_targets(technique):
    targets = technique.get("targets", technique.get("targetModules", ["q_proj", "v_proj"]))
    if isinstance(targets, str):
        targets = TARGET_GROUPS.get(targets, [targets])
    out = []
    for target in targets:
        out.extend(TARGET_GROUPS.get(target, [target]))
    return sorted(set(out), key=lambda t: ALL_PROJECTIONS.index(t) if t in ALL_PROJECTIONS else 99)


def lora_config(technique):
    from peft import LoraConfig

    kind = technique["kind"]
    rank = int(technique.get("rank", technique.get("r", 8)))
    return LoraConfig(
        r=rank,
        lora_alpha=float(technique.get("alpha", rank)),
        target_modules=adapter_targets(technique),
        lora_dropout=0.0,
        bias="none",
        use_rslora=kind == "rslora" or bool(technique.get("rslora", False)),
        use_dora=kind == "dora" or bool(technique.get("dora", False)),
        task_type="CAUSAL_LM",
    )


def parameter_counts(model):
    """(trainable, total) as peft's get_nb_trainable_parameters reports them; quantised linears count the
    parameters their packed weights stand for (docs/torch-runner.md)."""
    if hasattr(model, "get_nb_trainable_parameters"):
        trainable, total = model.get_nb_trainable_parameters()
    else:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
    packed = sum(getattr(m, "logical_params", 0) for m in model.modules())
    return {"trainable": int(trainable), "total": int(total + packed), "packedLogical": int(packed)}


def held_bytes(model):
    """Bytes of every parameter and persistent buffer (not rotary tables) the model holds, in the dtype and packing held (tied weights
    once): what a forward reads at most, and what bytes-per-iteration and the weight-read floor use."""
    seen = set()
    total = 0
    buffers = [b for m in model.modules() for name, b in m._buffers.items() if b is not None and name not in m._non_persistent_buffers_set]
    for tensor in list(model.parameters()) + buffers:
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        total += tensor.numel() * tensor.element_size()
    return int(total)


def build_model(case, weights_path, device, dtype, training=False, attn_implementation="sdpa"):
    """The case's model on `device` in `dtype`, weights from the harness's safetensors; returns (model, notes)."""
    from safetensors.torch import load_file

    technique = case.get("technique") or {"kind": "base"}
    kind = technique.get("kind", "base")
    notes = {"attnImplementation": attn_implementation}
    if weights_path is None:
        return _build_seeded(case, device, dtype, training, attn_implementation, notes)
    tensors = load_file(weights_path, device=str(device))
    router_bias = any(k.endswith(".mlp.gate.bias") or k.endswith(".mole_router.bias") for k in tensors)
    mole_kind = family(technique) == "mole"
    if family(technique) == "quantized" and training:
        raise Unsupported(f"{kind} alone is not fine-tuned on torch: its quantised weights have no gradient (train an adapter over it: base: int4, QLoRA-style)")
    compressed = compressed_experts(tensors) if family(technique) == "moe-compression" else None
    if compressed is not None and training:
        raise Unsupported(f"{kind} is measured for inference: fine-tuning a compressed MoE is not modelled")
    if compressed is not None:
        notes["compressedExperts"] = "stored experts as dense stacks from the weights file (factorised experts multiplied out when it was written: the same function, the dense experts' memory and FLOPs), router slot → stored expert map"
    model, config, arch = meta_model(case["model"], attn_implementation, router_bias, technique if mole_kind else None, compressed)
    notes["architecture"] = arch
    if mole_kind:
        notes.update(model._effbench_mole_notes)
    if case["model"].get("moe"):
        notes["expertsImplementation"] = getattr(config, "_experts_implementation", None) or "eager"
    model.to_empty(device=device)
    _refresh_rotary(model, config, device)
    # A mixture of LoRA experts' tensors carry the names of its modules (runners/torch/mole.py): they load as they are.
    base_state = dict(tensors) if mole_kind else {k: v for k, v in tensors.items() if not is_adapter_key(k)}
    expected = dict(model.state_dict())
    for name, tensor in expected.items():
        # Qwen2 always has q/k/v biases: a model without them gets zeros (the same function).
        if name not in base_state and name.endswith(".bias"):
            base_state[name] = torch.zeros_like(tensor)
    if config.tie_word_embeddings:
        base_state.pop("lm_head.weight", None)
    missing, unexpected = model.load_state_dict(base_state, strict=False)
    missing = [m for m in missing if not (config.tie_word_embeddings and m == "lm_head.weight")]
    if missing or unexpected:
        raise ValueError(f"weights file {weights_path} does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()

    if family(technique) == "adapter":
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(technique))
        adapter_state = {peft_key(k): v for k, v in tensors.items() if is_adapter_key(k)}
        if not adapter_state:
            raise ValueError(f"weights file {weights_path} has no adapter tensors (lora_A/lora_B) for technique {kind}")
        own = dict(model.named_parameters())
        absent = [k for k in adapter_state if k not in own]
        if absent:
            raise ValueError(f"adapter tensors do not match peft's modules: {absent[:3]}")
        wanted = [k for k in own if ("lora_A" in k or "lora_B" in k or (kind == "dora" and "magnitude" in k))]
        not_given = [k for k in wanted if k not in adapter_state and "magnitude" not in k]
        if not_given:
            raise ValueError(f"weights file lacks adapter tensors for {not_given[:3]}")
        with torch.no_grad():
            for k, v in adapter_state.items():
                own[k].copy_(v)
        notes["adapterTargets"] = adapter_targets(technique)
        notes["magnitudeFrom"] = "weights file" if any("magnitude" in k for k in adapter_state) else "peft init (row norms of W)"
        del adapter_state, own
        if technique.get("merged"):
            if training:
                raise Unsupported("a merged adapter has no separate trainable parameters: train-step needs merged: false")
            model = model.merge_and_unload()
            notes["adapter"] = "merged (merge_and_unload)"
        else:
            notes["adapter"] = "unmerged (peft LoraLayer forward)"
    elif family(technique) == "peft":
        import peft_tuner

        seed = int(technique.get("seed", (case["model"].get("weights") or {}).get("seed", 0)))
        model, peft_notes = peft_tuner.apply(model, technique, seed, calibrate=(config.vocab_size, device))
        notes.update(peft_notes)
        notes.update(peft_tuner.ensure_not_identity(model, config.vocab_size, device, seed))
        if technique.get("merged"):
            if training:
                raise Unsupported("a merged adapter has no separate trainable parameters: train-step needs merged: false")
            model = peft_tuner.merge(model)
            notes["adapter"] = "merged (merge_and_unload)"
    elif mole_kind:
        import mole

        mole.freeze_base(model, technique)
        if training and kind == "mixlora":
            notes["auxLoss"] = f"Switch load balance E·Σ f·P (mean over layers) × {technique.get('auxLossCoefficient', 0.01)} added to the loss"
    elif kind == "base" and training:
        notes["training"] = "full fine-tune"

    # The file's tensors (fp32, on the device) are copied into the model by now: drop them before casting and
    # quantising, so the build's peak is not two full copies plus the quantised one.
    del tensors, base_state, expected
    model = model.to(dtype)
    quant = dict(technique) if family(technique) == "quantized" else {"kind": "int4", "targets": "all-linear"} if technique.get("base") == "int4" else None
    if quant is not None:
        import weight_quant

        try:
            # Unpacked int4 codes stay only for backward (train step) and DoRA's per-forward weight norm.
            keep = training or kind == "dora"
            notes.update(weight_quant.quantize_model(model, quant, device, dtype, keep_unpacked=keep))
        except ValueError as error:  # a shape or group size torch's int4 kernels do not take
            raise Unsupported(f"{quant['kind']} on torch: {error}")
        if family(technique) == "adapter":
            notes["adapterBase"] = "int4 (QLoRA-style: packed base, dequantised in backward)"
    elif family(technique) not in ("adapter", "mole", "base", "half", "moe-compression", "peft"):
        raise Unsupported(f"the torch worker does not implement technique {kind!r}")
    counts = parameter_counts(model)
    return model, notes, counts


SEEDED_STD = 0.02  # transformers' initializer_range


def seed_tensors(module, seed, skip=lambda name: False):
    """Fills every floating parameter from its own generator, seeded by (seed, its name): the same seed gives the same
    tensors whatever the order or the set of modules around them. Norm weights 1, biases 0, the rest N(0, 0.02²)."""
    import zlib

    with torch.no_grad():
        for name, param in module.named_parameters():
            if skip(name) or not param.is_floating_point():
                continue
            if name.endswith("bias"):
                param.zero_()
            elif "norm" in name.rsplit(".", 2)[-2]:  # the owning module: input_layernorm, norm, …
                param.fill_(1.0)
            else:
                generator = torch.Generator(device=param.device).manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)
                param.normal_(0.0, SEEDED_STD, generator=generator)


def _build_seeded(case, device, dtype, training, attn_implementation, notes):
    """The case's model with worker-seeded weights, built on the device in its dtype (no weights file): base weights
    from the seed, then the technique (adapters seeded too, so B·A is not zero; int4/int8 quantised from them)."""
    technique = case.get("technique") or {"kind": "base"}
    kind = technique.get("kind", "base")
    seed = int(((case["model"].get("weights") or {}).get("seed", 0)))
    if family(technique) == "quantized" and training:
        raise Unsupported(f"{kind} alone is not fine-tuned on torch: its quantised weights have no gradient (train an adapter over it: base: int4, QLoRA-style)")
    mole_kind = family(technique) == "mole"
    model, config, arch = meta_model(case["model"], attn_implementation, False, technique if mole_kind else None)
    notes["attnImplementation"] = getattr(config, "_attn_implementation", None) or attn_implementation  # eager where no SDPA path
    notes.update(architecture=arch, weightsSource="worker-seeded", weightsInit=f"N(0, {SEEDED_STD}²) per tensor from seed {seed} and its name; norms 1, biases 0")
    if case["model"].get("moe"):
        notes["expertsImplementation"] = getattr(config, "_experts_implementation", None) or "eager"
    # Built in the run dtype directly (an 8B model in fp32 would need twice the memory); int4/int8 quantise from it.
    model.to_empty(device=device)
    model.to(dtype)
    _refresh_rotary(model, config, device)
    seed_tensors(model, seed)
    if config.tie_word_embeddings:
        model.tie_weights()
    if family(technique) == "adapter":
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(technique))
        seed_tensors(model, seed + 1, skip=lambda name: not ("lora_A" in name or "lora_B" in name))
        notes["adapterTargets"] = adapter_targets(technique)
        if technique.get("merged"):
            if training:
                raise Unsupported("a merged adapter has no separate trainable parameters: train-step needs merged: false")
            model = model.merge_and_unload()
            notes["adapter"] = "merged (merge_and_unload)"
        else:
            notes["adapter"] = "unmerged (peft LoraLayer forward)"
    elif mole_kind:
        import mole

        mole.freeze_base(model, technique)
    model = model.to(dtype)
    if family(technique) == "peft":  # any peft tuner, seeded and calibrated as over a weights file (peft_tuner.py)
        import peft_tuner

        vocab = model.config.vocab_size
        model, peft_notes = peft_tuner.apply(model, technique, int(technique.get("seed", seed)), calibrate=(vocab, device))
        notes.update(peft_notes)
        notes.update(peft_tuner.ensure_not_identity(model, vocab, device, seed))
        if technique.get("merged"):
            if training:
                raise Unsupported("a merged adapter has no separate trainable parameters: train-step needs merged: false")
            model = peft_tuner.merge(model)
            notes["adapter"] = "merged (merge_and_unload)"
    quant = dict(technique) if family(technique) == "quantized" else {"kind": "int4", "targets": "all-linear"} if technique.get("base") == "int4" else None
    if quant is not None:
        import weight_quant

        try:
            notes.update(weight_quant.quantize_model(model, quant, device, dtype, keep_unpacked=training or kind == "dora"))
        except ValueError as error:
            raise Unsupported(f"{quant['kind']} on torch: {error}")
    return model, notes, parameter_counts(model)


def inspect_counts(case):
    """Parameter counts on the meta device (no weights allocated), as peft and transformers report them."""
    technique = case.get("technique") or {"kind": "base"}
    skewed = (case.get("workload") or {}).get("routingSkew", 0) > 0
    mole_kind = family(technique) == "mole"
    router_bias = (bool(case["model"].get("moe")) or mole_kind) and skewed
    model, _, arch = meta_model(case["model"], router_bias=router_bias, technique=technique if mole_kind else None)
    if mole_kind:
        import mole

        mole.freeze_base(model, technique)
    if family(technique) == "adapter":
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(technique))
    elif family(technique) == "peft":
        import peft_tuner

        model, _ = peft_tuner.apply(model, technique, 0)
    counts = parameter_counts(model)
    if family(technique) == "peft" and technique.get("merged"):
        counts["total"] -= counts["trainable"]  # merge_and_unload folds the tuner into the base weights
    counts["architecture"] = arch
    if case["model"].get("hf"):
        import hf_seeded

        counts["activePerToken"] = hf_seeded.active_params(model, model.config if hasattr(model, "config") else None)
    elif not case["model"].get("moe"):
        counts["activePerToken"] = counts["total"]
    return counts
