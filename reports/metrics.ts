// What the report knows about metric names: which family a metric belongs to, which direction is better and how
// to print it. Metrics not listed here still appear on the case page; only listed ones get a leaderboard column.
// Shared by the Node side and the browser bundle, so it must stay free of Node imports.

export type Better = "lower" | "higher";

export interface MetricInfo {
  name: string;
  title: string;
  better: Better;
  /** Restricts the metric's leaderboard to these scenarios (training metrics mean nothing for prefill). */
  scenarios?: readonly string[];
}

export interface MetricFamily {
  id: string;
  title: string;
  /** Why this family matters, one line under its heading. */
  blurb: string;
  /** Leaderboard columns, the first present one is the default. */
  metrics: readonly MetricInfo[];
  /** Drawn only when some case of the report has one of its metrics (routing means nothing to a dense-only report). */
  optional?: boolean;
}

const lower = (name: string, title: string, scenarios?: readonly string[]): MetricInfo => ({
  name,
  title,
  better: "lower",
  scenarios,
});
const higher = (name: string, title: string, scenarios?: readonly string[]): MetricInfo => ({
  name,
  title,
  better: "higher",
  scenarios,
});

export const METRIC_FAMILIES: readonly MetricFamily[] = [
  {
    id: "latency",
    title: "Latency",
    blurb: "Per-iteration time; 95% CI from the hierarchical bootstrap over processes and iterations.",
    metrics: [
      lower("latency_p50_ms", "p50 latency"),
      lower("latency_p90_ms", "p90 latency"),
      lower("latency_p99_ms", "p99 latency"),
      lower("latency_mean_ms", "mean latency"),
      lower("ttft_p50_ms", "time to first token p50"),
      lower("tpot_p50_ms", "time per output token p50"),
    ],
  },
  {
    id: "throughput",
    title: "Throughput",
    blurb: "Tokens and samples per second at the p50 iteration time.",
    metrics: [
      higher("tokens_per_s", "tokens/s"),
      higher("samples_per_s", "samples/s"),
      higher("mfu", "MFU"),
      higher("mbu", "MBU"),
      higher("gpu_pcu_pct", "PCU (duty cycle)"),
      higher("gpu_busy_fraction", "GPU-busy share (kernel time / wall)"),
      lower("decode_floor_ratio", "× the weight-read floor (decode)"),
      lower("gpu_kernel_ms_per_iteration", "GPU kernel time per iteration"),
    ],
  },
  {
    id: "memory",
    title: "Memory",
    blurb: "GPU: AMU (time-averaged device memory) and peaks; CPU: the worker's RSS, labelled as the CPU analogue.",
    metrics: [
      lower("gpu_amu_bytes", "AMU (GPU, time-averaged)"),
      lower("gpu_memory_peak_bytes", "GPU memory peak"),
      lower("torch_max_memory_allocated_bytes", "allocator peak (torch)"),
      lower("gpu_process_memory_peak_bytes", "GPU process memory peak"),
      lower("cpu_rss_avg_bytes", "RSS time-averaged (CPU analogue)"),
      lower("cpu_rss_peak_bytes", "RSS peak (CPU analogue)"),
      lower("peak_rss_bytes", "worker RSS peak"),
    ],
  },
  {
    id: "energy",
    title: "Energy",
    blurb: "Joules from NVML's energy counter (RAPL on CPU when readable); unavailable is shown as —, never 0.",
    metrics: [
      lower("gpu_energy_j_per_token", "GPU energy per token"),
      lower("cpu_energy_j_per_token", "CPU energy per token"),
      lower("energy_j_per_token", "energy per token"),
      lower("gpu_energy_j", "GPU energy"),
      lower("cpu_energy_j", "CPU energy"),
      lower("energy_j", "energy"),
      lower("gpu_power_avg_w", "GPU mean power (AEC)"),
      lower("cpu_power_avg_w", "CPU mean power"),
    ],
  },
  {
    id: "fidelity",
    title: "Compression & fidelity",
    blurb: "Weight bytes and quality against the unmodified base on fixed inputs.",
    metrics: [
      lower("weight_bytes", "weight bytes"),
      higher("mcr", "model compression rate"),
      lower("rel_l2_error", "relative L2 error of logits"),
      lower("logits_rel_l2_error", "relative L2 error of logits"),
      lower("max_abs_error", "max abs error"),
      higher("top1_agreement", "top-1 agreement"),
      lower("kl_divergence", "KL divergence"),
      lower("kl_base_technique", "KL(base ‖ technique)"),
      lower("perplexity", "perplexity"),
    ],
  },
  {
    id: "training",
    title: "Training",
    blurb: "Train step (forward + backward + optimizer on trainable parameters only).",
    metrics: [
      lower("latency_p50_ms", "train-step p50", ["train-step"]),
      higher("tokens_per_s", "train tokens/s", ["train-step"]),
      lower("params_trainable", "trainable parameters", ["train-step"]),
      lower("trainable_params", "trainable parameters", ["train-step"]),
      lower("adapter_bytes", "adapter bytes", ["train-step"]),
    ],
  },
  {
    id: "serving",
    title: "Serving under load",
    blurb:
      "Requests to a server at a load point (open loop: a seeded arrival rate; closed loop: N in flight). TTFT, TPOT (outputs of ≥ 2 tokens) and E2E per request, 95% CI over repeats; rates over the point's window; goodput counts requests within the suite's SLO.",
    optional: true,
    metrics: [
      lower("ttft_p50_ms", "TTFT p50", ["serving"]),
      lower("ttft_p99_ms", "TTFT p99", ["serving"]),
      lower("tpot_p50_ms", "TPOT p50", ["serving"]),
      lower("tpot_p99_ms", "TPOT p99", ["serving"]),
      lower("itl_p50_ms", "inter-token gap p50", ["serving"]),
      lower("e2e_p50_ms", "end-to-end p50", ["serving"]),
      lower("e2e_p99_ms", "end-to-end p99", ["serving"]),
      higher("request_rate", "achieved requests/s", ["serving"]),
      higher("output_tokens_per_s", "output tokens/s", ["serving"]),
      higher("goodput", "goodput (req/s within SLO)", ["serving"]),
      lower("error_rate", "error rate", ["serving"]),
      lower("send_lag_p99_ms", "client send lag p99", ["serving"]),
    ],
  },
  {
    id: "routing",
    title: "Routing (MoE & mixtures of LoRA experts)",
    blurb:
      "Load balance of the routers over one timed iteration's tokens, mean over routers: max/mean expert load (1 = balanced) and its coefficient of variation; dropped = token-expert assignments over a capacity factor. The case page has the per-layer heatmap.",
    optional: true,
    metrics: [
      lower("routing_max_mean_load", "routing max/mean load"),
      lower("routing_cv", "routing load CV"),
      lower("routing_dropped_tokens", "dropped token-expert assignments"),
      higher("routing_lru_hit_c4", "LRU expert-cache hit rate (4 experts)"),
      higher("routing_srp_m16", "segment routing best performance (16 tokens)"),
      lower("routing_active_experts_mean", "DynMoLE active experts per token"),
      lower("adapter_flops_per_token_routed", "adapter FLOPs per token as routed"),
    ],
  },
];

/** Every metric name a leaderboard uses (the index page carries only these, to stay small). */
export const LEADERBOARD_METRICS: readonly string[] = [
  ...new Set(METRIC_FAMILIES.flatMap((f) => f.metrics.map((m) => m.name))),
];

/** Extra metrics the index needs for Pareto charts and the "versus paper" section. */
export const AUXILIARY_METRICS: readonly string[] = ["params_total", "params_active_per_token", "params_trainable"];

const infoByName = new Map(METRIC_FAMILIES.flatMap((f) => f.metrics.map((m) => [m.name, m] as const)).reverse());

/** Direction of a metric; names not in the catalogue are guessed from their unit-like suffix. */
export function betterOf(name: string): Better {
  const known = infoByName.get(name);
  if (known) return known.better;
  return /per_s$|agreement|mfu|mbu|pct$|mcr|goodput|request_rate/.test(name) ? "higher" : "lower";
}

export function titleOf(name: string): string {
  return infoByName.get(name)?.title ?? name.replace(/_/g, " ");
}
