// The suite's `serve` settings: where the server comes from (managed `transformers serve`, or an external
// OpenAI-compatible endpoint), the load points to sweep (each a case), what bounds a point (a request count and/or a
// duration), the requests' lengths, and the SLO for goodput.
import { z } from "zod";
import { lengthsSchema, type Lengths } from "./lengths.js";

const positiveInt = z.number().int("expected a whole number").positive("expected a positive integer");

export const endpointSchema = z
  .object({
    /** Base URL of an OpenAI-compatible server the user runs (vLLM, SGLang, TGI, llama.cpp…), e.g. http://127.0.0.1:8000. */
    url: z.string().url("expected a URL such as http://127.0.0.1:8000"),
    /** The model name the server serves (the case identity includes it). */
    model: z.string().min(1),
    /** Name of the environment variable holding the API key; the key itself is never written anywhere. */
    apiKeyEnv: z.string().min(1).optional(),
    api: z.enum(["completions", "chat"]).default("completions"),
    /** Extra request fields the server accepts, e.g. vLLM's { ignore_eos: true } to force output lengths. */
    extras: z.record(z.string(), z.unknown()).default({}),
    /** Send stream_options.include_usage (token counts in the last chunk); turn off for servers that refuse it. */
    streamOptions: z.boolean().default(true),
    /** Adapter names the server serves (vLLM --lora-modules name=path …): requests spread over them. */
    adapters: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

export const serveSettingsSchema = z
  .object({
    /** Omitted: a managed `transformers serve` on 127.0.0.1 runs the case's model. */
    endpoint: endpointSchema.optional(),
    device: z.enum(["cpu", "cuda"]).default("cpu"),
    dtype: z.enum(["fp32", "fp16", "bf16"]).default("fp32"),
    continuousBatching: z.boolean().default(false),
    /** Paged KV-cache blocks under continuous batching. */
    cbNumBlocks: positiveInt.optional(),
    compile: z.boolean().default(false),
    /**
     * A managed CPU server's threads (torch intra-op). Default: all cores but one, the server pinned to them (Linux),
     * so that the load generator keeps a core and its send times stay on schedule; set it to use every core.
     */
    threads: positiveInt.optional(),
    /** Open-loop points: arrival rates in requests/s. */
    rates: z.array(z.number().positive("a rate is requests per second, > 0")).min(1).optional(),
    arrival: z.enum(["poisson", "constant"]).default("poisson"),
    /** Closed-loop points: requests kept in flight. */
    concurrency: z.array(positiveInt).min(1).optional(),
    /**
     * Requests per point. Without `durationS` the default is 16 and every request drains; with it, a cap on the
     * requests sent in the window (none when omitted).
     */
    requests: positiveInt.optional(),
    /** A duration bound: stop sending `durationS` seconds after the point's start (rates are over this window). */
    durationS: z.number().positive("a duration is seconds, > 0").optional(),
    /** Requests still in flight when `durationS` ends: `drain` (wait for each, up to requestTimeoutMs) or `cancel`. */
    inFlight: z.enum(["drain", "cancel"]).default("drain"),
    /** Each request's prompt and output lengths: the workload's (`fixed`), `uniform`, or a workload dataset's. */
    lengths: lengthsSchema.default({ kind: "fixed" }),
    requestTimeoutMs: positiveInt.default(60_000),
    serverStartTimeoutMs: positiveInt.default(300_000),
    /** Goodput counts the requests per second meeting both. */
    slo: z.object({ ttftMs: z.number().positive(), tpotMs: z.number().positive() }).strict().optional(),
    /** Requests spread over the endpoint's adapters: how many of them, and how. */
    adapterSpread: z
      .object({
        count: positiveInt,
        distribution: z.enum(["uniform", "zipf"]).default("uniform"),
        zipf: z.number().positive().default(1),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.inFlight === "cancel" && s.durationS === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["inFlight"],
        message:
          'cancel needs serve.durationS: a point bound only by its request count sends every request and waits for each — set durationS, or leave inFlight at "drain"',
      });
  });

/** Requests per point when neither a count nor a duration is given. */
export const DEFAULT_REQUESTS = 16;

/** What bounds a point: a request count (Infinity when only the duration does) and the duration, if any. */
export function pointBound(s: ServeSettings): { requests: number; durationMs?: number; inFlight: "drain" | "cancel" } {
  if (s.durationS === undefined) return { requests: s.requests ?? DEFAULT_REQUESTS, inFlight: "drain" };
  return { requests: s.requests ?? Infinity, durationMs: s.durationS * 1000, inFlight: s.inFlight };
}

/** The suite's serve settings; a planned case's settings also carry its load point (`points` below). */
export type ServeSettings = z.output<typeof serveSettingsSchema> & { point?: ServePoint };

declare module "../../src/runner/contract.js" {
  interface RunnerSettingsInputs {
    /** Settings of the serve runner (an OpenAI-compatible server under load). */
    serve: z.input<typeof serveSettingsSchema>;
  }
}

export type ServePoint =
  { kind: "open"; rate: number; arrival: "poisson" | "constant" } | { kind: "closed"; concurrency: number };

/** The load points a sweep asks for: each rate, then each concurrency (one closed-loop request if none given). */
export function servePoints(settings: ServeSettings): ServePoint[] {
  const points: ServePoint[] = [
    ...(settings.rates ?? []).map((rate) => ({ kind: "open" as const, rate, arrival: settings.arrival })),
    ...(settings.concurrency ?? []).map((concurrency) => ({ kind: "closed" as const, concurrency })),
  ];
  return points.length ? points : [{ kind: "closed", concurrency: 1 }];
}

/** One settings object per load point (the planner makes each a case), the point in it. */
export const pointVariants = (settings: ServeSettings): ServeSettings[] =>
  servePoints(settings).map((point) => ({ ...settings, point }));

/**
 * What joins the case key: the point, an external endpoint's served model name (its URL is recorded, not keyed), and
 * lengths or a duration bound other than the defaults (they change what is measured).
 */
export const pointKey = (settings: ServeSettings): Record<string, unknown> => ({
  ...(settings.point ? { point: settings.point } : {}),
  ...(settings.endpoint ? { endpointModel: settings.endpoint.model } : {}),
  ...(settings.lengths.kind !== "fixed" ? { lengths: settings.lengths } : {}),
  ...(settings.durationS !== undefined ? { durationS: settings.durationS, inFlight: settings.inFlight } : {}),
});

export const pointLabel = (p: ServePoint): string =>
  p.kind === "open" ? `${p.rate} req/s ${p.arrival}` : `concurrency ${p.concurrency}`;

const lengthsLabel = (l: Lengths): string | undefined =>
  l.kind === "uniform"
    ? `uniform lengths ${l.prompt.min}–${l.prompt.max}/${l.output.min}–${l.output.max}`
    : l.kind === "dataset"
      ? `${l.dataset} lengths`
      : undefined;

/** What the case name adds: the point, then non-default lengths and a duration bound. */
export function caseLabel(s: ServeSettings): string | undefined {
  const parts = [
    s.point ? pointLabel(s.point) : undefined,
    lengthsLabel(s.lengths),
    s.durationS !== undefined ? `${s.durationS} s ${s.inFlight}` : undefined,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : undefined;
}
