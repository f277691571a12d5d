// Fast seeded sampling for weight synthesis: a per-name sfc32 generator and inverse-CDF sampling from
// quantile tables (one 32-bit random word and a few flops per draw, so ~100M-parameter models synthesise
// in seconds in plain JavaScript).

/** 128-bit string hash (cyrb128): four 32-bit words to seed sfc32. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded from hash(seed, name). */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number, name: string) {
    [this.a, this.b, this.c, this.d] = hash128(`${seed}\u0000${name}`);
    for (let i = 0; i < 12; i++) this.nextUint32(); // mix the hashed words
  }
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** A uniform in (0, 1). */
  next(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }
}

/** A seeded uniform generator in (0, 1), independent for each (seed, name). */
export function seededUniform(seed: number, name: string): () => number {
  const generator = new Sfc32(seed, name);
  return () => generator.next();
}

/** Inverse CDF of N(0, 1) (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q - 2.549732539343734) * q +
        4.374664141464968) *
        q +
        2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r + 1.38357751867269e2) * r -
      3.066479806614716e1) *
      r +
      2.506628277459239) *
      q) /
    (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r + 6.680131188771972e1) * r -
      1.328068155288572e1) *
      r +
      1)
  );
}

/**
 * Inverse CDF of Student's t with ν = 4 in closed form: with α = 4p(1−p) and q = cos(⅓·arccos √α) / √α,
 * t = sign(p − ½) · 2 · √(q − 1) (Shaw 2006, "Sampling Student's T distribution — use of the inverse
 * cumulative distribution function", Journal of Computational Finance 9(4)).
 */
export function studentT4Quantile(p: number): number {
  if (p === 0.5) return 0;
  const root = Math.sqrt(4 * p * (1 - p));
  const q = Math.cos(Math.acos(root) / 3) / root;
  return Math.sign(p - 0.5) * 2 * Math.sqrt(Math.max(0, q - 1));
}

/** CDF of Student's t with ν = 4: ½ + ¾·s·(1 − s²/3) with s = t / √(4 + t²). */
export function studentT4Cdf(t: number): number {
  const s = t / Math.sqrt(4 + t * t);
  return 0.5 + 0.75 * s * (1 - (s * s) / 3);
}

export type UnitDistribution = "normal" | "student-t4";

// A 32-bit word picks one of 2^16 equal-probability buckets (high 16 bits) and a point inside it (low 16
// bits), interpolated linearly between the bucket's quantiles; the two outermost buckets, where the
// quantile diverges, are computed exactly, so the tails are real.
const TABLE_BITS = 16;
const TABLE_SIZE = 1 << TABLE_BITS;
const tables = new Map<UnitDistribution, Float64Array>();

/** Unit-variance quantile function: Student-t ν = 4 has variance ν/(ν−2) = 2, so it is scaled by 1/√2. */
function unitQuantile(distribution: UnitDistribution): (p: number) => number {
  return distribution === "normal" ? normalQuantile : (p) => studentT4Quantile(p) / Math.SQRT2;
}

function tableFor(distribution: UnitDistribution): Float64Array {
  let table = tables.get(distribution);
  if (!table) {
    const quantile = unitQuantile(distribution);
    table = new Float64Array(TABLE_SIZE + 1);
    for (let i = 1; i < TABLE_SIZE; i++) table[i] = quantile(i / TABLE_SIZE);
    tables.set(distribution, table);
  }
  return table;
}

/** Fills `out` with `std` × draws of a unit-variance distribution. */
export function fillRandom(out: Float32Array, generator: Sfc32, distribution: UnitDistribution, std: number): void {
  const table = tableFor(distribution);
  const quantile = unitQuantile(distribution);
  const last = TABLE_SIZE - 1;
  for (let i = 0; i < out.length; i++) {
    const word = generator.nextUint32();
    const bucket = word >>> TABLE_BITS;
    if (bucket === 0 || bucket === last) out[i] = std * quantile((word + 0.5) / 4294967296);
    else {
      const low = table[bucket]!;
      out[i] = std * (low + (table[bucket + 1]! - low) * (((word & 0xffff) + 0.5) / 65536));
    }
  }
}
