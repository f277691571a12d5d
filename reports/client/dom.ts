// Browser helpers shared by the pages: DOM building through textContent only (user strings are never parsed as
// HTML), and vega-embed with a record of how many charts rendered (the browser test and bench:report read it).
import type { VegaLiteSpec } from "../specs.js";

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children)
    if (child !== null && child !== undefined && child !== false)
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
  return node;
}

export function readData<T>(): T {
  return JSON.parse(document.getElementById("report-data")!.textContent!) as T;
}

interface EmbedResult {
  view: { finalize(): void };
}
declare const vegaEmbed: (el: HTMLElement, spec: unknown, options: Record<string, unknown>) => Promise<EmbedResult>;

interface ChartState {
  pending: number;
  rendered: number;
  errors: string[];
  firstChartMs: number | null;
}
declare global {
  interface Window {
    effbenchCharts: ChartState;
  }
}
window.effbenchCharts = { pending: 0, rendered: 0, errors: [], firstChartMs: null };

const views = new WeakMap<HTMLElement, EmbedResult>();

/** Renders a spec into a `.chart` container (replacing what was there); canvas for many marks, SVG otherwise. */
export function chart(container: HTMLElement, spec: VegaLiteSpec, description: string, marks: number): void {
  views.get(container)?.view.finalize();
  container.replaceChildren();
  container.classList.add("chart");
  container.setAttribute("role", "img");
  container.setAttribute("aria-label", description);
  const state = window.effbenchCharts;
  state.pending++;
  vegaEmbed(container, spec, { actions: false, renderer: marks > 1500 ? "canvas" : "svg" })
    .then((result) => {
      views.set(container, result);
      state.rendered++;
      state.firstChartMs ??= performance.now();
    })
    .catch((error: unknown) => {
      state.errors.push(String(error));
      console.error(error);
    })
    .finally(() => state.pending--);
}

/** A table from header cells and rows of cells (strings or nodes). */
export function table(headers: string[], rows: Child[][], numeric: boolean[] = []): HTMLTableElement {
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      ...rows.map((cells) => el("tr", {}, ...cells.map((c, i) => el("td", numeric[i] ? { class: "num" } : {}, c)))),
    ),
  );
}

/** A value that was not measured: an em dash whose hover (and screen-reader text) says why. */
export function nullValue(reason: string): HTMLElement {
  return el("span", { class: "null", title: reason, "aria-label": `not measured: ${reason}` }, "—");
}

export function select(
  label: string,
  options: Array<[string, string]>,
  value: string,
  onChange: (value: string) => void,
): HTMLLabelElement {
  const node = el(
    "select",
    {},
    ...options.map(([v, text]) => el("option", v === value ? { value: v, selected: "" } : { value: v }, text)),
  );
  node.addEventListener("change", () => onChange(node.value));
  return el("label", {}, label, node);
}
