"""Weight-only int8 and int4 linears from torch's own kernels (no bitsandbytes offline), docs/torch-runner.md.

- int8: per-output-channel symmetric int8, dequantised in the matmul (as gpt-fast does). `torch._int_mm` would
  need quantised activations and more than 16 rows on CUDA, so decode could not use it.
- int4: block-wise 4-bit, quantised as src/model/quantize.ts does for MatMulNBits, packed for `_weight_int4pack_mm_for_cpu` (CPU, any float
  dtype) or `_weight_int4pack_mm` (CUDA, bf16 only, compute capability ≥ 8.0). The packed kernels have no backward:
  a small autograd.Function dequantises in backward, so a QLoRA-style train step can flow gradients to LoRA.

Both subclass nn.Linear (without allocating its weight) so that peft wraps them like any linear; `weight` is a
read-only dequantised view for peft's DoRA norm. `logical_params` counts the parameters the packed weight stands for.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
INT4_GROUP_SIZES = (32, 64, 128, 256)


class _QuantLinearBase(nn.Linear):
    def __init__(self, linear):
        nn.Module.__init__(self)
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.logical_params = linear.weight.numel()
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    @property
    def weight(self):
        return self.dequantized()

    def reset_parameters(self):
        pass


class Int8Linear(_QuantLinearBase):
    def __init__(self, linear, qmax=127):
        super().__init__(linear)
        w = linear.weight.detach().float()
        scales = w.abs().amax(dim=1).clamp(min=1e-12) / qmax
        self.register_buffer("qweight", torch.round(w / scales[:, None]).clamp(-qmax, qmax).to(torch.int8))
        self.register_buffer("scales", scales.to(linear.weight.dtype))

    def dequantized(self):
        return self.qweight.to(self.scales.dtype) * self.scales[:, None]

    def forward(self, x):
        y = F.linear(x, self.qweight.to(x.dtype)) * self.scales.to(x.dtype)
        return y if self.bias is None else y + self.bias.to(x.dtype)


class _Int4MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, module):
        ctx.module = module
        return module.packed_mm(x)

    @staticmethod
    def backward(ctx, grad_out):
        w = ctx.module.dequantized().to(grad_out.dtype)
        return grad_out @ w, None


class Int4Linear(_QuantLinearBase):
    def __init__(self, linear, group_size, device, symmetric=True, keep_unpacked=False):
        super().__init__(linear)
        n, k = linear.weight.shape
        if k % group_size:
            raise ValueError(f"in_features {k} is not a multiple of the int4 group size {group_size} (torch's int4 kernels take whole groups)")
        if device.type == "cpu" and n % 16:
            raise ValueError(f"out_features {n} is not a multiple of 16, which _convert_weight_to_int4pack_for_cpu requires")
        self.group_size = group_size
        self.cuda = device.type == "cuda"
        w = linear.weight.detach().float()
        groups = w.reshape(-1, group_size)
        # The same block quantisation as src/model/quantize.ts (what MatMulNBits runs on ort): symmetric
        # scale = absmax/7 with zero point 8, or asymmetric scale = (max - min)/15 with a rounded zero point;
        # min and max include 0. Dequantised value = (q - zp)·scale = (q - 8)·scale + zero, zero = (8 - zp)·scale.
        low = groups.amin(1, keepdim=True).clamp(max=0)
        high = groups.amax(1, keepdim=True).clamp(min=0)
        if symmetric:
            scales = torch.maximum(-low, high) / 7
            zero_points = torch.full_like(scales, 8.0)
        else:
            scales = (high - low) / 15
            zero_points = torch.where(scales == 0, torch.full_like(scales, 8.0), torch.round(-low / scales.clamp(min=1e-30)).clamp(0, 15))
        inverse = torch.where(scales == 0, torch.zeros_like(scales), 1 / scales)
        q = (torch.round(groups * inverse) + zero_points).clamp(0, 15).to(torch.int32).reshape(n, k)
        zeros = (8 - zero_points) * scales
        compute_dtype = linear.weight.dtype
        self.register_buffer("scales_and_zeros", torch.cat([scales.reshape(n, -1, 1), zeros.reshape(n, -1, 1)], 2).transpose(0, 1).contiguous().to(compute_dtype))
        if self.cuda:
            inner_k_tiles = 8 if k % 256 == 0 else 4 if k % 128 == 0 else 2
            try:  # torch ≥ 2.5 takes two 4-bit values per uint8 [n, k/2]
                packed = torch.ops.aten._convert_weight_to_int4pack((q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8).to(device), inner_k_tiles)
            except RuntimeError:  # older torch: int32 [n, k]
                packed = torch.ops.aten._convert_weight_to_int4pack(q.to(device), inner_k_tiles)
            self.register_buffer("packed", packed)
        else:
            self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.to(device), 2))
        # The unpacked codes (1 byte per weight, twice the packed size) are kept only where dequantisation is routine:
        # backward of a train step and DoRA's weight norm. Inference holds the packed weights and scales alone.
        if keep_unpacked:
            self.register_buffer("q4", q.to(torch.uint8).to(device))
        else:
            self.q4 = None

    def dequantized(self):
        if self.q4 is None:
            # From the packed weights themselves: the kernel applied to the identity gives W^T (rare; no copy is held).
            eye = torch.eye(self.in_features, dtype=self.scales_and_zeros.dtype, device=self.packed.device)
            return self.packed_mm(eye).t().contiguous()
        n, k = self.q4.shape
        sz = self.scales_and_zeros.transpose(0, 1).float()  # [n, groups, 2]
        groups = self.q4.float().reshape(n, -1, self.group_size)
        return ((groups - 8) * sz[..., :1] + sz[..., 1:]).reshape(n, k).to(self.scales_and_zeros.dtype)

    def packed_mm(self, x):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if self.cuda:
            y = torch.ops.aten._weight_int4pack_mm(x2.contiguous(), self.packed, self.group_size, self.scales_and_zeros)
        else:
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(x2.contiguous(), self.packed, self.group_size, self.scales_and_zeros)
        return y.reshape(*shape[:-1], self.out_features)

    def forward(self, x):
        y = _Int4MatMul.apply(x, self) if torch.is_grad_enabled() and x.requires_grad else self.packed_mm(x)
        return y if self.bias is None else y + self.bias.to(x.dtype)


def int4_unsupported_reason(device, dtype):
    if device.type == "cuda":
        if dtype != torch.bfloat16:
            return "int4 on CUDA runs _weight_int4pack_mm, which takes bf16 activations only: set torch.dtype to bf16"
        major, _ = torch.cuda.get_device_capability(device)
        if major < 8:
            return "_weight_int4pack_mm needs compute capability ≥ 8.0"
    return None


def quantize_model(model, technique, device, dtype=None, keep_unpacked=False):
    """Replaces every projection of the decoder layers (not embeddings or lm_head) in place; returns notes."""
    kind = technique["kind"]
    group_size = int(technique.get("blockSize", technique.get("groupSize", 32)))
    if kind == "int4" and group_size not in INT4_GROUP_SIZES:
        raise ValueError(f"int4 group size {group_size} is not one of {INT4_GROUP_SIZES} (torch's int4 kernels)")
    symmetric = bool(technique.get("symmetric", True))
    # Weight-only int8 never multiplies u8 by s8, so ORT's reduce_range (7-bit weights against vpmaddubsw
    # saturation) has no reason here: "auto" is 8-bit; an explicit true still gives 7-bit weights.
    int8_qmax = 63 if technique.get("reduceRange") is True else 127
    targets = technique.get("targets", "all-linear")
    chosen = PROJECTIONS if targets == "all-linear" else tuple(targets)
    replaced = 0
    # Modules are looked up by name, not held in a list: a list of modules would keep every replaced float linear
    # alive until the end, so the full-precision weights and their quantised copies would coexist for the whole model.
    for name in [n for n, _ in model.named_modules()]:
        module = model.get_submodule(name)
        for child_name in [n for n, _ in module.named_children()]:
            if child_name not in chosen:
                continue
            child = getattr(module, child_name)
            # A peft LoRA layer keeps the original linear as base_layer (QLoRA-style adapters over a packed base).
            owner, attr = (child, "base_layer") if type(getattr(child, "base_layer", None)) is nn.Linear else (module, child_name)
            del child
            linear = getattr(owner, attr)
            if type(linear) is not nn.Linear:
                continue
            new = Int8Linear(linear, int8_qmax) if kind == "int8" else Int4Linear(linear, group_size, device, symmetric, keep_unpacked)
            setattr(owner, attr, new.to(device))
            # The float weight goes now: one layer's full-precision copy at a time.
            del linear, new
            replaced += 1
    notes = {"quantizedLinears": replaced, "quantizedIn": "worker (from the float weights)"}
    if kind == "int8":
        notes["int8"] = f"weight-only, per-output-channel symmetric {'7' if int8_qmax == 63 else '8'}-bit, dequantised in the matmul (activations stay float)"
    else:
        notes["int4"] = f"group {group_size}, {'symmetric' if symmetric else 'asymmetric'} (as src/model/quantize.ts), activations stay float, " + ("_weight_int4pack_mm (CUDA)" if device.type == "cuda" else "_weight_int4pack_mm_for_cpu")
        if device.type == "cpu" and dtype is not None and dtype != torch.bfloat16:
            # Measured on a 2048x2048 linear here: ~25x slower with fp32 activations than with bf16 ones.
            notes["int4Kernel"] = "_weight_int4pack_mm_for_cpu with non-bf16 activations takes torch's slow generic path; torch.dtype bf16 gets the vectorised kernel"
    return notes
