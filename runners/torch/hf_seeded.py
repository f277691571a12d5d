"""Models given as a transformers config dict (`hf: { config }`): the architecture on the meta device, which
hf_model._build_seeded fills with the worker-seeded weights (seed_tensors) like any model without a weights file.

    meta_model(config_dict)         -> the architecture on the meta device (builds and counts, no memory)
    active_params(model, config)    -> parameters one token uses (MoE: skipped routed experts left out)

The TypeScript side builds the dict (runners/torch/hf-config.ts `hfConfigDict`).
"""

import torch


class ConfigRefused(ValueError):
    """transformers refused the config: the message says which key and why."""


def hf_config(config_dict, attn_implementation="sdpa"):
    """The transformers config object of a dict with a `model_type` (AutoConfig.for_model)."""
    from transformers import AutoConfig

    values = dict(config_dict)
    model_type = values.pop("model_type", None)
    if not isinstance(model_type, str):
        raise ConfigRefused("the config has no model_type: transformers picks the architecture by it")
    try:
        config = AutoConfig.for_model(model_type, **values)
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigRefused(f"transformers refused the {model_type} config: {error}")
    config._attn_implementation = attn_implementation
    return config


def _build(config, attn_implementation):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_config(config, attn_implementation=attn_implementation)
    except ValueError as error:
        # Some architectures (GPT-OSS: attention sinks) have no SDPA path: their eager attention is what runs.
        if "attention implementation" in str(error) and attn_implementation != "eager":
            config._attn_implementation = "eager"
            return AutoModelForCausalLM.from_config(config, attn_implementation="eager")
        raise ConfigRefused(f"AutoModelForCausalLM cannot build a {config.model_type} model from this config: {error}")
    except (KeyError, TypeError) as error:
        raise ConfigRefused(f"AutoModelForCausalLM cannot build a {config.model_type} model from this config: {error}")


def meta_model(config_dict, attn_implementation="sdpa"):
    config = hf_config(config_dict, attn_implementation)
    with torch.device("meta"):
        model = _build(config, attn_implementation)
    return model, config


def _is_experts(module):
    return type(module).__name__.endswith("Experts") and hasattr(module, "num_experts")


def active_params(model, config):
    """Parameters one token uses: all but (1 − k/E) of every routed-experts module (transformers 5 fuses a layer's
    routed experts into one `*Experts` module with `num_experts`), and of peft tuners wrapped around one. None for a
    MoE whose top-k is not in the config."""
    top_k = getattr(config, "num_experts_per_tok", None)
    total = sum(p.numel() for p in model.parameters())
    skipped = 0.0
    found = False
    for module in model.modules():
        base = module.get_base_layer() if type(module).__name__ == "ParamWrapper" else None
        if _is_experts(module):
            experts, own = module.num_experts, sum(p.numel() for p in module.parameters())
        elif base is not None and _is_experts(base):
            experts = base.num_experts
            own = sum(p.numel() for n, p in module.named_parameters() if "base_layer" not in n)
        else:
            continue
        found = True
        if top_k is None:
            return None
        skipped += (1 - min(top_k, experts) / experts) * own
    return int(round(total - skipped)) if found else total
