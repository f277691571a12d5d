// The ort runner's drift control: runs control-child.ts in its own process (as a case's repeat runs) with the
// case's intra-op thread count, so it shares the cases' CPU contention. CPU EP only.
import { execaNode } from "execa";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type { ControlOutcome, ControlSource } from "../../src/run/drift-control.js";
import { caseSettings } from "../../src/runner/registry.js";
import type { OrtSettings } from "./settings.js";
import { CONTROL_SHAPE } from "./control-child.js";
import { tsxLoader } from "../shared/child-repeat.js";

const childPath = fromRoot("runners/ort/control-child.ts");

export function ortControl(c: Case): ControlSource {
  const settings = caseSettings<OrtSettings>(c);
  const threads = settings.intraOpThreads;
  const { rows, hidden, ffn } = CONTROL_SHAPE;
  const key = `ort cpu: FFN MatMul ${rows}×${hidden}·${hidden}×${ffn}, Relu, ·${ffn}×${hidden} fp32, ${threads} intra-op thread(s)`;
  return {
    key,
    async measure(signal) {
      if (settings.executionProvider !== "cpu")
        return {
          status: "unsupported",
          reason: `the ort drift control runs on the CPU EP only; a ${settings.executionProvider} case's drift is not controlled`,
        };
      const result = await execaNode(childPath, [String(threads)], {
        nodeOptions: ["--import", tsxLoader()],
        reject: false,
        timeout: 60_000,
        cancelSignal: signal,
        stdout: "pipe",
        stderr: "pipe",
      });
      const line = String(result.stdout).trim().split("\n").at(-1) ?? "";
      if (result.exitCode !== 0 || !line.startsWith("{"))
        return {
          status: "failed",
          reason: `the ort control process ${result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`}: ${String(result.stderr).trim().slice(-500)}`,
        } satisfies ControlOutcome;
      const parsed = JSON.parse(line) as { latencyMs: number[]; onnxruntime: string };
      return {
        status: "completed",
        valuesMs: parsed.latencyMs,
        settings: { runner: "ort", executionProvider: "cpu", intraOpThreads: threads, onnxruntime: parsed.onnxruntime },
      };
    },
  };
}
