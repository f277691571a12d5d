// Measures the serving load client alone (no model behind it): a minimal streaming endpoint in its own process
// (test/serve/mini-endpoint.ts) answers at once, and the client drives open-loop Poisson points at rising rates.
// Prints, per rate, the request rate sustained and the send lag (actual − intended send time): the client is not the
// bottleneck of a serving point while its lag p99 stays under 1 ms. Beside each point, the same schedule waited out
// with no request sent (the timer loop alone, run just before): the lag floor this machine's scheduling gives any
// Node process, so that the client's own share of the lag can be read off.
import { execa } from "execa";
import { percentile } from "../src/measure/stats.js";
import { runPoint, waitUntil, type PlannedRequest } from "../runners/serve/load.js";
import { arrivalOffsetsMs } from "../runners/serve/schedule.js";
import { fromRoot } from "../src/paths.js";

const rates = (process.env.RATES ?? "500,1000,2000").split(",").map(Number);
const seconds = Number(process.env.SECONDS_PER_POINT ?? 4);
const endpoint = execa("node", ["--import", "tsx", fromRoot("test/serve/mini-endpoint.ts")], { cwd: fromRoot(".") });
const url = await new Promise<string>((resolve, reject) => {
  endpoint.stdout!.on("data", (d: Buffer) => resolve(d.toString().trim()));
  endpoint.catch(reject);
});
const target = { url, api: "completions" as const, streamOptions: true };
const plan = (n: number): PlannedRequest[] =>
  Array.from({ length: n }, () => ({ model: "m", prompt: "t1 t2 t3 t4", maxTokens: 4 }));
try {
  await runPoint({
    target,
    shape: { kind: "closed", concurrency: 8 },
    requests: plan(500),
    seed: 1,
    timeoutMs: 10_000,
  }); // warm-up
  console.log(
    "rate (req/s) | requests | sustained req/s | send lag p50 / p99 / max (ms) | errors | timer loop alone: lag p50 / p99 / max (ms)",
  );
  const fmt = (xs: number[]) =>
    `${percentile(xs, 50).toFixed(3)} / ${percentile(xs, 99).toFixed(3)} / ${Math.max(...xs).toFixed(3)}`;
  for (const rate of rates) {
    const n = Math.round(rate * seconds);
    const offsets = arrivalOffsetsMs({ kind: "open", rate, arrival: "poisson" }, n, 7);
    const floor: number[] = [];
    const start = performance.now() + 5;
    for (const offset of offsets) {
      await waitUntil(start + offset);
      floor.push(performance.now() - start - offset);
    }
    const { records, windowMs } = await runPoint({
      target,
      shape: { kind: "open", rate, arrival: "poisson" },
      requests: plan(n),
      seed: 7,
      timeoutMs: 10_000,
    });
    const ok = records.filter((r) => r.status === "ok").length;
    const lags = records.map((r) => r.sendLagMs);
    console.log(`${rate} | ${n} | ${((ok / windowMs) * 1000).toFixed(0)} | ${fmt(lags)} | ${n - ok} | ${fmt(floor)}`);
  }
} finally {
  endpoint.kill("SIGTERM");
  await endpoint.catch(() => {});
}
