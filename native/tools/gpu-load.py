"""A steady GPU load for native/tools/nvml-check: bf16 GEMMs for LOAD_SECONDS after a warm-up, printing the
measure window on CLOCK_MONOTONIC (the sampler's clock) and torch's view of memory as one JSON line."""
import json
import os
import time

import torch

LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "12"))
n = 8192
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
for _ in range(20):
    c = a @ b
torch.cuda.synchronize()
time.sleep(0.5)
t0 = time.monotonic_ns()
iters = 0
while time.monotonic_ns() - t0 < LOAD_SECONDS * 1e9:
    for _ in range(10):
        c = a @ b
    torch.cuda.synchronize()
    iters += 10
t1 = time.monotonic_ns()
props = torch.cuda.get_device_properties(0)
print(json.dumps({
    "windowStartMs": t0 / 1e6, "windowEndMs": t1 / 1e6, "iterations": iters,
    "tflops": 2 * n**3 * iters / ((t1 - t0) / 1e9) / 1e12,
    "memoryReservedBytes": torch.cuda.memory_reserved(), "memoryAllocatedBytes": torch.cuda.memory_allocated(),
    "uuid": "GPU-" + str(props.uuid), "name": props.name, "pid": os.getpid(),
}), flush=True)
time.sleep(0.5)
