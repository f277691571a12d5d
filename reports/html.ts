// HTML building blocks of the static site: escaping of user strings and of JSON inlined in a <script> element,
// and the page shell. Every user string (suite, model, case names, reasons) goes through escapeHtml here or
// through textContent in the browser bundle; nothing is ever concatenated into markup unescaped.

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON safe to inline in `<script type="application/json">`: every `<` becomes `\u003c` (so `</script>` and `<!--`
 * cannot end or confuse the element), and U+2028/U+2029 are escaped for old parsers. JSON.parse reads it back as is.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The vendored libraries, loaded from files next to the page (works from file://, no CDN). */
export const VENDOR_SCRIPTS = ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"] as const;

export interface PageOptions {
  title: string;
  /** Already-escaped HTML of the page body (static parts rendered on the Node side). */
  body: string;
  /** JSON data for the page's script, inlined as application/json. */
  data: unknown;
  /** Page script file under assets/. */
  script: string;
  /** Path from the page to the site root ("" for pages at the root). */
  root?: string;
}

export function page(options: PageOptions): string {
  const root = options.root ?? "";
  const vendor = VENDOR_SCRIPTS.map((file) => `<script src="${root}assets/${file}"></script>`).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<link rel="stylesheet" href="${root}assets/report.css">
</head>
<body>
${options.body}
<script id="report-data" type="application/json">${jsonForScript(options.data)}</script>
${vendor}
<script src="${root}assets/${options.script}"></script>
</body>
</html>
`;
}

export const STYLES = `
:root { --fg: #1d2430; --muted: #5f6b7a; --line: #d9dee5; --bg: #fff; --accent: #2f6fdb; --ok: #1f7a3d; --warn: #a15c00; --bad: #b3261e; --soft: #f4f6f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
header.top { padding: 16px 24px; border-bottom: 1px solid var(--line); background: var(--soft); }
header.top h1 { margin: 0 0 4px; font-size: 20px; }
header.top .meta { color: var(--muted); font-size: 12px; }
main { padding: 8px 24px 48px; max-width: 1400px; }
nav.toc a { margin-right: 12px; }
section { margin: 24px 0; }
section > h2 { font-size: 17px; margin: 0 0 4px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.blurb, .note { color: var(--muted); font-size: 12.5px; margin: 2px 0 8px; }
.synthetic { background: #fff4d6; border: 1px solid #e8c766; padding: 8px 12px; margin: 12px 0; border-radius: 4px; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; padding: 10px 0; position: sticky; top: 0; background: var(--bg); z-index: 2; border-bottom: 1px solid var(--line); }
.filters label, .controls label { display: flex; flex-direction: column; font-size: 11.5px; color: var(--muted); }
.filters select, .controls select { font: inherit; min-width: 120px; max-width: 280px; }
.controls { display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0; }
.chart { min-height: 60px; margin: 6px 0; overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.rank { text-align: right; font-variant-numeric: tabular-nums; }
table.board td:nth-child(n+3):nth-child(-n+6) { white-space: nowrap; }
table.board td:nth-child(2) { max-width: 440px; }
.ci { color: var(--muted); font-size: 11.5px; }
.null { color: var(--muted); cursor: help; border-bottom: 1px dotted var(--muted); }
.reason { color: var(--muted); font-size: 11.5px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; white-space: nowrap; }
.badge.valid { background: #e3f4e8; color: var(--ok); }
.badge.flagged { background: #fff0d9; color: var(--warn); cursor: help; }
.badge.failed, .badge.timed-out { background: #fde7e5; color: var(--bad); }
.badge.unsupported { background: #eceff3; color: var(--muted); }
.badge.front { background: #e4ecfb; color: var(--accent); }
tr.greyed td { color: var(--muted); }
details > summary { cursor: pointer; color: var(--accent); font-size: 12.5px; }
pre { background: var(--soft); padding: 8px; overflow: auto; font-size: 12px; max-height: 420px; }
button { font: inherit; font-size: 12px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
`;
