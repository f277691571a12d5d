// The managed server's model directory: the case's model written as a Hugging Face directory from the project's own
// seeded weights (src/model: the tensors the other runners run, already in Hugging Face naming) — config.json with
// `architectures`, model.safetensors, the synthetic tokenizer, and a generation config with no eos token, so every
// request generates exactly its max_tokens (transformers serve refuses `ignore_eos` / `min_tokens` with HTTP 422).
// A LoRA / RSLoRA adapter is a peft adapter directory beside the base's files, which transformers loads through peft
// and serves unmerged. Written in TypeScript (no Python start), cached per model and adapter.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Case } from "../../src/suite/case.js";
import { fromRoot } from "../../src/paths.js";
import { writeSyntheticTokenizer } from "../../src/model/synthetic-tokenizer.js";
import { buildModelIr, isFloatTensor } from "../../src/model/ir.js";
import { caseBaseWeights } from "../../src/model/case-model.js";
import { writeSafetensors } from "../../src/model/safetensors.js";
import type { Tensor } from "../../src/model/weights.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { targetProjections, type AdapterParams } from "../../src/techniques/adapters.js";
import type { ModelConfig } from "../../src/suite/schema.js";
import { SERVED_ADAPTER_KINDS } from "./support.js";

/** Bumped when what a directory holds changes, so that stale cache entries are rewritten. */
const DIR_FORMAT = 4;

export interface ServedModel {
  /** The directory `transformers serve` is started on (the adapter's, for an adapter technique). */
  dir: string;
  /** How the model is served (architecture, adapter placement), recorded with each result. */
  notes: Record<string, unknown>;
}

const cacheRoot = () => process.env.EFFBENCH_SERVE_CACHE ?? fromRoot(".cache/serve");
const hash = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 20);

/** config.json: Llama, or Qwen2 when the model has q/k/v biases (Llama's attention_bias would add one to o_proj). */
export function hfConfig(model: ModelConfig): Record<string, unknown> {
  const qwen2 = model.attentionBias;
  return {
    architectures: [qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    model_type: qwen2 ? "qwen2" : "llama",
    vocab_size: model.vocab,
    hidden_size: model.hidden,
    intermediate_size: model.ffn,
    num_hidden_layers: model.layers,
    num_attention_heads: model.heads,
    num_key_value_heads: model.kvHeads ?? model.heads,
    head_dim: model.headDim ?? model.hidden / model.heads,
    max_position_embeddings: model.maxPositions,
    rope_parameters: { rope_theta: model.ropeTheta, rope_type: "default" },
    rms_norm_eps: model.rmsNormEps,
    tie_word_embeddings: model.tieEmbeddings,
    hidden_act: "silu",
    ...(qwen2 ? { use_sliding_window: false } : { attention_bias: false, mlp_bias: false }),
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
    dtype: "float32",
    use_cache: true,
  };
}

function atomically(out: string, write: (dir: string) => void): void {
  const temporary = `${out}.${process.pid}.tmp`;
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary, { recursive: true });
  try {
    write(temporary);
    rmSync(out, { recursive: true, force: true });
    renameSync(temporary, out);
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
}

function writeBase(c: Case, dir: string): void {
  const ir = buildModelIr(c.model, caseBaseWeights(c));
  const tensors = new Map<string, Tensor>();
  for (const [name, tensor] of ir.tensors)
    if (isFloatTensor(tensor) && !(c.model.tieEmbeddings && name === "lm_head.weight")) tensors.set(name, tensor);
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt", producer: "effbench" });
  writeFileSync(join(dir, "config.json"), JSON.stringify(hfConfig(c.model), null, 2));
  writeFileSync(
    join(dir, "generation_config.json"),
    JSON.stringify({ do_sample: false, eos_token_id: null, bos_token_id: null, pad_token_id: 0 }, null, 2),
  );
  writeSyntheticTokenizer(dir, c.model.vocab, c.model.maxPositions);
}

function writeAdapter(c: Case, baseDir: string, dir: string): string[] {
  const p = c.technique as AdapterParams;
  const ir = buildModelIr(c.model, caseBaseWeights(c));
  const adapted = getTechnique(p.kind).rewriteIr!(ir, { ...p, merged: false, base: "fp32" });
  const tensors = new Map<string, Tensor>();
  for (const [name, tensor] of adapted.tensors)
    if ((name.includes(".lora_A.") || name.includes(".lora_B.")) && isFloatTensor(tensor))
      tensors.set(`base_model.model.${name}`, tensor);
  if (tensors.size === 0) throw new Error(`technique ${p.kind} wrote no lora_A / lora_B tensors`);
  writeSafetensors(join(dir, "adapter_model.safetensors"), tensors, { format: "pt", producer: "effbench" });
  const targets = targetProjections(p);
  writeFileSync(
    join(dir, "adapter_config.json"),
    JSON.stringify(
      {
        peft_type: "LORA",
        task_type: "CAUSAL_LM",
        base_model_name_or_path: baseDir,
        r: p.rank,
        lora_alpha: p.alpha,
        target_modules: targets,
        use_rslora: p.kind === "rslora",
        use_dora: false,
        lora_dropout: 0,
        bias: "none",
        fan_in_fan_out: false,
        inference_mode: true,
      },
      null,
      2,
    ),
  );
  // With a config.json beside the adapter, transformers loads the base weights from the same directory and peft then
  // injects the adapter (unmerged): the base's files are linked in, the tokenizer written again.
  for (const f of ["config.json", "generation_config.json", "model.safetensors"])
    symlinkSync(join(baseDir, f), join(dir, f));
  writeSyntheticTokenizer(dir, c.model.vocab, c.model.maxPositions);
  return targets;
}

/** The case's model directory, written on first use (synthesised models only: the runner refuses the others). */
export async function ensureServedModel(c: Case): Promise<ServedModel> {
  const { name: _name, ...model } = c.model;
  const architecture = hfConfig(c.model).architectures as string[];
  const baseDir = join(cacheRoot(), `base-v${DIR_FORMAT}-${hash({ model })}`);
  if (!existsSync(join(baseDir, "config.json"))) atomically(baseDir, (dir) => writeBase(c, dir));
  if (!SERVED_ADAPTER_KINDS.has(c.technique.kind)) return { dir: baseDir, notes: { architecture: architecture[0] } };
  const p = c.technique as AdapterParams;
  const adapter = { kind: p.kind, rank: p.rank, alpha: p.alpha, targets: p.targets };
  const adapterDir = join(cacheRoot(), `adapter-v${DIR_FORMAT}-${hash({ model, adapter })}`);
  if (!existsSync(join(adapterDir, "adapter_config.json")))
    atomically(adapterDir, (dir) => writeAdapter(c, baseDir, dir));
  const config = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8")) as {
    target_modules: string[];
  };
  return {
    dir: adapterDir,
    notes: {
      architecture: architecture[0],
      adapter: "unmerged: a peft adapter directory transformers loads through peft (LoraLayer forward)",
      adapterTargets: config.target_modules,
    },
  };
}
