"""MoE FFNs the torch worker builds (issue 5), over transformers' own fused experts.

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


class MoeBlock(nn.Module):
    def __init__(self, config, moe, router_bias, shared_width):
        super().__init__()
        from transformers.models.mixtral.modeling_mixtral import MixtralExperts

        self.gate = Router(config.hidden_size, moe["experts"], moe.get("topK", 2), moe.get("normTopK", True), router_bias)
        self.experts = MixtralExperts(config)
        self.shared_experts = SwiGLU(config.hidden_size, shared_width) if shared_width else None
        # Expert load of the last forward (tokens routed to each expert), for routing metrics.
        self.record_load = False
        self.load = None

    def forward(self, hidden_states):
        batch, seq, hidden = hidden_states.shape
        x = hidden_states.reshape(-1, hidden)
        _, weights, index = self.gate(x)
        if self.record_load:
            counts = torch.bincount(index.flatten(), minlength=self.gate.weight.shape[0])
            self.load = counts if self.load is None else self.load + counts
        y = self.experts(x, index, weights)
        if self.shared_experts is not None:
            y = y + self.shared_experts(x)
        return y.reshape(batch, seq, hidden)


def moe_config_kwargs(model):
    moe = model["moe"]
    if moe.get("capacityFactor") is not None:
        raise ValueError("capacityFactor: transformers' MoE blocks never drop tokens; the torch runner does not model capacity")
    return {"num_local_experts": moe["experts"], "num_experts_per_tok": moe.get("topK", 2), "intermediate_size": moe.get("expertFfn") or model["ffn"], "router_jitter_noise": 0.0}


def needs_project_block(model, router_bias):
    moe = model["moe"]
    return router_bias or not moe.get("normTopK", True) or moe.get("sharedExperts", 0) > 0 or moe.get("firstDenseLayers", 0) > 0


def install(model_module, config, model, router_bias):
    """Replaces the MoE blocks of a (meta-device) Mixtral model where ModelConfig.moe asks for more than Mixtral."""
    moe = model["moe"]
    expert_ffn = moe.get("expertFfn") or model["ffn"]
    shared_width = moe.get("sharedExperts", 0) * (moe.get("sharedFfn") or expert_ffn)
    for index, layer in enumerate(model_module.model.layers):
        if index < moe.get("firstDenseLayers", 0):
            layer.mlp = SwiGLU(config.hidden_size, model["ffn"])
        else:
            layer.mlp = MoeBlock(config, moe, router_bias, shared_width)
    return "effbench MoeBlock (router bias, top-k renormalisation, shared experts, dense first layers) over transformers' MixtralExperts"
