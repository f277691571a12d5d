// Shared by bench:int4 and bench:lora: time ORT sessions of two model variants in interleaved blocks within
// one process (one intra-op thread, no spinning), and report the ratio of medians with a 95% bootstrap CI
// (blocks resampled, then iterations — blocks stand in for processes here; the suite runner uses real ones).
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import * as ort from "onnxruntime-node";
import { median, ratioOfMediansCI } from "../src/measure/stats.js";
import type { InputSpec } from "../runners/ort/onnx/onnx.js";

export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  executionMode: "sequential",
  extra: { session: { "intra_op.allow_spinning": "0", "inter_op.allow_spinning": "0" } },
};

export function feedsFor(specs: InputSpec[], vocab: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296;
  for (const spec of specs) {
    const size = spec.dims.reduce((a, b) => a * b, 1);
    feeds[spec.name] =
      spec.type === "int64"
        ? new ort.Tensor(
            "int64",
            BigInt64Array.from({ length: size }, () => BigInt(Math.floor(next() * vocab))),
            spec.dims,
          )
        : new ort.Tensor(
            "float32",
            Float32Array.from({ length: size }, () => next() * 2 - 1),
            spec.dims,
          );
  }
  return feeds;
}

export interface Arm {
  label: string;
  session: ort.InferenceSession;
  feeds: Record<string, ort.Tensor>;
}

/** Interleaved blocks of `iterations` runs per arm; returns per-block latency samples (ms) of each arm. */
export async function timeInterleaved(
  arms: Arm[],
  blocks: number,
  iterations: number,
  warmup = 5,
): Promise<number[][][]> {
  for (const arm of arms) for (let i = 0; i < warmup; i++) await arm.session.run(arm.feeds);
  const samples = arms.map(() => [] as number[][]);
  for (let block = 0; block < blocks; block++)
    for (const [index, arm] of arms.entries()) {
      const values: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const start = performance.now();
        await arm.session.run(arm.feeds);
        values.push(performance.now() - start);
      }
      samples[index]!.push(values);
    }
  return samples;
}

export function ratioLine(label: string, numerator: number[][], denominator: number[][]): string {
  const r = ratioOfMediansCI(numerator, denominator, { resamples: 2000, seed: 1 });
  return `${label}: ${median(numerator.flat()).toFixed(3)} ms / ${median(denominator.flat()).toFixed(3)} ms = ${r.ratio.toFixed(3)}× [95% CI ${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`;
}
