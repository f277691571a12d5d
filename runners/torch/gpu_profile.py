"""The untimed profiling pass after a GPU case's measure window (docs/protocol.md, "GPU-busy share"): a few more
iterations under torch.profiler's CUDA activity give the GPU's own time per iteration as the union of the intervals
of its kernels, copies and memsets (not their sum: kernels on several streams overlap), and the busy fraction = that
time / the wall median of the measure window. A low fraction says the step is mostly host-side dispatch."""

import torch

PROFILED_ITERATIONS = 5


def _union_ms(intervals):
    total = 0
    end = None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total / 1e6  # ns → ms


def _device_intervals(prof):
    """(start_ns, end_ns) of every GPU activity (kernel, memcpy, memset) the profiler recorded."""
    from torch.autograd import DeviceType

    out = []
    for event in prof.profiler.kineto_results.events():
        # GPU-side user annotations (record_function ranges mirrored on the GPU timeline) span whole steps: not work.
        if event.device_type() != DeviceType.CUDA or event.is_user_annotation():
            continue
        start = event.start_ns()
        out.append((start, start + event.duration_ns()))
    return out


def null_scalars(reason):
    return [
        {"metric": "gpu_kernel_ms_per_iteration", "unit": "ms", "value": None, "reason": reason},
        {"metric": "gpu_busy_fraction", "unit": "ratio", "value": None, "reason": reason},
    ]


def profiling_pass(iteration, device, wall_median_ms, reset=None):
    """Scalars of the pass; null with the reason on the CPU or when the profiler cannot see the device."""
    if device.type != "cuda":
        return null_scalars("the profiling pass measures GPU kernel time: this case ran on the CPU, where the whole step is host time")
    try:
        from torch.profiler import ProfilerActivity, profile

        torch.cuda.synchronize(device)
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(PROFILED_ITERATIONS):
                iteration()
                if reset:
                    reset()
            torch.cuda.synchronize(device)
        intervals = _device_intervals(prof)
    except Exception as error:  # a profiler without CUPTI access (e.g. restricted counters) must not fail the case
        return null_scalars(f"torch.profiler could not trace CUDA activity: {type(error).__name__}: {error}")
    if not intervals:
        return null_scalars("torch.profiler recorded no CUDA activity (CUPTI unavailable?)")
    kernel_ms = _union_ms(intervals) / PROFILED_ITERATIONS
    label = f"union of CUDA kernel/copy intervals over {PROFILED_ITERATIONS} untimed iterations after the window (torch.profiler), per iteration"
    return [
        {"metric": "gpu_kernel_ms_per_iteration", "unit": "ms", "value": kernel_ms, "label": label},
        {
            "metric": "gpu_busy_fraction",
            "unit": "ratio",
            "value": kernel_ms / wall_median_ms if wall_median_ms > 0 else None,
            "label": "GPU kernel time / wall median of the measure window; below 0.5 the case is flagged host-bound",
            **({} if wall_median_ms > 0 else {"reason": "no wall time"}),
        },
    ]
