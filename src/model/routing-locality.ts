// Routing locality of a MoE layer from its per-token expert choices: whether the model suits expert offloading.
// Definitions follow Liang et al. 2025, "Not All Models Suit Expert Offloading: On Local Routing Consistency of
// Mixture-of-Expert Models" (arXiv 2505.16056; their code github.com/ljcleo/moe-lrc, src/30_srp_calc.py and
// src/41_sch_calc.py), plus a plain LRU expert cache. Pure functions of the choices; docs/moe.md explains them.

/** Per token, the experts it chose (each 0 ≤ e < experts, distinct within a token). */
export type RoutingSequence = readonly (readonly number[])[];

function checkSequence(choices: RoutingSequence, experts: number): void {
  for (const [t, chosen] of choices.entries())
    for (const e of chosen)
      if (!Number.isInteger(e) || e < 0 || e >= experts)
        throw new Error(`routing sequence › token ${t}: expert ${e} is outside 0..${experts - 1}`);
}

/**
 * Segment routing best performance (SRP) for segments of `segmentLength` consecutive tokens (every start position):
 * a segment "predicts" the experts it activated at least p times and serves all its tokens with them; with
 * matches = activations covered by the prediction, predictions = predicted experts × segment length and
 * activations = all activations, F1(p) = 2·matches / (predictions + activations) summed over segments and experts;
 * SRP = max over p ∈ 0..m. 1 = every segment uses one fixed set of experts; 2k/(E + k) at p = 0 is the floor.
 */
export function segmentRoutingBestPerformance(
  choices: RoutingSequence,
  experts: number,
  segmentLength: number,
): number {
  checkSequence(choices, experts);
  const m = segmentLength;
  if (!Number.isInteger(m) || m < 1) throw new Error(`segment length: expected a positive integer, got ${m}`);
  const windows = choices.length - m + 1;
  if (windows < 1)
    throw new Error(`segment length ${m} is longer than the routing sequence (${choices.length} tokens)`);
  // histogram[c] = (segment, expert) pairs where the expert was activated c times in the segment (sliding counts).
  const histogram = new Float64Array(m + 1);
  const counts = new Int32Array(experts);
  for (let t = 0; t < m; t++) for (const e of choices[t]!) counts[e]! += 1;
  for (let start = 0; ; start++) {
    for (let e = 0; e < experts; e++) histogram[counts[e]!]! += 1;
    if (start + m >= choices.length) break;
    for (const e of choices[start]!) counts[e]! -= 1;
    for (const e of choices[start + m]!) counts[e]! += 1;
  }
  let activations = 0;
  for (let c = 0; c <= m; c++) activations += c * histogram[c]!;
  let best = 0;
  let matches = 0;
  let predicted = 0;
  for (let p = m; p >= 0; p--) {
    matches += p * histogram[p]!;
    predicted += histogram[p]!;
    const denominator = predicted * m + activations;
    if (denominator > 0) best = Math.max(best, (2 * matches) / denominator);
  }
  return best;
}

/**
 * Segment cache best hit rate (SCH): an expert cache of `cacheSize` experts that knows the next `segmentLength`
 * tokens. Per token, its experts hit when already cached (checked before the token updates the cache); then they
 * are all cached, evicting the cached experts used fewest times in the window of the current token and the
 * next segmentLength − 1, ties to the least recently used (then the lower index). Hits / (tokens · k).
 * cacheSize must hold a token's experts (≥ k).
 */
export function segmentCacheBestHitRate(
  choices: RoutingSequence,
  experts: number,
  segmentLength: number,
  cacheSize: number,
): number {
  return cacheHitRate(choices, experts, cacheSize, segmentLength);
}

/** Hit rate of an LRU expert cache of `cacheSize` experts (same per-token rule as SCH, evicting the least recently used). */
export function lruHitRate(choices: RoutingSequence, experts: number, cacheSize: number): number {
  return cacheHitRate(choices, experts, cacheSize, 0);
}

/** `future` > 0: evict by fewest uses in [t, t + future), then LRU; 0: LRU alone. */
function cacheHitRate(choices: RoutingSequence, experts: number, cacheSize: number, future: number): number {
  checkSequence(choices, experts);
  const k = Math.max(0, ...choices.map((c) => c.length));
  if (!Number.isInteger(cacheSize) || cacheSize < k)
    throw new Error(
      `cache size: expected a whole number ≥ top-k (${k}) — a token's experts must fit, got ${cacheSize}`,
    );
  if (future > 0 && !(Number.isInteger(future) && future >= 1))
    throw new Error(`segment length: expected a positive integer, got ${future}`);
  const cached = new Uint8Array(experts);
  const lastUse = new Float64Array(experts).fill(-1);
  const windowCount = new Int32Array(experts); // uses in [t, t + future)
  if (future > 0)
    for (let t = 0; t < Math.min(future, choices.length); t++) for (const e of choices[t]!) windowCount[e]! += 1;
  let size = 0;
  let hits = 0;
  let total = 0;
  for (let t = 0; t < choices.length; t++) {
    const chosen = choices[t]!;
    for (const e of chosen) if (cached[e]) hits++;
    total += chosen.length;
    const inToken = new Set(chosen);
    for (const [slot, e] of chosen.entries()) {
      if (!cached[e]) {
        if (size === cacheSize) {
          let victim = -1;
          for (let c = 0; c < experts; c++) {
            if (!cached[c] || inToken.has(c)) continue;
            if (victim < 0) victim = c;
            else if (future > 0 && windowCount[c]! !== windowCount[victim]!) {
              if (windowCount[c]! < windowCount[victim]!) victim = c;
            } else if (lastUse[c]! < lastUse[victim]!) victim = c;
          }
          cached[victim] = 0;
          size--;
        }
        cached[e] = 1;
        size++;
      }
      lastUse[e] = t + slot / (chosen.length + 1); // slot order inside a token
    }
    if (future > 0) {
      for (const e of chosen) windowCount[e]! -= 1;
      if (t + future < choices.length) for (const e of choices[t + future]!) windowCount[e]! += 1;
    }
  }
  return total > 0 ? hits / total : 0;
}

export interface LocalityOptions {
  segmentLengths: number[];
  cacheSizes: number[];
}

export interface LayerLocality {
  layer: number;
  /** SRP per segment length, keyed by the length. */
  srp: Record<string, number>;
  /** SCH per "segment length × cache size", keyed `m{length}.c{size}`. */
  sch: Record<string, number>;
  /** LRU hit rate per cache size, keyed by the size. */
  lru: Record<string, number>;
}

/** Default segment lengths (the paper's 4, 16, 64, 256) and cache sizes (k, 2k: the paper's "about twice the active experts"). */
export function defaultLocalityOptions(topK: number): LocalityOptions {
  return { segmentLengths: [4, 16, 64, 256], cacheSizes: [topK, 2 * topK] };
}

/** Every locality metric of one layer; segment lengths longer than the sequence are left out. */
export function layerLocality(
  layer: number,
  choices: RoutingSequence,
  experts: number,
  options: LocalityOptions,
): LayerLocality {
  const lengths = options.segmentLengths.filter((m) => m <= choices.length);
  const k = Math.max(0, ...choices.map((c) => c.length));
  const sizes = options.cacheSizes.filter((c) => c <= experts && c >= k);
  const result: LayerLocality = { layer, srp: {}, sch: {}, lru: {} };
  for (const m of lengths) result.srp[String(m)] = segmentRoutingBestPerformance(choices, experts, m);
  for (const m of lengths)
    for (const c of sizes) result.sch[`m${m}.c${c}`] = segmentCacheBestHitRate(choices, experts, m, c);
  for (const c of sizes) result.lru[String(c)] = lruHitRate(choices, experts, c);
  return result;
}

/** Token-major flat [T·k] indices (as the runners output them) as a routing sequence. */
export function sequenceFromFlat(indices: ArrayLike<number | bigint>, topK: number): number[][] {
  const out: number[][] = [];
  for (let t = 0; t + topK <= indices.length; t += topK)
    out.push(Array.from({ length: topK }, (_, s) => Number(indices[t + s])));
  return out;
}

export interface RoutingLocalitySummary {
  /** What the sequences were. */
  source: string;
  sequences: number;
  tokensPerSequence: number;
  segmentLengths: number[];
  cacheSizes: number[];
  /** Per MoE layer, means over the sequences. */
  layers: LayerLocality[];
  /** Means over layers. */
  srp: Record<string, number>;
  sch: Record<string, number>;
  lru: Record<string, number>;
}

/**
 * Locality of a run's routing: each layer's token-major [sequences · tokens · k] chosen experts split into its
 * sequences, every metric computed per sequence and averaged (a segment never spans two sequences).
 */
export function routingLocalitySummary(
  indicesByLayer: Map<number, ArrayLike<number | bigint>>,
  topK: number,
  experts: number,
  sequences: number,
  options: LocalityOptions,
  source: string,
): RoutingLocalitySummary {
  const layers: LayerLocality[] = [];
  let tokensPerSequence = 0;
  for (const [layer, indices] of [...indicesByLayer].sort(([a], [b]) => a - b)) {
    const all = sequenceFromFlat(indices, topK);
    tokensPerSequence = all.length / sequences;
    const parts = Array.from({ length: sequences }, (_, b) =>
      layerLocality(layer, all.slice(b * tokensPerSequence, (b + 1) * tokensPerSequence), experts, options),
    );
    const mean = (pick: (l: LayerLocality) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const key of Object.keys(pick(parts[0]!)))
        out[key] = parts.reduce((s, p) => s + pick(p)[key]!, 0) / parts.length;
      return out;
    };
    layers.push({ layer, srp: mean((l) => l.srp), sch: mean((l) => l.sch), lru: mean((l) => l.lru) });
  }
  const overLayers = (pick: (l: LayerLocality) => Record<string, number>) => {
    const out: Record<string, number> = {};
    if (layers.length === 0) return out;
    for (const key of Object.keys(pick(layers[0]!)))
      out[key] = layers.reduce((s, l) => s + pick(l)[key]!, 0) / layers.length;
    return out;
  };
  return {
    source,
    sequences,
    tokensPerSequence,
    segmentLengths: options.segmentLengths.filter((m) => m <= tokensPerSequence),
    cacheSizes: options.cacheSizes.filter((c) => c <= experts && c >= topK),
    layers,
    srp: overLayers((l) => l.srp),
    sch: overLayers((l) => l.sch),
    lru: overLayers((l) => l.lru),
  };
}
