// One repeat of one llamacpp case, in its own process (as the ort runner's): write or find the case's GGUF files,
// load llama.cpp, warm up, measure, then (repeat 0) fidelity against the F32 base; raw samples go to the parent over IPC.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Case } from "../../src/suite/case.js";
import type { RepeatOutcome, SampleSeries, ScalarMeasure } from "../../src/runner/contract.js";
import { measureLoop } from "../shared/measure-loop.js";
import { readPeakRssBytes, resetPeakRss } from "../shared/proc.js";
import { dieWithParent } from "../shared/parent-watch.js";
import { llamacppSettingsOf } from "./settings.js";
import { baseModelFile, prepareCaseFiles, type CaseFiles } from "./prepare.js";
import { createContext, loadLlama, loadModel, runSettings } from "./session.js";
import { contextSizeOf, scenarioRun } from "./scenarios.js";
import { nodeLlamaCppVersion } from "./version.js";
import { registerQuantTechnique } from "./quant-technique.js";
import { ggufTypeSummary } from "../../src/model/gguf-model.js";
import { fidelityMeasures, fidelityPromptOf, nextTokenLogProbs } from "./fidelity.js";

/** The runner's GGUF cache folder, shared by the children of one run. */
export const LLAMACPP_CACHE_DIR_VARIABLE = "EFFBENCH_LLAMACPP_CACHE_DIR";

export type ChildMessage =
  { type: "window"; phase: "measure-start" | "measure-end" } | { type: "result"; outcome: RepeatOutcome };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

registerQuantTechnique(); // a case's technique may be it
process.on("disconnect", () => process.exit(70));
if (process.send) dieWithParent();

function cacheDir(): string {
  const shared = process.env[LLAMACPP_CACHE_DIR_VARIABLE];
  if (shared) return shared;
  const own = join(tmpdir(), `effbench-llamacpp-cache-${process.pid}`);
  process.once("exit", () => rmSync(own, { recursive: true, force: true }));
  return own;
}

function fileFacts(c: Case, files: CaseFiles): Record<string, unknown> {
  const local = c.model.gguf;
  return {
    ggufFileType: local ? (local.fileType ?? "unknown (no general.file_type)") : files.fileType,
    ...(local
      ? {
          ggufFile: local.path,
          ggufIdentity: local.identity,
          ggufTensorMix: ggufTypeSummary(local),
          ggufArchitecture: local.architecture,
        }
      : {}),
    ggufBytes: files.model.bytes,
    ggufTensorTypes: files.model.tensorTypes,
    ...(files.model.notes.length ? { ggufNotes: files.model.notes } : {}),
    ...(files.adapter
      ? {
          adapter: `GGUF LoRA adapter attached at context creation (unmerged): alpha ${files.adapter.alpha}, rank ${files.adapter.rank}, ${files.adapter.bytes} bytes`,
        }
      : {}),
    tokenizer: local
      ? "the local file's own tokenizer (seeded token ids below its vocabulary are fed directly)"
      : "synthetic SentencePiece-style vocabulary in the GGUF (token ids are fed directly)",
  };
}

export async function runLlamacppRepeat(c: Case, repeat: number, onWindow = send): Promise<RepeatOutcome> {
  const settings = llamacppSettingsOf(c);
  const dir = cacheDir();
  const files = prepareCaseFiles(c, dir);
  (globalThis as { gc?: () => void }).gc?.(); // the synthesised weights are no longer needed
  let llama;
  try {
    llama = await loadLlama(settings);
  } catch (error) {
    return {
      status: "unsupported",
      reason: `llama.cpp's ${settings.gpu} backend does not load here: ${(error as Error).message.split("\n")[0]}`,
    };
  }
  const model = await loadModel(llama, files.model.path, settings);
  const adapters = files.adapter ? [{ filePath: files.adapter.path }] : undefined;
  const context = await createContext(model, settings, {
    contextSize: contextSizeOf(c, settings),
    sequences: c.scenario === "adapter-swap" ? 1 : c.workload.batch,
    adapters,
  });
  const recorded = runSettings(llama, model, context, settings);
  const run = await scenarioRun(
    c,
    model,
    context,
    settings,
    files.adapter && files.negatedAdapter ? [files.negatedAdapter.path, files.adapter.path] : undefined,
  );
  resetPeakRss();
  const { latencyMs, windowMs } = await measureLoop(run.iteration, c.protocol, {
    onMeasureStart: () => onWindow({ type: "window", phase: "measure-start" }),
  });
  await onWindow({ type: "window", phase: "measure-end" });
  const peakRssBytes = readPeakRssBytes();
  await run.close();
  const series: SampleSeries[] = [{ metric: "latency_ms", unit: "ms", values: latencyMs }];
  for (const [metric, values] of Object.entries(run.extra))
    if (values.length) series.push({ metric, unit: "ms", values: values.slice(-latencyMs.length) });
  const scalars: ScalarMeasure[] = [
    peakRssBytes === null
      ? { metric: "peak_rss_bytes", unit: "B", value: null, reason: "/proc/self/status not readable" }
      : { metric: "peak_rss_bytes", unit: "B", value: peakRssBytes },
  ];
  if (c.model.moe)
    scalars.push({
      metric: "dropped_tokens",
      unit: "tokens",
      value: null,
      reason: "llama.cpp's expert routing is not observable through node-llama-cpp (and it never drops tokens)",
    });
  if (c.model.perplexityText)
    scalars.push({
      metric: "perplexity",
      unit: "ppl",
      value: null,
      reason: "not measured on llamacpp: the GGUF holds a synthetic vocabulary, not the checkpoint's tokenizer",
    });
  if (c.model.gguf) {
    // No fp32 reference exists for a file the harness did not write (and does not read): never a made-up 0.
    const reason = `no reference for a local GGUF file: its fp32 weights are not available to the harness (the file is ${c.model.gguf.fileType ?? "as stored"}); give the model's checkpoint directory to measure fidelity against fp32`;
    for (const [metric, unit] of [
      ["kl_base_technique", "nats"],
      ["top1_agreement", "ratio"],
    ] as const)
      scalars.push({ metric, unit, value: null, reason });
  } else if (repeat === 0 && c.technique.kind !== "base") {
    try {
      const ids = fidelityPromptOf(c);
      const technique = await nextTokenLogProbs(model, settings, ids, c.model.vocab, adapters);
      await model.dispose();
      const baseModel = await loadModel(llama, baseModelFile(c, dir, "f32").path, settings);
      const base = await nextTokenLogProbs(baseModel, settings, ids, c.model.vocab);
      await baseModel.dispose();
      scalars.push(...fidelityMeasures(base, technique, c.model.vocab, ids.length));
    } catch (error) {
      scalars.push({
        metric: "kl_base_technique",
        unit: "nats",
        value: null,
        reason: `fidelity not computed: ${(error as Error).message}`,
      });
    }
  }
  await llama.dispose();
  return {
    status: "completed",
    series,
    scalars,
    tokensPerIteration: run.tokensPerIteration,
    measureWindowMs: windowMs,
    settings: { ...recorded, ...fileFacts(c, files), ...run.settings, nodeLlamaCpp: NODE_LLAMA_CPP_VERSION },
    details: { repeat },
  };
}

const NODE_LLAMA_CPP_VERSION = nodeLlamaCppVersion();

async function main(): Promise<void> {
  const c = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Case;
  const repeat = Number(process.argv[3] ?? 0);
  const outcome = await runLlamacppRepeat(c, repeat).catch((error: unknown) => ({
    status: "failed" as const,
    reason: error instanceof Error ? error.message : String(error),
  }));
  await send({ type: "result", outcome });
  process.disconnect();
}

if (process.send) await main();
else if (process.argv[2]) {
  // Run by hand for debugging: node --import tsx runners/llamacpp/child.ts case.json
  const c = JSON.parse(readFileSync(process.argv[2], "utf8")) as Case;
  writeFileSync(1, JSON.stringify(await runLlamacppRepeat(c, 0, async () => {})) + "\n");
}
