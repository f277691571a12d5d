// Protocol constants, documented once (docs/protocol.md); every one is overridable from a suite's `protocol`.
export const PROTOCOL_DEFAULTS = {
  /** Warm-up runs at least this many iterations… */
  warmupMinIterations: 3,
  /** …and stops once the last iterations are stable or this much time has passed. */
  warmupMaxMs: 2000,
  /** Measurement continues until both this much time and `minIterations` have passed. */
  minMeasureMs: 1000,
  minIterations: 10,
  /** A hard cap so that a sub-microsecond case cannot run forever. */
  maxIterations: 100_000,
  /** Repeats run in separate processes to capture between-process variance. With fewer than 10 processes the CI
   * undercovers when processes really differ (flagged `few-processes`); 5 is a compromise with run time. */
  repeats: 5,
  caseTimeoutMs: 300_000,
  /** When a repeat's energy is read from a GPU's energy counter (NVML), its measure window lasts at least this long:
   * the counter updates about every 100 ms, and `energy-window-too-short` needs ≥ 10 updates in the window. */
  minEnergyWindowMs: 2000,
  samplerHz: 100,
  seed: 1,
  /** Resamples of the hierarchical bootstrap. */
  bootstrapResamples: 2000,
} as const;

/** A coefficient of variation above this marks a result `unstable`. */
export const UNSTABLE_CV = 0.1;
/** Fewer per-iteration samples than this in a repeat marks a result `too-few-samples`. */
export const MIN_SAMPLES_PER_REPEAT = 5;
/** A GPU result whose kernels keep the GPU busy less than this share of the step is flagged `host-bound`. */
export const HOST_BOUND_BUSY_FRACTION = 0.5;
