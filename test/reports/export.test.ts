import { describe, expect, it } from "vitest";
import { toCsv, toJson, toMarkdown, markdownCell } from "../../reports/export.js";
import { escapeHtml, jsonForScript } from "../../reports/html.js";
import { formatCi, formatValue, roundSignificant } from "../../reports/format.js";
import { syntheticReportData } from "./helpers.js";

describe("escaping", () => {
  it("escapes HTML special characters in user strings", () => {
    expect(escapeHtml(`<script>alert("x")</script> & 'y'`)).toBe(
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;",
    );
  });

  it("inlines JSON that cannot close its script element and parses back to the same value", () => {
    const value = { name: "</script><script>alert(1)</script>", comment: "<!-- x -->", line: "a\u2028b" };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/<\/script/i);
    expect(text).not.toContain("<!--");
    expect(JSON.parse(text)).toEqual(value);
  });

  it("escapes HTML and pipes in markdown table cells", () => {
    expect(markdownCell("<b>a|b</b>\nc")).toBe("&lt;b&gt;a\\|b&lt;/b&gt; c");
  });
});

describe("formatValue", () => {
  it("prints a null value as an em dash, never as 0", () => {
    expect(formatValue(null, "J")).toBe("—");
    expect(formatCi(null, 1, 2, "J")).toBe("");
  });

  it("scales bytes, milliseconds and rates to readable units", () => {
    expect(formatValue(198_590_464, "B")).toBe("189 MiB");
    expect(formatValue(0.501, "ms")).toBe("501 µs");
    expect(formatValue(20265, "tok/s")).toBe("20.3k tok/s");
    expect(formatCi(3.16, 2.24, 3.92, "ms")).toBe("[2.24, 3.92]");
  });
});

describe("exports", () => {
  it("write the leaderboards as markdown with the synthetic warning, CIs and not-completed cases", async () => {
    const { data } = await syntheticReportData({
      suiteName: "export <b>test</b>",
      models: 2,
      techniques: 3,
      workloads: 2,
    });
    const markdown = toMarkdown(data);
    expect(markdown).toContain("Synthetic data");
    expect(markdown).toContain("synthetic-export &lt;b&gt;test&lt;/b&gt;");
    expect(markdown).not.toContain("<b>");
    expect(markdown).toMatch(/### Latency: p50 latency \(`latency_p50_ms`, lower is better\)/);
    // Every ranked row has a value with its CI.
    const latencyRows = markdown
      .split("### Latency")[1]
      .split("###")[0]
      .split("\n")
      .filter((l) => /^\| [^|]+ \| =?\d/.test(l));
    expect(latencyRows.length).toBeGreaterThan(0);
    for (const row of latencyRows) expect(row).toMatch(/\d (µs|ms|s) \[[\d.]+, [\d.]+\]/);
  });

  it("leave unmeasured metrics empty in CSV with the reason beside them", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 2, workloads: 1 });
    const [header, ...rows] = toCsv(data).trim().split("\n");
    const columns = header.split(",");
    const amu = columns.indexOf("gpu_amu_bytes");
    const amuReason = columns.indexOf("gpu_amu_bytes_reason");
    expect(amu).toBeGreaterThan(0);
    expect(amuReason).toBeGreaterThan(0);
    for (const row of rows) {
      const cells = row.split(",");
      expect(cells[amu]).toBe("");
      expect(cells[amuReason]).toBe("synthetic fixture: no NVML device");
    }
    expect(columns).toContain("latency_p50_ms_ci_low");
  });

  it("export JSON with every metric and flag but without the raw samples", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 2, workloads: 1 });
    const json = JSON.parse(toJson(data));
    expect(json.results).toHaveLength(data.results.length);
    expect(json.results[0].samples).toBeUndefined();
    expect(json.results[0].metrics.find((m: { name: string }) => m.name === "gpu_amu_bytes")).toMatchObject({
      value: null,
      reason: "synthetic fixture: no NVML device",
    });
  });
});

describe("roundSignificant", () => {
  it("keeps the requested significant digits and prints short", () => {
    expect(roundSignificant(3.14159265, 5)).toBe(3.1416);
    expect(String(roundSignificant(0.000123456789, 5))).toBe("0.00012346");
    expect(roundSignificant(198590464, 5)).toBe(198590000);
    expect(roundSignificant(-20265.0285768568, 6)).toBe(-20265);
    expect(roundSignificant(null)).toBeNull();
    expect(roundSignificant(0)).toBe(0);
  });
});
