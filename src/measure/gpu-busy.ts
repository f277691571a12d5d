// The host-bound flag (docs/protocol.md): a GPU result whose kernels keep the GPU busy less than half of the step is
// mostly host-side dispatch (Python, kernel launches), and the number says more about the host than the GPU.
import type { MetricRecord } from "../store/store.js";
import type { ValidityRecord } from "./validity.js";
import { HOST_BOUND_BUSY_FRACTION } from "./protocol.js";

export function hostBoundFlag(metrics: MetricRecord[]): ValidityRecord | undefined {
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? null;
  const busy = get("gpu_busy_fraction");
  if (busy === null || busy >= HOST_BOUND_BUSY_FRACTION) return undefined;
  const kernelMs = get("gpu_kernel_ms_per_iteration");
  const wallMs = get("latency_p50_ms");
  const pcu = get("gpu_pcu_pct");
  return {
    flag: "host-bound",
    detail:
      `GPU kernels were busy ${(busy * 100).toFixed(0)}% of the step` +
      (kernelMs !== null && wallMs !== null ? ` (${kernelMs.toFixed(3)} ms of ${wallMs.toFixed(3)} ms)` : "") +
      `: most of the time is host-side dispatch (Python, kernel launches), not GPU work` +
      (pcu !== null ? `; NVML's PCU over the window: ${pcu.toFixed(0)}%` : "") +
      ` — a cuda-graph or compile execution mode removes most of it`,
  };
}
