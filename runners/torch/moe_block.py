"""MoE FFNs the torch worker builds (docs/torch-runner.md), over transformers' own fused experts.

A plain Mixtral-style model (softmax top-k with renormalisation, no shared experts, every layer MoE, no router bias)
runs transformers' MixtralSparseMoeBlock as is. What ModelConfig.moe adds beyond Mixtral is this project's block:
the same router and the same `MixtralExperts` (3-D `gate_up_proj [E, 2I, H]`, `down_proj [E, H, I]`, dispatched by
`config._experts_implementation`), plus an optional router bias (the workload's routing skew, src/model/moe.ts),
top-k without renormalisation, and DeepSeekMoE-style always-on shared experts fused into one SwiGLU. Dense first
layers get a plain SwiGLU with the dense model's names. Tensor names are those src/model/moe.ts writes.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class SwiGLU(nn.Module):
    def __init__(self, hidden, width):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, width, bias=False)
        self.up_proj = nn.Linear(hidden, width, bias=False)
        self.down_proj = nn.Linear(width, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Router(nn.Module):
    """Mixtral's router (softmax in float32, top-k), with an optional logit bias and optional renormalisation."""

    def __init__(self, hidden, experts, top_k, norm_top_k, bias):
        super().__init__()
        self.top_k = top_k
        self.norm_top_k = norm_top_k
        self.weight = nn.Parameter(torch.empty(experts, hidden))
        self.bias = nn.Parameter(torch.empty(experts)) if bias else None

    def forward(self, x):
        logits = F.linear(x, self.weight, self.bias)
        probs = F.softmax(logits.float(), dim=-1)
        top, index = torch.topk(probs, self.top_k, dim=-1)
        if self.norm_top_k:
            top = top / top.sum(dim=-1, keepdim=True)
        return logits, top, index


def capacity_keep(index, experts, capacity_factor):
    """runners/ort/onnx/moe-onnx.ts's capacity rule: an assignment is kept while its expert has had fewer than
    C = ceil(capacityFactor · T · k / E) earlier assignments, counted in token-major order over the T tokens of
    this forward; C is computed in float32 as the ORT graph computes it. Returns a bool mask shaped like `index`."""
    flat = index.reshape(-1)
    one_hot = F.one_hot(flat, experts)
    position = (one_hot.cumsum(0) * one_hot).sum(-1)  # 1-based rank of each assignment within its expert
    count = torch.tensor(float(flat.numel()), dtype=torch.float32)
    capacity = torch.ceil(count * torch.tensor(capacity_factor / experts, dtype=torch.float32))
    return (position.float() <= capacity).reshape(index.shape)


class MoeBlock(nn.Module):
    def __init__(self, config, moe, router_bias, shared_width, compressed=None):
        super().__init__()
        import copy

        from transformers.models.mixtral.modeling_mixtral import MixtralExperts

        # Compressed experts (expert-prune, mc-smoe, sub-moe; src/model/moe-compressed.ts): the router has
        # `router` outputs, `stored` experts are stored, and with `map` router slot e runs stored expert
        # expert_map[e] (a merged group's expert). Factorised experts arrive multiplied out (weights-file.ts).
        router_experts = compressed["router"] if compressed else moe["experts"]
        experts_config = config
        if compressed and compressed["stored"] != config.num_local_experts:
            experts_config = copy.copy(config)
            experts_config.num_local_experts = compressed["stored"]
        self.gate = Router(config.hidden_size, router_experts, moe.get("topK", 2), moe.get("normTopK", True), router_bias)
        self.experts = MixtralExperts(experts_config)
        self.router_experts = router_experts
        if compressed and compressed["map"]:
            self.register_buffer("expert_map", torch.zeros(router_experts, dtype=torch.long))
        else:
            self.expert_map = None
        self.shared_experts = SwiGLU(config.hidden_size, shared_width) if shared_width else None
        self.capacity_factor = moe.get("capacityFactor")

    def forward(self, hidden_states):
        batch, seq, hidden = hidden_states.shape
        x = hidden_states.reshape(-1, hidden)
        _, weights, index = self.gate(x)
        keep = capacity_keep(index, self.router_experts, self.capacity_factor) if self.capacity_factor is not None else None
        if self.expert_map is not None:
            index = self.expert_map[index]
        if keep is not None:
            # A dropped assignment gets transformers' expert sentinel E (skipped by every experts implementation)
            # and weight 0: it costs nothing and contributes nothing; the residual carries the token.
            index = torch.where(keep, index, torch.full_like(index, self.experts.num_experts))
            weights = weights * keep.to(weights.dtype)
        y = self.experts(x, index, weights)
        if self.shared_experts is not None:
            y = y + self.shared_experts(x)
        return y.reshape(batch, seq, hidden)


def moe_config_kwargs(model):
    moe = model["moe"]
    return {"num_local_experts": moe["experts"], "num_experts_per_tok": moe.get("topK", 2), "intermediate_size": moe.get("expertFfn") or model["ffn"], "router_jitter_noise": 0.0}


def needs_project_block(model, router_bias, compressed=None):
    moe = model["moe"]
    return bool(compressed) or router_bias or moe.get("capacityFactor") is not None or not moe.get("normTopK", True) or moe.get("sharedExperts", 0) > 0 or moe.get("firstDenseLayers", 0) > 0


def install(model_module, config, model, router_bias, compressed=None):
    """Replaces the MoE blocks of a (meta-device) Mixtral model where ModelConfig.moe asks for more than Mixtral
    (`compressed`: {layer: {router, stored, map}} for compressed experts, read from the weights file)."""
    moe = model["moe"]
    expert_ffn = moe.get("expertFfn") or model["ffn"]
    shared_width = moe.get("sharedExperts", 0) * (moe.get("sharedFfn") or expert_ffn)
    for index, layer in enumerate(model_module.model.layers):
        if index < moe.get("firstDenseLayers", 0):
            layer.mlp = SwiGLU(config.hidden_size, model["ffn"])
        else:
            layer.mlp = MoeBlock(config, moe, router_bias, shared_width, (compressed or {}).get(index))
    if compressed:
        return "effbench MoeBlock with compressed experts (fewer stored experts, router slot → stored expert map) over transformers' MixtralExperts"
    return "effbench MoeBlock (router bias, top-k renormalisation, shared experts, dense first layers, capacity) over transformers' MixtralExperts"


class RoutingCapture:
    """Records the experts each MoE layer's router chose (before capacity drops), per forward, through forward hooks
    on the routers (`layers.{i}.mlp.gate`: transformers' MixtralTopKRouter or this file's Router, both returning
    (logits, weights, indices)). `indices()` gives {layer: flat token-major [T·k] list} over all captured forwards, or
    over the first alone with `first_forward_only` (generate: capacity is counted per forward, so the prompt's forward
    is the one whose drops the summary can reproduce)."""

    def __init__(self, model, first_forward_only=False):
        import re

        self.first_forward_only = first_forward_only
        self.by_layer = {}
        self.handles = []
        for name, module in model.named_modules():
            # The IR models' `mlp.gate`; transformers 5's MoE families name their top-k router `mlp.gate` (Mixtral,
            # Qwen2/3-MoE, OLMoE, DeepSeek-V2/V3) or `mlp.router` (GPT-OSS), all returning (logits, weights, indices).
            match = re.search(r"layers\.(\d+)\.mlp\.(gate|router)$", name)
            if match and (match.group(2) == "gate" or "Router" in type(module).__name__):
                layer = int(match.group(1))
                self.handles.append(module.register_forward_hook(lambda _m, _i, out, layer=layer: self._record(layer, out)))

    def _record(self, layer, out):
        indices = out[2] if isinstance(out, tuple) and len(out) > 2 else None
        if indices is None or indices.dtype not in (torch.int64, torch.int32):
            return  # a gate that is not a top-k router (e.g. a plain Linear named gate)
        if self.first_forward_only and layer in self.by_layer:
            return
        self.by_layer.setdefault(layer, []).append(indices.detach().reshape(-1).cpu())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()

    def indices(self):
        return {str(layer): torch.cat(parts).tolist() for layer, parts in sorted(self.by_layer.items())}
