// The serving load client against the minimal streaming endpoint: SSE parsing (several events per read, a role-only
// first chat chunk, no [DONE]), usage-based token counts, the seeded open-loop schedule, closed-loop concurrency, and
// duration-bound points (in-flight requests drained or cancelled, counted apart; cancelled ones out of the latencies).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPoint, type PlannedRequest } from "../../runners/serve/load.js";
import { adapterAssignments, arrivalOffsetsMs } from "../../runners/serve/schedule.js";
import { streamRequest } from "../../runners/serve/stream.js";
import { pointScalars, pointSeries } from "../../runners/serve/metrics.js";
import { serveSettingsSchema } from "../../runners/serve/settings.js";
import { startMiniEndpoint } from "./mini-endpoint.js";

let endpoint: Awaited<ReturnType<typeof startMiniEndpoint>>;
let slow: Awaited<ReturnType<typeof startMiniEndpoint>>;
let paced: Awaited<ReturnType<typeof startMiniEndpoint>>;
beforeAll(async () => {
  endpoint = await startMiniEndpoint({ eventsPerWrite: 4 });
  slow = await startMiniEndpoint({ eventsPerWrite: 1, gapMs: 5 });
  paced = await startMiniEndpoint({ eventsPerWrite: 1, gapMs: 30 });
});
afterAll(async () => {
  await endpoint.close();
  await slow.close();
  await paced.close();
});

const plan = (n: number, maxTokens = 5): PlannedRequest[] =>
  Array.from({ length: n }, () => ({ model: "m", prompt: "t1 t2", maxTokens }));

describe("stream parsing", () => {
  it("counts text events (not the role-only chunk) and reads tokens from usage, with several events per read", async () => {
    for (const api of ["chat", "completions"] as const) {
      const r = await streamRequest(
        { url: endpoint.url, api, streamOptions: true },
        { model: "m", prompt: "x", maxTokens: 7, timeoutMs: 5000 },
      );
      expect(r.status).toBe("ok");
      expect(r.contentTimes).toHaveLength(7);
      expect(r.outputTokens).toBe(7);
      expect(r.promptTokens).toBe(8);
      expect(r.finishReason).toBe("length");
    }
  });

  it("times each event at its read: events written 5 ms apart cannot be timed closer overall", async () => {
    const sentAt = performance.now();
    const r = await streamRequest(
      { url: slow.url, api: "completions", streamOptions: true },
      { model: "m", prompt: "x", maxTokens: 4, timeoutMs: 5000 },
    );
    expect(r.status).toBe("ok");
    // Four writes at least 5 ms apart, the first after the request arrived: the last event cannot be read earlier
    // than 15 ms after the request was sent (a loaded machine may read the first late and several in one read, but
    // never an event before it is written), and the read times never go backwards.
    expect(r.contentTimes.at(-1)! - sentAt).toBeGreaterThanOrEqual(15);
    for (let i = 1; i < r.contentTimes.length; i++)
      expect(r.contentTimes[i]!).toBeGreaterThanOrEqual(r.contentTimes[i - 1]!);
  });

  it("records an HTTP error with its status and a refused connection without throwing", async () => {
    const r = await streamRequest(
      { url: endpoint.url.replace(/:\d+$/, ":1"), api: "completions", streamOptions: true },
      { model: "m", prompt: "x", maxTokens: 2, timeoutMs: 2000 },
    );
    expect(r.status).toBe("error");
    expect(r.error).toMatch(/ECONNREFUSED/);
  });

  it("sends the API key as a bearer header", async () => {
    await streamRequest(
      { url: endpoint.url, api: "completions", streamOptions: true, apiKey: "sk-test" },
      { model: "m", prompt: "x", maxTokens: 1, timeoutMs: 2000 },
    );
    expect(endpoint.lastAuth()).toBe("Bearer sk-test");
  });
});

describe("load", () => {
  it("keeps the seeded open-loop schedule: intended times are the schedule's offsets, same seed same schedule", async () => {
    const shape = { kind: "open", rate: 200, arrival: "poisson" } as const;
    const offsets = arrivalOffsetsMs(shape, 40, 3);
    expect(arrivalOffsetsMs(shape, 40, 3)).toEqual(offsets);
    expect(arrivalOffsetsMs(shape, 40, 4)).not.toEqual(offsets);
    const { records } = await runPoint({
      target: { url: endpoint.url, api: "completions", streamOptions: true },
      shape,
      requests: plan(40),
      seed: 3,
      timeoutMs: 5000,
    });
    expect(records.map((r) => r.intendedMs)).toEqual(offsets.map((o) => expect.closeTo(o, 6)));
    expect(records.every((r) => r.status === "ok" && r.outputTokens === 5 && r.tpotMs !== null && r.ttftMs! > 0)).toBe(
      true,
    );
    for (const r of records) expect(r.sentMs).toBeGreaterThanOrEqual(r.intendedMs);
    // The mean gap of a Poisson schedule at 200 req/s is 5 ms (40 gaps: within a factor of 2).
    expect(offsets[39]! / 39).toBeGreaterThan(2.5);
    expect(offsets[39]! / 39).toBeLessThan(10);
  });

  it("keeps at most N requests in flight in a closed loop", async () => {
    const { records } = await runPoint({
      target: { url: slow.url, api: "completions", streamOptions: true },
      shape: { kind: "closed", concurrency: 3 },
      requests: plan(9, 3),
      seed: 1,
      timeoutMs: 5000,
    });
    expect(records).toHaveLength(9);
    const events = records
      .flatMap(
        (r) =>
          [
            [r.sentMs, 1],
            [r.sentMs + r.e2eMs, -1],
          ] as const,
      )
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let inFlight = 0;
    let most = 0;
    for (const [, d] of events) most = Math.max(most, (inFlight += d));
    expect(most).toBe(3);
  });

  it("spreads requests over adapters: uniform about evenly, Zipf favouring the first", () => {
    const names = Array.from({ length: 4 }, (_, i) => `a${i}`);
    const count = (xs: string[]) => names.map((n) => xs.filter((x) => x === n).length);
    const uniform = count(adapterAssignments({ names, distribution: "uniform" }, 4000, 1));
    for (const c of uniform) expect(c).toBeGreaterThan(850);
    const zipf = count(adapterAssignments({ names, distribution: "zipf", zipf: 1.2 }, 4000, 1));
    expect(zipf[0]!).toBeGreaterThan(2 * zipf[3]!);
  });
});

describe("duration-bound points", () => {
  // Each request streams 8 tokens and a usage chunk in 9 writes 30 ms apart (~270 ms): with 2 in flight and a 450 ms duration, the
  // first two end within it and the next two are in flight when it ends.
  const durationMs = 450;
  const run = (inFlight: "drain" | "cancel") =>
    runPoint({
      target: { url: paced.url, api: "completions", streamOptions: true },
      shape: { kind: "closed", concurrency: 2 },
      requests: { count: Infinity, at: () => ({ model: "m", prompt: "t1 t2", maxTokens: 8 }) },
      seed: 1,
      timeoutMs: 5000,
      durationMs,
      inFlight,
    });
  const settings = serveSettingsSchema.parse({ durationS: durationMs / 1000, inFlight: "cancel" });

  it("drain: waits for the requests in flight at the end, counted as drained; rates over the duration", async () => {
    const { records, rateWindow } = await run("drain");
    expect(rateWindow).toEqual({ kind: "duration", ms: durationMs });
    for (const r of records) {
      expect(r.status).toBe("ok");
      expect(r.outputTokens).toBe(8);
      expect(r.intendedMs).toBeLessThan(durationMs);
      expect(r.phase).toBe(r.sentMs + r.e2eMs <= durationMs ? "window" : "drained");
    }
    const inWindow = records.filter((r) => r.phase === "window").length;
    const drained = records.filter((r) => r.phase === "drained").length;
    expect(inWindow).toBeGreaterThanOrEqual(1);
    expect(drained).toBeGreaterThanOrEqual(1);
    const scalars = new Map(pointScalars(records, rateWindow, settings).map((m) => [m.metric, m]));
    expect(scalars.get("completed_in_window")?.value).toBe(inWindow);
    expect(scalars.get("drained")?.value).toBe(drained);
    expect(scalars.get("cancelled")?.value).toBe(0);
    expect(scalars.get("request_rate")?.value).toBeCloseTo(inWindow / (durationMs / 1000), 9);
    expect(scalars.get("output_tokens_per_s")?.value).toBeCloseTo((8 * inWindow) / (durationMs / 1000), 9);
    expect(scalars.get("request_rate")?.label).toMatch(/0\.45 s duration/);
    // Drained requests completed: their latencies count.
    expect(pointSeries(records, []).find((x) => x.metric === "e2e_ms")?.values).toHaveLength(records.length);
  });

  it("cancel: aborts the requests in flight at the end, counted apart and left out of latencies and errors", async () => {
    const { records, rateWindow } = await run("cancel");
    const cancelled = records.filter((r) => r.phase === "cancelled");
    const ok = records.filter((r) => r.status === "ok");
    expect(cancelled.length).toBeGreaterThanOrEqual(1);
    expect(records.some((r) => r.phase === "drained")).toBe(false);
    for (const r of cancelled) {
      expect(r.status).toBe("error");
      expect(r.error).toMatch(/^cancelled: in flight when the point's duration ended/);
      expect(r.tpotMs).toBeNull();
      // Cut at the end of the duration, not run to the end of its stream (~270 ms after it was sent).
      expect(r.sentMs + r.e2eMs).toBeGreaterThanOrEqual(durationMs);
      expect(r.sentMs + r.e2eMs).toBeLessThan(durationMs + 200);
      expect(r.outputTokens).toBeNull();
    }
    expect(ok.every((r) => r.phase === "window")).toBe(true);
    expect(ok.length + cancelled.length).toBe(records.length);
    const series = pointSeries(records, []);
    expect(series.find((x) => x.metric === "e2e_ms")?.values).toEqual(ok.map((r) => r.e2eMs));
    expect(series.find((x) => x.metric === "ttft_ms")?.values).toHaveLength(ok.length);
    const scalars = new Map(pointScalars(records, rateWindow, settings).map((m) => [m.metric, m]));
    expect(scalars.get("cancelled")?.value).toBe(cancelled.length);
    expect(scalars.get("completed_in_window")?.value).toBe(ok.length);
    expect(scalars.get("drained")?.value).toBe(0);
    expect(scalars.get("error_rate")?.value).toBe(0);
    expect(scalars.get("request_rate")?.value).toBeCloseTo(ok.length / (durationMs / 1000), 9);
  });

  it("an open loop sends only the arrivals before the end of the duration, capped by a count when given", async () => {
    const shape = { kind: "open", rate: 50, arrival: "constant" } as const;
    expect(arrivalOffsetsMs(shape, Infinity, 1, 200)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180]);
    expect(arrivalOffsetsMs(shape, 4, 1, 200)).toHaveLength(4);
    const poisson = { ...shape, arrival: "poisson" } as const;
    expect(arrivalOffsetsMs(poisson, Infinity, 7, 500)).toEqual(
      arrivalOffsetsMs(poisson, 1000, 7).filter((t) => t < 500),
    );
    const { records } = await runPoint({
      target: { url: endpoint.url, api: "completions", streamOptions: true },
      shape,
      requests: { count: Infinity, at: () => ({ model: "m", prompt: "x", maxTokens: 2 }) },
      seed: 1,
      timeoutMs: 5000,
      durationMs: 200,
    });
    expect(records.map((r) => r.intendedMs)).toEqual(
      [0, 20, 40, 60, 80, 100, 120, 140, 160, 180].map((t) => expect.closeTo(t, 6)),
    );
  });

  it("a request cap that runs out inside the duration: rates over the span the requests took, not the duration", async () => {
    const capped = await runPoint({
      target: { url: endpoint.url, api: "completions", streamOptions: true },
      shape: { kind: "closed", concurrency: 1 },
      requests: { count: 3, at: () => ({ model: "m", prompt: "x", maxTokens: 2 }) },
      seed: 1,
      timeoutMs: 5000,
      durationMs: 10_000,
    });
    expect(capped.records).toHaveLength(3);
    expect(capped.rateWindow).toEqual({ kind: "span", ms: capped.windowMs });
    expect(capped.windowMs).toBeLessThan(10_000);
    const rate = pointScalars(capped.records, capped.rateWindow, serveSettingsSchema.parse({ durationS: 10 })).find(
      (m) => m.metric === "request_rate",
    );
    expect(rate?.value).toBeCloseTo(3 / (capped.windowMs / 1000), 9);
  });
});

describe("API key", () => {
  it("is scrubbed from an error body that echoes it", async () => {
    const http = await import("node:http");
    const echo = http.createServer((req, res) => {
      res.writeHead(401);
      res.end(`bad key: ${req.headers.authorization}`);
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const port = (echo.address() as { port: number }).port;
    try {
      const r = await streamRequest(
        { url: `http://127.0.0.1:${port}`, api: "completions", streamOptions: true, apiKey: "sk-secret-777" },
        { model: "m", prompt: "x", maxTokens: 1, timeoutMs: 2000 },
      );
      expect(r.status).toBe("error");
      expect(r.error).toBe("HTTP 401: bad key: Bearer [API key]");
    } finally {
      echo.close();
    }
  });
});
