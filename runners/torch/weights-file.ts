// The safetensors file a torch case loads: the harness's own seeded weights (src/model/weights.ts) and, for
// adapters, the technique's seeded lora_A / lora_B / lora_magnitude_vector (src/techniques/adapters.ts), so that
// ort and torch run the very same numbers. Written once per (model, adapter) into a cache directory.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import { buildModelIr, isFloatTensor, type ModelIr } from "../../src/model/ir.js";
import { writeSafetensors } from "../../src/model/safetensors.js";
import type { Tensor } from "../../src/model/weights.js";
import { caseBaseWeights } from "../../src/model/case-model.js";
import { checkpointFingerprint } from "../../src/model/checkpoint.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { denseStoredStacks } from "../../src/model/moe-compressed.js";
import { compressedTensorNames, moePrefix } from "../../src/model/moe.js";

/** Bumped when what the file holds changes, so that stale cache entries are not reused. */
const WEIGHTS_FORMAT = 2;
/** The technique's family, from the one technique registry. Mixtures of LoRA experts (`mole`, docs/mole.md): the
 * file holds the technique's IR rewrite as is (experts, routers, X-LoRA's classifier), under the names
 * runners/torch/mole.py gives its modules. */
const familyOf = (c: Case) => getTechnique(c.technique.kind).family;
/** MoE compression (family `moe-compression`, docs/moe.md): the file holds the compressed experts as dense stacks
 * [S, 2I, H] / [S, H, I] under the HF names (factorised experts multiplied out), the kept router rows, and
 * `mlp.expert_map` [E] (router slot → stored expert) where groups were merged; runners/torch/moe_block.py reads the
 * shapes from the file. */
const COMPRESSION_FAMILY = "moe-compression";

export const defaultWeightsCacheDir = (): string => process.env.EFFBENCH_WEIGHTS_CACHE ?? fromRoot(".cache/weights");

/**
 * The adapter part of a technique that decides the file's contents. A merged adapter or one over an int4 base
 * gets the unmerged fp32 tensors: the worker merges (merge_and_unload) or quantises itself, as a user would.
 */
function adapterOf(c: Case): Record<string, unknown> | undefined {
  if (familyOf(c) === "mole" || familyOf(c) === COMPRESSION_FAMILY) return { ...c.technique, name: undefined };
  if (familyOf(c) !== "adapter") return undefined;
  const t = c.technique as Record<string, unknown>;
  // DoRA over int4: its magnitude is the row norm of the dequantised weight (as the ort graph has it), not the fp32 one.
  return {
    kind: t.kind,
    rank: t.rank,
    alpha: t.alpha,
    targets: t.targets,
    base: t.kind === "dora" && t.base === "int4" ? "int4" : undefined,
  };
}

export function weightsKey(c: Case): string {
  const { name: _name, ...model } = c.model;
  return createHash("sha256")
    .update(
      JSON.stringify({
        format: WEIGHTS_FORMAT,
        model,
        adapter: adapterOf(c) ?? null,
        routingSkew: c.model.moe || familyOf(c) === "mole" ? c.workload.routingSkew : 0,
        ...(c.model.checkpoint ? { checkpoint: checkpointFingerprint(c.model.checkpoint) } : {}),
      }),
    )
    .digest("hex")
    .slice(0, 20);
}

/** The IR whose float tensors go into the file: the base model, plus unmerged adapters when the technique has them. */
export function weightsIr(c: Case): ModelIr {
  // A checkpoint's own weights, or synthesised ones (MoE: the workload's routing skew is a router bias, as the ort graphs have it).
  const ir = buildModelIr(c.model, caseBaseWeights(c));
  const adapter = adapterOf(c);
  if (!adapter) return ir;
  const technique = getTechnique(c.technique.kind);
  if (!technique.rewriteIr) throw new Error(`technique ${c.technique.kind} has no weights to write`);
  if (familyOf(c) === COMPRESSION_FAMILY) return denseCompressedExperts(technique.rewriteIr(ir, c.technique));
  // Routers of mixtures of LoRA experts carry the workload's routing skew as a logit bias (docs/mole.md).
  if (familyOf(c) === "mole") return technique.rewriteIr(ir, c.technique, { routingSkew: c.workload.routingSkew });
  const adapted = technique.rewriteIr(ir, { ...c.technique, merged: false, base: "fp32" });
  if (adapter.base === "int4") {
    // The fp32 base and adapters, with DoRA's magnitude taken from the int4 rewrite (norms of the dequantised rows).
    for (const [name, tensor] of technique.rewriteIr(ir, { ...c.technique, merged: false }).tensors)
      if (name.endsWith("lora_magnitude_vector")) adapted.tensors.set(name, tensor);
  }
  return adapted;
}

/** A compressed MoE's IR with its experts as dense stacks under the HF names, plus the slot → stored expert map. */
function denseCompressedExperts(ir: ModelIr): ModelIr {
  const tensors = new Map(ir.tensors);
  ir.layers.forEach((layer, index) => {
    const ffn = layer.ffn;
    if (ffn.kind !== "moe" || !ffn.compressed) return;
    const dense = denseStoredStacks(ir, ffn);
    for (const name of compressedTensorNames(ffn)) tensors.delete(name);
    tensors.set(ffn.gateUp, dense.gateUp);
    tensors.set(ffn.down, dense.down);
    if (ffn.compressed.expertMap)
      tensors.set(`${moePrefix(index)}.expert_map`, {
        shape: [ffn.experts],
        data: Float32Array.from(ffn.compressed.expertMap),
      });
  });
  return { ...ir, tensors };
}

/** Path of the case's weights file, written (atomically) on first use. */
export function ensureWeightsFile(c: Case, cacheDir = defaultWeightsCacheDir()): string {
  const path = join(cacheDir, `${weightsKey(c)}.safetensors`);
  if (existsSync(path)) return path;
  mkdirSync(cacheDir, { recursive: true });
  const tensors = new Map<string, Tensor>();
  for (const [name, tensor] of weightsIr(c).tensors) if (isFloatTensor(tensor)) tensors.set(name, tensor);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeSafetensors(temporary, tensors, { producer: "effbench", model: c.model.name, technique: c.technique.kind });
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
  return path;
}
