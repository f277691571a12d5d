"""Mixtures of LoRA experts on torch (docs/mole.md, the binding spec shared with the ort graphs of src/model/mole*.ts):
the project's own modules, installed into a dense transformers model, with the very tensor names the TypeScript IR
rewrite writes into the case's safetensors file:

  {module}.weight                                   the frozen base linear (module = model.layers.{i}.self_attn.q_proj …)
  {module}.mole_experts.lora_A [E, r, in]           stacked expert adapters
  {module}.mole_experts.lora_B [E, out, r]
  {module}.mole_router.weight [E, in] (+ .bias)     router of a linear-level mixture
  model.layers.{i}.mlp.mole_router.weight [E, H]    MixLoRA's FFN router (+ .bias)
  {module}.lora_A.weight [r, in], .lora_B.weight    MixLoRA's plain attention LoRA
  xlora_classifier.weight [L·E, H], .bias [L·E]     X-LoRA's classifier

Designs: MixLoRA (top-k FFN-level experts; the base gate/up products shared, the base down once per chosen expert, as
the paper runs it; Switch load-balance loss kept for the train step), LoRAMoE (dense soft routing), MoLA (top-k, experts
per layer group), SMoRA (rank-wise experts, g = k·p/Σ_K p), X-LoRA (a base pass for the classifier's layer-wise
scalings, then the adapted pass; decode keeps a second KV cache for the base pass).

Linear-level mixtures run dense over the stacked E·r ranks with the per-token gate (exact routing, never a B·A product
on weights), as the ort graphs do. Routers' softmax runs in float32; top-k ties go to the lower index.
"""

import re

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
FFN = ("gate_proj", "up_proj", "down_proj")


def _targets(targets):
    return list(ALL_PROJECTIONS) if targets in (None, "all-linear") else [t for t in ALL_PROJECTIONS if t in set(targets)]


def mola_experts_at(per_group, layer, layers):
    return per_group[(layer * len(per_group)) // layers]


def top_k(probs, k):
    """Top-k of the last axis, sorted, ties to the lower index (ORT's TopK): a stable sort of -p."""
    order = torch.sort(-probs, dim=-1, stable=True).indices[..., :k]
    return probs.gather(-1, order), order


def dynmole_mask(probs, router):
    """DynMoLE's kept-expert mask (src/model/dynmole.ts): sorted cumulative p ≤ topP, at least the topK first (ties to
    the lower index), every expert where the normalised Tsallis entropy of p (+ 1e-5) exceeds entropyThreshold."""
    experts = probs.shape[-1]
    k = min(int(router["topK"]), experts)
    q = float(router["tsallisQ"])
    values, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    keep = values.cumsum(-1) <= float(router["topP"])
    keep[..., :k] = True
    mask = torch.zeros_like(probs).scatter(-1, order, keep.to(probs.dtype))
    shifted = probs + 1e-5
    if q == 1.0:
        entropy = -(shifted * shifted.log()).sum(-1) / math.log(experts)
    else:
        entropy = (1 - (shifted**q).sum(-1)) / (1 - experts ** (1 - q))
    mask[entropy > float(router["entropyThreshold"])] = 1.0
    return mask


class ExpertStack(nn.Module):
    """E LoRA experts of one linear, stacked: lora_A [E, r, in], lora_B [E, out, r]."""

    def __init__(self, experts, rank, in_features, out_features):
        super().__init__()
        self.lora_A = nn.Parameter(torch.empty(experts, rank, in_features))
        self.lora_B = nn.Parameter(torch.empty(experts, out_features, rank))

    def dense_delta(self, x, gates):
        """Σ_e gate_e · B_e·(A_e·x) for x [T, in], gates [T, E]: one matmul over the E·r stacked ranks."""
        experts, rank, in_features = self.lora_A.shape
        ax = x @ self.lora_A.reshape(experts * rank, in_features).t()  # [T, E·r]
        ax = ax * gates.to(ax.dtype).repeat_interleave(rank, dim=-1)
        return ax @ self.lora_B.permute(1, 0, 2).reshape(-1, experts * rank).t()  # [T, out]

    def expert_delta(self, x, expert):
        return (x @ self.lora_A[expert].t()) @ self.lora_B[expert].t()


class XloraState:
    """What the two X-LoRA passes share: None during the base pass (adapters off), then the scalings [T, L, E]."""

    def __init__(self):
        self.scalings = None


class MoleLinear(nn.Module):
    """y = W·x (+ b) + s·Σ_e gate_e(x)·B_e·A_e·x, gate soft (LoRAMoE), top-k (MoLA, SMoRA with gain k) or X-LoRA's."""

    def __init__(self, linear, layer, projection, experts, rank, scale, gating, top_k_=None, gain=1.0, router_bias=False, xlora=None):
        super().__init__()
        self.projection = projection
        self.weight = linear.weight
        self.bias = linear.bias
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.layer = layer
        self.scale = scale
        self.gating = gating
        self.top_k = top_k_
        self.gain = gain
        self.xlora = xlora
        self.mole_experts = ExpertStack(experts, rank, linear.in_features, linear.out_features)
        self.mole_router = nn.Linear(linear.in_features, experts, bias=router_bias) if gating in ("soft", "top-k", "dynmole") else None
        self.dynmole = None  # DynMoLE's settings when gating == "dynmole"
        self.capture = None  # set by MoleRoutingCapture: a list that receives the chosen experts [T, k] of each forward

    def gates(self, x):
        experts = self.mole_experts.lora_A.shape[0]
        if self.gating == "xlora":
            scalings = self.xlora.scalings[:, self.layer, :]
            if self.top_k is None or self.top_k >= experts:
                return scalings
            probs = scalings
        else:
            probs = F.softmax(self.mole_router(x).float(), dim=-1)
            if self.gating == "soft":
                return probs
            if self.gating == "dynmole":
                mask = dynmole_mask(probs, self.dynmole)
                if self.capture is not None:  # the kept-expert mask [T, E] (as the ort graph's router_mask output)
                    self.capture.append(mask.detach().cpu())
                return probs * mask
        k = min(self.top_k, experts)
        values, index = top_k(probs, k)
        if self.capture is not None and k < experts:  # a router taking every expert chooses nothing (as the ort graph)
            self.capture.append(index.detach().cpu())
        return torch.zeros_like(probs).scatter(-1, index, self.gain * values / values.sum(-1, keepdim=True))

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.xlora is not None and self.xlora.scalings is None:
            return y  # X-LoRA's base pass: adapters off (peft's scaling_pass_value 0)
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        delta = self.mole_experts.dense_delta(flat, self.gates(flat))
        return y + self.scale * delta.reshape(*shape[:-1], self.out_features)


class StackedLinear(nn.Module):
    """A base FFN projection of MixLoRA with its experts' stacked adapters (applied by MixloraMlp)."""

    def __init__(self, linear, experts=None, rank=None):
        super().__init__()
        self.weight = linear.weight
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.mole_experts = ExpertStack(experts, rank, linear.in_features, linear.out_features) if experts else None


class MixloraMlp(nn.Module):
    """MixLoRA's FFN: top-k experts per token, each a LoRA-adapted copy of the base SwiGLU. The base gate/up products
    run once and are shared; each chosen expert adds its gate/up deltas, and runs the base down plus its down delta."""

    def __init__(self, mlp, layer, experts, k, rank, scale, ffn_targets, router_bias):
        super().__init__()
        self.layer = layer
        self.experts, self.k, self.scale = experts, k, scale
        hidden = mlp.gate_proj.in_features
        self.gate_proj = StackedLinear(mlp.gate_proj, *((experts, rank) if "gate_proj" in ffn_targets else ()))
        self.up_proj = StackedLinear(mlp.up_proj, *((experts, rank) if "up_proj" in ffn_targets else ()))
        self.down_proj = StackedLinear(mlp.down_proj, *((experts, rank) if "down_proj" in ffn_targets else ()))
        self.mole_router = nn.Linear(hidden, experts, bias=router_bias)
        self.aux_loss = None
        self.capture = None

    def forward(self, hidden_states):
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1])
        probs = F.softmax(self.mole_router(x).float(), dim=-1)
        top, index = top_k(probs, self.k)
        weights = (top / top.sum(-1, keepdim=True)).to(x.dtype)
        if self.capture is not None:
            self.capture.append(index.detach().cpu())
        # Switch load balance as transformers' load_balancing_loss_func and MixLoRA compute it: E · Σ_e f_e · P_e with
        # f_e = assignments to e / T (the k shares sum to k: k at perfect balance) and P_e the mean router probability.
        share = torch.bincount(index.reshape(-1), minlength=self.experts).to(probs.dtype) / index.shape[0]
        self.aux_loss = self.experts * (share * probs.mean(0)).sum()
        base_gate = F.linear(x, self.gate_proj.weight)
        base_up = F.linear(x, self.up_proj.weight)
        out = torch.zeros_like(x)
        for expert in range(self.experts):
            tokens, slot = torch.where(index == expert)
            if tokens.numel() == 0:
                continue
            xe = x[tokens]
            g, u = base_gate[tokens], base_up[tokens]
            if self.gate_proj.mole_experts is not None:
                g = g + self.scale * self.gate_proj.mole_experts.expert_delta(xe, expert)
            if self.up_proj.mole_experts is not None:
                u = u + self.scale * self.up_proj.mole_experts.expert_delta(xe, expert)
            h = F.silu(g) * u
            y = F.linear(h, self.down_proj.weight)
            if self.down_proj.mole_experts is not None:
                y = y + self.scale * self.down_proj.mole_experts.expert_delta(h, expert)
            out.index_add_(0, tokens, y * weights[tokens, slot, None])
        return out.reshape(shape)


class LoraLinear(nn.Module):
    """Plain LoRA with the names of src/techniques/adapters.ts ({module}.lora_A.weight [r, in], .lora_B.weight)."""

    def __init__(self, linear, rank, scale):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.lora_A = nn.Linear(linear.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, linear.out_features, bias=False)
        self.scale = scale

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + self.scale * self.lora_B(self.lora_A(x))


def _layers(model):
    return model.model.layers


def install(model, technique, config, router_bias):
    """Replaces the technique's linears / FFNs of a (meta-device) dense model by the MoLE modules; returns notes.
    Parameters the TypeScript rewrite writes are created empty here and loaded from the weights file."""
    kind = technique["kind"]
    layers = _layers(model)
    count = len(layers)
    notes = {"mole": kind, "moleImplementation": "effbench runners/torch/mole.py"}
    if kind == "mixlora":
        rank, experts, k = int(technique["rank"]), int(technique["experts"]), int(technique["topK"])
        scale = float(technique["alpha"]) / rank
        for index, layer in enumerate(layers):
            layer.mlp = MixloraMlp(layer.mlp, index, experts, k, rank, scale, set(technique.get("ffnTargets") or FFN), router_bias)
            if technique.get("attentionLora", True):
                for name in ATTENTION:
                    setattr(layer.self_attn, name, LoraLinear(getattr(layer.self_attn, name), rank, scale))
        notes["moleCompute"] = "MixLoRA: base gate/up once, per chosen expert its gate/up deltas and the base down + its delta (sparse, k per token)"
        return notes
    xlora = XloraState() if kind == "xlora" else None
    rank = 1 if kind == "smora" else int(technique["rank"])
    scale = float(technique["alpha"]) / int(technique["rank"])
    targets = _targets(technique.get("targets"))
    for index, layer in enumerate(layers):
        if kind == "mola":
            experts = mola_experts_at(technique["expertsPerLayerGroup"], index, count)
        elif kind == "smora":
            experts = int(technique["rank"])
        else:
            experts = int(technique["experts"])
        gating = {"loramoe": "soft", "mola": "top-k", "smora": "top-k", "xlora": "xlora"}[kind]
        dynmole = technique.get("router") if kind in ("loramoe", "mola") else None
        if dynmole:
            gating = "dynmole"
            notes["router"] = "dynmole (src/model/dynmole.ts): p on the top-p ∪ top-k experts, all experts when the normalised Tsallis entropy exceeds the threshold"
        k = technique.get("topK")
        if kind == "mola":
            k = min(int(k), experts)
        gain = float(technique["topK"]) if kind == "smora" else 1.0
        for name in targets:
            owner = layer.self_attn if name in ATTENTION else layer.mlp
            module = MoleLinear(getattr(owner, name), index, name, experts, rank, scale, gating, k, gain, router_bias, xlora)
            module.dynmole = dynmole
            setattr(owner, name, module)
    if xlora is not None:
        experts = int(technique["experts"])
        model.xlora_classifier = nn.Linear(config.hidden_size, count * experts, bias=True)
        model.register_forward_pre_hook(_xlora_scaling_pass(model, xlora, count, experts), with_kwargs=True)
        notes["moleCompute"] = "X-LoRA: a base pass (adapters off, its own KV cache in decode) for the classifier's scalings, then the adapted pass; mixtures dense over the stacked E·r ranks"
    else:
        notes["moleCompute"] = "dense over the stacked E·r ranks with the per-token gate (exact routing), as the ort graphs"
    return notes


def _xlora_scaling_pass(model, state, layers, experts):
    """A pre-hook of the causal LM: runs the base model (adapters off) over the same tokens — with a KV cache of its own
    beside the adapted pass's — and sets the layer-wise scalings softmax_E((z·Cᵀ + c) as [T, L, E]) for the adapted pass."""

    def hook(_module, args, kwargs):
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        past = kwargs.get("past_key_values")
        base_past = None
        if past is not None:
            from transformers import DynamicCache

            base_past = getattr(past, "_xlora_base_cache", None)
            if base_past is None:
                base_past = DynamicCache()
                past._xlora_base_cache = base_past
            # Keep the base cache as long as the adapted one (the decode scenario crops its cache after each step).
            surplus = base_past.get_seq_length() - past.get_seq_length()
            if surplus > 0:
                base_past.crop(-surplus)
        state.scalings = None
        out = model.model(input_ids=input_ids, position_ids=kwargs.get("position_ids"), attention_mask=kwargs.get("attention_mask"), past_key_values=base_past, use_cache=base_past is not None)
        z = out.last_hidden_state  # after the final norm
        logits = model.xlora_classifier(z.reshape(-1, z.shape[-1]))
        state.scalings = F.softmax(logits.float().reshape(-1, layers, experts), dim=-1).to(z.dtype)
        return None

    return hook


class MoleRoutingCapture:
    """Records the experts each routed mixture chose, under the names of the ort graphs' routing outputs:
    `router_indices.{layer}` (MixLoRA's FFN router; X-LoRA's top-k, once per layer) and
    `router_indices.{layer}.{projection}` (MoLA's and SMoRA's per-linear routers), and DynMoLE's kept-expert masks
    [T, E] under `router_mask.{layer}.{projection}`. Dense soft routing (LoRAMoE, X-LoRA without topK) chooses nothing
    and has no histogram, as on ort."""

    def __init__(self, model, first_forward_only=False):
        self.first_forward_only = first_forward_only
        self.modules = []
        xlora_layers = set()
        for module in model.modules():
            if isinstance(module, MixloraMlp):
                name = f"router_indices.{module.layer}"
            elif isinstance(module, MoleLinear) and module.gating == "top-k":
                name = f"router_indices.{module.layer}.{module.projection}"
            elif isinstance(module, MoleLinear) and module.gating == "dynmole":
                name = f"router_mask.{module.layer}.{module.projection}"
            elif isinstance(module, MoleLinear) and module.gating == "xlora" and module.top_k is not None and module.top_k < module.mole_experts.lora_A.shape[0] and module.layer not in xlora_layers:
                xlora_layers.add(module.layer)  # every linear of a layer shares the layer's scalings
                name = f"router_indices.{module.layer}"
            else:
                continue
            self.modules.append((name, module))

    def __enter__(self):
        for _, module in self.modules:
            module.capture = []
        return self

    def __exit__(self, *exc):
        # first_forward_only (generate): the prompt's forward alone, as for MoE routing (moe_block.RoutingCapture).
        self.captured = [(name, module.capture[:1] if self.first_forward_only else module.capture) for name, module in self.modules if module.capture]
        for _, module in self.modules:
            module.capture = None

    def indices(self):
        """{output name: token-major [T·k] list (masks: [T·E])} over the captured forwards (after the `with` block)."""
        return {name: torch.cat(parts).reshape(-1).tolist() for name, parts in self.captured}

    def tokens(self):
        """Tokens the routers saw (rows of the first router's forwards)."""
        return int(sum(part.shape[0] for part in self.captured[0][1])) if self.captured else 0


def freeze_base(model, technique):
    """Base weights frozen; trainable: expert adapters and routers (X-LoRA: the classifier only, experts frozen as
    peft's X-LoRA trains by default)."""
    xlora = technique["kind"] == "xlora"
    for name, parameter in model.named_parameters():
        if xlora:
            parameter.requires_grad_(name.startswith("xlora_classifier."))
        else:
            parameter.requires_grad_(bool(re.search(r"\.(mole_experts|mole_router|lora_A|lora_B)\.", name)))


def aux_loss(model):
    """MixLoRA's load-balance loss of the last forward, averaged over layers (as transformers' load_balancing_loss_func
    pools layers); None for other designs."""
    losses = [m.aux_loss for m in model.modules() if isinstance(m, MixloraMlp) and m.aux_loss is not None]
    return torch.stack(losses).mean() if losses else None
