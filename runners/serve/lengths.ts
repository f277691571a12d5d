// Per-request prompt and output lengths of a serving point: the workload's fixed pair, a seeded uniform draw, or a
// seeded draw from a log-normal fitted to a datasets/workloads summary (a mean or a median, no spread: the shape and
// its σ are a stated assumption, recorded with each result). Same seed ⇒ same lengths on every machine.
import { z } from "zod";
import { createRng, normalDraw } from "../../src/measure/stats.js";
import { WORKLOAD_DATASETS } from "../../datasets/workloads/index.js";

const positiveInt = z.number().int("expected a whole number").positive("expected a positive integer");

/** The workload datasets a `lengths: { kind: "dataset" }` may name (datasets/workloads/). */
export const LENGTH_DATASET_IDS = WORKLOAD_DATASETS.map((d) => d.id) as [string, ...string[]];

const range = z
  .object({ min: positiveInt, max: positiveInt })
  .strict()
  .refine((r) => r.min <= r.max, { message: "min is above max", path: ["max"] });

export const lengthsSchema = z.discriminatedUnion(
  "kind",
  [
    /** Every request: the workload's promptTokens and newTokens. */
    z.object({ kind: z.literal("fixed") }).strict(),
    /** Each request's lengths drawn uniformly (whole tokens, bounds included). */
    z.object({ kind: z.literal("uniform"), prompt: range, output: range }).strict(),
    /** Each request's lengths drawn from a log-normal fitted to the dataset's mean (else median), spread `sigma`. */
    z
      .object({
        kind: z.literal("dataset"),
        dataset: z.enum(LENGTH_DATASET_IDS, {
          error: `unknown workload dataset — known: ${LENGTH_DATASET_IDS.join(", ")} (datasets/workloads/)`,
        }),
        /** σ of the log-normal (of ln length): the files give no spread, so it is assumed (recorded with the result). */
        sigma: z
          .number()
          .positive("σ is > 0")
          .max(3, "σ above 3 draws mostly 1-token or context-long lengths")
          .default(1),
        /** Caps on the drawn lengths (a CPU run cannot generate ShareGPT's ~2k-token tails in its budget). */
        maxPromptTokens: positiveInt.optional(),
        maxNewTokens: positiveInt.optional(),
      })
      .strict(),
  ],
  { error: 'expected kind "fixed" (the workload\'s lengths), "uniform" or "dataset"' },
);

export type Lengths = z.output<typeof lengthsSchema>;

export interface IntendedLength {
  prompt: number;
  output: number;
}

/** ln-space μ of a log-normal with this mean (μ = ln m − σ²/2) or, without a mean, this median (μ = ln m). */
function fit(stats: { mean?: number | null; median?: number | null }, sigma: number, side: string, id: string) {
  if (typeof stats.mean === "number")
    return { fittedTo: `mean ${stats.mean}`, mu: Math.log(stats.mean) - (sigma * sigma) / 2 };
  if (typeof stats.median === "number") return { fittedTo: `median ${stats.median}`, mu: Math.log(stats.median) };
  throw new Error(`workload dataset ${id} has neither a mean nor a median ${side} length to fit lengths to`);
}

/** A seeded draw of each request's intended lengths, extended on demand (a duration-bound closed loop). */
export class LengthSampler {
  private readonly drawn: Array<IntendedLength & { clippedPrompt: boolean; clippedOutput: boolean }> = [];
  private readonly rng: () => number;
  private readonly draw: () => { prompt: number; output: number };
  private readonly promptCap: number;
  private readonly outputCap: number;
  /** What the lengths are and how they were drawn, recorded with each result. */
  readonly description: Record<string, unknown>;

  constructor(
    readonly spec: Lengths,
    private readonly fixed: IntendedLength,
    private readonly contextTokens: number,
    seed: number,
  ) {
    this.rng = createRng(seed ^ 0x1e6e7a5);
    const capOf = (cap: number | undefined) => cap ?? Infinity;
    this.promptCap = Math.min(spec.kind === "dataset" ? capOf(spec.maxPromptTokens) : Infinity, contextTokens - 1);
    this.outputCap = spec.kind === "dataset" ? capOf(spec.maxNewTokens) : Infinity;
    const clip = {
      prompt: `[1, ${this.promptCap}]`,
      output: `[1, ${Number.isFinite(this.outputCap) ? `min(${this.outputCap}, ` : "("}${contextTokens} − prompt)]`,
      why: `the model's context is ${contextTokens} positions${spec.kind === "dataset" && (spec.maxPromptTokens || spec.maxNewTokens) ? "; caps from serve.lengths" : ""}`,
    };
    if (spec.kind === "fixed") {
      this.draw = () => ({ ...fixed });
      this.description = {
        kind: "fixed",
        prompt: fixed.prompt,
        output: fixed.output,
        source: "the workload's promptTokens and newTokens, every request",
      };
    } else if (spec.kind === "uniform") {
      const uniform = (r: { min: number; max: number }) => r.min + Math.floor(this.rng() * (r.max - r.min + 1));
      this.draw = () => ({ prompt: uniform(spec.prompt), output: uniform(spec.output) });
      this.description = {
        kind: "uniform",
        prompt: { distribution: "uniform (whole tokens, bounds included)", ...spec.prompt },
        output: { distribution: "uniform (whole tokens, bounds included)", ...spec.output },
        clip,
      };
    } else {
      const dataset = WORKLOAD_DATASETS.find((d) => d.id === spec.dataset)!;
      const { sigma } = spec;
      const prompt = fit(dataset.prompt, sigma, "prompt", dataset.id);
      const output = fit(dataset.generation, sigma, "generation", dataset.id);
      const logNormal = (mu: number) => Math.round(Math.exp(mu + sigma * normalDraw(this.rng)));
      this.draw = () => ({ prompt: logNormal(prompt.mu), output: logNormal(output.mu) });
      this.description = {
        kind: "dataset",
        dataset: dataset.id,
        source: dataset.dataset,
        tokenizer: dataset.tokenizer ?? "not stated by the source",
        assumption: `${dataset.id} is summarised by a mean or a median only: each length is drawn from a log-normal fitted to it with an assumed σ = ${sigma} (ln-space), rounded to whole tokens and clipped — an assumed shape, not the dataset's own distribution`,
        prompt: { distribution: "log-normal", fittedTo: prompt.fittedTo, mu: prompt.mu, sigma },
        output: { distribution: "log-normal", fittedTo: output.fittedTo, mu: output.mu, sigma },
        clip,
      };
    }
  }

  /** The i-th request's lengths (drawn in request order, so a prefix never depends on how many follow). */
  at(i: number): IntendedLength {
    while (this.drawn.length <= i) {
      const raw = this.draw();
      if (this.spec.kind === "fixed") {
        this.drawn.push({ ...raw, clippedPrompt: false, clippedOutput: false });
        continue;
      }
      const prompt = Math.min(Math.max(raw.prompt, 1), this.promptCap);
      const output = Math.min(Math.max(raw.output, 1), this.outputCap, this.contextTokens - prompt);
      this.drawn.push({ prompt, output, clippedPrompt: prompt !== raw.prompt, clippedOutput: output !== raw.output });
    }
    const { prompt, output } = this.drawn[i]!;
    return { prompt, output };
  }

  /** The intended lengths of the first `n` requests: mean, min, max, and how many draws were clipped. */
  summary(n: number): Record<string, unknown> {
    const first = this.drawn.slice(0, n);
    const stats = (xs: number[]) =>
      xs.length
        ? {
            mean: xs.reduce((a, b) => a + b, 0) / xs.length,
            min: xs.reduce((a, b) => Math.min(a, b)),
            max: xs.reduce((a, b) => Math.max(a, b)),
          }
        : null;
    return {
      requests: first.length,
      prompt: stats(first.map((l) => l.prompt)),
      output: stats(first.map((l) => l.output)),
      ...(this.spec.kind === "fixed"
        ? {}
        : {
            clippedDraws: {
              prompt: first.filter((l) => l.clippedPrompt).length,
              output: first.filter((l) => l.clippedOutput).length,
            },
          }),
    };
  }
}
