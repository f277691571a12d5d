// A managed `transformers serve` process: started from the project's Python on 127.0.0.1 and a free port, in its
// own process group (stopped as a group: no orphans), ready once /health answers and one warm-up request has
// streamed, so that model loading and first-call costs stay out of the measured points.
import { createServer, type AddressInfo } from "node:net";
import { execa, type ResultPromise } from "execa";
import { fromRoot } from "../../src/paths.js";
import { runPoint } from "./load.js";

export interface ServerSettings {
  device: string;
  dtype: string;
  continuousBatching: boolean;
  compile: boolean;
  /** Paged-cache blocks under continuous batching (else transformers sizes the cache itself). */
  cbNumBlocks?: number;
  startTimeoutMs: number;
  /** CPU device: the server's torch threads, and how many CPUs of its affinity set it leaves to the load generator. */
  threads?: number;
  leaveCpus?: number;
}

const LOG_TAIL_LINES = 30;
/** Requests of the warm-up burst before a server is ready (not recorded). */
const WARMUP_REQUESTS = 16;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export class ManagedServer {
  private exited: string | undefined;
  private readonly log: string[] = [];
  private constructor(
    private readonly child: ResultPromise,
    readonly url: string,
    readonly modelDir: string,
    readonly args: string[],
  ) {
    const keep = (d: Buffer) => {
      // Per-request access lines say nothing about a failure: not kept.
      for (const line of d.toString().split("\n"))
        if (line.trim() && !/"POST \/v1\/|\[Request received\]|"GET \/health/.test(line)) this.log.push(line);
      if (this.log.length > LOG_TAIL_LINES) this.log.splice(0, this.log.length - LOG_TAIL_LINES);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    // With reject: false a killed server resolves too: its signal, else its exit code, says how it ended.
    const ended = (r: { exitCode?: number; signal?: string }) =>
      (this.exited = r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`);
    void child.then(ended, ended);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Why the server is gone (exit code or signal), or undefined while it runs. */
  get exitReason(): string | undefined {
    return this.exited;
  }

  logTail(lines = 5): string {
    return this.log.slice(-lines).join(" | ");
  }

  static async start(
    python: string,
    modelDir: string,
    settings: ServerSettings,
    signal?: AbortSignal,
  ): Promise<ManagedServer> {
    const port = await freePort();
    const args = [
      "serve",
      modelDir,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--device",
      settings.device,
      "--dtype",
      settings.dtype,
      settings.continuousBatching ? "--continuous-batching" : "--no-continuous-batching",
      settings.compile ? "--compile" : "--no-compile",
      ...(settings.cbNumBlocks ? ["--cb-num-blocks", String(settings.cbNumBlocks)] : []),
      "--log-level",
      "warning",
      "--default-seed",
      "0",
    ];
    const child = execa(python, ["-u", fromRoot("runners/serve/launch_server.py"), ...args], {
      detached: true, // its own process group, stopped as one
      reject: false,
      buffer: false,
      stdin: "ignore",
      env: {
        HF_HUB_OFFLINE: "1",
        HF_HUB_DISABLE_UPDATE_CHECK: "1",
        HF_HUB_DISABLE_TELEMETRY: "1",
        TOKENIZERS_PARALLELISM: "false",
        ...(settings.threads
          ? { OMP_NUM_THREADS: String(settings.threads), MKL_NUM_THREADS: String(settings.threads) }
          : {}),
        ...(settings.leaveCpus ? { EFFBENCH_SERVE_LEAVE_CPUS: String(settings.leaveCpus) } : {}),
      },
    });
    const server = new ManagedServer(child, `http://127.0.0.1:${port}`, modelDir, args);
    try {
      await server.waitReady(settings.startTimeoutMs, signal);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  private async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) throw new Error("aborted while the server was starting");
      if (this.exited) throw new Error(`transformers serve ${this.exited} while starting: ${this.logTail()}`);
      if (performance.now() > deadline)
        throw new Error(
          `transformers serve did not answer /health within ${Math.round(timeoutMs / 1000)} s: ${this.logTail()}`,
        );
      if (await this.healthy()) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // A short open-loop burst through the client's own path (runPoint: schedule, send, SSE parse, records) loads what
    // the first calls load — the server's kernels and caches, and the client's compiled code — before any point is
    // timed: a cold client sends the first requests of a run ms late.
    const warm = await runPoint({
      target: { url: this.url, api: "completions", streamOptions: true },
      shape: { kind: "open", rate: 40, arrival: "constant" },
      requests: Array.from({ length: WARMUP_REQUESTS }, () => ({
        model: this.modelDir,
        prompt: "t1 t2 t3 t4",
        maxTokens: 2,
      })),
      seed: 0,
      timeoutMs: Math.max(10_000, deadline - performance.now()),
    });
    const failed = warm.records.find((r) => r.status !== "ok");
    if (failed) throw new Error(`a warm-up request failed: ${failed.error ?? failed.status}`);
  }

  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2000) });
      return response.ok;
    } catch {
      return false;
    }
  }

  /** SIGTERM to the whole process group, SIGKILL after a grace period; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.exited) return;
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    group("SIGTERM");
    const timer = setTimeout(() => group("SIGKILL"), graceMs);
    await this.child.catch(() => {});
    clearTimeout(timer);
    group("SIGKILL"); // anything the server itself started
  }
}
