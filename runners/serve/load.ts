// Drives one load point: open loop (requests sent at their seeded intended times, whatever is in flight) or closed
// loop (N requests in flight, the next sent when one ends). Each request's intended and actual send time are kept:
// their difference, the send lag, says whether the client kept to the schedule.
import http from "node:http";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { arrivalOffsetsMs, type LoadShape } from "./schedule.js";
import type { RequestRow } from "../../src/runner/contract.js";
import { buildBody, streamRequest, type StreamResult, type StreamTarget } from "./stream.js";

export interface PlannedRequest {
  model: string;
  prompt: string;
  maxTokens: number;
  /** The adapter this request names, when requests spread over adapters. */
  adapter?: string;
}

/** One request's measures (runners/runner.ts RequestRow); times in ms from the point's start. */
export type RequestRecord = RequestRow;

export interface PointOptions {
  target: StreamTarget;
  shape: LoadShape;
  requests: PlannedRequest[];
  seed: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called after each request ends, with how many have ended. */
  onRequestEnd?: (ended: number) => void;
}

export interface PointResult {
  records: RequestRecord[];
  /** First intended send to last end of stream, ms. */
  windowMs: number;
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
    status: result.status,
    httpStatus: result.httpStatus,
    error: result.error ?? null,
    ttftMs,
    e2eMs,
    tpotMs: result.status === "ok" && ttftMs !== null && out !== null && out >= 2 ? (e2eMs - ttftMs) / (out - 1) : null,
    itl: gapSummary(result.contentTimes),
    promptTokens: result.promptTokens,
    outputTokens: out,
  };
}

/** Runs one point to the end of its last request (in-flight requests always drain; there is no duration bound). */
export async function runPoint(options: PointOptions): Promise<PointResult> {
  const { target, shape, requests } = options;
  const agent = target.agent ?? new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const t = { ...target, agent };
  // Bodies are serialised before the clock starts, so that the send path is only the write.
  const bodies = requests.map((r) =>
    buildBody(t, {
      model: r.adapter ?? r.model,
      prompt: r.prompt,
      maxTokens: r.maxTokens,
      timeoutMs: options.timeoutMs,
    }),
  );
  const records: RequestRecord[] = new Array(requests.length);
  const gaps: number[][] = new Array(requests.length);
  let ended = 0;
  const send = async (i: number, intended: number, start: number) => {
    const r = requests[i]!;
    const result = await streamRequest(
      t,
      { model: r.adapter ?? r.model, prompt: r.prompt, maxTokens: r.maxTokens, timeoutMs: options.timeoutMs },
      bodies[i],
    );
    records[i] = toRecord(i, r, intended, result, start);
    options.onRequestEnd?.(++ended);
    gaps[i] = result.status === "ok" ? gapsOf(result.contentTimes) : [];
  };
  const start = performance.now() + 5;
  const inFlight: Promise<void>[] = [];
  try {
    if (shape.kind === "open") {
      const offsets = arrivalOffsetsMs(shape, requests.length, options.seed);
      for (let i = 0; i < requests.length; i++) {
        if (options.signal?.aborted) break;
        const intended = start + offsets[i]!;
        await waitUntil(intended);
        inFlight.push(send(i, intended, start));
      }
    } else {
      let next = 0;
      const worker = async () => {
        while (performance.now() < start) await yieldToLoop();
        let freeAt = start;
        while (next < requests.length && !options.signal?.aborted) {
          const i = next++;
          await send(i, freeAt, start);
          freeAt = performance.now();
        }
      };
      for (let w = 0; w < Math.min(shape.concurrency, requests.length); w++) inFlight.push(worker());
    }
    await Promise.all(inFlight);
  } finally {
    if (!target.agent) agent.destroy();
  }
  const done = records.filter(Boolean);
  const end = Math.max(...done.map((r) => r.sentMs + r.e2eMs));
  return { records: done, windowMs: done.length ? end - done[0]!.intendedMs : 0, gapsMs: gaps.filter(Boolean).flat() };
}
