"""The GPU acceptance checks of scripts/gpu-smoke.sh, read from what it wrote (Python's own sqlite3: the GPU machine
has no Node modules for this). Prints one line per check — PASS/FAIL/INFO with its numbers — and writes checks.json.

    python scripts/gpu-smoke-checks.py $OUT   (reads gpu.db, small-alone.db, mode-check.json there)
"""

import json
import os
import sqlite3
import sys

# The issue's targets. Copy bandwidth: an H200's device-to-device copy, read + written bytes counted.
H200_COPY_TB_S = 4.2
COPY_TOLERANCE = 0.10
SHORT_WINDOW_MAX_SHARE = 0.10
INT4_PEAK_MAX_RATIO = 0.7
SMALL_MEMORY_TOLERANCE = 0.05
GRAPH_KERNEL_MAX_RATIO = 1.15
GRAPH_FLOOR_MAX_RATIO = 2.0
HOST_BOUND = 0.5


def load(path):
    """{case name: {"status", "metrics": {name: value}, "reasons": {name: reason}, "flags": {flag: detail}}}, the
    latest result per case."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = {}
    rows = db.execute("select r.id, c.name, r.status, r.reason from results r join cases c on c.id = r.case_id order by r.finished_at, r.id")
    for rid, name, status, reason in rows.fetchall():
        metrics, reasons = {}, {}
        for m, v, why in db.execute("select name, value, reason from metrics where result_id = ?", (rid,)):
            metrics[m] = v
            if why:
                reasons[m] = why
        flags = {f: d for f, d in db.execute("select flag, detail from validity where result_id = ?", (rid,))}
        out[name] = {"status": status, "reason": reason, "metrics": metrics, "reasons": reasons, "flags": flags}
    env = {}
    for key, value in db.execute("select key, value_json from env"):
        env.setdefault(key, []).append(json.loads(value))
    db.close()
    return out, env


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", ".")
    results, env = load(os.path.join(out_dir, "gpu.db"))
    checks = []

    def check(name, ok, detail, numbers=None):
        verdict = "INFO" if ok is None else "PASS" if ok else "FAIL"
        checks.append({"check": name, "verdict": verdict, "detail": detail, "numbers": numbers or {}})
        print(f"[{verdict}] {name}: {detail}", flush=True)

    def find(model, technique, mode):
        for name, r in results.items():
            parts = name.split(" · ")
            if parts[0] == model and parts[1].split(" ")[0] == technique and (parts[-1] == "cuda-graph") == (mode == "cuda-graph"):
                return name, r
        return None, None

    def m(r, key):
        return None if r is None else r["metrics"].get(key)

    statuses = {n: r["status"] for n, r in results.items()}
    check("cases completed", all(s == "completed" for s in statuses.values()), ", ".join(f"{n}: {s}" + (f" ({results[n]['reason']})" if s != "completed" else "") for n, s in statuses.items()))

    # 1. Eager decode is host-bound at 8B batch 1: busy fraction beside NVML's PCU.
    rows, all_flagged = [], True
    for tech in ("base", "lora", "dora", "int4"):
        name, r = find("llama-8b", tech, "eager")
        busy, pcu = m(r, "gpu_busy_fraction"), m(r, "gpu_pcu_pct")
        flagged = r is not None and "host-bound" in r["flags"]
        all_flagged &= flagged
        rows.append(f"{tech}: busy {busy if busy is None else round(busy, 3)}, PCU {pcu if pcu is None else round(pcu, 1)}%, kernels {m(r, 'gpu_kernel_ms_per_iteration')} ms of p50 {m(r, 'latency_p50_ms')} ms, host-bound {'yes' if flagged else 'no'}")
    check("eager decode flagged host-bound (busy fraction vs NVML PCU)", all_flagged, "; ".join(rows))
    graph_rows = []
    for tech in ("base", "lora", "dora", "int4"):
        _, r = find("llama-8b", tech, "cuda-graph")
        graph_rows.append(f"{tech}: busy {m(r, 'gpu_busy_fraction')}, PCU {m(r, 'gpu_pcu_pct')}%, host-bound {'yes' if r and 'host-bound' in r['flags'] else 'no'}")
    check("cuda-graph decode busy fraction (for comparison)", None, "; ".join(graph_rows))

    # 2. Short energy windows on at most 10% of cases.
    completed = [r for r in results.values() if r["status"] == "completed"]
    short = [n for n, r in results.items() if "energy-window-too-short" in r["flags"]]
    share = len(short) / max(1, len(completed))
    windows = sorted(v for r in completed for k, v in r["metrics"].items() if k == "gpu_energy_window_ms" and v is not None)
    check("energy-window-too-short on ≤ 10% of cases", bool(windows) and share <= SHORT_WINDOW_MAX_SHARE, f"{len(short)}/{len(completed)} flagged ({share:.0%}); energy windows {windows[0] if windows else None}–{windows[-1] if windows else None} ms", {"share": share})

    # 3. int4 decode's allocator peak against the bf16 base's (eager).
    _, base = find("llama-8b", "base", "eager")
    _, int4 = find("llama-8b", "int4", "eager")
    pb, pi = m(base, "torch_max_memory_allocated_bytes"), m(int4, "torch_max_memory_allocated_bytes")
    ratio = pi / pb if pb and pi else None
    check("int4 decode allocator peak ≤ 0.7 × bf16 base", ratio is not None and ratio <= INT4_PEAK_MAX_RATIO, f"int4 {pi} B, base {pb} B, ratio {ratio}; weight_bytes int4 {m(int4, 'weight_bytes')} vs base {m(base, 'weight_bytes')}", {"ratio": ratio})

    # 4. The small case's device memory with and without the large cases before it.
    alone_path = os.path.join(out_dir, "small-alone.db")
    if os.path.exists(alone_path):
        alone, _ = load(alone_path)
        rows, ok = [], True
        for mode in ("eager", "cuda-graph"):
            n_after, after = find("llama-0.2b", "base", mode)
            solo = alone.get(n_after) if n_after else None
            for key in ("gpu_process_memory_avg_bytes", "gpu_amu_bytes", "gpu_process_memory_peak_bytes"):
                a, b = m(solo, key), m(after, key)
                diff = abs(b / a - 1) if a and b else None
                ok &= diff is not None and diff <= SMALL_MEMORY_TOLERANCE
                rows.append(f"{mode} {key}: alone {a}, after the 8B cases {b} ({'n/a' if diff is None else f'{diff:.1%}'})")
        check("small case's device memory within 5% with or without a large case before it", ok, "; ".join(rows))
    else:
        check("small case's device memory within 5% with or without a large case before it", False, f"{alone_path} missing")

    # 5. Calibrated copy bandwidth (H200 target 4.2 TB/s).
    gpus = [g for e in env.get("gpuCalibration", []) for g in e.get("gpus", [])]
    if gpus:
        g = gpus[-1]
        tb = g["copyBytesPerS"] / 1e12
        is_h200 = "H200" in g["name"]
        ok = abs(tb / H200_COPY_TB_S - 1) <= COPY_TOLERANCE if is_h200 else None
        check("calibrated copy bandwidth within 10% of 4.2 TB/s (H200)", ok, f"{g['name']} {g['uuid']}: copy {tb:.2f} TB/s (median {g['copyMedianBytesPerS'] / 1e12:.2f}), bf16 GEMM {g['bf16FlopsPerS'] / 1e12:.0f} TFLOP/s" + ("" if is_h200 else " — not an H200: no target"), {"copyTBs": tb})
    else:
        check("calibrated copy bandwidth within 10% of 4.2 TB/s (H200)", False, f"no GPU calibration stored: {env.get('gpuCalibration')}")

    # 6. cuda-graph decode of the 8B base against its own kernel time and the weight-read floor.
    _, graph = find("llama-8b", "base", "cuda-graph")
    p50, kernel, floor = m(graph, "latency_p50_ms"), m(graph, "gpu_kernel_ms_per_iteration"), m(graph, "decode_floor_ms")
    kr = p50 / kernel if p50 and kernel else None
    fr = m(graph, "decode_floor_ratio")
    check("cuda-graph decode ≤ 1.15 × its kernel time", kr is not None and kr <= GRAPH_KERNEL_MAX_RATIO, f"p50 {p50} ms, kernels {kernel} ms, ratio {kr}", {"ratio": kr})
    check("cuda-graph decode ≤ 2.0 × the weight-read floor (bytes as held, bf16)", fr is not None and fr <= GRAPH_FLOOR_MAX_RATIO, f"p50 {p50} ms, floor {floor} ms ({graph['reasons'].get('decode_floor_ms', '') if graph else ''}), ratio {fr}; bytes/iteration {m(graph, 'bytes_per_iteration')}", {"ratio": fr})

    # 7. Technique / base decode ratios in both modes, side by side.
    table, have_all = [], True
    for tech in ("lora", "dora", "int4"):
        cells = []
        for mode in ("eager", "cuda-graph"):
            _, t = find("llama-8b", tech, mode)
            _, b = find("llama-8b", "base", mode)
            wall = m(t, "latency_p50_ms") / m(b, "latency_p50_ms") if m(t, "latency_p50_ms") and m(b, "latency_p50_ms") else None
            kern = m(t, "gpu_kernel_ms_per_iteration") / m(b, "gpu_kernel_ms_per_iteration") if m(t, "gpu_kernel_ms_per_iteration") and m(b, "gpu_kernel_ms_per_iteration") else None
            have_all &= wall is not None
            cells.append(f"{mode} wall {wall if wall is None else round(wall, 3)}× kernels {kern if kern is None else round(kern, 3)}×")
        table.append(f"{tech}/base: " + ", ".join(cells))
    check("LoRA/base, DoRA/base, int4/base decode ratios in both modes", have_all, "; ".join(table))

    # 8. cuda-graph logits equal eager's.
    mode_path = os.path.join(out_dir, "mode-check.json")
    if os.path.exists(mode_path):
        mc = json.load(open(mode_path))
        check("cuda-graph decode logits = eager's", all(p.get("ok") for p in mc["pairs"]), "; ".join(f"{p['technique']['kind']}: rel L2 {p.get('relativeL2')} argmax equal {p.get('argmaxEqual')}" + (f" ERROR {p['error']}" if p.get("error") else "") for p in mc["pairs"]) + f" (tolerance {mc['tolerance']})")
    else:
        check("cuda-graph decode logits = eager's", False, f"{mode_path} missing")

    # 9. Serving on CUDA with continuous batching: every point completed, J per output token measured.
    serve_path = os.path.join(out_dir, "serve.db")
    if os.path.exists(serve_path):
        serving, _ = load(serve_path)
        rows, ok = [], bool(serving)
        for name, r in serving.items():
            j = m(r, "gpu_energy_j_per_token")
            ok &= r["status"] == "completed" and j is not None and j > 0
            rows.append(f"{name.split(' · ')[1]} {name.split(' · ')[-1]}: {r['status']}, {j if j is None else round(j, 4)} J/output token, {m(r, 'gpu_power_avg_w')} W, TTFT p50 {m(r, 'ttft_p50_ms')} ms, TPOT p50 {m(r, 'tpot_p50_ms')} ms, {m(r, 'output_tokens_per_s')} tok/s" + (f" ({r['reason'] or r['reasons'].get('gpu_energy_j_per_token')})" if j is None else ""))
        check("serving on CUDA with continuous batching: J per output token", ok, "; ".join(rows))
    else:
        check("serving on CUDA with continuous batching: J per output token", False, f"{serve_path} missing: see serve.log (the serving packages must import in the GPU machine's Python)")

    with open(os.path.join(out_dir, "checks.json"), "w") as f:
        json.dump(checks, f, indent=1)
    failed = [c["check"] for c in checks if c["verdict"] == "FAIL"]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks did not fail" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
