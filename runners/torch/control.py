"""The torch runner's drift control: a fixed fp32 GEMM (256x1024 @ 1024x1024) plus a 16 MiB device copy, timed per
iteration as a case's repeat is, on the case's device ("auto": CUDA when present, else CPU). Prints one JSON line.
Fixed shapes and weights: only the machine can change its time (docs/protocol.md, "Machine-drift control")."""
import json
import sys
import time

import torch


def main() -> None:
    device_arg = sys.argv[1] if len(sys.argv) > 1 else "auto"
    threads = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    device = "cuda" if device_arg == "auto" and torch.cuda.is_available() else ("cpu" if device_arg == "auto" else device_arg)
    if device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"unsupported": f"torch {torch.__version__} has no CUDA device here"}))
        return
    if threads:
        torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(7)
    a = torch.randn(256, 1024, generator=gen).to(device)
    b = torch.randn(1024, 1024, generator=gen).to(device)
    src = torch.randn(4 * 2**20, generator=gen).to(device)
    dst = torch.empty_like(src)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step() -> None:
        torch.mm(a, b)
        dst.copy_(src)
        sync()

    start = time.perf_counter()
    warm = 0
    while warm < 5 or (time.perf_counter() - start < 0.15 and warm < 200):
        step()
        warm += 1
    times = []
    start = time.perf_counter()
    while len(times) < 30 or time.perf_counter() - start < 0.2:
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= 2000:
            break
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(json.dumps({"latencyMs": times, "device": device, "deviceName": name, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
