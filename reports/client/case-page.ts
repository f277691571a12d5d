// The case page in the browser: one page for every case, which reads the case id from the URL hash and loads that
// case's data with a <script src="data/cases-NNN.js"> tag (script tags work from file://, fetch does not).
import {
  chunkFileName,
  chunkOf,
  unpackChunk,
  type CaseEntry,
  type CaseResult,
  type PackedChunk,
  type RunSummary,
} from "../model.js";
import { displayScale, formatCi, formatPlain, formatValue } from "../format.js";
import { betterOf, titleOf } from "../metrics.js";
import { distributionSpec, routingHeatmapSpec, samplerSpec, trendSpec } from "../specs.js";
import { heatmapCells, localityView, routingView, skewText } from "../routing.js";
import { percentile } from "../../src/measure/stats.js";
import { chart, el, nullValue, readData, table } from "./dom.js";
import { requestsSpec, type RequestDatum } from "../serving-specs.js";

interface CasePageData {
  title: string;
  runs: Array<RunSummary & { env: Record<string, unknown> }>;
  caseChunks: number;
}

const page = readData<CasePageData>();
const main = document.getElementById("case")!;
const runById = new Map(page.runs.map((r) => [r.id, r]));
const loaded = new Set<number>();
const cases: Record<string, CaseEntry> = {};
/** Called by each chunk file (data/cases-NNN.js) as it loads. */
(window as unknown as { effbenchChunk: (chunk: PackedChunk) => void }).effbenchChunk = (chunk) =>
  Object.assign(cases, unpackChunk(chunk));
/** Metrics whose trend the page draws when the case has results in two or more runs. */
const TREND_METRICS = ["latency_p50_ms", "tokens_per_s", "peak_rss_bytes", "gpu_amu_bytes", "gpu_energy_j_per_token"];

function caseId(): string {
  return decodeURIComponent(location.hash.replace(/^#/, ""));
}

/** Marks the page as done (the browser test waits for it, then for the charts). */
const ready = (): void => {
  document.body.dataset.ready = "true";
};

function load(): void {
  const id = caseId();
  if (!id) {
    main.replaceChildren(
      el("p", {}, "No case selected: open a case from the ", el("a", { href: "index.html" }, "leaderboards"), "."),
    );
    return ready();
  }
  const chunk = chunkOf(id, page.caseChunks);
  const entry = cases[id];
  if (entry) {
    render(id, entry);
    return ready();
  }
  if (loaded.has(chunk)) {
    main.replaceChildren(el("p", {}, `No case with id “${id}” in this report.`));
    return ready();
  }
  const script = document.createElement("script");
  script.src = `data/${chunkFileName(chunk)}`;
  script.onload = () => {
    loaded.add(chunk);
    load();
  };
  script.onerror = () => {
    main.replaceChildren(el("p", {}, `Could not load data/${chunkFileName(chunk)}.`));
    ready();
  };
  document.head.append(script);
}

/** A sampler series' unit from its name's suffix (sampler.gpu0.power_mw → mW). */
const SERIES_UNITS: Array<[RegExp, string]> = [
  [/_bytes$/, "B"],
  [/_ms$/, "ms"],
  [/_mw$/, "mW"],
  [/_w$/, "W"],
  [/_mj$/, "mJ"],
  [/_j$/, "J"],
  [/_pct$/, "%"],
  [/_mhz$/, "MHz"],
  [/_c$/, "°C"],
];
const unitOfSeries = (metric: string) => SERIES_UNITS.find(([pattern]) => pattern.test(metric))?.[1] ?? "";

const json = (value: unknown) => el("pre", {}, JSON.stringify(value, null, 2));

function metricsTable(result: CaseResult): HTMLTableElement {
  const sorted = [...result.metrics].sort((a, b) => a.name.localeCompare(b.name));
  return table(
    ["metric", "value", "95% CI", "how to read it"],
    sorted.map((m) => [
      m.name,
      m.value === null
        ? el(
            "span",
            {},
            nullValue(m.reason ?? "not measured"),
            " ",
            el("span", { class: "reason" }, m.reason ?? "not measured"),
          )
        : formatValue(m.value, m.unit),
      formatCi(m.value, m.ciLow, m.ciHigh, m.unit),
      m.label ?? "",
    ]),
    [false, true, true, false],
  );
}

/** Routers listed in an open table; more (MoLA's layer × projection routers) go into a collapsed one. */
const ROUTERS_SHOWN_OPEN = 16;

/** MoE and MoLE results: what the routers chose (details.routing). Nothing at all for a result without routing. */
function renderRouting(result: CaseResult): void {
  const view = routingView(result.details, result.caseDetails, result.workload);
  if (!view) return;
  const k = view.routers[0].topK;
  const sameK = view.routers.every((r) => r.topK === k);
  const what =
    view.kind === "moe"
      ? `${view.routers.length} MoE layers`
      : `${view.routers.length} routers of the mixture of LoRA experts`;
  const assignments = view.routers.reduce((s, r) => s + r.tokensPerExpert.reduce((a, b) => a + b, 0), 0);
  const facts: Array<[string, string]> = [
    ["tokens routed", `${view.tokens} (one untimed pass recorded after the measure window)`],
    ["routers", `${what}${sameK ? `, top-${formatPlain(k)}` : ""}`],
    ["max/mean load", `${formatPlain(view.maxMeanLoad)} (mean over routers; 1 = perfectly balanced)`],
    ["coefficient of variation", `${formatPlain(view.cv)} (mean over routers; 0 = perfectly balanced)`],
    ["workload routingSkew", skewText(view.routingSkew)],
  ];
  if (view.kind === "moe")
    facts.push(
      view.capacityFactor === null
        ? ["capacity factor", "none: every assignment is computed, none dropped"]
        : [
            "dropped token-expert assignments",
            `${view.droppedAssignments} of ${assignments} (${formatPlain((100 * view.droppedAssignments!) / assignments)}%; capacity factor ${formatPlain(view.capacityFactor)})`,
          ],
    );
  const active = result.metrics.find((m) => m.name === "params_active");
  if (view.kind === "moe" && active && active.value !== null)
    facts.push([
      "active parameters per token, as routed",
      `${formatValue(active.value, active.unit)} (params_active; dropped assignments excluded)`,
    ]);
  main.append(el("h3", {}, "Routing"), table(["", "value"], facts));
  const cells = heatmapCells(view);
  const host = el("div", { class: "chart" });
  main.append(
    el(
      "h4",
      {},
      view.routers.some((r) => r.projection !== null)
        ? "Token-expert assignments per router (layer × projection)"
        : "Token-expert assignments per expert and layer",
    ),
    host,
  );
  chart(
    host,
    routingHeatmapSpec(cells, view.maxExperts, view.routers.length),
    `Heatmap of token-expert assignments per expert for ${view.routers.length} routers; the table below lists each router's load.`,
    cells.length * 2,
  );
  const capacity = view.kind === "moe" && view.capacityFactor !== null;
  const rows = view.routers.map((r) => [
    r.label,
    String(r.tokensPerExpert.length),
    String(r.tokensPerExpert.reduce((a, b) => a + b, 0)),
    formatPlain(r.maxMeanLoad),
    formatPlain(r.cv),
    ...(capacity ? [String(r.droppedAssignments ?? 0)] : []),
  ]);
  const routerTable = table(
    ["router", "experts", "assignments", "max/mean load", "CV", ...(capacity ? ["dropped"] : [])],
    rows,
    [false, true, true, true, true, true],
  );
  main.append(
    rows.length > ROUTERS_SHOWN_OPEN
      ? el("details", {}, el("summary", {}, `Load per router (${rows.length} routers)`), routerTable)
      : routerTable,
  );
  renderLocality(result);
}

/** MoE prefill results: routing locality, whether the model suits expert offloading (docs/moe.md). */
function renderLocality(result: CaseResult): void {
  const view = localityView(result.details);
  if (!view) return;
  main.append(
    el("h4", {}, "Routing locality (expert offloading)"),
    el(
      "p",
      {},
      `From ${view.source}: ${view.sequences} × ${view.tokensPerSequence} tokens. SRP: how well one fixed set of experts per segment serves it (best F1, 1 = the same experts throughout); SCH: hit rate of an expert cache that knows the segment ahead; LRU: a plain least-recently-used expert cache. Per MoE layer, means over the sequences.`,
    ),
    table(
      ["metric", ...view.layers.map((l) => `layer ${l}`), "mean"],
      view.rows.map((r) => [r.metric, ...r.perLayer.map((v) => formatPlain(v)), formatPlain(r.mean)]),
      [false, ...view.layers.map(() => true), true],
    ),
  );
}

/** A serving point's requests, one mark per request and measure (TTFT, E2E) against its send time. */
function renderRequests(result: CaseResult): void {
  if (!result.requests || result.requests.length === 0) return;
  const values: RequestDatum[] = result.requests.flatMap(([repeat, sentMs, ttftMs, e2eMs, status]) => [
    ...(ttftMs === null
      ? []
      : [{ repeat: `repeat ${repeat + 1}`, sentS: sentMs / 1000, metric: "TTFT", ms: ttftMs, status }]),
    { repeat: `repeat ${repeat + 1}`, sentS: sentMs / 1000, metric: "end-to-end", ms: e2eMs, status },
  ]);
  const failed = result.requests.filter((r) => r[4] !== "ok" && r[4] !== "cancelled").length;
  const cancelled = result.requests.filter((r) => r[4] === "cancelled").length;
  const host = el("div", { id: "requests-chart" });
  main.append(
    el("h3", {}, "Requests"),
    el(
      "p",
      { class: "note" },
      `${result.requests.length} requests (every one is a row of serve_requests)${failed ? `, ${failed} failed or timed out (outlined red)` : ""}${cancelled ? `, ${cancelled} cancelled at the end of the point's duration (outlined grey; not in the latency statistics)` : ""}.`,
    ),
    host,
  );
  chart(
    host,
    requestsSpec(values),
    `TTFT and end-to-end latency of ${result.requests.length} requests against their send time`,
    values.length,
  );
}

function render(id: string, entry: CaseEntry): void {
  const results = entry.results;
  const selected = Number(new URLSearchParams(location.search).get("result")) || results[results.length - 1].resultId;
  const result = results.find((r) => r.resultId === selected) ?? results[results.length - 1];
  const run = runById.get(result.runId);
  document.title = `${result.name} — ${page.title}`;
  const runLinks = results.map((r) => {
    const label = runById.get(r.runId)?.label ?? `run ${r.runId}`;
    return r === result
      ? el("strong", {}, label)
      : el("a", { href: `?result=${r.resultId}#${encodeURIComponent(id)}` }, label);
  });
  main.replaceChildren(
    el("p", {}, el("a", { href: "index.html" }, "← leaderboards")),
    el("h2", {}, result.name),
    table(
      ["field", "value"],
      [
        ["case id", result.caseId],
        ["model", result.model],
        ["technique", result.technique],
        ["scenario", result.scenario],
        ["workload", result.workloadLabel],
        ["runner", result.runner],
        ["device", result.device],
        [
          "status",
          el("span", { class: `badge ${result.status === "completed" ? "valid" : result.status}` }, result.status),
        ],
        ["reason", result.reason ?? ""],
        ["repeats (processes)", String(result.repeats)],
        ["run", run ? `${run.label} · ${run.suiteName}` : String(result.runId)],
        ["results of this case", el("span", {}, ...runLinks.flatMap((l, i) => (i === 0 ? [l] : [" · ", l])))],
      ],
    ),
  );

  main.append(el("h3", {}, "Validity flags"));
  main.append(
    result.validity.length === 0
      ? el("p", { class: "note" }, "No validity flag was raised.")
      : table(
          ["flag", "what was seen"],
          result.validity.map((v) => [v.flag, v.detail]),
        ),
  );
  const busy = result.metrics.find((m) => m.name === "gpu_busy_fraction");
  if (busy && busy.value !== null)
    main.append(
      el(
        "p",
        { class: "note" },
        result.validity.some((v) => v.flag === "host-bound")
          ? `Host-bound: the GPU's kernels ran ${(busy.value * 100).toFixed(0)}% of the step. The rest is the host — Python, the model's modules and one kernel launch per operation — while the GPU waits, so this number measures the host more than the GPU. A cuda-graph or compile execution mode replays the kernels without that dispatch.`
          : `GPU-busy share: the GPU's kernels ran ${(busy.value * 100).toFixed(0)}% of the step (union of kernel intervals in an untimed profiling pass after the window).`,
      ),
    );

  main.append(el("h3", {}, "Metrics"), metricsTable(result));

  renderRouting(result);
  renderRequests(result);

  main.append(el("h3", {}, "Raw samples"));
  if (result.samples.length === 0)
    main.append(el("p", { class: "note" }, "No per-iteration samples were recorded for this result."));
  for (const series of result.samples) {
    const unit = series.metric.endsWith("_us") ? "µs" : series.metric.endsWith("_ms") ? "ms" : "";
    const all = series.processes.flat();
    const scale = unit === "ms" ? displayScale(percentile(all, 50), "ms") : { divisor: 1, unit };
    const values = series.processes.flatMap((p, repeat) =>
      p.map((value) => ({ repeat: `repeat ${repeat + 1}`, value: value / scale.divisor })),
    );
    const host = el("div", { class: "chart" });
    const downsampled = series.processes.some((p, i) => p.length < series.counts[i]);
    main.append(
      el("h4", {}, series.metric),
      downsampled
        ? el(
            "p",
            { class: "note" },
            "Repeats with many iterations are shown as evenly spaced quantiles of their samples (the table has the true counts).",
          )
        : "",
      host,
    );
    chart(
      host,
      distributionSpec(values, `${series.metric} (${scale.unit})`),
      `Histogram of ${series.metric} per repeat; the table below summarises each repeat.`,
      values.length,
    );
    main.append(
      table(
        ["repeat", "iterations", "min", "p50", "p90", "p99", "max"],
        series.processes.map((p, i) => [
          String(i + 1),
          String(series.counts[i]),
          ...[0, 50, 90, 99, 100].map((q) => formatValue(percentile(p, q), unit === "µs" ? "µs" : "ms")),
        ]),
        [false, true, true, true, true, true, true],
      ),
    );
  }

  main.append(el("h3", {}, "Sampler time series"));
  const byMetric = new Map<string, CaseResult["samplerSeries"]>();
  for (const s of result.samplerSeries) byMetric.set(s.metric, [...(byMetric.get(s.metric) ?? []), s]);
  if (byMetric.size === 0) main.append(el("p", { class: "note" }, "No sampler series were recorded for this result."));
  const grid = el("div", { class: "grid2" });
  main.append(grid);
  for (const [metric, list] of byMetric) {
    const block = el("div", {});
    grid.append(block);
    const unit = unitOfSeries(metric);
    const finite = list.flatMap((s) => s.values).filter((v): v is number => v !== null);
    if (finite.length === 0) {
      block.append(el("h4", {}, metric), el("p", { class: "note" }, "Every reading of this series was unavailable."));
      continue;
    }
    const scale = displayScale(Math.max(...finite.map(Math.abs)), unit || "ratio");
    const values = list.flatMap((s) =>
      s.tMs.map((t, i) => ({
        repeat: `repeat ${s.repeat + 1}`,
        t,
        value: s.values[i] === null ? null : s.values[i]! / scale.divisor,
      })),
    );
    const host = el("div", { class: "chart" });
    block.append(el("h4", {}, metric), host);
    chart(
      host,
      samplerSpec(values, `${metric}${scale.unit ? ` (${scale.unit})` : ""}`),
      `${metric} over the measure window per repeat; the table below summarises it.`,
      values.length,
    );
    block.append(
      table(
        ["repeat", "readings", "min", "mean", "max"],
        list.map((s) => {
          const v = s.values.filter((x): x is number => x !== null);
          const mean = v.reduce((a, b) => a + b, 0) / (v.length || 1);
          return [
            String(s.repeat + 1),
            String(s.values.length),
            formatValue(v.length ? Math.min(...v) : null, unit),
            formatValue(v.length ? mean : null, unit),
            formatValue(v.length ? Math.max(...v) : null, unit),
          ];
        }),
        [false, true, true, true, true],
      ),
    );
  }

  const completed = results.filter((r) => r.status === "completed");
  if (new Set(completed.map((r) => r.runId)).size >= 2) {
    main.append(el("h3", {}, "Across runs"));
    for (const metric of TREND_METRICS) {
      const points = completed
        .map((r) => ({ r, m: r.metrics.find((m) => m.name === metric) }))
        .filter((p) => p.m && p.m.value !== null);
      if (points.length < 2) continue;
      const unit = points[0].m!.unit;
      const scale = displayScale(points[0].m!.value!, unit);
      const values = points.map(({ r, m }, order) => ({
        series: metric,
        run: runById.get(r.runId)?.label ?? String(r.runId),
        order,
        value: m!.value! / scale.divisor,
        low: (m!.ciLow ?? m!.value!) / scale.divisor,
        high: (m!.ciHigh ?? m!.value!) / scale.divisor,
      }));
      const host = el("div", { class: "chart" });
      main.append(el("h4", {}, `${titleOf(metric)} (${betterOf(metric)} is better)`), host);
      chart(
        host,
        trendSpec(values, `${metric}${scale.unit ? ` (${scale.unit})` : ""}`),
        `${metric} across runs with its 95% CI; the table below lists the values.`,
        values.length * 3,
      );
      main.append(
        table(
          ["run", metric, "95% CI"],
          points.map(({ r, m }) => [
            runById.get(r.runId)?.label ?? String(r.runId),
            formatValue(m!.value, unit),
            formatCi(m!.value, m!.ciLow, m!.ciHigh, unit),
          ]),
          [false, true, true],
        ),
      );
    }
  }

  main.append(
    el("h3", {}, "Resolved configuration"),
    el("h4", {}, "Case (model and technique)"),
    json(result.caseDetails),
    el("h4", {}, "Workload"),
    json(result.workload),
    el("h4", {}, "Protocol and runner settings planned"),
    json(result.config),
    el("h4", {}, "Settings the runner used"),
    json(result.settings),
    el("h4", {}, "Details"),
    json(result.details),
    el("h3", {}, "Environment"),
    json(run?.env ?? {}),
    el("p", { class: "note" }, `config hash ${result.configHash}`),
  );
}

window.addEventListener("hashchange", load);
load();
