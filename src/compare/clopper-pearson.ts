// The exact (Clopper–Pearson) confidence interval of a binomial proportion, for rates measured by counting
// (false alarms, detections, inconclusive verdicts in `npm run bench:gate`). Pure functions, no dependencies.

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be positive, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < 9; i++) sum += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The continued fraction of the incomplete beta function (modified Lentz), valid for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const maxTerms = 1000;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= maxTerms; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b) = P(Beta(a, b) ≤ x), for a, b > 0 and 0 ≤ x ≤ 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`regularizedIncompleteBeta: a and b must be positive, got a=${a}, b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta: x must be within [0, 1], got ${x}`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The fraction converges fast on one side of the mean; use the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) on the other.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** The q-quantile of Beta(a, b), by bisection on the (monotone) CDF: 200 halvings reach double precision. */
export function betaQuantile(q: number, a: number, b: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`betaQuantile: q must be within [0, 1], got ${q}`);
  let low = 0;
  let high = 1;
  for (let i = 0; i < 200 && high - low > 1e-15; i++) {
    const middle = (low + high) / 2;
    if (regularizedIncompleteBeta(middle, a, b) < q) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

export interface ProportionInterval {
  successes: number;
  trials: number;
  /** successes ÷ trials. */
  rate: number;
  low: number;
  high: number;
}

/**
 * The Clopper–Pearson interval of `successes` out of `trials` at `confidence` (two-sided, 0.95 unless given):
 * low = Beta⁻¹(α/2; x, n − x + 1), high = Beta⁻¹(1 − α/2; x + 1, n − x), with 0 and 1 at the edges. It is exact
 * in the conservative sense: its coverage is at least the nominal level for every true rate.
 */
export function clopperPearson(successes: number, trials: number, confidence = 0.95): ProportionInterval {
  if (!Number.isInteger(trials) || trials < 1) throw new RangeError(`clopperPearson: trials must be a positive integer, got ${trials}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > trials)
    throw new RangeError(`clopperPearson: successes must be an integer within 0..${trials}, got ${successes}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`clopperPearson: confidence must be within (0, 1), got ${confidence}`);
  const alpha = 1 - confidence;
  const low = successes === 0 ? 0 : betaQuantile(alpha / 2, successes, trials - successes + 1);
  const high = successes === trials ? 1 : betaQuantile(1 - alpha / 2, successes + 1, trials - successes);
  return { successes, trials, rate: successes / trials, low, high };
}

/** "12/200 = 6.0% [3.1%, 10.2%]": a counted rate with its interval, as the gate prints it. */
export function formatProportion(interval: ProportionInterval, digits = 1): string {
  const pct = (x: number) => `${(x * 100).toFixed(digits)}%`;
  return `${interval.successes}/${interval.trials} = ${pct(interval.rate)} [${pct(interval.low)}, ${pct(interval.high)}]`;
}
