// The serving load client against the minimal streaming endpoint: SSE parsing (several events per read, a role-only
// first chat chunk, no [DONE]), usage-based token counts, the seeded open-loop schedule, closed-loop concurrency.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPoint, type PlannedRequest } from "../../runners/serve/load.js";
import { adapterAssignments, arrivalOffsetsMs } from "../../runners/serve/schedule.js";
import { streamRequest } from "../../runners/serve/stream.js";
import { startMiniEndpoint } from "./mini-endpoint.js";

let endpoint: Awaited<ReturnType<typeof startMiniEndpoint>>;
let slow: Awaited<ReturnType<typeof startMiniEndpoint>>;
beforeAll(async () => {
  endpoint = await startMiniEndpoint({ eventsPerWrite: 4 });
  slow = await startMiniEndpoint({ eventsPerWrite: 1, gapMs: 5 });
});
afterAll(async () => {
  await endpoint.close();
  await slow.close();
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
