// The index page's serving section (serve runner cases): latency against the achieved request rate per technique
// (TTFT and TPOT at p50 and p99) and goodput bars per load point, from the rows' leaderboard metrics.
import type { IndexRow } from "../model.js";
import { goodputSpec, servingSweepSpec, type GoodputBar, type ServingPoint } from "../serving-specs.js";
import { chart, el } from "./dom.js";

const LATENCIES: Array<[metric: string, title: string]> = [
  ["ttft_p50_ms", "TTFT p50"],
  ["ttft_p99_ms", "TTFT p99"],
  ["tpot_p50_ms", "TPOT p50"],
  ["tpot_p99_ms", "TPOT p99"],
];

const valueOf = (row: IndexRow, metric: string): number | null => {
  const m = row.m[metric];
  return m && m[0] !== null ? m[0] : null;
};
/** The load point is the last part of a serve case's name ("… · 4 req/s poisson", "… · concurrency 2"). */
const pointOf = (row: IndexRow) => row.name.split(" · ").at(-1) ?? "";

export function renderServing(rows: IndexRow[], host: HTMLElement, goodputLabel: string | undefined): void {
  host.replaceChildren();
  const serve = rows.filter((r) => r.scenario === "serving" && r.status === "completed");
  if (serve.length === 0) return;
  host.append(
    el("h2", {}, "Serving under load"),
    el(
      "p",
      { class: "blurb" },
      "Each point is a case: an open-loop rate (solid) or a closed-loop concurrency (dashed). x is the request rate the server achieved, not the one asked for.",
    ),
  );
  const sweep: ServingPoint[] = [];
  const bars: GoodputBar[] = [];
  for (const row of serve) {
    const rate = valueOf(row, "request_rate");
    if (rate === null) continue;
    const point = pointOf(row);
    const load = point.startsWith("concurrency") ? "closed loop" : "open loop";
    for (const [metric, title] of LATENCIES) {
      const value = valueOf(row, metric);
      if (value !== null)
        sweep.push({ name: row.name, technique: row.technique, load, point, rate, metric: title, value });
    }
    const goodput = valueOf(row, "goodput");
    if (goodput !== null) bars.push({ name: row.name, technique: row.technique, point, goodput, rate });
  }
  const sweepHost = el("div", { id: "serving-sweep" });
  host.append(sweepHost);
  chart(
    sweepHost,
    servingSweepSpec(sweep),
    `Latency against achieved request rate for ${serve.length} serving cases`,
    sweep.length,
  );
  const goodputHost = el("div", { id: "serving-goodput" });
  host.append(goodputHost);
  if (bars.length > 0)
    chart(
      goodputHost,
      goodputSpec(bars, goodputLabel ?? "within the SLO"),
      `Goodput of ${bars.length} serving cases`,
      bars.length,
    );
  else goodputHost.append(el("p", { class: "reason" }, "No goodput: the suite set no serve.slo ({ ttftMs, tpotMs })."));
}
