// The Pareto charts of the index page: which trade-off each shows and which of our metrics may stand on each axis
// (the most measured candidate in the current selection is used). Free of Node imports (bundled for the browser).
import type { MetricInfo } from "./metrics.js";

export interface ParetoChart {
  id: string;
  title: string;
  blurb: string;
  xTitle: string;
  yTitle: string;
  x: readonly MetricInfo[];
  y: readonly MetricInfo[];
  scenarios?: readonly string[];
}

const lower = (name: string, title: string): MetricInfo => ({ name, title, better: "lower" });
const higher = (name: string, title: string): MetricInfo => ({ name, title, better: "higher" });

export const PARETO_CHARTS: readonly ParetoChart[] = [
  {
    id: "latency-memory",
    title: "Latency vs memory",
    blurb: "p50 latency against memory (GPU AMU or peak; on CPU the worker's RSS, the CPU analogue).",
    xTitle: "memory",
    yTitle: "p50 latency",
    x: [
      lower("gpu_amu_bytes", "AMU"),
      lower("gpu_memory_peak_bytes", "GPU memory peak"),
      lower("torch_max_memory_allocated_bytes", "allocator peak"),
      lower("cpu_rss_avg_bytes", "RSS time-averaged"),
      lower("peak_rss_bytes", "worker RSS peak"),
    ],
    y: [lower("latency_p50_ms", "p50 latency")],
  },
  {
    id: "energy-fidelity",
    title: "Energy per token vs fidelity",
    blurb: "Joules per token against quality kept from the unmodified base.",
    xTitle: "energy per token",
    yTitle: "fidelity",
    x: [
      lower("gpu_energy_j_per_token", "GPU energy per token"),
      lower("cpu_energy_j_per_token", "CPU energy per token"),
      lower("energy_j_per_token", "energy per token"),
    ],
    y: [
      lower("rel_l2_error", "relative L2 error"),
      lower("logits_rel_l2_error", "relative L2 error"),
      higher("top1_agreement", "top-1 agreement"),
      lower("kl_divergence", "KL divergence"),
    ],
  },
  {
    id: "compression-fidelity",
    title: "Compression: weight bytes vs fidelity",
    blurb:
      "Bytes of the weights as stored against what they lose from the unmodified base (KL of the logits): quantisation, expert pruning and merging (expert-prune, mc-smoe, sub-moe) side by side.",
    xTitle: "weight bytes",
    yTitle: "KL(base ‖ technique)",
    x: [lower("weight_bytes", "weight bytes")],
    y: [
      lower("kl_base_technique", "KL(base ‖ technique)"),
      lower("kl_divergence", "KL divergence"),
      lower("rel_l2_error", "relative L2 error"),
    ],
  },
  {
    id: "trainable-trainstep",
    title: "Trainable parameters vs train-step time",
    blurb: "What a PEFT method trains against what a train step costs.",
    xTitle: "trainable parameters",
    yTitle: "train-step p50",
    x: [lower("params_trainable", "trainable parameters"), lower("trainable_params", "trainable parameters")],
    y: [lower("latency_p50_ms", "train-step p50")],
    scenarios: ["train-step"],
  },
];
