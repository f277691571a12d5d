// The warm-up and measure loop shared by in-process runners (the torch worker has its Python twin).
import type { Protocol } from "../../src/suite/schema.js";

/** Warm-up is stable once the last WARMUP_WINDOW iterations vary by less than WARMUP_STABLE_CV. */
const WARMUP_WINDOW = 5;
const WARMUP_STABLE_CV = 0.05;

type MeasureProtocol = Pick<
  Protocol,
  "warmupMinIterations" | "warmupMaxMs" | "minMeasureMs" | "minIterations" | "maxIterations"
>;

/** Runs `iteration` through warm-up, then measures until both min time and min count are met. */
export async function measureLoop(
  iteration: () => Promise<unknown>,
  protocol: MeasureProtocol,
  hooks: { onMeasureStart?: () => Promise<void> | void } = {},
): Promise<{ latencyMs: number[]; windowMs: number }> {
  const now = () => performance.now();
  const warmup: number[] = [];
  const warmupStart = now();
  while (true) {
    const t0 = now();
    await iteration();
    warmup.push(now() - t0);
    if (
      warmup.length >= protocol.warmupMinIterations &&
      (isStable(warmup) || now() - warmupStart >= protocol.warmupMaxMs)
    )
      break;
    if (warmup.length >= protocol.maxIterations) break;
  }
  await hooks.onMeasureStart?.();
  const samples: number[] = [];
  const start = now();
  let end = start;
  while (samples.length < protocol.maxIterations) {
    const t0 = now();
    await iteration();
    end = now();
    samples.push(end - t0);
    if (samples.length >= protocol.minIterations && end - start >= protocol.minMeasureMs) break;
  }
  return { latencyMs: samples, windowMs: end - start };
}

function isStable(xs: number[]): boolean {
  if (xs.length < WARMUP_WINDOW) return false;
  const tail = xs.slice(-WARMUP_WINDOW);
  const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
  const variance = tail.reduce((a, b) => a + (b - mean) ** 2, 0) / (tail.length - 1);
  return Math.sqrt(variance) / mean < WARMUP_STABLE_CV;
}
