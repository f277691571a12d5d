// Opens a generated page in headless Chromium (Debian's /usr/bin/chromium through puppeteer-core) from file:// and
// says what rendered: charts with a non-empty SVG or canvas, console errors, the time to the first chart. Used by
// the browser test and by `npm run bench:report`; the generator itself never needs a browser.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export const CHROMIUM_PATH = process.env.EFFBENCH_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface PageCheck {
  /** `.chart` containers on the page. */
  charts: number;
  /** Those holding an SVG with drawn marks or a canvas with a non-zero size. */
  renderedCharts: number;
  /** Time from navigation start to the first chart's vega-embed resolving (performance.now() in the page). */
  firstChartMs: number | null;
  consoleErrors: string[];
  pageErrors: string[];
  /** Failed loads of files next to the page (a missing vendor script or data chunk). */
  failedRequests: string[];
  title: string;
  /** The page's visible text, for assertions on escaping. */
  text: string;
  /** Scripts on the page: an injected <script> would show up here. */
  scriptCount: number;
  /** alert/confirm/prompt dialogs the page opened (dismissed): an injected alert(1) would show up here. */
  dialogs: string[];
}

export interface CheckOptions {
  /** Saves a PNG here: the full page, or its top `screenshotHeight` pixels. */
  screenshotPath?: string;
  screenshotHeight?: number;
  /** Waits at most this long for every chart to render. */
  timeoutMs?: number;
  width?: number;
  /** Runs after the page has rendered (e.g. choosing a filter); charts it starts are awaited too. */
  interact?: (page: Page) => Promise<void>;
}

export class ChromiumSession {
  private constructor(
    private readonly browser: Browser,
    private readonly profileDir: string,
  ) {}

  static async launch(): Promise<ChromiumSession> {
    const profileDir = mkdtempSync(join(tmpdir(), "effbench-chromium-"));
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profileDir}`],
      headless: true,
    });
    return new ChromiumSession(browser, profileDir);
  }

  /** Opens `path` (a file, optionally with `#hash`) and waits until no chart is pending. */
  async check(path: string, options: CheckOptions = {}): Promise<PageCheck> {
    const page = await this.browser.newPage();
    const consoleErrors: string[] = [];
    const pageErrors: string[] = [];
    const failedRequests: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("requestfailed", (request) => failedRequests.push(request.url()));
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    try {
      await page.setViewport({ width: options.width ?? 1280, height: 900 });
      const [file, hash] = path.split("#");
      const url = pathToFileURL(file).href + (hash ? `#${hash}` : "");
      await page.goto(url, { waitUntil: "load" });
      // Wait until charts were started and none is pending (a case page starts its charts after its chunk loads).
      const settled = () =>
        page.waitForFunction(
          () => {
            const state = (
              window as unknown as { effbenchCharts?: { pending: number; rendered: number; errors: string[] } }
            ).effbenchCharts;
            const charts = document.querySelectorAll(".chart").length;
            return (
              document.body.dataset.ready === "true" &&
              state !== undefined &&
              state.pending === 0 &&
              state.rendered + state.errors.length >= charts
            );
          },
          { timeout: options.timeoutMs ?? 30_000, polling: 50 },
        );
      await settled();
      if (options.interact) {
        await options.interact(page);
        await settled();
      }
      const result = await page.evaluate(() => {
        const charts = [...document.querySelectorAll(".chart")];
        const rendered = charts.filter((c) => {
          const svg = c.querySelector("svg");
          if (svg)
            return (
              svg.querySelectorAll("path, rect, line, text, circle").length > 0 && svg.getBoundingClientRect().width > 0
            );
          const canvas = c.querySelector("canvas");
          return canvas !== null && canvas.width > 0 && canvas.height > 0;
        });
        const state = (window as unknown as { effbenchCharts: { firstChartMs: number | null } }).effbenchCharts;
        return {
          charts: charts.length,
          renderedCharts: rendered.length,
          firstChartMs: state.firstChartMs,
          title: document.title,
          text: document.body.innerText,
          scriptCount: document.scripts.length,
        };
      });
      if (options.screenshotPath) {
        const path = options.screenshotPath as `${string}.png`;
        if (options.screenshotHeight)
          await page.screenshot({
            path,
            clip: { x: 0, y: 0, width: options.width ?? 1280, height: options.screenshotHeight },
          });
        else await page.screenshot({ path, fullPage: true });
      }
      return { ...result, consoleErrors, pageErrors, failedRequests, dialogs };
    } finally {
      await page.close();
    }
  }

  async close(): Promise<void> {
    await this.browser.close();
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}
