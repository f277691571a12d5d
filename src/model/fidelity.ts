// Fidelity of a technique's logits against the unmodified base: relative L2 error,
// max absolute error, top-1 agreement and KL(base ‖ technique), from two logits arrays of equal shape.

type Numbers = ArrayLike<number>;

function checkSameLength(a: Numbers, b: Numbers): void {
  if (a.length !== b.length) throw new Error(`logits of different sizes: ${a.length} vs ${b.length}`);
}

/** ‖a − b‖₂ ÷ ‖b‖₂ — "agree within 1e-4" always means this, with b the reference. */
export function relativeL2(a: Numbers, b: Numbers): number {
  checkSameLength(a, b);
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    difference += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  if (norm === 0) return difference === 0 ? 0 : Infinity;
  return Math.sqrt(difference / norm);
}

/** max |a − b|. */
export function maxAbsError(a: Numbers, b: Numbers): number {
  checkSameLength(a, b);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Rows (positions) of two logits arrays of equal length, `vocab` values each. */
function rowsOf(a: Numbers, b: Numbers, vocab: number): number {
  checkSameLength(a, b);
  const rows = a.length / vocab;
  if (!Number.isInteger(rows) || rows === 0)
    throw new Error(`logits length ${a.length} is not a positive multiple of vocab ${vocab}`);
  return rows;
}

function argmax(x: Numbers, offset: number, vocab: number): number {
  let best = offset;
  for (let i = offset + 1; i < offset + vocab; i++) if (x[i]! > x[best]!) best = i;
  return best - offset;
}

/** Share of rows (positions) whose argmax token agrees; logits are rows of `vocab` values. */
export function top1Agreement(a: Numbers, b: Numbers, vocab: number): number {
  const rows = rowsOf(a, b, vocab);
  let agree = 0;
  for (let r = 0; r < rows; r++) if (argmax(a, r * vocab, vocab) === argmax(b, r * vocab, vocab)) agree++;
  return agree / rows;
}

function logSoftmaxRow(x: Numbers, offset: number, vocab: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, x[offset + i]!);
  let total = 0;
  for (let i = 0; i < vocab; i++) total += Math.exp(x[offset + i]! - max);
  const logZ = max + Math.log(total);
  const out = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = x[offset + i]! - logZ;
  return out;
}

/** Mean over rows of KL(softmax(base) ‖ softmax(technique)) in nats. */
export function klDivergence(base: Numbers, technique: Numbers, vocab: number): number {
  const rows = rowsOf(base, technique, vocab);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const p = logSoftmaxRow(base, r * vocab, vocab);
    const q = logSoftmaxRow(technique, r * vocab, vocab);
    let kl = 0;
    for (let i = 0; i < vocab; i++) kl += Math.exp(p[i]!) * (p[i]! - q[i]!);
    sum += Math.max(0, kl);
  }
  return sum / rows;
}

export interface Fidelity {
  relativeL2: number;
  maxAbsError: number;
  top1Agreement: number;
  klDivergence: number;
}

/** All fidelity measures of technique logits against base logits (rows of `vocab`). */
export function fidelity(base: Numbers, technique: Numbers, vocab: number): Fidelity {
  return {
    relativeL2: relativeL2(technique, base),
    maxAbsError: maxAbsError(technique, base),
    top1Agreement: top1Agreement(technique, base, vocab),
    klDivergence: klDivergence(base, technique, vocab),
  };
}
