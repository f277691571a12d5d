// Routing-locality metrics (src/model/routing-locality.ts) against brute-force recomputations from their definitions.
import { describe, expect, it } from "vitest";
import {
  routingLocalitySummary,
  layerLocality,
  lruHitRate,
  segmentCacheBestHitRate,
  segmentRoutingBestPerformance,
  sequenceFromFlat,
} from "../../src/model/routing-locality.js";
import { seededUniform } from "../../src/model/sampling.js";
import { localityView } from "../../reports/routing.js";

/** A sticky top-k routing sequence: each token keeps the previous token's experts with probability `stay`. */
function recordedSequence(tokens: number, experts: number, k: number, stay: number, seed: number): number[][] {
  const rng = seededUniform(seed, "routing-locality-test");
  const out: number[][] = [];
  let current: number[] = [];
  for (let t = 0; t < tokens; t++) {
    const next = new Set<number>();
    for (const e of current) if (rng() < stay && next.size < k) next.add(e);
    while (next.size < k) next.add(Math.floor(rng() * experts));
    current = [...next];
    out.push(current);
  }
  return out;
}

function bruteSrp(seq: number[][], E: number, m: number): number {
  let best = 0;
  for (let p = 0; p <= m; p++) {
    let matches = 0;
    let predictions = 0;
    let activations = 0;
    for (let s = 0; s + m <= seq.length; s++)
      for (let e = 0; e < E; e++) {
        let c = 0;
        for (let t = s; t < s + m; t++) if (seq[t]!.includes(e)) c++;
        activations += c;
        if (c >= p) {
          matches += c;
          predictions += m;
        }
      }
    best = Math.max(best, (2 * matches) / (predictions + activations));
  }
  return best;
}

function bruteSch(seq: number[][], E: number, m: number, size: number): number {
  let cache: number[] = [];
  const lastUse = new Map<number, number>();
  let hits = 0;
  let total = 0;
  for (let t = 0; t < seq.length; t++) {
    const token = seq[t]!;
    hits += token.filter((e) => cache.includes(e)).length;
    total += token.length;
    const future = (e: number) => seq.slice(t, t + m).filter((x) => x.includes(e)).length;
    token.forEach((e, slot) => {
      if (!cache.includes(e)) {
        if (cache.length === size) {
          const candidates = cache.filter((c) => !token.includes(c));
          candidates.sort((a, b) => future(a) - future(b) || lastUse.get(a)! - lastUse.get(b)! || a - b);
          cache = cache.filter((c) => c !== candidates[0]);
        }
        cache.push(e);
      }
      lastUse.set(e, t * 100 + slot);
    });
  }
  return hits / total;
}

/** LRU from its characterisation: before token t the cache holds the `size` most recently used distinct experts. */
function bruteLru(seq: number[][], size: number): number {
  let hits = 0;
  let total = 0;
  for (let t = 0; t < seq.length; t++) {
    const recent: number[] = [];
    for (let u = t - 1; u >= 0 && recent.length < size; u--)
      for (let slot = seq[u]!.length - 1; slot >= 0 && recent.length < size; slot--)
        if (!recent.includes(seq[u]![slot]!)) recent.push(seq[u]![slot]!);
    hits += seq[t]!.filter((e) => recent.includes(e)).length;
    total += seq[t]!.length;
  }
  return hits / total;
}

describe("routing locality", () => {
  const E = 8;
  const k = 2;
  for (const stay of [0, 0.6, 0.95]) {
    const seq = recordedSequence(300, E, k, stay, 7);
    it(`SRP, SCH and LRU equal brute force on a recorded sequence (stay ${stay})`, () => {
      for (const m of [1, 4, 16, 64])
        expect(segmentRoutingBestPerformance(seq, E, m)).toBeCloseTo(bruteSrp(seq, E, m), 12);
      for (const m of [1, 4, 16])
        for (const c of [2, 3, 4, 6])
          expect(segmentCacheBestHitRate(seq, E, m, c)).toBeCloseTo(bruteSch(seq, E, m, c), 12);
      for (const c of [2, 3, 4, 6, 8]) expect(lruHitRate(seq, E, c)).toBeCloseTo(bruteLru(seq, c), 12);
    });
  }

  it("orders sequences by locality: sticky routing scores higher than random routing", () => {
    const random = recordedSequence(300, E, k, 0, 3);
    const sticky = recordedSequence(300, E, k, 0.95, 3);
    expect(segmentRoutingBestPerformance(sticky, E, 16)).toBeGreaterThan(
      segmentRoutingBestPerformance(random, E, 16) + 0.2,
    );
    expect(lruHitRate(sticky, E, 4)).toBeGreaterThan(lruHitRate(random, E, 4) + 0.2);
    // Constant routing: one fixed set serves every segment (SRP 1); a cache of k misses only the first token.
    const constant = Array.from({ length: 50 }, () => [1, 5]);
    expect(segmentRoutingBestPerformance(constant, E, 8)).toBe(1);
    expect(lruHitRate(constant, E, 2)).toBeCloseTo(49 / 50, 12);
    // Knowing the future never hurts: SCH ≥ LRU at the same size on these sequences.
    for (const seq of [random, sticky])
      expect(segmentCacheBestHitRate(seq, E, 16, 4)).toBeGreaterThanOrEqual(lruHitRate(seq, E, 4));
  });

  it("summarises a layer and refuses bad input with the reason", () => {
    const seq = sequenceFromFlat([0, 1, 1, 2, 2, 3, 0, 1], 2);
    expect(seq).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [0, 1],
    ]);
    const summary = layerLocality(3, seq, 4, { segmentLengths: [2, 16], cacheSizes: [2, 3] });
    expect(Object.keys(summary.srp)).toEqual(["2"]); // 16 > 4 tokens: left out
    expect(Object.keys(summary.sch)).toEqual(["m2.c2", "m2.c3"]);
    expect(() => lruHitRate(seq, 4, 1)).toThrow(/cache size: expected a whole number ≥ top-k \(2\)/);
    expect(() => segmentRoutingBestPerformance([[0, 9]], 4, 1)).toThrow(/token 0: expert 9 is outside 0..3/);
  });

  it("summarises a run's routing per sequence (no segment spans two sequences) and the case page reads it", () => {
    const a = recordedSequence(40, E, k, 0.9, 1);
    const b = recordedSequence(40, E, k, 0.1, 2);
    const flat = [...a, ...b].flat();
    const summary = routingLocalitySummary(
      new Map([
        [1, flat],
        [0, flat],
      ]),
      k,
      E,
      2,
      { segmentLengths: [4, 64], cacheSizes: [1, 2, 4] },
      "test",
    );
    expect(summary.segmentLengths).toEqual([4]); // 64 > 40 tokens per sequence
    expect(summary.cacheSizes).toEqual([2, 4]); // 1 < k
    expect(summary.layers.map((l) => l.layer)).toEqual([0, 1]);
    expect(summary.srp["4"]).toBeCloseTo((bruteSrp(a, E, 4) + bruteSrp(b, E, 4)) / 2, 12);
    expect(summary.lru["4"]).toBeCloseTo((bruteLru(a, 4) + bruteLru(b, 4)) / 2, 12);
    const view = localityView({ routing: { locality: summary } })!;
    expect(view.rows.map((r) => r.metric)).toEqual([
      "SRP, segments of 4",
      "SCH, 2 cached experts, 4-token lookahead",
      "SCH, 4 cached experts, 4-token lookahead",
      "LRU hit rate, 2 cached experts",
      "LRU hit rate, 4 cached experts",
    ]);
    expect(view.rows[0]!.mean).toBeCloseTo(summary.srp["4"]!, 12);
    expect(localityView({ routing: { tokens: 3 } })).toBeNull();
  });
});
