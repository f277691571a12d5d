// `bench export` for ort cases: the exact ONNX graph the case runs, with its inputs, for Netron or another tool.
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";

export async function exportOrtCase(c: Case): Promise<{ bytes: Uint8Array; summary: string }> {
  if (c.scenario !== "prefill" && c.scenario !== "decode")
    throw new Error(
      `the ${c.scenario} scenario has no ONNX graph (only prefill and decode do) — pick a prefill or decode case from \`bench list\``,
    );
  if (c.technique.kind !== "base" && !getTechnique(c.technique.kind).rewriteIr)
    throw new Error(`technique ${c.technique.kind} has no ONNX form (it runs on the torch runner only)`);
  const { prepareOrtCase } = await import("./prepare.js");
  const prepared = await prepareOrtCase(c, 0);
  return {
    bytes: prepared.modelBytes,
    summary: `inputs: ${Object.entries(prepared.feeds)
      .map(([k, t]) => `${k} ${t.type}[${t.dims.join(",")}]`)
      .join(", ")}`,
  };
}
