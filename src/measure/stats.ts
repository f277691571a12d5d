// Statistics as pure functions, unit-tested against known values: arrays in, numbers out. Nothing else in effbench computes
// percentiles. Empty input gives NaN (numpy gives nan or raises); callers turn NaN into `null` plus a reason.

/** A seeded uniform generator on [0, 1) (mulberry32): same seed ⇒ same stream, on every machine. */
export function createRng(seed: number): () => number {
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw from a uniform generator (Box–Muller). */
export function normalDraw(rng: () => number): number {
  const u = Math.max(rng(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i];
  return sum / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator, numpy's `ddof=1`); NaN below two values. */
export function stddev(xs: ArrayLike<number>): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += (xs[i] - m) ** 2;
  return Math.sqrt(sum / (xs.length - 1));
}

/** Coefficient of variation: sample standard deviation over the mean. */
export function cv(xs: ArrayLike<number>): number {
  const m = mean(xs);
  return m === 0 ? NaN : stddev(xs) / m;
}

export function min(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let value = Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] < value) value = xs[i];
  return value;
}

export function max(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let value = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] > value) value = xs[i];
  return value;
}

/**
 * The p-th percentile (0–100) with linear interpolation between closest ranks: Hyndman & Fan type 7, numpy's
 * default. Runs in linear time with quickselect on a copy, so the bootstrap can call it thousands of times.
 */
export function percentile(xs: ArrayLike<number>, p: number): number {
  if (xs.length === 0) return NaN;
  // Already ascending (as the bootstrap hands resamples to a generic statistic): read the ranks directly.
  let ascending = true;
  for (let i = 1; i < xs.length && ascending; i++) ascending = xs[i - 1] <= xs[i];
  if (ascending) {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
    const h = ((xs.length - 1) * p) / 100;
    const lower = Math.floor(h);
    return h === lower || lower + 1 >= xs.length ? xs[lower] : xs[lower] + (h - lower) * (xs[lower + 1] - xs[lower]);
  }
  const scratch = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) scratch[i] = xs[i];
  return percentileInPlace(scratch, xs.length, p);
}

/** The median (type-7 50th percentile). */
export function median(xs: ArrayLike<number>): number {
  return percentile(xs, 50);
}

/**
 * Type-7 percentile of `buffer[0..length)`, reordering that part of the buffer (no allocation): the hot path of
 * the bootstrap.
 */
export function percentileInPlace(buffer: Float64Array, length: number, p: number): number {
  if (length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
  const h = ((length - 1) * p) / 100;
  const lower = Math.floor(h);
  const fraction = h - lower;
  const low = quickselect(buffer, length, lower);
  if (fraction === 0 || lower + 1 >= length) return low;
  // After selection everything right of `lower` is ≥ it, so the next order statistic is their minimum.
  let next = Infinity;
  for (let i = lower + 1; i < length; i++) if (buffer[i] < next) next = buffer[i];
  return low + fraction * (next - low);
}

/** Places the k-th smallest of `a[0..length)` at index k (Hoare partition, median-of-three pivot); returns it. */
function quickselect(a: Float64Array, length: number, k: number): number {
  let left = 0;
  let right = length - 1;
  while (right > left) {
    const middle = (left + right) >>> 1;
    // Median of three keeps already-sorted input (common: repeated equal timings) linear.
    if (a[middle] < a[left]) swap(a, middle, left);
    if (a[right] < a[left]) swap(a, right, left);
    if (a[right] < a[middle]) swap(a, right, middle);
    const pivot = a[middle];
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k];
  }
  return a[k];
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** A statistic that the bootstrap can evaluate in place on its scratch buffer, without copying. */
export type Statistic = ((xs: number[]) => number) & { percentileP?: number };

/** The p-th percentile as a bootstrap statistic (the fast path: quickselect on a reused buffer). */
export function percentileStatistic(p: number): Statistic {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
  const statistic: Statistic = (xs: number[]) => percentile(xs, p);
  statistic.percentileP = p;
  return statistic;
}

export const medianStatistic: Statistic = percentileStatistic(50);

export interface BootstrapOptions {
  resamples: number;
  seed: number;
  /** Two-sided confidence level of the percentile interval; 0.95 unless given. */
  confidence?: number;
}

export interface ConfidenceInterval {
  /** The statistic on all data pooled. */
  estimate: number;
  low: number;
  high: number;
}

/**
 * A two-level resample: processes with replacement, then iterations with replacement within each chosen
 * process (docs/protocol.md). Every value is stored once, sorted, and each process refers to its values by rank, so a
 * percentile of a resample is a counting pass over the ranks instead of a selection: O(n) with no comparisons,
 * which keeps 3 processes × 5,000 iterations × 2,000 resamples around a quarter of a second.
 */
class HierarchicalSampler {
  /** Every value of every non-empty process, ascending. */
  private readonly sorted: Float64Array;
  /** Per process, the rank in `sorted` of each of its values. */
  private readonly ranks: Int32Array[];
  private readonly counts: Int32Array;
  private readonly pooled: number[] = [];
  private total = 0;

  constructor(
    processes: number[][],
    private readonly rng: () => number,
  ) {
    const nonEmpty = processes.filter((p) => p.length > 0);
    const all = nonEmpty.flat();
    const order = Array.from(all.keys()).sort((i, j) => all[i] - all[j]);
    this.sorted = Float64Array.from(order, (i) => all[i]);
    const rankOf = new Int32Array(all.length);
    order.forEach((index, rank) => (rankOf[index] = rank));
    let offset = 0;
    this.ranks = nonEmpty.map((p) => {
      const ranks = rankOf.subarray(offset, offset + p.length);
      offset += p.length;
      return ranks;
    });
    this.counts = new Int32Array(all.length);
  }

  get empty(): boolean {
    return this.ranks.length === 0;
  }

  /** Draws one resample into `counts` (how often each rank was drawn); returns its size. */
  private drawCounts(): number {
    this.counts.fill(0);
    const processCount = this.ranks.length;
    let total = 0;
    for (let p = 0; p < processCount; p++) {
      const chosen = this.ranks[Math.floor(this.rng() * processCount)];
      const n = chosen.length;
      for (let i = 0; i < n; i++) this.counts[chosen[Math.floor(this.rng() * n)]]++;
      total += n;
    }
    return total;
  }

  /** The type-7 percentile of a resample held as counts. */
  private percentileOfCounts(total: number, p: number): number {
    const h = ((total - 1) * p) / 100;
    const lower = Math.floor(h);
    const fraction = h - lower;
    let cumulative = 0;
    let rank = 0;
    while (cumulative + this.counts[rank] <= lower) cumulative += this.counts[rank++];
    const low = this.sorted[rank];
    if (fraction === 0 || lower + 1 >= total || cumulative + this.counts[rank] > lower + 1) return low;
    rank++;
    while (this.counts[rank] === 0) rank++;
    return low + fraction * (this.sorted[rank] - low);
  }

  /** One resample's statistic: by counting for percentiles and the mean, else through a reused plain array. */
  sample(statistic: Statistic): number {
    this.draw();
    return this.evaluate(statistic);
  }

  /** Draws the next resample, on which `evaluate` then computes any number of statistics. */
  draw(): void {
    this.total = this.drawCounts();
  }

  evaluate(statistic: Statistic): number {
    const total = this.total;
    const p = statistic.percentileP;
    if (p !== undefined) return this.percentileOfCounts(total, p);
    if (statistic === mean) {
      let sum = 0;
      for (let rank = 0; rank < this.counts.length; rank++)
        if (this.counts[rank] !== 0) sum += this.counts[rank] * this.sorted[rank];
      return sum / total;
    }
    // Counts lose the order of the draws, which no statistic of an iid resample may depend on. Expanded afresh
    // for each statistic, so that one that sorts or edits its input cannot affect the next.
    const pooled = this.pooled;
    pooled.length = total;
    let position = 0;
    for (let rank = 0; rank < this.counts.length; rank++) {
      const value = this.sorted[rank];
      for (let c = this.counts[rank]; c > 0; c--) pooled[position++] = value;
    }
    return statistic(pooled);
  }
}

function checkOptions(options: BootstrapOptions): number {
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`bootstrap: confidence must be within (0, 1), got ${confidence}`);
  if (!Number.isInteger(options.resamples) || options.resamples < 1)
    throw new RangeError(`bootstrap: resamples must be a positive integer, got ${options.resamples}`);
  return confidence;
}

function interval(estimate: number, draws: Float64Array, confidence: number): ConfidenceInterval {
  const tail = ((1 - confidence) / 2) * 100;
  const finite = draws.filter((x) => Number.isFinite(x));
  return { estimate, low: percentile(finite, tail), high: percentile(finite, 100 - tail) };
}

/**
 * Seeded hierarchical bootstrap of `statistic` over per-process samples, with a percentile CI. The statistic
 * receives a reused array: it must not keep it. Empty processes are ignored; no data at all gives NaN.
 */
export function hierarchicalBootstrap(
  processes: number[][],
  statistic: Statistic,
  options: BootstrapOptions,
): ConfidenceInterval {
  const confidence = checkOptions(options);
  const sampler = new HierarchicalSampler(processes, createRng(options.seed));
  if (sampler.empty) return { estimate: NaN, low: NaN, high: NaN };
  const estimate = statistic(processes.flat());
  const draws = new Float64Array(options.resamples);
  for (let r = 0; r < options.resamples; r++) draws[r] = sampler.sample(statistic);
  return interval(estimate, draws, confidence);
}

/**
 * Several statistics on the same resamples (one draw, several evaluations): p50, p90, p99 and the mean of a
 * metric cost little more than one of them. Each interval equals `hierarchicalBootstrap` of that statistic alone
 * with the same seed.
 */
export function hierarchicalBootstrapAll<K extends string>(
  processes: number[][],
  statistics: Record<K, Statistic>,
  options: BootstrapOptions,
): Record<K, ConfidenceInterval> {
  const confidence = checkOptions(options);
  const sampler = new HierarchicalSampler(processes, createRng(options.seed));
  const names = Object.keys(statistics) as K[];
  const out = {} as Record<K, ConfidenceInterval>;
  if (sampler.empty) {
    for (const name of names) out[name] = { estimate: NaN, low: NaN, high: NaN };
    return out;
  }
  const all = processes.flat();
  const draws = names.map(() => new Float64Array(options.resamples));
  for (let r = 0; r < options.resamples; r++) {
    sampler.draw();
    names.forEach((name, i) => (draws[i][r] = sampler.evaluate(statistics[name])));
  }
  names.forEach((name, i) => (out[name] = interval(statistics[name](all), draws[i], confidence)));
  return out;
}

/** The median of the pooled iterations with its hierarchical-bootstrap CI. */
export function medianCI(processes: number[][], options: BootstrapOptions): ConfidenceInterval {
  return hierarchicalBootstrap(processes, medianStatistic, options);
}

export interface RatioInterval {
  /** median(a) / median(b) on all data pooled. */
  ratio: number;
  low: number;
  high: number;
}

/**
 * The ratio of medians a ÷ b with a CI from resampling each arm hierarchically and independently (the process
 * is the unit: iterations inside one process are not independent).
 */
export function ratioOfMediansCI(a: number[][], b: number[][], options: BootstrapOptions): RatioInterval {
  return ratioOfPercentilesCI(a, b, 50, options);
}

/**
 * The same for the p-th percentile: a low one (p10) reads the iterations that ran undisturbed, and so moves less
 * than the median with other work on a shared machine (`bench compare --statistic p10`).
 */
export function ratioOfPercentilesCI(
  a: number[][],
  b: number[][],
  p: number,
  options: BootstrapOptions,
): RatioInterval {
  const confidence = checkOptions(options);
  const statistic = p === 50 ? medianStatistic : percentileStatistic(p);
  const rng = createRng(options.seed);
  const samplerA = new HierarchicalSampler(a, rng);
  const samplerB = new HierarchicalSampler(b, rng);
  if (samplerA.empty || samplerB.empty) return { ratio: NaN, low: NaN, high: NaN };
  const ratio = percentile(a.flat(), p) / percentile(b.flat(), p);
  const draws = new Float64Array(options.resamples);
  for (let r = 0; r < options.resamples; r++) draws[r] = samplerA.sample(statistic) / samplerB.sample(statistic);
  const ci = interval(ratio, draws, confidence);
  return { ratio, low: ci.low, high: ci.high };
}

export interface LatencySummary {
  /** Iterations over all processes. */
  count: number;
  processes: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  /** Coefficient of variation of all iterations pooled. */
  cv: number;
  /** Coefficient of variation of the per-process medians: the between-process spread. */
  betweenProcessCv: number;
  p50Low: number;
  p50High: number;
}

/** What the runner and the report show of one metric's per-iteration samples. */
export function summarizeLatency(processes: number[][], options: BootstrapOptions): LatencySummary {
  const all = processes.flat();
  const ci = medianCI(processes, options);
  const nonEmpty = processes.filter((p) => p.length > 0);
  return {
    count: all.length,
    processes: nonEmpty.length,
    mean: mean(all),
    p50: ci.estimate,
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    min: min(all),
    max: max(all),
    cv: cv(all),
    betweenProcessCv: cv(nonEmpty.map((p) => median(p))),
    p50Low: ci.low,
    p50High: ci.high,
  };
}
