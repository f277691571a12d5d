#!/usr/bin/env python3
"""GPU check of the energy and memory readings (run by scripts/gpu-smoke.sh on a lent GPU machine).

Runs a steady >= 10 s bf16 GEMM load and compares, over the same window:
  - NVML's total-energy counter difference (nvmlDeviceGetTotalEnergyConsumption, mJ) with
  - power samples (nvmlDeviceGetPowerUsage, mW) integrated by the trapezoid rule at ~20 Hz;
and device memory in use (nvmlDeviceGetMemoryInfo) with torch.cuda.memory_reserved() plus the CUDA context.
Prints one JSON object. NVML is loaded with ctypes, as the native addon loads it with dlopen.
"""
import ctypes
import json
import os
import threading
import time

import torch

LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "12"))


class Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


def main():
    nvml = ctypes.CDLL("libnvidia-ml.so.1")
    assert nvml.nvmlInit_v2() == 0, "nvmlInit failed"
    uuid = str(torch.cuda.get_device_properties(0).uuid)
    handle = ctypes.c_void_p()
    # NVML indices follow PCI order and ignore CUDA_VISIBLE_DEVICES: match the device by UUID.
    rc = nvml.nvmlDeviceGetHandleByUUID(("GPU-" + uuid).encode(), ctypes.byref(handle))
    if rc != 0:
        nvml.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle))

    def energy_mj():
        value = ctypes.c_ulonglong()
        return value.value if nvml.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(value)) == 0 else None

    def power_mw():
        value = ctypes.c_uint()
        return value.value if nvml.nvmlDeviceGetPowerUsage(handle, ctypes.byref(value)) == 0 else None

    def memory_used():
        info = Memory()
        nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(info))
        return info.used

    torch.cuda.init()
    idle_used = memory_used()  # before our allocations: other processes + nothing of ours yet
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()

    samples = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            samples.append((time.monotonic(), power_mw()))
            time.sleep(0.05)

    thread = threading.Thread(target=sampler, daemon=True)
    e0, t0 = energy_mj(), time.monotonic()
    thread.start()
    iterations = 0
    while time.monotonic() - t0 < LOAD_SECONDS:
        for _ in range(10):
            a @ b
        torch.cuda.synchronize()
        iterations += 10
    e1, t1 = energy_mj(), time.monotonic()
    stop.set()
    thread.join()

    window = [(t, p) for t, p in samples if p is not None and t0 <= t <= t1]
    integrated_j = sum((window[i + 1][0] - window[i][0]) * (window[i][1] + window[i + 1][1]) / 2e3 for i in range(len(window) - 1))
    # Extend to the window edges with the edge samples (the sampler starts and stops a few ms inside it).
    if window:
        integrated_j += (window[0][0] - t0) * window[0][1] / 1e3 + (t1 - window[-1][0]) * window[-1][1] / 1e3
    counter_j = (e1 - e0) / 1e3 if e0 is not None and e1 is not None else None
    flops = iterations * 2 * 8192**3
    used = memory_used()
    result = {
        "device": torch.cuda.get_device_name(0),
        "uuid": uuid,
        "window_s": t1 - t0,
        "energy_counter_j": counter_j,
        "energy_integrated_power_j": integrated_j,
        "energy_ratio_counter_over_integrated": (counter_j / integrated_j) if counter_j and integrated_j else None,
        "mean_power_w": integrated_j / (t1 - t0),
        "power_samples": len(window),
        "tflops_bf16": flops / (t1 - t0) / 1e12,
        "nvml_memory_used_bytes": used,
        "nvml_memory_used_before_bytes": idle_used,
        "torch_memory_reserved_bytes": torch.cuda.memory_reserved(),
        "torch_memory_allocated_bytes": torch.cuda.memory_allocated(),
        "nvml_minus_reserved_bytes (context + others)": used - torch.cuda.memory_reserved(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
