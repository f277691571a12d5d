"""Fidelity of a torch case's technique against the unmodified fp32 base, the torch twin of
runners/ort/case-fidelity.ts: both models run the same fixed, seeded prompt (the harness sends its token ids, drawn as
case-fidelity.ts draws them), all positions' logits, compared in float64 with the definitions of
src/model/fidelity.ts (relative L2, max abs, top-1 agreement, KL(base ‖ technique)). Off the timed path, repeat 0.
"""

import json
import math

import torch

import hf_model

# Base logits per (model, routing skew, prompt, device): cases of one suite share their base.
_BASE_CACHE = {}
_BASE_CACHE_SIZE = 4


def _forward(model, ids):
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return model(input_ids=ids, use_cache=False).logits.double().cpu()
    finally:
        model.train(was_training)


def base_logits(case, weights_path, device, input_ids):
    """Logits of the fp32 base model on `input_ids` (built from the case's weights file, which holds the base)."""
    key = json.dumps([case["model"], (case.get("workload") or {}).get("routingSkew", 0), input_ids, str(device)], sort_keys=True)
    if key in _BASE_CACHE:
        return _BASE_CACHE[key]
    base_case = {**case, "technique": {"kind": "base"}}
    model, _, _ = hf_model.build_model(base_case, weights_path, device, torch.float32)
    try:
        logits = _forward(model, torch.tensor(input_ids, dtype=torch.long, device=device))
    finally:
        del model
    if len(_BASE_CACHE) >= _BASE_CACHE_SIZE:
        _BASE_CACHE.pop(next(iter(_BASE_CACHE)))
    _BASE_CACHE[key] = logits
    return logits


def technique_logits(model, input_ids, device):
    return _forward(model, torch.tensor(input_ids, dtype=torch.long, device=device))


def measures(base, technique):
    """The four fidelity measures of src/model/fidelity.ts, from float64 logits [batch, seq, vocab]."""
    vocab = base.shape[-1]
    b = base.reshape(-1, vocab)
    t = technique.reshape(-1, vocab)
    norm = float(b.norm())
    difference = float((t - b).norm())
    relative_l2 = (0.0 if difference == 0 else float("inf")) if norm == 0 else difference / norm
    # torch.argmax returns the first maximum, as fidelity.ts's argmax does.
    top1 = float((t.argmax(-1) == b.argmax(-1)).double().mean())
    p = torch.log_softmax(b, -1)
    q = torch.log_softmax(t, -1)
    kl = float((p.exp() * (p - q)).sum(-1).clamp(min=0).mean())
    return {"relativeL2": relative_l2, "maxAbsError": float((t - b).abs().max()), "top1Agreement": top1, "klDivergence": kl}


def scalars(f, tokens):
    label = f"vs the unmodified fp32 base on a fixed seeded {tokens}-token prompt, all positions"

    def scalar(metric, unit, value, text):
        # NaN/inf (overflowing fp16 logits, a zero base) is not a measurement, and JSON could not carry it anyway.
        if not math.isfinite(value):
            return {"metric": metric, "unit": unit, "value": None, "reason": f"not finite ({value}): the logits overflowed or the base logits are all zero"}
        return {"metric": metric, "unit": unit, "value": value, "label": text}

    return [
        scalar("rel_l2_error", "ratio", f["relativeL2"], f"‖technique − base‖₂ ÷ ‖base‖₂ of the logits, {label}"),
        scalar("max_abs_error", "logit", f["maxAbsError"], label),
        scalar("top1_agreement", "ratio", f["top1Agreement"], label),
        scalar("kl_base_technique", "nats", f["klDivergence"], f"KL(base ‖ technique) per position, {label}"),
    ]


def not_computed(error):
    return [{"metric": "rel_l2_error", "unit": "ratio", "value": None, "reason": f"fidelity not computed: {type(error).__name__}: {error}"}]
