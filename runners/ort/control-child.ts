// The ort drift control's process: a fixed FFN-shaped graph (MatMul 64×512·512×1024, Relu, MatMul ·1024×512, fp32)
// timed as a case's repeat is, then its per-iteration times printed as one JSON line. Fixed weights, fixed shapes:
// only the machine can change its time (docs/protocol.md, "Machine-drift control").
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "./onnx/onnx-graph.js";
import { measureLoop } from "../shared/measure-loop.js";

export const CONTROL_SHAPE = { rows: 64, hidden: 512, ffn: 1024 } as const;
/** Short on purpose: the control runs after every case process; about 40–100 iterations on one core. */
export const CONTROL_PROTOCOL = {
  warmupMinIterations: 5,
  warmupMaxMs: 150,
  minMeasureMs: 200,
  minIterations: 30,
  maxIterations: 2000,
} as const;

function weights(count: number, seed: number): Float32Array {
  const data = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = (state / 2 ** 32 - 0.5) * 0.1;
  }
  return data;
}

export function controlModel(): Uint8Array {
  const { rows, hidden, ffn } = CONTROL_SHAPE;
  const g = new GraphBuilder();
  const x = g.input("x", "float32", [rows, hidden]);
  const up = g.float("w_up", [hidden, ffn], weights(hidden * ffn, 1));
  const down = g.float("w_down", [ffn, hidden], weights(ffn * hidden, 2));
  const h = g.op("Relu", [g.op("MatMul", [x, up])]);
  g.node("MatMul", [h, down], "y");
  g.output("y", "float32", [rows, hidden]);
  return g.toBytes("effbench-drift-control");
}

async function main(): Promise<void> {
  const threads = Number(process.argv[2] ?? 1);
  const session = await ort.InferenceSession.create(controlModel(), {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    extra: { session: { "intra_op.allow_spinning": "0", "inter_op.allow_spinning": "0" } },
  });
  const feeds = {
    x: new ort.Tensor("float32", weights(CONTROL_SHAPE.rows * CONTROL_SHAPE.hidden, 3), [
      CONTROL_SHAPE.rows,
      CONTROL_SHAPE.hidden,
    ]),
  };
  const { latencyMs } = await measureLoop(() => session.run(feeds), CONTROL_PROTOCOL);
  await session.release();
  process.stdout.write(JSON.stringify({ latencyMs, onnxruntime: ort.env.versions.common }) + "\n");
}

if (process.argv[1]?.endsWith("control-child.ts")) await main();
