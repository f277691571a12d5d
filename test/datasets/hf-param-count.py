# Counts parameters of Hugging Face configs on the meta device (no weights allocated).
# stdin: JSON list of {"id", "hfConfig"}; stdout: one JSON list of
# {"id", "totalParams", "moeLayers", "experts", "topK", "perExpertParams", "activeParams"}.
# One process for all configs: importing torch + transformers costs seconds, each meta build milliseconds.
import json
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def expert_modules(model, experts):
    # transformers 5 fuses a layer's routed experts into one module of 3-D parameters ([E, ...]);
    # older layouts keep a ModuleList of E MLPs. Both count the same.
    found = []
    for name, module in model.named_modules():
        if not name.endswith(".experts"):
            continue
        params = list(module.parameters(recurse=True))
        if not params:
            continue
        found.append((name, sum(p.numel() for p in params)))
    return found


def count(entry):
    hf = dict(entry["hfConfig"])
    model_type = hf.pop("model_type")
    config = AutoConfig.for_model(model_type, **hf)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    result = {"id": entry["id"], "totalParams": total, "hfClass": type(model).__name__}
    experts = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None) or getattr(config, "n_routed_experts", None)
    top_k = getattr(config, "num_experts_per_tok", None)
    if experts and top_k:
        modules = expert_modules(model, experts)
        per_layer = {n for _, n in modules}
        if len(per_layer) != 1:
            raise SystemExit(f"{entry['id']}: expert modules differ in size: {sorted(per_layer)}")
        layer_params = per_layer.pop()
        if layer_params % experts:
            raise SystemExit(f"{entry['id']}: {layer_params} expert parameters do not split over {experts} experts")
        per_expert = layer_params // experts
        result.update(
            moeLayers=len(modules),
            experts=experts,
            topK=top_k,
            perExpertParams=per_expert,
            activeParams=total - (experts - top_k) * per_expert * len(modules),
        )
    return result


def main():
    entries = json.load(sys.stdin)
    print(json.dumps([count(e) for e in entries]))


if __name__ == "__main__":
    main()
