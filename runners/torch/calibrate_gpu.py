"""`bench calibrate` on a GPU (docs/metrics.md): each CUDA device's attainable copy bandwidth (device-to-device copies of
1 GiB, read + written bytes counted, as STREAM's copy) and bf16 GEMM peak (8192³ matmuls), the fastest of several runs
timed with CUDA events; keyed by the device's UUID. The denominators of GPU MBU/MFU and of the decode weight-read
floor."""

import torch

COPY_BYTES = 2**30
COPY_RUNS = 10
GEMM_SIZE = 8192
GEMM_RUNS = 10


def _best_ms(fn, runs, device):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(2):
        fn()
    times = []
    for _ in range(runs):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[0], times[len(times) // 2]


def calibrate(uuid_of):
    if not torch.cuda.is_available():
        return {"gpus": [], "reason": "this torch has no CUDA device (torch.cuda.is_available() is false)"}
    out = []
    for index in range(torch.cuda.device_count()):
        device = torch.device("cuda", index)
        with torch.cuda.device(device):
            src = torch.empty(COPY_BYTES, dtype=torch.uint8, device=device)
            dst = torch.empty_like(src)
            best, med = _best_ms(lambda: dst.copy_(src), COPY_RUNS, device)
            del src, dst
            a = torch.randn(GEMM_SIZE, GEMM_SIZE, dtype=torch.bfloat16, device=device)
            b = torch.randn(GEMM_SIZE, GEMM_SIZE, dtype=torch.bfloat16, device=device)
            gbest, gmed = _best_ms(lambda: a @ b, GEMM_RUNS, device)
            del a, b
            torch.cuda.empty_cache()
        flops = 2 * GEMM_SIZE**3
        out.append(
            {
                "uuid": uuid_of(index),
                "name": torch.cuda.get_device_name(index),
                "copyBytesPerS": 2 * COPY_BYTES / (best / 1e3),
                "copyMedianBytesPerS": 2 * COPY_BYTES / (med / 1e3),
                "bf16FlopsPerS": flops / (gbest / 1e3),
                "bf16MedianFlopsPerS": flops / (gmed / 1e3),
                "method": f"copy_ of {COPY_BYTES >> 20} MiB device to device, read + written bytes, fastest of {COPY_RUNS}; bf16 {GEMM_SIZE}³ matmul, fastest of {GEMM_RUNS}; CUDA events",
            }
        )
    return {"gpus": out}
