// The seeded load schedule of a serving point: open loop (arrivals at rate λ, Poisson or constant spacing) or closed
// loop (N requests in flight), plus which adapter each request names. Same seed ⇒ same schedule on every machine.
import { createRng } from "../../src/measure/stats.js";

export type LoadShape =
  { kind: "open"; rate: number; arrival: "poisson" | "constant" } | { kind: "closed"; concurrency: number };

export interface AdapterSpread {
  /** The adapter (served model) names requests spread over. */
  names: string[];
  /** `uniform`, or Zipf with exponent `zipf` (> 0) over `names` in order. */
  distribution: "uniform" | "zipf";
  zipf?: number;
}

/**
 * Intended send offsets (ms from the point's start) for an open loop — at most `requests` of them, and only those
 * before `durationMs` when given (the same seed gives the same prefix) —; empty for a closed loop.
 */
export function arrivalOffsetsMs(shape: LoadShape, requests: number, seed: number, durationMs?: number): number[] {
  if (shape.kind === "closed") return [];
  if (!Number.isFinite(requests) && durationMs === undefined)
    throw new Error("an open loop needs a count or a duration");
  const meanGapMs = 1000 / shape.rate;
  const rng = createRng(seed ^ 0x5e7ea11);
  const offsets: number[] = [];
  let t = 0;
  for (let i = 0; i < requests && (durationMs === undefined || t < durationMs); i++) {
    offsets.push(t);
    // Exponential inter-arrival gaps make a Poisson process; 1 − u keeps log's argument in (0, 1].
    t += shape.arrival === "poisson" ? -Math.log(1 - rng()) * meanGapMs : meanGapMs;
  }
  return offsets;
}

/** The adapter name of each request, drawn from the spread with its own seeded stream. */
export function adapterAssignments(spread: AdapterSpread, requests: number, seed: number): string[] {
  const weights = spread.names.map((_, i) => (spread.distribution === "zipf" ? 1 / (i + 1) ** (spread.zipf ?? 1) : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((acc, w) => (cumulative.push((acc + w) / total), acc + w), 0);
  const rng = createRng(seed ^ 0xada97e5);
  return Array.from({ length: requests }, () => {
    const u = rng();
    const index = cumulative.findIndex((c) => u < c);
    return spread.names[index === -1 ? spread.names.length - 1 : index]!;
  });
}
