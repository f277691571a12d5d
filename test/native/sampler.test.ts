// The sampler's CPU side on this machine: /proc process trees, VmHWM against GNU time, RAPL (a fake powercap
// tree), perf counters where permitted, the loader's failure report, and a clean exit with a running thread.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import {
  loadNativeAddon,
  monotonicNowMs,
  ProfilingSampler,
  resetPeakRss,
  threadCpuTimeMs,
} from "../../src/measure/sampler.js";
import { samplerMetrics } from "../../src/measure/sampler-metrics.js";
import { fromRoot } from "../../src/paths.js";
import { buildNative } from "./native-build.js";

const MiB = 1024 * 1024;

function newSampler(): ProfilingSampler {
  const created = ProfilingSampler.create();
  if (!created.ok) throw new Error(created.reason);
  return created.sampler;
}

beforeAll(() => buildNative());

describe("the sampler on this machine", () => {
  it("samples at the requested rate on the same monotonic clock as process.hrtime", async () => {
    const sampler = newSampler();
    const before = monotonicNowMs();
    sampler.start({ pids: [process.pid], hz: 200 });
    await sleep(500);
    const trace = sampler.stop();
    const after = monotonicNowMs();
    const t = trace.timestampsMs;
    expect(t[0]).toBeGreaterThanOrEqual(before);
    expect(t[t.length - 1]).toBeLessThanOrEqual(after);
    expect(t.length).toBeGreaterThan(80);
    expect(t.length).toBeLessThan(125);
    for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThan(t[i - 1]!);
    expect(trace.samplerTid).toBeGreaterThan(0);
    expect(trace.droppedRows).toBe(0);
  });

  it("reports the peak RSS of a child within 5% of GNU time's maximum resident set size", async () => {
    const allocateMiB = 300;
    const sampler = newSampler();
    const child = spawn(
      "/usr/bin/time",
      [
        "-v",
        process.execPath,
        "-e",
        `const b = Buffer.alloc(${allocateMiB} * 1024 * 1024, 1); setTimeout(() => b.length, 500)`,
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    sampler.start({ pids: [child.pid!], hz: 100 });
    await new Promise((resolve) => child.on("exit", resolve));
    const trace = sampler.stop();
    const maxRssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
    expect(maxRssKb * 1024).toBeGreaterThan(allocateMiB * MiB);
    const peak = samplerMetrics(trace, {
      startMs: trace.timestampsMs[0]!,
      endMs: trace.timestampsMs.at(-1)!,
    }).metrics.find((m) => m.metric === "cpu_rss_peak_bytes")!;
    expect(peak.label).toMatch(/CPU analogue/);
    expect(Math.abs(peak.value! / (maxRssKb * 1024) - 1)).toBeLessThan(0.05);
    // The tree was found: GNU time and node.
    expect(Math.max(...trace.columns.process_count!)).toBe(2);
  });

  it("resets the peak RSS with clear_refs, so that the peak excludes what came before", async () => {
    // The buffer is freed (large buffers are mmapped, so RSS drops), leaving VmHWM above VmRSS.
    const child = spawn(
      process.execPath,
      ["--expose-gc", "-e", "let b = Buffer.alloc(200 * 1024 * 1024, 1); b = null; gc(); setTimeout(() => {}, 5000)"],
      {
        stdio: "ignore",
      },
    );
    await sleep(600);
    const statusBefore = execFileSync("cat", [`/proc/${child.pid}/status`]).toString();
    const hwmBefore = Number(/VmHWM:\s+(\d+)/.exec(statusBefore)![1]);
    expect(resetPeakRss(child.pid!)).toEqual({ ok: true });
    const statusAfter = execFileSync("cat", [`/proc/${child.pid}/status`]).toString();
    const hwmAfter = Number(/VmHWM:\s+(\d+)/.exec(statusAfter)![1]);
    const rssAfter = Number(/VmRSS:\s+(\d+)/.exec(statusAfter)![1]);
    child.kill();
    expect(hwmBefore).toBeGreaterThan(200 * 1024);
    expect(hwmAfter).toBeLessThan(hwmBefore);
    expect(hwmAfter).toBeLessThanOrEqual(rssAfter + 1024);
    expect(resetPeakRss(999_999_999)).toMatchObject({ ok: false, reason: expect.stringContaining("clear_refs") });
  });

  it("counts CPU time of the whole tree and, where perf is permitted, its task clock", async () => {
    const sampler = newSampler();
    const child = spawn(process.execPath, ["-e", "const end = Date.now() + 600; while (Date.now() < end);"], {
      stdio: "ignore",
    });
    sampler.start({ pids: [child.pid!], hz: 100 });
    await new Promise((resolve) => child.on("exit", resolve));
    const trace = sampler.stop();
    const t = trace.timestampsMs;
    const cpu = trace.columns.cpu_time_ms!;
    // The window closes at the last full row while the child was alive (the cumulative columns are read at ~10 Hz).
    const lastAlive = cpu.findLastIndex((v) => Number.isFinite(v));
    const result = samplerMetrics(trace, { startMs: t[0]!, endMs: t[lastAlive]! });
    const cores = result.metrics.find((m) => m.metric === "cpu_utilization_cores")!;
    expect(cores.value).toBeGreaterThan(0.5);
    const taskClock = result.metrics.find((m) => m.metric === "perf_task_clock_ms")!;
    if (trace.unavailable.perf) {
      expect(taskClock).toMatchObject({ value: null, reason: expect.stringContaining("perf_event_open") });
    } else {
      expect(taskClock.value).toBeGreaterThan(300);
    }
  });

  it("says why RAPL is unavailable here", async () => {
    const sampler = newSampler();
    sampler.start({ pids: [process.pid] });
    const trace = sampler.stop();
    const result = samplerMetrics(trace, { startMs: trace.timestampsMs[0]!, endMs: trace.timestampsMs.at(-1)! });
    const energy = result.metrics.find((m) => m.metric === "cpu_energy_j")!;
    if (trace.columns.rapl_energy_uj) return; // a machine with readable RAPL: covered by the fake tree below
    expect(energy.value).toBeNull();
    expect(energy.reason).toMatch(/^no RAPL: .*(does not exist|has no intel-rapl domain|not readable)/);
  });

  it("reads RAPL package energy across a counter wrap (a fake powercap tree)", async () => {
    const root = mkdtempSync(join(tmpdir(), "effbench-powercap-"));
    const domain = join(root, "intel-rapl:0");
    mkdirSync(domain);
    mkdirSync(join(root, "intel-rapl:0:0")); // a subdomain: part of the package, not added again
    writeFileSync(join(domain, "name"), "package-0\n");
    writeFileSync(join(domain, "max_energy_range_uj"), "262143328850\n");
    writeFileSync(join(domain, "energy_uj"), "262143000000\n");
    process.env.EFFBENCH_POWERCAP_ROOT = root;
    try {
      const sampler = newSampler();
      sampler.start({ pids: [process.pid], hz: 100 });
      await sleep(100);
      writeFileSync(join(domain, "energy_uj"), "171150\n"); // wrapped: 328850 + 171150 = 500000 µJ later
      await sleep(100);
      const trace = sampler.stop();
      expect(trace.raplDomains).toEqual(["package-0"]);
      const rapl = trace.columns.rapl_energy_uj!;
      expect(rapl[rapl.length - 1]).toBe(500000);
      const result = samplerMetrics(trace, { startMs: trace.timestampsMs[0]!, endMs: trace.timestampsMs.at(-1)! });
      expect(result.metrics.find((m) => m.metric === "cpu_energy_j")!.value).toBeCloseTo(0.5, 12);
    } finally {
      delete process.env.EFFBENCH_POWERCAP_ROOT;
    }
  });

  it("exposes the sampler thread's id, whose CPU time /proc/self/task/<tid>/stat reports", async () => {
    const sampler = newSampler();
    sampler.start({ pids: [process.pid], hz: 1000 });
    const tid = sampler.threadId;
    const comm = execFileSync("cat", [`/proc/${process.pid}/task/${tid}/comm`])
      .toString()
      .trim();
    expect(comm).toBe("effbench-sample");
    await sleep(300);
    expect(threadCpuTimeMs(tid)).not.toBeNull();
    sampler.stop();
    expect(sampler.running).toBe(false);
  });
});

describe("loading and teardown", () => {
  it("says which paths it tried when the addon is missing", () => {
    const code = `import { loadNativeAddon } from ${JSON.stringify(fromRoot("src/measure/sampler.ts"))}; console.log(JSON.stringify(loadNativeAddon()));`;
    const empty = mkdtempSync(join(tmpdir(), "effbench-noaddon-"));
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      env: { ...process.env, EFFBENCH_ROOT: empty, EFFBENCH_NATIVE_DIR: join(empty, "gpu") },
      cwd: fromRoot(),
    }).toString();
    const load = JSON.parse(out);
    expect(load.ok).toBe(false);
    expect(load.triedPaths).toEqual([
      join(empty, "gpu", "effbench_native.node"),
      join(empty, "native/build/Release/effbench_native.node"),
    ]);
    expect(load.reason).toMatch(/npm run build:native.*not found/);
    expect(loadNativeAddon().ok).toBe(true);
  });

  it("joins a running sampler when the process exits without stopping it", () => {
    const addon = fromRoot("native/build/Release/effbench_native.node");
    for (const exit of ["", "process.exit(0)", "setTimeout(() => process.exit(3), 50)"]) {
      const code = `const a = require(${JSON.stringify(addon)}); const s = new a.Sampler(); s.start({ pids: [process.pid], hz: 1000 }); ${exit}`;
      const result = spawnSync(process.execPath, ["-e", code], { timeout: 10_000 });
      expect({ exit, status: result.status, signal: result.signal }).toEqual({
        exit,
        status: exit.includes("3") ? 3 : 0,
        signal: null,
      });
    }
  });
});
