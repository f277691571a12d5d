// `bench calibrate` (CPU): this machine's attainable peak GEMM FLOP/s (an fp32 MatMul through onnxruntime-node,
// threads as configured) and memory bandwidth (large copies), the denominators of MFU and MBU (docs/metrics.md).
// GPU peaks come from the torch worker or a datasheet table; this file measures the CPU only.
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { cpus } from "node:os";
import { Worker } from "node:worker_threads";

// onnx-proto is CommonJS: its namespace comes through the default import.
const { onnx } = onnxProto;

export interface CalibrateOptions {
  /** ORT intra-op threads for the GEMM and parallel copy workers for the bandwidth; default 1 (the runner's default). */
  threads?: number;
  /** Square GEMM size (M = K = N). */
  gemmSize?: number;
  /** Timed GEMM runs (after two warm-up runs); the fastest gives the peak. */
  gemmRuns?: number;
  /** Bytes per copy buffer (each worker copies its own pair). */
  copyBytes?: number;
  copyRuns?: number;
}

export interface CalibrationResult {
  device: "cpu";
  cpuModel: string;
  threads: number;
  gemm: {
    /** The fastest run's FLOP/s (2·M·N·K per run): the attainable peak. */
    peakFlopsPerS: number;
    medianFlopsPerS: number;
    size: number;
    runs: number;
    method: string;
  };
  memory: {
    /** The fastest run's bytes/s, counting the bytes read and the bytes written (STREAM's copy convention). */
    peakBytesPerS: number;
    medianBytesPerS: number;
    copyBytes: number;
    runs: number;
    method: string;
  };
}

export const CALIBRATE_DEFAULTS = {
  threads: 1,
  gemmSize: 1024,
  gemmRuns: 10,
  copyBytes: 256 * 1024 * 1024,
  copyRuns: 8,
} as const;

/** MFU = achieved FLOP/s ÷ peak FLOP/s; null (with no guess) when either is missing. */
export function mfu(achievedFlopsPerS: number | null, peakFlopsPerS: number | null): number | null {
  return achievedFlopsPerS !== null && peakFlopsPerS ? achievedFlopsPerS / peakFlopsPerS : null;
}

/** MBU = achieved bytes/s ÷ peak bandwidth. */
export function mbu(achievedBytesPerS: number | null, peakBytesPerS: number | null): number | null {
  return achievedBytesPerS !== null && peakBytesPerS ? achievedBytesPerS / peakBytesPerS : null;
}

/** An ONNX model Y = A·B with A [m,k] and B [k,n] both as inputs, so nothing is constant-folded away. */
export function matmulModelBytes(m: number, k: number, n: number): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const io = (name: string, dims: number[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: F, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
    });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "effbench-calibrate",
    graph: {
      name: "gemm",
      node: [{ opType: "MatMul", input: ["A", "B"], output: ["Y"] }],
      input: [io("A", [m, k]), io("B", [k, n])],
      output: [io("Y", [m, n])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function calibrateGemm(threads: number, size: number, runs: number): Promise<CalibrationResult["gemm"]> {
  const session = await ort.InferenceSession.create(matmulModelBytes(size, size, size), {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    extra: { session: { "intra_op.allow_spinning": "0" } },
  });
  const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const feeds = {
    A: new ort.Tensor("float32", fill(size * size), [size, size]),
    B: new ort.Tensor("float32", fill(size * size), [size, size]),
  };
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const rates: number[] = [];
  const flops = 2 * size * size * size;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    rates.push(flops / ((performance.now() - t0) / 1000));
  }
  await session.release();
  return {
    peakFlopsPerS: Math.max(...rates),
    medianFlopsPerS: median(rates),
    size,
    runs,
    method: `onnxruntime-node ${ort.env.versions.common} CPU EP, fp32 MatMul ${size}×${size}×${size}, ${threads} intra-op thread(s)`,
  };
}

// Each worker copies its own buffers `runs` times, in step with the others (an Atomics barrier), and reports ms per copy.
const COPY_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { bytes, runs, barrier, workers } = workerData;
const src = Buffer.alloc(bytes, 1), dst = Buffer.alloc(bytes);
src.copy(dst); // touch every page before timing
const flags = new Int32Array(barrier);
const times = [];
for (let r = 0; r < runs; r++) {
  Atomics.add(flags, 0, 1);
  while (Atomics.load(flags, 0) < (r + 1) * workers) {}
  const t0 = performance.now();
  src.copy(dst);
  times.push(performance.now() - t0);
}
parentPort.postMessage(times);
`;

export async function calibrateMemory(
  threads: number,
  copyBytes: number,
  runs: number,
): Promise<CalibrationResult["memory"]> {
  const barrier = new SharedArrayBuffer(4);
  const perWorker = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number[]>((resolve, reject) => {
          const worker = new Worker(COPY_WORKER, {
            eval: true,
            workerData: { bytes: copyBytes, runs, barrier, workers: threads },
          });
          worker.once("message", (times: number[]) => {
            resolve(times);
            void worker.terminate();
          });
          worker.once("error", reject);
        }),
    ),
  );
  // A run's rate: every worker's read + write bytes over the slowest worker's time.
  const rates = Array.from(
    { length: runs },
    (_, r) => (2 * copyBytes * threads) / (Math.max(...perWorker.map((t) => t[r]!)) / 1000),
  );
  return {
    peakBytesPerS: Math.max(...rates),
    medianBytesPerS: median(rates),
    copyBytes,
    runs,
    method: `Buffer.copy (memcpy) of ${copyBytes / 2 ** 20} MiB buffers in ${threads} worker thread(s), read + write bytes counted`,
  };
}

/** Measures this machine's CPU peaks. Takes a few seconds; run it off any timed path. */
export async function calibrate(options: CalibrateOptions = {}): Promise<CalibrationResult> {
  const threads = options.threads ?? CALIBRATE_DEFAULTS.threads;
  const gemm = await calibrateGemm(
    threads,
    options.gemmSize ?? CALIBRATE_DEFAULTS.gemmSize,
    options.gemmRuns ?? CALIBRATE_DEFAULTS.gemmRuns,
  );
  const memory = await calibrateMemory(
    threads,
    options.copyBytes ?? CALIBRATE_DEFAULTS.copyBytes,
    options.copyRuns ?? CALIBRATE_DEFAULTS.copyRuns,
  );
  return { device: "cpu", cpuModel: cpus()[0]?.model ?? "unknown", threads, gemm, memory };
}
