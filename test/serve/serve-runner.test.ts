// The serve runner end to end against a real `transformers serve` (no fake server): the CLI runs a micro model
// under open- and closed-loop load, base and an unmerged LoRA adapter; every request is a stored row with the exact
// token counts the synthetic tokenizer and the generation config promise; seeded per-request lengths drawn from a
// workload dataset are stored and met by the server's usage; a duration-bound point cancels what is in flight at its
// end; the adapter changes what is served; no server outlives the run; an external endpoint's API key is found nowhere
// in the DB, the site or the logs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "../../src/store/sqlite.js";
import { fromRoot } from "../../src/paths.js";
import { planSuite } from "../../src/suite/planner.js";
import { suiteSchema } from "../../src/suite/schema.js";
import "../../runners/index.js";
import { ensureServedModel } from "../../runners/serve/hf-dir.js";
import { ManagedServer } from "../../runners/serve/server.js";
import { cpuPlacement } from "../../runners/serve/runner.js";
import { streamRequest } from "../../runners/serve/stream.js";
import { arrivalOffsetsMs } from "../../runners/serve/schedule.js";
import { syntheticPrompt } from "../../src/model/synthetic-tokenizer.js";
import { LengthSampler, lengthsSchema } from "../../runners/serve/lengths.js";

const python = fromRoot(".venv/bin/python");
const bench = fromRoot("bin/bench.js");
const MICRO = { name: "micro", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, weights: { seed: 3 } };
const SERVE_TIMEOUT = 600_000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "effbench-serve-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const suiteFile = (name: string, serve: Record<string, unknown>, techniques = `[{ kind: "base" }]`) => {
  const path = join(dir, `${name}.ts`);
  writeFileSync(
    path,
    `import { defineSuite } from "effbench";
export default defineSuite({
  name: ${JSON.stringify(name)},
  models: [${JSON.stringify(MICRO)}],
  techniques: ${techniques},
  scenarios: ["serving"],
  workloads: [{ batch: 1, promptTokens: 12, newTokens: 4 }],
  runners: ["serve"],
  serve: ${JSON.stringify(serve)},
  protocol: { repeats: 1, seed: 5 },
});
`,
  );
  return path;
};

async function rows<T>(db: string, sql: string): Promise<T[]> {
  const c = await Connection.open(db, { readonly: true });
  try {
    return await c.all<T>(sql);
  } finally {
    await c.close();
  }
}

function serverProcesses(part: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes("launch_server.py") && cmd.includes(part)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

describe("serve runner on a real transformers serve", () => {
  it(
    "stores every request of every point with exact token counts, keeps the open-loop schedule, and leaves no server behind",
    async () => {
      const suite = suiteFile(
        "managed",
        { rates: [4], concurrency: [2], requests: 4, slo: { ttftMs: 5000, tpotMs: 1000 } },
        `[{ kind: "base" }, { kind: "lora", rank: 4 }]`,
      );
      const db = join(dir, "managed.db");
      const result = await execa("node", [bench, "run", suite, "--db", db], {
        reject: false,
        env: { EFFBENCH_SERVE_CACHE: join(dir, "cache") },
      });
      expect(result.exitCode, result.stderr.toString()).toBe(0);
      const results = await rows<{
        id: number;
        status: string;
        reason: string | null;
        settings_json: string;
        name: string;
      }>(
        db,
        "SELECT r.id, r.status, r.reason, r.settings_json, c.name FROM results r JOIN cases c ON c.id = r.case_id ORDER BY r.id",
      );
      expect(results.map((r) => [r.name, r.status, r.reason])).toEqual(results.map((r) => [r.name, "completed", null]));
      expect(results).toHaveLength(4);
      const requests = await rows<{
        result_id: number;
        request: number;
        intended_ms: number;
        status: string;
        prompt_tokens: number;
        output_tokens: number;
        ttft_ms: number;
        tpot_ms: number;
        e2e_ms: number;
      }>(db, "SELECT * FROM serve_requests ORDER BY result_id, request");
      expect(requests).toHaveLength(16);
      for (const r of requests) {
        expect(r).toMatchObject({
          status: "ok",
          prompt_tokens: 12,
          output_tokens: 4,
          intended_prompt_tokens: 12,
          intended_output_tokens: 4,
          phase: null,
        });
        expect(r.ttft_ms).toBeGreaterThan(0);
        expect(r.e2e_ms).toBeGreaterThan(r.ttft_ms);
        expect(r.tpot_ms).toBeCloseTo((r.e2e_ms - r.ttft_ms) / 3, 6);
      }
      // The open-loop point keeps its seeded schedule (rate 4/s, seed 5, first repeat).
      const open = results.find((r) => r.name.includes("4 req/s") && r.name.includes("base"))!;
      const offsets = arrivalOffsetsMs({ kind: "open", rate: 4, arrival: "poisson" }, 4, 5);
      expect(requests.filter((r) => r.result_id === open.id).map((r) => r.intended_ms)).toEqual(
        offsets.map((o) => expect.closeTo(o, 6)),
      );
      const lora = JSON.parse(results.find((r) => r.name.includes("lora"))!.settings_json) as Record<string, any>;
      expect(lora).toMatchObject({
        mode: "managed",
        model: {
          adapter: expect.stringMatching(/^unmerged: a peft adapter directory/),
          adapterTargets: ["q_proj", "v_proj"],
        },
      });
      expect(lora.server).toMatch(/^transformers serve 5\./);
      // The managed CPU server leaves one CPU to the load generator (all of them on a 1-CPU machine).
      expect(lora).toMatchObject(cpuPlacement(undefined));
      expect(lora.threads).toBe(Math.max(1, availableParallelism() - 1));
      const metrics = await rows<{ name: string; value: number | null; reason: string | null }>(
        db,
        `SELECT name, value, reason FROM metrics WHERE result_id = ${open.id}`,
      );
      const get = (n: string) => metrics.find((m) => m.name === n);
      for (const n of [
        "ttft_p50_ms",
        "ttft_p99_ms",
        "tpot_p50_ms",
        "itl_p50_ms",
        "e2e_p99_ms",
        "request_rate",
        "output_tokens_per_s",
        "goodput",
        "send_lag_p99_ms",
      ])
        expect(get(n)?.value, n).toBeGreaterThan(0);
      expect(get("error_rate")?.value).toBe(0);
      expect(get("gpu_energy_j_per_token")).toMatchObject({ value: null, reason: expect.stringMatching(/NVML/) });
      expect(serverProcesses(join(dir, "cache"))).toEqual([]);
    },
    SERVE_TIMEOUT,
  );

  it(
    "draws seeded per-request lengths from a workload dataset: intended lengths stored, the server's usage meets them",
    async () => {
      const lengths = { kind: "dataset", dataset: "chat-alpaca", maxPromptTokens: 40, maxNewTokens: 24 };
      // Bounded by 6 requests and a 120 s duration: the count ends it, every request within the window.
      const suite = suiteFile("lengths", {
        concurrency: [2],
        requests: 6,
        durationS: 120,
        inFlight: "cancel",
        lengths,
      });
      const db = join(dir, "lengths.db");
      const result = await execa("node", [bench, "run", suite, "--db", db], {
        reject: false,
        env: { EFFBENCH_SERVE_CACHE: join(dir, "cache") },
      });
      expect(result.exitCode, result.stderr.toString()).toBe(0);
      const [res] = await rows<{ id: number; status: string; settings_json: string; details_json: string }>(
        db,
        "SELECT id, status, settings_json, details_json FROM results",
      );
      expect(res!.status).toBe("completed");
      const requests = await rows<{
        status: string;
        prompt_tokens: number;
        output_tokens: number;
        intended_prompt_tokens: number;
        intended_output_tokens: number;
        phase: string | null;
        sent_ms: number;
        e2e_ms: number;
        intended_ms: number;
      }>(db, "SELECT * FROM serve_requests ORDER BY request");
      // The same seeded draw as the runner's (protocol seed 5, first repeat), clipped to the caps.
      const sampler = new LengthSampler(lengthsSchema.parse(lengths), { prompt: 12, output: 4 }, 4096, 5);
      expect(requests.map((r) => [r.intended_prompt_tokens, r.intended_output_tokens])).toEqual(
        Array.from({ length: 6 }, (_, i) => [sampler.at(i).prompt, sampler.at(i).output]),
      );
      expect(new Set(requests.map((r) => r.intended_output_tokens)).size).toBeGreaterThan(1);
      expect(new Set(requests.map((r) => r.intended_prompt_tokens)).size).toBeGreaterThan(1);
      for (const r of requests) {
        expect(r.status).toBe("ok");
        expect(r.phase).toBe("window");
        // Achieved = intended: the synthetic tokenizer makes N words N tokens; no eos, max_tokens per request.
        expect(r.prompt_tokens).toBe(r.intended_prompt_tokens);
        expect(r.output_tokens).toBe(r.intended_output_tokens);
      }
      const settings = JSON.parse(res!.settings_json) as Record<string, any>;
      expect(settings.lengths).toMatchObject({
        kind: "dataset",
        dataset: "chat-alpaca",
        assumption: expect.stringMatching(/log-normal .* not the dataset's own distribution/),
        output: { distribution: "log-normal", fittedTo: "mean 58.45", sigma: 1 },
      });
      expect(settings).toMatchObject({ requests: 6, durationS: 120, inFlight: "cancel" });
      const details = JSON.parse(res!.details_json) as Record<string, any>;
      expect(details.lengths).toMatchObject({ requests: 6, output: { max: expect.any(Number) } });
      const metrics = await rows<{ name: string; value: number | null }>(
        db,
        `SELECT name, value FROM metrics WHERE result_id = ${res!.id}`,
      );
      const get = (n: string) => metrics.find((m) => m.name === n)?.value;
      expect([get("completed_in_window"), get("drained"), get("cancelled")]).toEqual([6, 0, 0]);
      // The count ran out inside the duration: rates over the span the requests took, not the 120 s.
      expect(settings.rateWindow).toMatch(
        /^from the first intended send .* the 6 requests ended within the 120 s duration/,
      );
      const span = Math.max(...requests.map((r) => r.sent_ms + r.e2e_ms)) - requests[0]!.intended_ms;
      expect(get("output_tokens_per_s")).toBeCloseTo(
        requests.reduce((sum, r) => sum + r.output_tokens, 0) / (span / 1000),
        6,
      );
    },
    SERVE_TIMEOUT,
  );

  it(
    "ends a duration-bound point at its duration: in-flight requests cancelled, counted apart, out of the latencies",
    async () => {
      const path = join(dir, "duration.ts");
      writeFileSync(
        path,
        readFileSync(suiteFile("duration", { concurrency: [2], durationS: 4, inFlight: "cancel" }), "utf8").replace(
          "newTokens: 4",
          "newTokens: 100",
        ),
      );
      const db = join(dir, "duration.db");
      const result = await execa("node", [bench, "run", path, "--db", db], {
        reject: false,
        env: { EFFBENCH_SERVE_CACHE: join(dir, "cache") },
      });
      expect(result.exitCode, result.stderr.toString()).toBe(0);
      const [res] = await rows<{ id: number; status: string }>(db, "SELECT id, status FROM results");
      expect(res!.status).toBe("completed");
      const requests = await rows<{
        status: string;
        phase: string;
        error: string | null;
        sent_ms: number;
        e2e_ms: number;
        output_tokens: number | null;
      }>(db, "SELECT * FROM serve_requests ORDER BY request");
      const cancelled = requests.filter((r) => r.phase === "cancelled");
      const ok = requests.filter((r) => r.status === "ok");
      // Two requests are in flight whenever the duration ends, in a closed loop of 2.
      expect(cancelled.length).toBeGreaterThanOrEqual(1);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(ok.length + cancelled.length).toBe(requests.length);
      for (const r of ok) expect(r).toMatchObject({ phase: "window", output_tokens: 100 });
      for (const r of cancelled) {
        expect(r.error).toMatch(/^cancelled: in flight when the point's duration ended/);
        expect(r.output_tokens).toBeNull();
        expect(r.sent_ms + r.e2e_ms).toBeGreaterThanOrEqual(4000 - 1);
        expect(r.sent_ms + r.e2e_ms).toBeLessThan(4000 + 500);
      }
      const samples = await rows<{ n: number }>(
        db,
        `SELECT count(*) AS n FROM samples WHERE result_id = ${res!.id} AND metric = 'e2e_ms'`,
      );
      expect(samples[0]!.n).toBe(ok.length);
      const metrics = await rows<{ name: string; value: number | null }>(
        db,
        `SELECT name, value FROM metrics WHERE result_id = ${res!.id}`,
      );
      const get = (n: string) => metrics.find((m) => m.name === n)?.value;
      expect([get("completed_in_window"), get("drained"), get("cancelled"), get("error_rate")]).toEqual([
        ok.length,
        0,
        cancelled.length,
        0,
      ]);
      expect(get("request_rate")).toBeCloseTo(ok.length / 4, 9);
      expect(get("output_tokens_per_s")).toBeCloseTo((100 * ok.length) / 4, 9);
    },
    SERVE_TIMEOUT,
  );

  it(
    "serves the LoRA adapter's computation: the same greedy prompts get other answers than from the base",
    async () => {
      // Gaussian weights: the micro model's llm-like outlier channels make its greedy answer one repeated word.
      const micro = { ...MICRO, weights: { seed: 3, distribution: "gaussian" } };
      const suite = suiteSchema().parse({
        name: "x",
        models: [micro],
        techniques: [{ kind: "base" }, { kind: "lora", rank: 4 }],
        scenarios: ["serving"],
        workloads: [{ promptTokens: 12, newTokens: 8 }],
        runners: ["serve"],
      });
      process.env.EFFBENCH_SERVE_CACHE = join(dir, "cache");
      const answers: string[][] = [];
      for (const c of planSuite(suite, { codeVersion: "test" })) {
        const model = await ensureServedModel(c);
        const server = await ManagedServer.start(python, model.dir, {
          device: "cpu",
          dtype: "float32",
          continuousBatching: false,
          compile: false,
          startTimeoutMs: 300_000,
        });
        try {
          const texts: string[] = [];
          for (const seed of [1, 2, 3, 4]) {
            const r = await streamRequest(
              { url: server.url, api: "completions", streamOptions: true },
              { model: model.dir, prompt: syntheticPrompt(12, 97, seed), maxTokens: 8, timeoutMs: 60_000 },
            );
            expect(r.status, r.error).toBe("ok");
            expect(r.text.trim().split(" ")).toHaveLength(8);
            texts.push(r.text);
          }
          answers.push(texts);
        } finally {
          await server.stop();
        }
      }
      expect(answers[1]).not.toEqual(answers[0]);
    },
    SERVE_TIMEOUT,
  );

  it(
    "never writes an external endpoint's API key to the DB, the site or the logs",
    async () => {
      const secret = "sk-effbench-9f1c2e7d5a3b";
      process.env.EFFBENCH_SERVE_CACHE = join(dir, "cache");
      const suite = suiteSchema().parse({
        name: "x",
        models: [MICRO],
        scenarios: ["serving"],
        workloads: [{ promptTokens: 12, newTokens: 4 }],
        runners: ["serve"],
      });
      const model = await ensureServedModel(planSuite(suite, { codeVersion: "test" })[0]!);
      const server = await ManagedServer.start(python, model.dir, {
        device: "cpu",
        dtype: "float32",
        continuousBatching: false,
        compile: false,
        startTimeoutMs: 300_000,
      });
      try {
        // One endpoint that answers, one that refuses the connection (its error path must not leak the key either).
        const dead = server.url.replace(/:\d+$/, ":1");
        const logs: string[] = [];
        for (const [name, url] of [
          ["ext-ok", server.url],
          ["ext-dead", dead],
        ] as const) {
          const path = suiteFile(name, {
            endpoint: { url, model: model.dir, apiKeyEnv: "EFFBENCH_TEST_API_KEY" },
            concurrency: [1],
            requests: 2,
          });
          const result = await execa("node", [bench, "run", path, "--db", join(dir, "external.db")], {
            reject: false,
            all: true,
            env: { EFFBENCH_TEST_API_KEY: secret },
          });
          logs.push(result.all?.toString() ?? "");
        }
        const report = await execa("node", [bench, "report", join(dir, "external.db"), "--output", join(dir, "site")], {
          reject: false,
          all: true,
        });
        logs.push(report.all?.toString() ?? "");
        expect(report.exitCode, report.all?.toString()).toBe(0);
        const statuses = await rows<{ status: string; reason: string | null }>(
          join(dir, "external.db"),
          "SELECT status, reason FROM results ORDER BY id",
        );
        expect(statuses.map((s) => s.status)).toEqual(["completed", "failed"]);
        expect(statuses[1]!.reason).toMatch(/ECONNREFUSED/);
        const files = (d: string): string[] =>
          readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? files(join(d, f)) : [join(d, f)]));
        const haystack = [
          ...files(dir)
            .filter((f) => /\.(db|db-wal|html|json|md|csv|js)$/.test(f))
            .map((f) => readFileSync(f).toString("latin1")),
          ...logs,
        ];
        expect(haystack.length).toBeGreaterThan(4);
        for (const text of haystack) expect(text.includes(secret)).toBe(false);
        // The key was really sent: the header reached the server (transformers serve ignores it).
        const settings = await rows<{ settings_json: string }>(
          join(dir, "external.db"),
          "SELECT settings_json FROM results WHERE status = 'completed'",
        );
        expect(JSON.parse(settings[0]!.settings_json)).toMatchObject({
          mode: "external",
          apiKeyFrom: "EFFBENCH_TEST_API_KEY",
        });
      } finally {
        await server.stop();
      }
    },
    SERVE_TIMEOUT,
  );
});
