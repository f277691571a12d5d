// Drives one load point: open loop (requests sent at their seeded intended times, whatever is in flight) or closed
// loop (N requests in flight, the next sent when one ends), bounded by a request count and/or a duration (then the
// requests in flight at its end drain or are cancelled). Each request's intended and actual send time are kept:
// their difference, the send lag, says whether the client kept to the schedule.
import { setMaxListeners } from "node:events";
import http from "node:http";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { arrivalOffsetsMs, type LoadShape } from "./schedule.js";
import type { RequestRow } from "../../src/runner/contract.js";
import { buildBody, streamRequest, type StreamRequest, type StreamResult, type StreamTarget } from "./stream.js";

export interface PlannedRequest {
  model: string;
  prompt: string;
  maxTokens: number;
  /** The adapter this request names, when requests spread over adapters. */
  adapter?: string;
  /** The prompt length the request was built for (tokens of the synthetic tokenizer), when known. */
  intendedPromptTokens?: number;
}

/** Requests planned on demand: how many at most (Infinity: until the duration ends) and the i-th. */
export interface RequestPlan {
  count: number;
  at: (i: number) => PlannedRequest;
}

/** One request's measures (runners/runner.ts RequestRow); times in ms from the point's start. */
export type RequestRecord = RequestRow;

export interface PointOptions {
  target: StreamTarget;
  shape: LoadShape;
  requests: PlannedRequest[] | RequestPlan;
  seed: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Stop sending this many ms after the point's start (a duration-bound point). */
  durationMs?: number;
  /** Requests in flight when the duration ends: wait for them (each up to timeoutMs) or cancel them. */
  inFlight?: "drain" | "cancel";
  /** Called after each request ends, with how many have ended. */
  onRequestEnd?: (ended: number) => void;
}

export interface PointResult {
  records: RequestRecord[];
  /** First intended send to last end of stream, ms. */
  windowMs: number;
  /**
   * The window request/s and token/s are computed over: the stated duration of a duration-bound point (only
   * requests that completed within it count), else the span from the first intended send to the last end.
   */
  rateWindow: { kind: "duration" | "span"; ms: number };
  /** Every gap between text events of the completed requests (the ITL distribution), ms. */
  gapsMs: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How early the timer wakes before a send time: timers fire late by up to a few ms on a busy machine. */
const TIMER_MARGIN_MS = 5;

/**
 * Resolves at `time` (performance.now() ms): sleeps on a timer until TIMER_MARGIN_MS before it, then yields to the
 * event loop (so responses keep being read) until it is reached.
 */
export async function waitUntil(time: number): Promise<void> {
  const ahead = time - performance.now();
  if (ahead > TIMER_MARGIN_MS + 1) await sleep(ahead - TIMER_MARGIN_MS);
  while (performance.now() < time) await yieldToLoop();
}

const gapsOf = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

function gapSummary(times: number[]): RequestRecord["itl"] {
  if (times.length < 2) return null;
  const gaps = gapsOf(times).sort((a, b) => a - b);
  const at = (p: number) => gaps[Math.min(gaps.length - 1, Math.ceil(p * gaps.length) - 1)]!;
  return {
    count: gaps.length,
    meanMs: gaps.reduce((a, b) => a + b, 0) / gaps.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: gaps[gaps.length - 1]!,
  };
}

export function toRecord(
  index: number,
  planned: PlannedRequest,
  intended: number,
  result: StreamResult,
  start: number,
  windowEnd?: number,
): RequestRecord {
  const first = result.contentTimes[0];
  const ttftMs = first === undefined ? null : first - result.sentAt;
  const e2eMs = result.endAt - result.sentAt;
  const out = result.outputTokens;
  return {
    request: index,
    adapter: planned.adapter ?? null,
    intendedMs: intended - start,
    sentMs: result.sentAt - start,
    sendLagMs: result.sentAt - intended,
    // A cancelled request is not a server error: kept as `error` with its reason, and `phase` says it was cancelled.
    status: result.status === "cancelled" ? "error" : result.status,
    httpStatus: result.httpStatus,
    error: result.error ?? null,
    ttftMs,
    e2eMs,
    tpotMs: result.status === "ok" && ttftMs !== null && out !== null && out >= 2 ? (e2eMs - ttftMs) / (out - 1) : null,
    itl: gapSummary(result.contentTimes),
    promptTokens: result.promptTokens,
    outputTokens: out,
    intendedPromptTokens: planned.intendedPromptTokens ?? null,
    intendedOutputTokens: planned.maxTokens,
    phase:
      windowEnd === undefined
        ? null
        : result.status === "cancelled"
          ? "cancelled"
          : result.endAt <= windowEnd
            ? "window"
            : "drained",
  };
}

/**
 * Runs one point: every request of its count, or until its duration ends; the requests in flight then drain (each up
 * to its timeout) or are cancelled (`inFlight`).
 */
export async function runPoint(options: PointOptions): Promise<PointResult> {
  const { target, shape, durationMs } = options;
  const plan: RequestPlan = Array.isArray(options.requests)
    ? { count: options.requests.length, at: (i) => (options.requests as PlannedRequest[])[i]! }
    : options.requests;
  if (!Number.isFinite(plan.count) && durationMs === undefined)
    throw new Error("a point needs a request count or a duration");
  const agent = target.agent ?? new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const t = { ...target, agent };
  // Open loop: the arrivals within the point's bounds are known up front.
  const offsets = shape.kind === "open" ? arrivalOffsetsMs(shape, plan.count, options.seed, durationMs) : [];
  const count = shape.kind === "open" ? offsets.length : plan.count;
  // One signal cancels every request in flight at the end of the duration (each request listens to it meanwhile).
  const cancel = durationMs !== undefined && options.inFlight === "cancel" ? new AbortController() : undefined;
  if (cancel) setMaxListeners(Infinity, cancel.signal);
  const streamOf = (r: PlannedRequest): StreamRequest => ({
    model: r.adapter ?? r.model,
    prompt: r.prompt,
    maxTokens: r.maxTokens,
    timeoutMs: options.timeoutMs,
    ...(cancel ? { signal: cancel.signal } : {}),
  });
  // Bodies are serialised before the clock starts, so that the send path is only the write (a closed loop bound only
  // by its duration has no count: its bodies are built at send time).
  const bodies = Number.isFinite(count)
    ? Array.from({ length: count }, (_, i) => buildBody(t, streamOf(plan.at(i))))
    : undefined;
  const records: RequestRecord[] = [];
  const gaps: number[][] = [];
  let ended = 0;
  const start = performance.now() + 5;
  const windowEnd = durationMs === undefined ? undefined : start + durationMs;
  const closed = () => options.signal?.aborted || (windowEnd !== undefined && performance.now() >= windowEnd);
  const send = async (i: number, intended: number) => {
    const r = plan.at(i);
    const result = await streamRequest(t, streamOf(r), bodies?.[i]);
    records[i] = toRecord(i, r, intended, result, start, windowEnd);
    options.onRequestEnd?.(++ended);
    gaps[i] = result.status === "ok" ? gapsOf(result.contentTimes) : [];
  };
  const cancelTimer =
    cancel && windowEnd !== undefined
      ? // A timer may fire a little early: the cancel waits for the end of the window itself.
        setTimeout(
          () => void waitUntil(windowEnd).then(() => cancel.abort()),
          Math.max(0, windowEnd - performance.now()),
        )
      : undefined;
  const inFlight: Promise<void>[] = [];
  try {
    if (shape.kind === "open") {
      for (let i = 0; i < count; i++) {
        if (options.signal?.aborted) break;
        const intended = start + offsets[i]!;
        await waitUntil(intended);
        inFlight.push(send(i, intended));
      }
    } else {
      let next = 0;
      const worker = async () => {
        while (performance.now() < start) await yieldToLoop();
        let freeAt = start;
        while (next < count && !closed()) {
          const i = next++;
          await send(i, freeAt);
          freeAt = performance.now();
        }
      };
      for (let w = 0; w < Math.min(shape.concurrency, count); w++) inFlight.push(worker());
    }
    await Promise.all(inFlight);
  } finally {
    clearTimeout(cancelTimer);
    if (!target.agent) agent.destroy();
  }
  const done = records.filter(Boolean);
  const end = done.reduce((latest, r) => Math.max(latest, r.sentMs + r.e2eMs), -Infinity);
  const windowMs = done.length ? end - done[0]!.intendedMs : 0;
  // A duration-bound point whose request cap ran out, every request ended within the duration: its rates are over
  // the span it took (dividing by the whole duration would understate them).
  const capDone = Number.isFinite(count) && done.length === count && durationMs !== undefined && end <= durationMs;
  return {
    records: done,
    windowMs,
    rateWindow:
      durationMs === undefined || capDone ? { kind: "span", ms: windowMs } : { kind: "duration", ms: durationMs },
    gapsMs: gaps.filter(Boolean).flat(),
  };
}
