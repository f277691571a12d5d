// Every chart spec compiles with vega-lite and renders to a non-empty SVG in Node, so a broken spec fails here even
// where Chromium is missing (the browser test then skips).
import { describe, expect, it } from "vitest";
import { renderSvg } from "./helpers.js";
import { distributionSpec, leaderboardSpec, paretoSpec, samplerSpec, trendSpec } from "../../reports/specs.js";

const markCount = (svg: string, role: string) =>
  (svg.match(new RegExp(`role-mark[^"]*" role="graphics-object" aria-roledescription="${role}`, "g")) ?? []).length;

describe("chart specs", () => {
  it("draw a leaderboard with a point and a CI rule per case", async () => {
    const svg = await renderSvg(
      leaderboardSpec(
        [
          { name: "a <b>", value: 1, low: 0.9, high: 1.1, rank: "1", flagged: false },
          { name: "b", value: 2, low: null, high: null, rank: "2", flagged: true },
        ],
        "p50 latency (ms)",
        "lower",
      ),
    );
    expect(svg).toContain("<svg");
    expect(svg).toContain("a &lt;b&gt;");
    expect(svg).toContain("p50 latency (ms)");
    expect(markCount(svg, "rule")).toBeGreaterThan(0);
  });

  it("draw a Pareto chart, a trend with its band, a histogram and a sampler series", async () => {
    for (const spec of [
      paretoSpec(
        [
          { name: "a", x: 1, y: 2, front: true },
          { name: "b", x: 2, y: 3, front: false },
        ],
        "memory (MiB)",
        "p50 (ms)",
      ),
      trendSpec(
        [
          { series: "a", run: "#1", order: 0, value: 1, low: 0.9, high: 1.1 },
          { series: "a", run: "#2", order: 1, value: 1.2, low: 1.1, high: 1.3 },
        ],
        "p50 (ms)",
      ),
      distributionSpec(
        [
          { repeat: "repeat 1", value: 1 },
          { repeat: "repeat 2", value: 1.1 },
        ],
        "latency_ms (ms)",
      ),
      samplerSpec(
        [
          { repeat: "repeat 1", t: 0, value: 1 },
          { repeat: "repeat 1", t: 10, value: null },
          { repeat: "repeat 1", t: 20, value: 2 },
        ],
        "rss (MiB)",
      ),
    ]) {
      const svg = await renderSvg(spec);
      expect(svg.length).toBeGreaterThan(1000);
      expect(svg).toMatch(/<path|<line|<rect/);
    }
  });
});
