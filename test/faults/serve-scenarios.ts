// Faults of the serve runner against a real `transformers serve`: the managed server crashes mid-point (that case
// fails with the reason, the next case gets a restarted server), and a fault-injecting proxy in front of a real server
// hangs one stream and corrupts another (a timeout and an error recorded, the point completes). Nothing recorded is
// lost, no server is left running. 127.0.0.1 only, bounded request counts.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Connection } from "../../src/store/sqlite.js";
import { fromRoot } from "../../src/paths.js";
import { planSuite } from "../../src/suite/planner.js";
import { suiteSchema } from "../../src/suite/schema.js";
import "../../runners/index.js";
import { ensureServedModel } from "../../runners/serve/hf-dir.js";
import { ManagedServer } from "../../runners/serve/server.js";
import { startFaultProxy } from "../serve/fault-proxy.js";
import {
  markedProcesses,
  newMarker,
  resultRows,
  runBench,
  tempDir,
  waitForNoProcesses,
  pythonAvailable,
} from "./harness.js";
import { Tally, tail, type FaultScenario } from "./tally.js";

const SERVER = "runners/serve/launch_server.py";
const MICRO = `{ name: "micro", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, weights: { seed: 3 } }`;
const noPython = () => (pythonAvailable() ? undefined : "no .venv with transformers serve (npm run setup)");

function serveSuite(
  dir: string,
  name: string,
  serve: string,
  workload = "{ batch: 1, promptTokens: 12, newTokens: 16 }",
): string {
  const path = join(dir, `${name}.ts`);
  writeFileSync(
    path,
    `import { defineSuite } from "effbench";
export default defineSuite({ name: "${name}", models: [${MICRO}], scenarios: ["serving"], workloads: [${workload}], runners: ["serve"], serve: ${serve}, protocol: { repeats: 1 } });
`,
  );
  return path;
}

async function requestRows(
  db: string,
): Promise<Array<{ result_id: number; request: number; status: string; error: string | null }>> {
  const c = await Connection.open(db, { readonly: true });
  try {
    return await c.all("SELECT result_id, request, status, error FROM serve_requests ORDER BY result_id, request");
  } finally {
    await c.close();
  }
}

export const serveCrash: FaultScenario = {
  id: "serve-crash",
  fault: "transformers serve killed (SIGKILL) mid-point",
  behaviour:
    "a managed server killed mid-point fails that case with the reason, keeps its request rows, and the next case gets a restarted server",
  timeoutMs: 400_000,
  unavailable: noPython,
  async run() {
    const t = new Tally(this.fault);
    const dir = tempDir("serve-crash");
    const db = join(dir, "r.db");
    const marker = newMarker("serve-crash");
    const suite = serveSuite(dir, "serve-crash", "{ concurrency: [1, 2], requests: 60 }");
    // The runner SIGKILLs its own server once 5 requests of the first point have ended (EFFBENCH_TEST_FAULT): a
    // kill -9 from outside could land in the warm-up on a loaded machine, or after the point on a fast one.
    const result = await runBench(["run", suite, "--db", db], {
      marker,
      timeoutMs: 380_000,
      env: {
        EFFBENCH_SERVE_CACHE: join(dir, "cache"),
        EFFBENCH_TEST_FAULT: "serve-kill-after=5",
        EFFBENCH_TEST_FAULT_FILTER: "concurrency 1",
      },
    });
    await t.inject("server killed mid-point", async () => {
      const rows = await resultRows(db);
      const crashed = rows.find((r) => r.caseName.includes("concurrency 1"));
      const next = rows.find((r) => r.caseName.includes("concurrency 2"));
      t.expect(
        crashed?.status === "failed" && /server died mid-point \(killed by SIGKILL\)/.test(crashed.reason ?? ""),
        "the crashed case failed with the server's death as reason",
        () => `${crashed?.status}: ${crashed?.reason}`,
      );
      t.expect(
        next?.status === "completed",
        "the next case completed on a restarted server",
        () => `${next?.status}: ${next?.reason}`,
      );
      const requests = await requestRows(db);
      const ofCrashed = requests.filter((r) => r.result_id === crashed?.id);
      t.expect(
        ofCrashed.length > 0 && ofCrashed.some((r) => r.status === "ok") && ofCrashed.some((r) => r.status !== "ok"),
        "the crashed point's rows stored: some answered before the crash, some failed by it",
        () => JSON.stringify(ofCrashed.map((r) => r.status)),
      );
      t.expect(
        requests.filter((r) => r.result_id === next?.id && r.status === "ok").length === 60,
        "all 60 requests of the next point answered",
        () => String(requests.filter((r) => r.result_id === next?.id).length),
      );
      t.expect(
        result.exitCode === 1,
        "exit code 1 (a case failed)",
        () => `${result.exitCode}: ${tail(result.stderr)}`,
      );
    });
    const left = await waitForNoProcesses(marker, SERVER, 10_000);
    t.expectNoOrphans(left, "transformers serve");
    return t.outcome;
  },
};

export const serveStreamFaults: FaultScenario = {
  id: "serve-stream",
  fault: "hung stream / malformed SSE (proxy before transformers serve)",
  behaviour:
    "a stream that hangs is recorded as a timeout and a malformed SSE event as an error; the point completes with the others",
  timeoutMs: 400_000,
  unavailable: noPython,
  async run() {
    const t = new Tally(this.fault);
    const dir = tempDir("serve-stream");
    const db = join(dir, "r.db");
    const marker = newMarker("serve-stream");
    process.env.EFFBENCH_SERVE_CACHE = join(dir, "cache");
    const suite = suiteSchema().parse({
      name: "x",
      models: [
        { name: "micro", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, weights: { seed: 3 } },
      ],
      scenarios: ["serving"],
      workloads: [{ promptTokens: 12, newTokens: 16 }],
      runners: ["serve"],
    });
    const python = fromRoot(".venv/bin/python");
    const model = await ensureServedModel(planSuite(suite, { codeVersion: "faults" })[0]!);
    const server = await ManagedServer.start(python, model.dir, {
      device: "cpu",
      dtype: "float32",
      continuousBatching: false,
      compile: false,
      startTimeoutMs: 300_000,
    });
    const proxy = await startFaultProxy(server.url, { 1: "hang", 3: "malformed" });
    try {
      const path = serveSuite(
        dir,
        "serve-stream",
        JSON.stringify({
          endpoint: { url: proxy.url, model: model.dir },
          concurrency: [1],
          requests: 5,
          requestTimeoutMs: 4000,
        }),
      );
      const result = await runBench(["run", path, "--db", db], { marker, timeoutMs: 120_000 });
      await t.inject("hung stream and malformed SSE", async () => {
        const [row] = await resultRows(db);
        t.expect(
          row?.status === "completed",
          "the point completed",
          () => `${row?.status}: ${row?.reason} ${tail(result.stderr)}`,
        );
        const requests = await requestRows(db);
        t.expect(requests.length === 5, "5 request rows", () => String(requests.length));
        t.expect(
          requests[1]?.status === "timeout" && /no end of stream within 4000 ms/.test(requests[1].error ?? ""),
          "request 1 (hung) recorded as a timeout",
          () => JSON.stringify(requests[1]),
        );
        t.expect(
          requests[3]?.status === "error" && /malformed SSE event/.test(requests[3].error ?? ""),
          "request 3 (malformed) recorded as an error",
          () => JSON.stringify(requests[3]),
        );
        t.expect(
          [0, 2, 4].every((i) => requests[i]?.status === "ok"),
          "the other requests answered",
          () => JSON.stringify(requests.map((r) => r.status)),
        );
        t.expect(result.exitCode === 0, "exit code 0", () => `${result.exitCode}: ${tail(result.stderr)}`);
      });
    } finally {
      await proxy.close();
      await server.stop();
    }
    t.expectNoOrphans(markedProcesses(marker, SERVER), "transformers serve");
    return t.outcome;
  },
};
