// Technique configurations as the papers ran them, in one place so that every suite says "MixLoRA" the same way.
// Parameter names follow the technique files (src/techniques/<kind>.ts); if a technique file names a parameter
// differently, this is the one file to change (re-check with `node bin/bench.js list suites/<suite>.ts`).
import type { SuiteInput } from "../src/suite/schema.js";

type TechniqueInput = NonNullable<SuiteInput["techniques"]>[number];
/** A technique whose kind may not be registered yet: suites validate it when they load. */
type Preset = TechniqueInput | (Record<string, unknown> & { kind: string });

/** Types a technique whose file may not have landed yet; the suite loader validates it against the registry. */
export const asTechnique = (preset: Preset): TechniqueInput => preset as TechniqueInput;

/** The projections peft's LoRA targets when told "all linear" (attention and MLP). */
export const ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;

// ── EfficientLLM (arXiv 2505.13840): fine-tuning with LoRA r 64, α 128; inference at bf16/fp16/int4 ─────────────

export const EFFICIENTLLM = {
  full: asTechnique({ kind: "base", name: "full fine-tuning" }),
  lora: asTechnique({ kind: "lora", rank: 64, alpha: 128, targets: [...ALL_LINEAR], merged: false }),
  rslora: asTechnique({ kind: "rslora", rank: 64, alpha: 128, targets: [...ALL_LINEAR], merged: false }),
  dora: asTechnique({ kind: "dora", rank: 64, alpha: 128, targets: [...ALL_LINEAR], merged: false }),
  /** QLoRA: LoRA r 64 α 128, unmerged, on a 4-bit block-quantised frozen base. */
  qlora: asTechnique({ kind: "lora", rank: 64, alpha: 128, targets: [...ALL_LINEAR], merged: false, base: "int4" }),
  bf16: asTechnique({ kind: "bf16" }),
  fp16: asTechnique({ kind: "fp16" }),
  int8: asTechnique({ kind: "int8" }),
  /** Block-wise int4 (block 32, symmetric), the MatMulNBits / _weight_int4pack_mm layout. */
  int4: asTechnique({ kind: "int4", blockSize: 32, symmetric: true }),
} as const;

// ── Mixtures of LoRA experts (the seed papers) ─────────────────────────────────────────────────────────────────

export const MOE_LORA = {
  /** MixLoRA (arXiv 2404.15159): 8 LoRA experts on the FFN, top-2, r 8, α 16, plus LoRA on attention; aux loss 0.01. */
  mixlora: asTechnique({
    kind: "mixlora",
    experts: 8,
    topK: 2,
    rank: 8,
    alpha: 16,
    attentionLora: true,
    auxLossCoefficient: 0.01,
  }),
  /** LLaVA-MoLE (arXiv 2401.16160): MixLoRA-like, top-1 on the MLP only. */
  llavaMole: asTechnique({ kind: "mixlora", experts: 8, topK: 1, rank: 8, alpha: 16, attentionLora: false }),
  /** LoRAMoE (arXiv 2312.09979): 8 LoRA experts of rank 4, dense (soft) routing over all of them. */
  loramoe: asTechnique({ kind: "loramoe", experts: 8, rank: 4, alpha: 8 }),
  /** MoLA (arXiv 2402.08562) "▽" allocation: 2/4/6/8 experts from the lower to the upper quarter of layers, top-2. */
  mola: asTechnique({ kind: "mola", expertsPerLayerGroup: [2, 4, 6, 8], topK: 2, rank: 8, alpha: 16 }),
  /** X-LoRA (arXiv 2402.07148): a scaling pass over frozen adapters, then the adapted pass. */
  xlora: asTechnique({ kind: "xlora", experts: 4, rank: 8, alpha: 16 }),
  /** SMoRA/MoRA-style rank-wise experts: each rank-1 piece of a rank-64 update is an expert, 8 active. */
  smora: asTechnique({ kind: "smora", rank: 64, topK: 8, alpha: 128 }),
  /** The single-LoRA baseline the MoLE papers compare with (r 8, α 16 on all linear layers). */
  lora: asTechnique({ kind: "lora", rank: 8, alpha: 16, targets: [...ALL_LINEAR], merged: false }),
} as const;
