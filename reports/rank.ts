// Ranks with ties by confidence interval, and Pareto fronts: pure functions shared by the Node side (markdown,
// tests) and the browser bundle (which re-ranks after a filter), so both always agree. Free of Node imports.
import type { Better } from "./metrics.js";

export interface RankInput {
  value: number;
  /** 95% CI; a value without one counts as the interval [value, value]. */
  ciLow: number | null;
  ciHigh: number | null;
}

export interface Ranked {
  /** 1 + the number of entries whose CI lies entirely on the better side of this entry's CI. */
  rank: number;
  /** Another entry shares this rank (their difference is not resolved by the CIs). */
  tie: boolean;
}

const interval = (e: RankInput): [number, number] => {
  const low = e.ciLow ?? e.value;
  const high = e.ciHigh ?? e.value;
  // A CI that does not contain its estimate (rare, but a bootstrap of a skewed statistic can) is widened to do so.
  return [Math.min(low, high, e.value), Math.max(low, high, e.value)];
};

/**
 * The rank rule of the leaderboards: an entry's rank is 1 + the number of entries that are better beyond doubt,
 * i.e. whose whole CI is better than this entry's whole CI (no overlap). Entries whose CIs overlap cannot be
 * separated and so may share a rank (a tie). Same rule as LMSYS Chatbot Arena's ranking. O(n log n).
 */
export function rankByConfidence(entries: readonly RankInput[], better: Better): Ranked[] {
  const intervals = entries.map(interval);
  const ranks = new Array<number>(entries.length);
  if (better === "lower") {
    // j beats i when high_j < low_i: count the highs strictly below each low.
    const highs = intervals.map(([, h]) => h).sort((a, b) => a - b);
    intervals.forEach(([low], i) => (ranks[i] = 1 + countBelow(highs, low)));
  } else {
    // j beats i when low_j > high_i: count the lows strictly above each high.
    const lows = intervals.map(([l]) => l).sort((a, b) => a - b);
    intervals.forEach(([, high], i) => (ranks[i] = 1 + lows.length - countAtMost(lows, high)));
  }
  const counts = new Map<number, number>();
  for (const r of ranks) counts.set(r, (counts.get(r) ?? 0) + 1);
  return ranks.map((rank) => ({ rank, tie: (counts.get(rank) ?? 0) > 1 }));
}

/** Number of elements of ascending `xs` strictly below `x`. */
function countBelow(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of elements of ascending `xs` at most `x`. */
function countAtMost(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Which points are on the Pareto front (not dominated: no other point is at least as good on both axes and
 * strictly better on one). Uses the point estimates. Identical points are both on the front. O(n log n).
 */
export function paretoFront(
  points: ReadonlyArray<{ x: number; y: number }>,
  betterX: Better,
  betterY: Better,
): boolean[] {
  // Flip signs so that lower is better on both axes.
  const sx = betterX === "lower" ? 1 : -1;
  const sy = betterY === "lower" ? 1 : -1;
  const order = points.map((p, i) => ({ x: sx * p.x, y: sy * p.y, i })).sort((a, b) => a.x - b.x || a.y - b.y);
  const onFront = new Array<boolean>(points.length).fill(false);
  let bestY = Infinity;
  let last: { x: number; y: number } | null = null;
  for (const p of order) {
    if (p.y < bestY) {
      onFront[p.i] = true;
      bestY = p.y;
      last = p;
    } else if (last && p.x === last.x && p.y === last.y) onFront[p.i] = true;
  }
  return onFront;
}
