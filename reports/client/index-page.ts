// The index page in the browser: filters over the inlined rows, a leaderboard per metric family (chart + table),
// Pareto charts and trends. Ranks and fronts are recomputed after each filter with the same functions the Node
// side uses (reports/rank.ts), so the page and the markdown export agree.
import { unpackRows, type IndexModel, type IndexRow, type PackedIndexModel, type TrendPoint } from "../model.js";
import { METRIC_FAMILIES, titleOf, type Better, type MetricFamily, type MetricInfo } from "../metrics.js";
import { paretoFront } from "../rank.js";
import { groupsOf, leaderboard, onBoard, rankText, valueOf } from "../leaderboard.js";
import { displayScale, formatCi, formatValue } from "../format.js";
import { leaderboardSpec, paretoSpec, trendSpec } from "../specs.js";
import { PARETO_CHARTS, type ParetoChart } from "../pareto-charts.js";
import { chart, el, nullValue, readData, select, table } from "./dom.js";
import { renderServing } from "./serving.js";

const packed = readData<PackedIndexModel>();
const model: IndexModel = { ...packed, rows: unpackRows(packed.packed) };
const FILTERS = ["model", "technique", "scenario", "runner", "device"] as const;
type FilterKey = (typeof FILTERS)[number];
const filters: Record<FilterKey, string> = { model: "", technique: "", scenario: "", runner: "", device: "" };
/** Per-section choices (metric, group) that survive a filter change. */
const choices = new Map<string, string>();
/** The families drawn: an optional one (routing) only when some case of the whole report has one of its metrics. */
const FAMILIES = METRIC_FAMILIES.filter(
  (f) => !f.optional || model.rows.some((r) => f.metrics.some((m) => r.m[m.name] !== undefined)),
);
const TOP_IN_CHART = 25;
const ROWS_SHOWN = 50;

const unitOf = (metric: string) => model.units[metric] ?? "";

function metricCell(row: IndexRow, metric: string): Node {
  const m = row.m[metric];
  if (!m) return document.createTextNode("");
  if (m[0] === null) return el("span", {}, nullValue(m[1]), " ", el("span", { class: "reason" }, m[1]));
  const ci = formatCi(m[0], m[1], m[2], unitOf(metric));
  return el("span", {}, formatValue(m[0], unitOf(metric)), ci ? el("span", { class: "ci" }, ` ${ci}`) : null);
}

function badge(row: IndexRow): HTMLElement {
  if (row.status === "completed" && row.flags.includes("host-bound"))
    return el(
      "span",
      {
        class: "badge flagged host-bound",
        title:
          HOST_BOUND_TITLE +
          (row.flags.length > 1 ? `; also: ${row.flags.filter((f) => f !== "host-bound").join(", ")}` : ""),
      },
      `⚠ host-bound${row.flags.length > 1 ? ` +${row.flags.length - 1}` : ""}`,
    );
  if (row.status !== "completed")
    return el("span", { class: `badge ${row.status}`, title: row.reason ?? "" }, row.status);
  if (row.flags.length === 0)
    return el("span", { class: "badge valid", title: "no validity flag raised" }, "✓ no flags");
  return el(
    "span",
    { class: "badge flagged", title: `validity flags: ${row.flags.join(", ")} — the case page says what was seen` },
    `⚠ ${row.flags.join(", ")}`,
  );
}

const HOST_BOUND_TITLE =
  "host-bound: the GPU's kernels were busy less than half of the step; most of the time is Python and kernel launches, not GPU work";

const caseLink = (row: IndexRow) => el("a", { href: `case.html#${encodeURIComponent(row.id)}` }, row.name);

function filtered(): IndexRow[] {
  return model.rows.filter((r) => FILTERS.every((k) => !filters[k] || r[k] === filters[k]));
}

function countBy<T>(items: T[], key: (item: T) => string): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function renderFilters(onChange: () => void): void {
  const host = document.getElementById("filters")!;
  host.replaceChildren(
    ...FILTERS.map((key) => {
      const values = [...new Set(model.rows.map((r) => r[key]))].sort();
      return select(
        key,
        [["", `all (${values.length})`], ...values.map((v): [string, string] => [v, v])],
        filters[key],
        (v) => {
          filters[key] = v;
          onChange();
        },
      );
    }),
    el("span", { class: "note", id: "filter-count" }),
  );
}

// ── leaderboards ─────────────────────────────────────────────────────────────────────────────────

function renderFamily(family: MetricFamily, rows: IndexRow[], host: HTMLElement): void {
  const available = family.metrics.filter((info) => rows.some((r) => onBoard(r, info) && r.m[info.name] !== undefined));
  host.replaceChildren(el("h2", {}, `${family.title} leaderboard`), el("p", { class: "blurb" }, family.blurb));
  if (available.length === 0) {
    host.append(el("p", { class: "note" }, `No result in this selection has a ${family.title.toLowerCase()} metric.`));
    return;
  }
  const metricKey = `${family.id}:metric`;
  const info: MetricInfo =
    available.find((i) => i.name === choices.get(metricKey)) ??
    available.find((i) => rows.some((r) => onBoard(r, i) && valueOf(r.m[i.name]) !== null)) ??
    available[0];
  const groups = groupsOf(rows, info);
  const groupKey = `${family.id}:group`;
  const group = groups.find(([g]) => g === choices.get(groupKey))?.[0] ?? groups[0]?.[0] ?? "";
  const rerender = () => renderFamily(family, filtered(), host);
  host.append(
    el(
      "div",
      { class: "controls" },
      select(
        "metric",
        available.map((i): [string, string] => [i.name, `${i.title} (${i.name})`]),
        info.name,
        (v) => (choices.set(metricKey, v), rerender()),
      ),
      select(
        "comparison group (scenario · workload)",
        groups.map(([g, n]): [string, string] => [g, `${g} — ${n} ranked`]),
        group,
        (v) => (choices.set(groupKey, v), rerender()),
      ),
    ),
  );
  const { ranked, unranked } = leaderboard(
    rows.filter((r) => r.group === group && onBoard(r, info)),
    info.name,
    info.better,
  );
  const unit = unitOf(info.name);
  const label = model.labels[info.name];
  if (label) host.append(el("p", { class: "note" }, `${info.name}: ${label}`));

  if (ranked.length > 0) {
    const top = ranked.slice(0, TOP_IN_CHART);
    const scale = displayScale(valueOf(top[0].row.m[info.name])!, unit);
    const div = (x: number | null) => (x === null ? null : x / scale.divisor);
    const axis = `${titleOf(info.name)}${scale.unit ? ` (${scale.unit})` : ""}`;
    const points = top.map((r) => {
      const m = r.row.m[info.name] as [number, number | null, number | null];
      return {
        name: r.row.name,
        value: div(m[0])!,
        low: div(m[1]),
        high: div(m[2]),
        rank: rankText(r),
        flagged: r.row.flags.length > 0,
      };
    });
    const chartHost = el("div", { class: "chart" });
    host.append(
      el(
        "p",
        { class: "note" },
        `Best ${top.length} of ${ranked.length} in “${group}” (${info.better} is better); dot = estimate, line = 95% CI. The table below lists the same values.`,
      ),
      chartHost,
    );
    chart(
      chartHost,
      leaderboardSpec(points, axis, info.better),
      `${family.title}: ${info.name} of the best ${top.length} cases in ${group}; the table below lists the values.`,
      top.length * 2,
    );
  }
  const tableRows = [
    ...ranked.map((r) => [
      rankText(r),
      caseLink(r.row),
      r.row.model,
      r.row.technique,
      r.row.runner,
      r.row.device,
      metricCell(r.row, info.name),
      badge(r.row),
    ]),
    ...unranked.map((row) => [
      "",
      caseLink(row),
      row.model,
      row.technique,
      row.runner,
      row.device,
      row.status === "completed" ? metricCell(row, info.name) : el("span", { class: "reason" }, row.reason ?? ""),
      badge(row),
    ]),
  ];
  const tableHost = el("div", {});
  const show = (limit: number) => {
    const t = table(
      ["rank", "case", "model", "technique", "runner", "device", `${info.name} [95% CI]`, "validity"],
      tableRows.slice(0, limit),
      [false, false, false, false, false, false, true, false],
    );
    t.classList.add("board");
    t.querySelectorAll("tbody tr").forEach((tr) => (tr.firstElementChild as HTMLElement).classList.add("rank"));
    const more = tableRows.length > limit ? el("button", {}, `show all ${tableRows.length} rows`) : null;
    more?.addEventListener("click", () => show(tableRows.length));
    tableHost.replaceChildren(t, more ?? "");
  };
  show(ROWS_SHOWN);
  host.append(tableHost);
}

// ── Pareto charts ────────────────────────────────────────────────────────────────────────────────

function mostMeasured(rows: IndexRow[], names: readonly string[]): string | null {
  let best: string | null = null;
  let bestCount = 0;
  for (const name of names) {
    const n = rows.filter((r) => valueOf(r.m[name]) !== null).length;
    if (n > bestCount) ((best = name), (bestCount = n));
  }
  return best;
}

function commonReason(rows: IndexRow[], names: readonly string[]): string {
  const reasons = rows.flatMap((r) =>
    names
      .map((n) => r.m[n])
      .filter((m): m is [null, string] => m !== undefined && m[0] === null)
      .map((m) => m[1]),
  );
  const top = countBy(reasons, (x) => x)[0];
  return top ? ` (most common reason: ${top[0]})` : "";
}

/** The comparison-group picker above a chart (one group at a time): appended to `host`; returns the chosen group. */
function chooseGroup(host: HTMLElement, groups: Array<[string, number]>, key: string, rerender: () => void): string {
  const group = groups.find(([g]) => g === choices.get(key))?.[0] ?? groups[0][0];
  host.append(
    el(
      "div",
      { class: "controls" },
      select(
        "comparison group (scenario · workload)",
        groups.map(([g, n]): [string, string] => [g, `${g} — ${n} cases`]),
        group,
        (v) => (choices.set(key, v), rerender()),
      ),
    ),
  );
  return group;
}

function renderPareto(def: ParetoChart, rows: IndexRow[], host: HTMLElement): void {
  const scoped = rows.filter((r) => r.status === "completed" && (!def.scenarios || def.scenarios.includes(r.scenario)));
  host.replaceChildren(el("h3", {}, def.title), el("p", { class: "blurb" }, def.blurb));
  const xName = mostMeasured(
    scoped,
    def.x.map((m) => m.name),
  );
  const yName = mostMeasured(
    scoped,
    def.y.map((m) => m.name),
  );
  const both = xName && yName ? scoped.filter((r) => valueOf(r.m[xName]) !== null && valueOf(r.m[yName]) !== null) : [];
  if (!xName || !yName || both.length === 0) {
    const missing = !xName
      ? `${def.xTitle} (${def.x.map((m) => m.name).join(", ")})${commonReason(
          scoped,
          def.x.map((m) => m.name),
        )}`
      : `${def.yTitle} (${def.y.map((m) => m.name).join(", ")})${commonReason(
          scoped,
          def.y.map((m) => m.name),
        )}`;
    host.append(el("p", { class: "note" }, `No result in this selection has both axes: nothing measured ${missing}.`));
    return;
  }
  const betterX: Better = def.x.find((m) => m.name === xName)!.better;
  const betterY: Better = def.y.find((m) => m.name === yName)!.better;
  const groups = countBy(both, (r) => r.group);
  const group = chooseGroup(host, groups, `pareto:${def.id}:group`, () => renderPareto(def, filtered(), host));
  const inGroup = both.filter((r) => r.group === group);
  const xs = inGroup.map((r) => valueOf(r.m[xName])!);
  const ys = inGroup.map((r) => valueOf(r.m[yName])!);
  const front = paretoFront(
    xs.map((x, i) => ({ x, y: ys[i] })),
    betterX,
    betterY,
  );
  const sx = displayScale(Math.max(...xs.map(Math.abs)), unitOf(xName));
  const sy = displayScale(Math.max(...ys.map(Math.abs)), unitOf(yName));
  const xTitle = `${titleOf(xName)}${sx.unit ? ` (${sx.unit})` : ""} — ${betterX} is better`;
  const yTitle = `${titleOf(yName)}${sy.unit ? ` (${sy.unit})` : ""} — ${betterY} is better`;
  const points = inGroup.map((r, i) => ({
    name: r.name,
    x: xs[i] / sx.divisor,
    y: ys[i] / sy.divisor,
    front: front[i],
  }));
  const chartHost = el("div", { class: "chart" });
  host.append(chartHost);
  chart(
    chartHost,
    paretoSpec(points, xTitle, yTitle),
    `${def.title} for ${group}: ${points.length} cases, ${front.filter(Boolean).length} on the Pareto front, listed in the table below.`,
    points.length,
  );
  const frontRows = inGroup
    .map((r, i) => ({ r, i }))
    .filter(({ i }) => front[i])
    .sort((a, b) => xs[a.i] - xs[b.i]);
  host.append(
    el(
      "details",
      {},
      el(
        "summary",
        {},
        `Pareto front as a table (${frontRows.length} of ${inGroup.length} cases; the others are dominated)`,
      ),
      table(
        ["case", xName, yName],
        frontRows.map(({ r }) => [caseLink(r), metricCell(r, xName), metricCell(r, yName)]),
        [false, true, true],
      ),
    ),
  );
}

// ── trends ───────────────────────────────────────────────────────────────────────────────────────

/** The drift control of the shown cases across the same runs: what the machine did, beside what the cases did. */
function renderControlTrend(
  caseIds: string[],
  runOrder: Map<number, number>,
  runLabel: Map<number, string>,
  host: HTMLElement,
): void {
  const trends = model.controlTrends;
  if (!trends) {
    host.append(
      el(
        "p",
        { class: "note" },
        "No drift control was measured in these runs (a database written before effbench measured one): a change common to every case may be the machine.",
      ),
    );
    return;
  }
  const keys = new Set(caseIds.map((id) => trends.caseControl[id]).filter((k): k is string => k !== undefined));
  const points = trends.points.filter((p) => keys.has(p[0]));
  if (points.length === 0) return;
  const values = points.map((p) => ({
    series: `control: ${p[0]}`,
    run: runLabel.get(p[1]) ?? String(p[1]),
    order: runOrder.get(p[1]) ?? 0,
    value: p[2],
    low: p[3],
    high: p[4],
  }));
  const controlHost = el("div", { class: "chart" });
  host.append(
    el(
      "p",
      { class: "note" },
      "The drift control over the same runs: a fixed workload measured between the cases' processes (band: the range of its processes' medians). When the cases moved with it, the machine changed, not the code; bench compare divides it out.",
    ),
    controlHost,
  );
  chart(
    controlHost,
    trendSpec(values, "control time per iteration (ms)"),
    `Drift control across runs.`,
    values.length * 3,
  );
}

function renderTrends(rows: IndexRow[], host: HTMLElement): void {
  const metric = model.trendMetric;
  host.replaceChildren(
    el("h2", {}, "Trends across runs"),
    el("p", { class: "blurb" }, `${metric} of each case across the runs in this database, with its 95% CI as a band.`),
  );
  const rowById = new Map(rows.map((r) => [r.id, r]));
  const names = new Map(rows.map((r) => [r.id, r.name]));
  const runOrder = new Map(model.runs.map((r, i) => [r.id, i]));
  const runLabel = new Map(model.runs.map((r) => [r.id, r.label]));
  const all = new Map<string, TrendPoint[]>();
  for (const p of model.trends) if (rowById.has(p[0])) all.set(p[0], [...(all.get(p[0]) ?? []), p]);
  if (all.size === 0) {
    const runs = model.runs.filter((r) => r.resultCount > 0).length;
    host.append(
      el(
        "p",
        { class: "note" },
        runs < 2
          ? `This database holds ${runs} run with results: a trend needs the same case measured in two or more runs.`
          : "No case in this selection was measured in two or more runs.",
      ),
    );
    return;
  }
  // One comparison group at a time: a prefill in ms and a decode step in µs on one axis would hide both.
  const groups = countBy([...all.keys()], (id) => rowById.get(id)!.group);
  const group = chooseGroup(host, groups, "trends:group", () => renderTrends(filtered(), host));
  const byCase = new Map([...all].filter(([id]) => rowById.get(id)!.group === group));
  // The cases that moved most (first run to last), so that a regression is on screen.
  const change = (points: TrendPoint[]) => {
    const sorted = [...points].sort((a, b) => runOrder.get(a[1])! - runOrder.get(b[1])!);
    return sorted[sorted.length - 1][2] / sorted[0][2] - 1;
  };
  const shown = [...byCase].sort((a, b) => Math.abs(change(b[1])) - Math.abs(change(a[1]))).slice(0, 8);
  const unit = unitOf(metric);
  const scale = displayScale(shown[0][1][0][2], unit);
  const values = shown.flatMap(([id, points]) =>
    points.map((p) => ({
      series: names.get(id)!,
      run: runLabel.get(p[1]) ?? String(p[1]),
      order: runOrder.get(p[1]) ?? 0,
      value: p[2] / scale.divisor,
      low: (p[3] ?? p[2]) / scale.divisor,
      high: (p[4] ?? p[2]) / scale.divisor,
    })),
  );
  const chartHost = el("div", { class: "chart" });
  host.append(
    el(
      "p",
      { class: "note" },
      `${shown.length} of ${byCase.size} cases with two or more runs: those that changed most.`,
    ),
    chartHost,
  );
  chart(
    chartHost,
    trendSpec(values, `${titleOf(metric)}${scale.unit ? ` (${scale.unit})` : ""}`),
    `Trend of ${metric} across runs for ${shown.length} cases; the table below lists first and last values.`,
    values.length * 3,
  );
  renderControlTrend(
    shown.map(([id]) => id),
    runOrder,
    runLabel,
    host,
  );
  host.append(
    el(
      "details",
      {},
      el("summary", {}, "Trends as a table"),
      table(
        ["case", "runs", "first", "last", "change"],
        [...byCase].map(([id, points]) => {
          const sorted = [...points].sort((a, b) => runOrder.get(a[1])! - runOrder.get(b[1])!);
          const first = sorted[0];
          const last = sorted[sorted.length - 1];
          return [
            names.get(id)!,
            String(points.length),
            `${formatValue(first[2], unit)} ${formatCi(first[2], first[3], first[4], unit)}`,
            `${formatValue(last[2], unit)} ${formatCi(last[2], last[3], last[4], unit)}`,
            `${(change(points) * 100).toFixed(1)}%`,
          ];
        }),
        [false, true, true, true, true],
      ),
    ),
  );
}

// ── page ─────────────────────────────────────────────────────────────────────────────────────────

function render(): void {
  const rows = filtered();
  document.getElementById("filter-count")!.textContent = `${rows.length} of ${model.rows.length} cases`;
  const boards = document.getElementById("leaderboards")!;
  if (boards.childElementCount === 0)
    for (const family of FAMILIES) boards.append(el("section", { id: `lb-${family.id}` }));
  for (const family of FAMILIES) renderFamily(family, rows, document.getElementById(`lb-${family.id}`)!);
  const pareto = document.getElementById("pareto")!;
  if (pareto.childElementCount === 0) {
    pareto.append(
      el("h2", {}, "Pareto fronts"),
      el(
        "p",
        { class: "blurb" },
        "A case is on the front when no other case in its group is at least as good on both axes and better on one (point estimates).",
      ),
    );
    for (const def of PARETO_CHARTS) pareto.append(el("div", { id: `pareto-${def.id}` }));
  }
  for (const def of PARETO_CHARTS) renderPareto(def, rows, document.getElementById(`pareto-${def.id}`)!);
  let serving = document.getElementById("serving");
  if (!serving) document.getElementById("pareto")!.before((serving = el("section", { id: "serving" })));
  renderServing(rows, serving, model.labels.goodput);
  renderTrends(rows, document.getElementById("trends")!);
}

renderFilters(render);
render();
document.body.dataset.ready = "true";
