"""Any peft tuner as a technique (`{kind: "peft", config: {peft_type: ..., ...}}`): the config is passed to peft as the
user wrote it, built with peft's own classes, and its adapter weights are initialised non-identity and seeded.

A tuner initialised to identity (LoRA's B = 0, IA3's ones, OFT's zero skew) would make every fidelity check trivially
perfect, so unless the config sets it, the worker uses the tuner's own "not identity" init flag (peft's
`init_weights=False`, `init_lora_weights=False`, `init_ia3_weights=False`, which peft's tests use for the same reason)
under torch.manual_seed(seed), scaled toward identity until the logits move by 10 % (see `apply`). After the build,
a forward with the adapter disabled must differ from the adapted one.
"""

import dataclasses

import torch

from hf_model import Unsupported


class ConfigError(ValueError):
    """A mistake in the technique's peft config: `path` is where in the technique it is (e.g. `config › r`)."""

    def __init__(self, path, message):
        super().__init__(f"technique › {path}: {message}")


def _types():
    from peft import PEFT_TYPE_TO_CONFIG_MAPPING

    return {str(getattr(t, "value", t)): cls for t, cls in PEFT_TYPE_TO_CONFIG_MAPPING.items()}


def config_class(raw):
    import peft

    peft_type = raw.get("peft_type")
    types = _types()
    if not isinstance(peft_type, str) or peft_type.upper() not in types:
        raise ConfigError("config › peft_type", f"expected one of peft {peft.__version__}'s types ({', '.join(sorted(types))}), got {peft_type!r}")
    return peft_type.upper(), types[peft_type.upper()]


INIT_FLAGS = ("init_lora_weights", "init_ia3_weights", "init_weights")


def build_config(technique, identity=False):
    """The peft config of a technique; (config, init flag chosen here or None when the config sets it / has none).
    Without a user choice the flag is False (peft's seeded non-identity init), or True with `identity`."""
    raw = dict(technique.get("config") or {})
    peft_type, cls = config_class(raw)
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"config › {key}", f"{cls.__name__} has no field {key!r} (peft's fields: {', '.join(sorted(f for f in fields if not f.startswith('_')))})")
    raw["peft_type"] = peft_type
    raw.setdefault("task_type", "CAUSAL_LM")
    flag = next((f for f in INIT_FLAGS if f in fields), None)
    chosen = None
    if flag and flag not in raw:
        raw[flag] = bool(identity)
        chosen = flag
    try:
        config = cls(**{k: v for k, v in raw.items() if k != "peft_type"})
    except (TypeError, ValueError) as error:
        raise ConfigError("config", f"{cls.__name__} refused it: {error}")
    if config.is_prompt_learning:
        raise Unsupported(
            f"{peft_type} is a prompt-learning tuner: it prepends virtual tokens through past_key_values, which the timed decode "
            "(a cache cropped back each step) and the fidelity comparison (same positions as the base) do not model; use an adapter tuner"
        )
    return config, chosen


def _type_name(config):
    return str(getattr(config.peft_type, "value", config.peft_type))


def apply(model, technique, seed, calibrate=None):
    """`model` wrapped by peft with the technique's tuner, adapter weights seeded; returns (peft model, notes).

    With `calibrate` = (vocab, device) and no init chosen in the config, the adapter stands for a trained one of a
    realistic size: its tensors are θ = θ_identity + t·(θ_random − θ_identity) (peft's identity init and its seeded
    non-identity init), t found by bisection so that the logits move by TARGET_RELATIVE_UPDATE (relative L2 on 8
    seeded tokens) — peft's non-identity inits alone move them by 50–150 %, no trained adapter does."""
    from peft import get_peft_model

    random_config, chosen = build_config(technique)
    notes = {}
    # The unadapted model's logits on the probe tokens, taken before peft touches it: inits that rewrite the base
    # weights (PiSSA, OLoRA move principal components into the adapter) make "adapter disabled" a different model.
    probe = _plain_probe(model, *calibrate) if calibrate is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            peft_model = get_peft_model(model, random_config)
            if calibrate is not None and chosen:
                # The seeded non-identity tensors, then the same tuner at identity on the unloaded (unchanged) base.
                random = {n: p.detach().clone() for n, p in peft_model.named_parameters() if p.requires_grad}
                identity_config, _ = build_config(technique, identity=True)
                peft_model = get_peft_model(peft_model.unload(), identity_config)
                notes.update(_calibrate(peft_model, random, *calibrate, probe))
            else:
                notes["adapterInit"] = f"{chosen}=False (seeded, non-identity)" if chosen else "as the config sets it (seeded)"
        except (ValueError, TypeError, NotImplementedError, KeyError, RuntimeError) as error:
            raise Unsupported(f"peft {_type_name(random_config)} on this model: {type(error).__name__}: {error}")
    notes["peftType"] = _type_name(random_config)
    notes["adapter"] = "unmerged (peft tuner forward)"
    peft_model._effbench_probe = probe
    return peft_model, notes


def _plain_probe(model, vocab, device):
    ids = torch.randint(0, vocab, (1, 8), generator=torch.Generator().manual_seed(0)).to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            plain = model(input_ids=ids, use_cache=False).logits.double()
    finally:
        model.train(was_training)
    return ids, plain


TARGET_RELATIVE_UPDATE = 0.1


def _calibrate(peft_model, random, vocab, device, probe=None):
    params = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    if set(params) != set(random):
        raise Unsupported("the tuner's tensors differ between its identity and non-identity init: its init cannot be calibrated")
    identity = {n: p.detach().clone() for n, p in params.items()}
    ids, plain = probe or _probe(peft_model, vocab, device)

    def update(t):
        with torch.no_grad():
            for name, start in identity.items():
                params[name].copy_(start + t * (random[name] - start))
        return relative_update(peft_model, vocab, device, (ids, plain))

    t, value = 1.0, update(1.0)
    if value <= 0.0:
        return {"adapterInit": "peft's seeded non-identity init (no logit update at all)"}
    # The update grows about linearly in t near identity: secant steps on t ↦ update(t)/t, kept inside a bracket
    # [lo, hi] (update(lo) < target < update(hi)) and replaced by its geometric middle when they leave it. A tuner whose
    # non-identity init moves the logits by less than the target is extrapolated (t > 1) the same way.
    lo, hi = (0.0, 1.0) if value > TARGET_RELATIVE_UPDATE else (1.0, 1e4)
    for _ in range(14):
        if abs(value / TARGET_RELATIVE_UPDATE - 1) < 0.05:
            break
        if value < TARGET_RELATIVE_UPDATE:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        guess = t * TARGET_RELATIVE_UPDATE / max(value, 1e-12)
        t = guess if lo < guess < hi else (max(lo, hi * 1e-6) * hi) ** 0.5
        value = update(t)
    return {"adapterInit": f"identity + {t:.3g}·(seeded non-identity − identity): relative logit update {value:.3g} (target {TARGET_RELATIVE_UPDATE})"}


def _probe(peft_model, vocab, device):
    ids = torch.randint(0, vocab, (1, 8), generator=torch.Generator().manual_seed(0)).to(device)
    was_training = peft_model.training
    peft_model.eval()
    try:
        with torch.inference_mode(), peft_model.disable_adapter():
            plain = peft_model(input_ids=ids, use_cache=False).logits.double()
    finally:
        peft_model.train(was_training)
    return ids, plain


def relative_update(peft_model, vocab, device, probe=None):
    """Relative L2 between the adapted model's logits and the unadapted model's (taken before peft wrapped it, else with
    the adapter disabled), on 8 seeded tokens."""
    ids, plain = probe or getattr(peft_model, "_effbench_probe", None) or _probe(peft_model, vocab, device)
    was_training = peft_model.training
    peft_model.eval()
    try:
        with torch.inference_mode():
            adapted = peft_model(input_ids=ids, use_cache=False).logits.double()
    finally:
        peft_model.train(was_training)
    return float((adapted - plain).norm() / plain.norm().clamp_min(1e-30))


IDENTITY_TOLERANCE = 1e-3  # relative L2: rounding, or an init that rebuilds the base (PiSSA)


PERTURBATION = 0.05


def ensure_not_identity(peft_model, vocab, device, seed):
    """Notes on how far the seeded adapter is from identity; a tuner still at identity (no init flag, e.g. LN tuning's
    copied norms) gets its trainable tensors perturbed: p += 0.05 · mean|p| · N(0, 1) (0.05 · N(0, 1) for all-zero p)."""
    gap = relative_update(peft_model, vocab, device)
    notes = {}
    if gap <= IDENTITY_TOLERANCE:
        generator = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for _, param in sorted(peft_model.named_parameters(), key=lambda item: item[0]):
                if not param.requires_grad:
                    continue
                scale = float(param.abs().mean()) or 1.0
                noise = torch.randn(param.shape, generator=generator, dtype=torch.float32).to(param.device, param.dtype)
                param.add_(noise * PERTURBATION * scale)
        gap = relative_update(peft_model, vocab, device)
        notes["adapterPerturbed"] = f"identity at init: trainable tensors perturbed by {PERTURBATION}·mean|p|·N(0,1) (seeded)"
    if gap <= IDENTITY_TOLERANCE:
        raise Unsupported("the tuner stays identity after seeding (adapted logits equal the base's): fidelity would be trivially perfect")
    notes["relativeLogitUpdate"] = f"{gap:.3g} (relative L2 of the logits vs the unadapted model, 8 seeded tokens)"
    return notes


def merge(peft_model):
    """merge_and_unload, or Unsupported with peft's reason when the tuner cannot be merged."""
    try:
        return peft_model.merge_and_unload()
    except (AttributeError, NotImplementedError, ValueError, TypeError, RuntimeError) as error:
        raise Unsupported(f"peft cannot merge this tuner: {type(error).__name__}: {error}")
