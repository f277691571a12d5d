// `bench report results.db -o site/`: the CLI (src/cli/commands.ts) calls reportCommand and prints the line it returns.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { openStore } from "../src/store/store.js";
import { allReferences } from "../datasets/references/index.js";
import { loadReportData } from "./data.js";
import { generateReport } from "./site.js";
import { toCsv, toJson, toMarkdown } from "./export.js";

export interface ReportCommandOptions {
  /** html (the site plus results.md/.csv/.json, default), markdown, csv or json. */
  format?: string;
  title?: string;
}

const EXTENSIONS: Record<string, string> = { markdown: "md", csv: "csv", json: "json" };

/**
 * Writes the report of `dbPath`. `html` writes the site into the folder `output`; the text formats write
 * `output/results.<ext>`, or the file `output` when it has that extension, or return the text when `output` is "-"
 * (the CLI prints it). Returns the line to print.
 */
export async function reportCommand(
  dbPath: string,
  output: string,
  options: ReportCommandOptions = {},
): Promise<string | undefined> {
  const format = options.format ?? "html";
  const store = await openStore(dbPath, { readonly: true });
  const startedMs = performance.now();
  let data;
  try {
    // Raw samples and sampler series only feed the site's case pages.
    data = await loadReportData(store, {
      title: options.title,
      references: allReferences(),
      samplerSeries: format === "html",
    });
  } finally {
    await store.close();
  }
  if (format === "html") {
    const result = await generateReport(data, output);
    const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
    return `report: ${join(output, "index.html")} — ${result.cases} cases, ${result.results} results, ${result.files.length} files in ${seconds} s (open it from disk or publish the folder)`;
  }
  const text = format === "markdown" ? toMarkdown(data) : format === "csv" ? toCsv(data) : toJson(data);
  if (output === "-") return text.replace(/\n$/, "");
  const ext = EXTENSIONS[format];
  const path = output.endsWith(`.${ext}`) ? output : join(output, `results.${ext}`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return `report: ${path}`;
}
