// The serve runner: drives an OpenAI-compatible server under load, one case per load point. Managed mode writes the
// case's model as a Hugging Face directory and runs `transformers serve` on it (one server reused by the points and
// repeats of the same model and settings, restarted if it dies); external mode drives the user's endpoint. A repeat
// re-runs the point's seeded schedule against the same server (documented in docs/serving.md).
import { execa } from "execa";
import { availableParallelism } from "node:os";
import type { Case } from "../../src/suite/case.js";
import type { ProbeResult, RepeatContext, RepeatOutcome, Runner, RunnerOptions } from "../../src/runner/contract.js";
import { interpreterCandidates } from "../shared/python.js";
import { syntheticPrompt } from "../../src/model/synthetic-tokenizer.js";
import { ensureServedModel, type ServedModel } from "./hf-dir.js";
import { serveStaticReason } from "./support.js";
import { pointBound, type ServeSettings } from "./settings.js";
import { ManagedServer, type ServerSettings } from "./server.js";
import { runPoint, type PlannedRequest } from "./load.js";
import { adapterAssignments } from "./schedule.js";
import { LengthSampler } from "./lengths.js";
import { pointScalars, pointSeries, SEND_LAG_LIMIT_MS } from "./metrics.js";
import { percentile } from "../../src/measure/stats.js";
import type { StreamTarget } from "./stream.js";

const DTYPE_FLAG = { fp32: "float32", fp16: "float16", bf16: "bfloat16" } as const;
const PROBE_SCRIPT =
  "import json, sys, transformers, fastapi, uvicorn, pydantic, openai, torch; " +
  "print(json.dumps({'transformers': transformers.__version__, 'torch': torch.__version__, 'fastapi': fastapi.__version__, " +
  "'uvicorn': uvicorn.__version__, 'cuda': torch.cuda.device_count(), 'python': sys.version.split()[0]}))";

export class ServeRunner implements Runner {
  readonly name = "serve" as const;
  private probed: Promise<ProbeResult> | undefined;
  private python: string | undefined;
  private current: { key: string; server: ManagedServer; model: ServedModel } | undefined;

  constructor(private readonly options: RunnerOptions = {}) {}

  probe(): Promise<ProbeResult> {
    this.probed ??= this.runProbe();
    return this.probed;
  }

  private async runProbe(): Promise<ProbeResult> {
    const failures: string[] = [];
    for (const candidate of interpreterCandidates(this.options)) {
      const result = await execa(candidate.python, ["-c", PROBE_SCRIPT], { reject: false, timeout: 180_000 });
      if (result.exitCode === 0) {
        this.python = candidate.python;
        const info = JSON.parse(result.stdout.toString().trim().split("\n").pop()!) as Record<string, unknown>;
        return { available: true, info: { python: candidate.python, pythonSource: candidate.source, ...info } };
      }
      const why = (result.stderr?.toString() ?? "").trim().split("\n").pop() || result.shortMessage;
      failures.push(`${candidate.python} (${candidate.source}): ${why}`);
    }
    return {
      available: false,
      reason: `no Python with transformers serve's packages (transformers, fastapi, uvicorn, pydantic, openai) was found — tried ${failures.join("; ")}. Run \`npm run setup\` (scripts/setup-python.sh installs them), or pass --python / set BENCH_PYTHON`,
      info: {},
    };
  }

  unsupportedReason(c: Case, probe: ProbeResult): string | undefined {
    const s = c.settings as ServeSettings;
    const reason = serveStaticReason(c);
    if (reason || s.endpoint) return reason;
    if (!probe.available) return probe.reason;
    if (s.device === "cuda" && !((probe.info.cuda as number) > 0))
      return `serve.device is cuda, but ${String(probe.info.python)} sees no CUDA device (torch ${String(probe.info.torch)})`;
    return undefined;
  }

  private serverSettings(c: Case): ServerSettings {
    const s = c.settings as ServeSettings;
    const dtype = c.technique.kind === "fp16" || c.technique.kind === "bf16" ? c.technique.kind : s.dtype;
    return {
      device: s.device,
      dtype: DTYPE_FLAG[dtype],
      continuousBatching: s.continuousBatching,
      compile: s.compile,
      cbNumBlocks: s.cbNumBlocks,
      startTimeoutMs: s.serverStartTimeoutMs,
      ...(s.device === "cpu" ? cpuPlacement(s.threads) : {}),
    };
  }

  /** The managed server for this case: the running one if it serves the same directory and settings and is alive. */
  private async serverFor(c: Case, signal: AbortSignal): Promise<{ server: ManagedServer; model: ServedModel }> {
    const model = await ensureServedModel(c);
    const settings = this.serverSettings(c);
    const key = JSON.stringify({ dir: model.dir, ...settings });
    if (this.current && (this.current.key !== key || this.current.server.exitReason)) {
      await this.current.server.stop();
      this.current = undefined;
    }
    if (!this.current) {
      const server = await ManagedServer.start(this.python!, model.dir, settings, signal);
      this.current = { key, server, model };
    }
    return this.current;
  }

  async runRepeat(c: Case, ctx: RepeatContext): Promise<RepeatOutcome> {
    const probe = await this.probe();
    const unsupported = this.unsupportedReason(c, probe);
    if (unsupported) return { status: "unsupported", reason: unsupported };
    const s = c.settings as ServeSettings;
    // The case timeout in force (`--case-timeout` may shorten the suite's): a duration-bound point must end before it,
    // with its drain (up to one request timeout) when in-flight requests are waited for.
    if (s.durationS !== undefined) {
      const needMs = s.durationS * 1000 + (s.inFlight === "drain" ? s.requestTimeoutMs : 0);
      if (needMs >= ctx.timeoutMs)
        return {
          status: "unsupported",
          reason: `serve.durationS (${s.durationS} s)${s.inFlight === "drain" ? ` plus a drain of up to serve.requestTimeoutMs (${s.requestTimeoutMs} ms)` : ""} does not end before the case timeout (${ctx.timeoutMs} ms): the point could time out — shorten durationS${s.inFlight === "drain" ? ' or requestTimeoutMs, or set inFlight: "cancel"' : ""}, or raise the case timeout`,
        };
    }
    let target: StreamTarget;
    let modelName: string;
    let server: ManagedServer | undefined;
    let settings: Record<string, unknown>;
    if (s.endpoint) {
      const { apiKeyEnv } = s.endpoint;
      const apiKey = apiKeyEnv ? process.env[apiKeyEnv] : undefined;
      if (apiKeyEnv && !apiKey)
        return {
          status: "failed",
          reason: `serve.endpoint.apiKeyEnv names ${apiKeyEnv}, which is not set in the environment: export it before the run`,
        };
      target = {
        url: s.endpoint.url,
        api: s.endpoint.api,
        apiKey,
        extras: s.endpoint.extras,
        streamOptions: s.endpoint.streamOptions,
      };
      modelName = s.endpoint.model;
      // The URL is recorded; the key never is.
      settings = {
        mode: "external",
        url: s.endpoint.url,
        model: modelName,
        api: s.endpoint.api,
        extras: s.endpoint.extras,
        apiKeyFrom: apiKeyEnv ?? null,
      };
    } else {
      try {
        const managed = await this.serverFor(c, ctx.signal);
        server = managed.server;
        modelName = server.modelDir;
        target = { url: server.url, api: "completions", streamOptions: true };
        settings = {
          mode: "managed",
          server: `transformers serve ${String(probe.info.transformers)}`,
          torch: probe.info.torch,
          args: server.args.slice(2),
          ...this.serverSettings(c),
          batching: s.continuousBatching
            ? "continuous batching (paged attention)"
            : "no continuous batching: transformers serve runs one request at a time, so concurrency and rate measure queueing",
          model: managed.model.notes,
          outputLength:
            "forced: generation_config has no eos token (and no min_new_tokens), transformers serve sets each request's max_new_tokens from its max_tokens, so every request generates its own max_tokens",
        };
      } catch (error) {
        if (ctx.signal.aborted) return { status: "failed", reason: "interrupted" };
        return {
          status: "failed",
          reason: `the managed transformers serve did not start: ${(error as Error).message}`,
        };
      }
    }
    if (server?.pid !== undefined) ctx.onProcess?.(server.pid);

    const point = s.point ?? { kind: "closed" as const, concurrency: 1 };
    const seed = c.protocol.seed + 1009 * ctx.repeat;
    const bound = pointBound(s);
    const lengths = new LengthSampler(
      s.lengths,
      { prompt: c.workload.promptTokens, output: c.workload.newTokens },
      c.model.maxPositions,
      seed,
    );
    // Adapters are drawn in request order from their own seeded stream, extended on demand like the lengths.
    const adapterNames: string[] = [];
    const adapterAt = (i: number): string | undefined => {
      if (!s.endpoint?.adapters || !s.adapterSpread) return undefined;
      const spread = {
        names: s.endpoint.adapters.slice(0, s.adapterSpread.count),
        distribution: s.adapterSpread.distribution,
        zipf: s.adapterSpread.zipf,
      };
      if (adapterNames.length <= i) {
        adapterNames.length = 0;
        for (const name of adapterAssignments(spread, 2 * i + 16, seed)) adapterNames.push(name);
      }
      return adapterNames[i];
    };
    const planned = new Map<number, PlannedRequest>();
    const plan = {
      count: bound.requests,
      at: (i: number): PlannedRequest => {
        let r = planned.get(i);
        if (!r) {
          const { prompt, output } = lengths.at(i);
          const adapter = adapterAt(i);
          r = {
            model: modelName,
            prompt: syntheticPrompt(prompt, c.model.vocab, seed * 7919 + i),
            maxTokens: output,
            intendedPromptTokens: prompt,
            ...(adapter ? { adapter } : {}),
          };
          planned.set(i, r);
        }
        return r;
      },
    };
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    ctx.signal.addEventListener("abort", onAbort);
    const caseTimer = setTimeout(() => abort.abort(), ctx.timeoutMs);
    // A managed server that dies mid-point ends the point: the requests in flight fail on their own.
    const watch = server ? setInterval(() => server!.exitReason && abort.abort(), 200) : undefined;
    // Fault tests (test/faults): EFFBENCH_TEST_FAULT=serve-kill-after=N kills the managed server (SIGKILL, as kill -9
    // would) once N requests of a point have ended, in cases whose name contains EFFBENCH_TEST_FAULT_FILTER.
    const killAfter = Number(/(?:^|,)serve-kill-after=(\d+)/.exec(process.env.EFFBENCH_TEST_FAULT ?? "")?.[1] ?? NaN);
    const faultHere =
      !process.env.EFFBENCH_TEST_FAULT_FILTER || c.name.includes(process.env.EFFBENCH_TEST_FAULT_FILTER);
    const onRequestEnd =
      server && faultHere && Number.isInteger(killAfter)
        ? (ended: number) => ended === killAfter && server!.pid !== undefined && process.kill(server!.pid, "SIGKILL")
        : undefined;
    ctx.onWindow?.("measure-start");
    let result: Awaited<ReturnType<typeof runPoint>>;
    try {
      result = await runPoint({
        target,
        shape: point,
        requests: plan,
        seed,
        timeoutMs: s.requestTimeoutMs,
        signal: abort.signal,
        durationMs: bound.durationMs,
        inFlight: bound.inFlight,
        onRequestEnd,
      });
    } finally {
      ctx.onWindow?.("measure-end");
      clearTimeout(caseTimer);
      if (watch) clearInterval(watch);
      ctx.signal.removeEventListener("abort", onAbort);
    }
    const rows = result.records;
    const planTotal = Number.isFinite(bound.requests) ? `${bound.requests}` : "the duration's";
    if (server?.exitReason)
      return {
        status: "failed",
        reason: `the server died mid-point (${server.exitReason}) after ${rows.length} of ${planTotal} requests: ${server.logTail(3)}`,
        requests: rows,
      };
    if (abort.signal.aborted && !ctx.signal.aborted)
      return {
        status: "timed-out",
        reason: `the point did not finish within the case timeout (${ctx.timeoutMs} ms): ${rows.length} of ${planTotal} requests sent`,
        requests: rows,
      };
    const ok = rows.filter((r) => r.status === "ok");
    const cancelled = rows.filter((r) => r.phase === "cancelled").length;
    if (ok.length === 0 && cancelled > 0 && cancelled === rows.length)
      return {
        status: "failed",
        reason: `no request completed: all ${cancelled} were still in flight when the ${s.durationS} s duration ended and were cancelled — make serve.durationS longer than a request takes, or set serve.inFlight to "drain"`,
        requests: rows,
      };
    if (ok.length === 0) {
      const first = rows.find((r) => r.error && r.phase !== "cancelled")?.error ?? "no request completed";
      return { status: "failed", reason: `every request failed; the first: ${first}`, requests: rows };
    }
    const lagP99 = percentile(
      rows.map((r) => r.sendLagMs),
      99,
    );
    const validity =
      lagP99 > SEND_LAG_LIMIT_MS
        ? [
            {
              flag: "send-lag",
              detail: `the client sent requests late: send lag p99 ${lagP99.toFixed(2)} ms > ${SEND_LAG_LIMIT_MS} ms (the load may not be the one the schedule asked for)`,
            },
          ]
        : [];
    const errors = rows.length - cancelled - ok.length;
    if (errors > 0)
      validity.push({
        flag: "request-errors",
        detail: `${errors} of ${rows.length - cancelled} requests failed or timed out; the first: ${rows.find((r) => r.error && r.phase !== "cancelled")?.error}`,
      });
    // Energy per output token needs every completed request's count: a request without usage leaves it unknown (null).
    // A cancelled request's partial output has no usage: its tokens are not counted though its energy is.
    const energyTokens = ok.some((r) => r.outputTokens === null)
      ? undefined
      : ok.reduce((sum, r) => sum + r.outputTokens!, 0);
    return {
      status: "completed",
      series: pointSeries(rows, result.gapsMs),
      scalars: pointScalars(rows, result.rateWindow, s),
      tokensPerIteration: c.workload.newTokens,
      measureWindowMs: result.windowMs,
      primarySeries: "e2e_ms",
      windowTokens: energyTokens,
      settings: {
        ...settings,
        point,
        requests: Number.isFinite(bound.requests) ? bound.requests : null,
        durationS: s.durationS ?? null,
        inFlight: bound.durationMs === undefined ? null : bound.inFlight,
        rateWindow:
          result.rateWindow.kind === "duration"
            ? `the ${s.durationS} s duration from the point's start: request/s, tok/s and goodput count the requests that completed within it`
            : s.durationS !== undefined
              ? `from the first intended send to the last end of stream: the ${s.requests} requests ended within the ${s.durationS} s duration`
              : "from the first intended send to the last end of stream",
        lengths: lengths.description,
        requestTimeoutMs: s.requestTimeoutMs,
        slo: s.slo ?? null,
      },
      details: {
        lengths: lengths.summary(rows.length),
        prompts: s.endpoint
          ? "synthetic words; the endpoint's own tokenizer decides the achieved prompt length (usage.prompt_tokens)"
          : "exact token lengths under the synthetic tokenizer",
        energy: "device-level (NVML) over the point's window, all requests together",
      },
      requests: rows,
      validity,
    };
  }

  async close(): Promise<void> {
    await this.current?.server.stop();
    this.current = undefined;
  }
}

/**
 * Where a managed CPU server runs: by default on all CPUs but one (the first of its affinity set, Linux), with as
 * many torch threads, so that the load generator in this process keeps a CPU of its own and its send lag is the
 * timer's, not the scheduler's. An explicit `threads` is used as given, unpinned.
 */
export function cpuPlacement(threads: number | undefined): { threads: number; leaveCpus: number } {
  if (threads !== undefined) return { threads, leaveCpus: 0 };
  const cpus = availableParallelism();
  return cpus < 2 ? { threads: 1, leaveCpus: 0 } : { threads: cpus - 1, leaveCpus: 1 };
}
