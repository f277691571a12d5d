// The torch runner: real transformers + peft in a Python worker. Importing torch costs seconds, so on the
// CPU one worker per repeat index serves that repeat of every case (repeats stay separate processes); on a GPU each case gets a fresh
// worker, so that device memory (allocator cache, cuBLAS workspaces, graph pools) is the case's own. A crash fails
// only the current case and the worker is restarted for the next one.
import { execa } from "execa";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type {
  GpuCalibration,
  ProbeResult,
  RepeatContext,
  RepeatOutcome,
  Runner,
  RunnerOptions,
} from "../../src/runner/contract.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { watchRss } from "../shared/proc.js";
import { interpreterCandidates } from "../shared/python.js";
import type { TorchSettings } from "./settings.js";
import { torchStaticReason } from "./support.js";
import { TorchWorker, WorkerError, type WorkerHello, type WorkerMessage } from "./client.js";
import { ensureWeightsFile } from "./weights-file.js";
import { hfConfigDict } from "./hf-config.js";
import { workerSeeded } from "./seeded.js";
import { routingOutcome, type WorkerRouting } from "./routing.js";
import { createRng } from "../../src/measure/stats.js";

/** The case as the worker reads it: its runner settings, and its technique with the registry's family. */
export function workerCase(c: Case): Record<string, unknown> {
  // A transformers-config model carries the config dict to build (scaled when `--scale` shrank it).
  const model = c.model.hf
    ? { ...c.model, hf: { ...c.model.hf, config: hfConfigDict(c.model, c.scale !== undefined) } }
    : c.model;
  return { ...c, model, technique: { ...c.technique, family: getTechnique(c.technique.kind).family } };
}

export class TorchRunner implements Runner {
  readonly name = "torch" as const;
  private probed: Promise<ProbeResult> | undefined;
  private python: string | undefined;
  private readonly workers = new Map<number, TorchWorker>();

  constructor(
    private readonly options: RunnerOptions & {
      weightsCacheDir?: string;
      env?: Record<string, string | undefined>;
    } = {},
  ) {}

  probe(): Promise<ProbeResult> {
    this.probed ??= this.runProbe();
    return this.probed;
  }

  private async runProbe(): Promise<ProbeResult> {
    const failures: string[] = [];
    for (const candidate of interpreterCandidates(this.options)) {
      const result = await execa(candidate.python, ["-u", fromRoot("runners/torch/worker.py"), "--hello"], {
        reject: false,
        timeout: 180_000,
        env: this.options.env,
      });
      const line = result.stdout
        ?.toString()
        .split("\n")
        .find((l) => l.startsWith("{"));
      if (result.exitCode === 0 && line) {
        const hello = JSON.parse(line) as WorkerHello;
        this.python = candidate.python;
        return {
          available: true,
          info: {
            python: candidate.python,
            pythonSource: candidate.source,
            pythonVersion: hello.python,
            torch: hello.torch,
            transformers: hello.transformers,
            peft: hello.peft,
            cudaRuntime: hello.cudaRuntime,
            cuda: hello.cuda,
            threads: hello.threads,
          },
        };
      }
      const why =
        result.exitCode === undefined
          ? ((result as { originalMessage?: string }).originalMessage ?? result.shortMessage)
          : lastLine(result.stderr?.toString() ?? "") || `exit code ${result.exitCode}`;
      failures.push(`${candidate.python} (${candidate.source}): ${why}`);
    }
    return {
      available: false,
      reason: `no Python with torch, transformers and peft was found — tried ${failures.join("; ")}. Run scripts/setup-python.sh to create .venv, or pass --python / set BENCH_PYTHON`,
      info: {},
    };
  }

  unsupportedReason(c: Case, probe: ProbeResult): string | undefined {
    const known = torchStaticReason(c);
    if (known) return known;
    if (!probe.available) return probe.reason;
    const settings = c.settings as TorchSettings;
    const devices = (probe.info.cuda as unknown[] | undefined) ?? [];
    if (settings.device === "cuda" && devices.length === 0)
      return `torch.device is cuda, but ${String(probe.info.python)} has no CUDA device (torch ${String(probe.info.torch)}) — set torch.device to "auto" or "cpu", or pass --python / BENCH_PYTHON for an interpreter with a CUDA build of torch`;
    const onCuda = settings.device === "cuda" || (settings.device === "auto" && devices.length > 0);
    const dtype = getTechnique(c.technique.kind).family === "half" ? c.technique.kind : settings.dtype;
    const int4 = c.technique.kind === "int4" || (c.technique as { base?: string }).base === "int4";
    if (int4 && onCuda && dtype !== "bf16")
      return "int4 on CUDA runs _weight_int4pack_mm, which takes bf16 activations only: set torch.dtype to bf16";
    return undefined;
  }

  /** The worker of a repeat index, started (or restarted after a crash) on demand. */
  private async workerFor(repeat: number): Promise<TorchWorker> {
    const existing = this.workers.get(repeat);
    if (existing?.usable) return existing;
    this.workers.delete(repeat);
    const probe = await this.probe();
    if (!probe.available) throw new WorkerError(probe.reason ?? "the torch runner is unavailable", "start");
    const worker = await TorchWorker.start(this.python!, { env: { ...process.env, ...this.options.env } });
    this.workers.set(repeat, worker);
    return worker;
  }

  /**
   * Whether a case gets a worker of its own, closed after its repeat: on a GPU, yes. The CUDA caching allocator,
   * cuBLAS workspaces, CUDA-graph pools and compiled kernels are process-wide, so a kept worker would carry what earlier
   * cases left into this case's NVML device and process memory (seen on an H200: AMU growing with case order).
   * Freeing (empty_cache) and subtracting a measured baseline leaves graph pools and fragmentation behind; a fresh
   * process makes the memory the case's by construction, for one worker start (a few seconds) per case and repeat.
   * EFFBENCH_TORCH_WORKER_PER_CASE=1 forces it on the CPU too (tests, or to compare host memory across cases).
   */
  private workerPerCase(c: Case, probe: ProbeResult): boolean {
    if ((this.options.env?.EFFBENCH_TORCH_WORKER_PER_CASE ?? process.env.EFFBENCH_TORCH_WORKER_PER_CASE) === "1")
      return true;
    // compile mode: dynamo's and inductor's in-process caches would make a later case's compile warm.
    const settings = c.settings as TorchSettings;
    if (settings.mode === "compile") return true;
    const devices = (probe.info.cuda as unknown[] | undefined) ?? [];
    return settings.device === "cuda" || (settings.device === "auto" && devices.length > 0);
  }

  async runRepeat(c: Case, ctx: RepeatContext): Promise<RepeatOutcome> {
    const probe = await this.probe();
    const unsupported = this.unsupportedReason(c, probe);
    if (unsupported) return { status: "unsupported", reason: unsupported };
    const perCase = this.workerPerCase(c, probe);
    let weightsPath: string | null;
    try {
      weightsPath = this.weightsPathOf(c);
    } catch (error) {
      return { status: "failed", reason: `could not write the case's weights: ${(error as Error).message}` };
    }
    let worker: TorchWorker;
    try {
      worker = await this.workerFor(ctx.repeat);
    } catch (error) {
      return { status: "failed", reason: `the torch worker did not start: ${(error as Error).message}` };
    }
    if (worker.pid !== undefined) ctx.onProcess?.(worker.pid);
    let overCap: number | undefined;
    const stopWatchdog =
      worker.pid !== undefined && ctx.memoryCapBytes
        ? watchRss(worker.pid, ctx.memoryCapBytes, (rss) => {
            overCap = rss;
            worker.kill();
          })
        : () => {};
    try {
      const reply = await worker.request(
        {
          type: "run",
          case: workerCase(c),
          repeat: ctx.repeat,
          weightsPath,
          fidelityInputIds: ctx.repeat === 0 && c.technique.kind !== "base" ? fidelityInputIds(c) : undefined,
          // A compressed MoE's weights file holds the compressed experts; fidelity's base needs the base's own file.
          baseWeightsPath:
            ctx.repeat === 0 && weightsPath && getTechnique(c.technique.kind).family === "moe-compression"
              ? this.weightsPathOf({ ...c, technique: { kind: "base" } } as Case)
              : undefined,
        },
        {
          final: ["result"],
          timeoutMs: ctx.timeoutMs,
          signal: ctx.signal,
          onMessage: (message: WorkerMessage) => {
            if (message.type === "window") ctx.onWindow?.(message.phase as "measure-start" | "measure-end");
          },
        },
      );
      if (reply.type === "error") return { status: "failed", reason: errorReason(reply) };
      const outcome = routingOutcome(c, reply.outcome as RepeatOutcome & WorkerRouting);
      if (outcome.status === "completed")
        outcome.settings.worker = perCase ? "fresh worker per case" : "worker of this repeat index, shared by cases";
      return outcome;
    } catch (error) {
      if (!(error instanceof WorkerError)) throw error;
      this.retire(ctx.repeat, worker);
      if (overCap !== undefined)
        return {
          status: "failed",
          reason: `exceeded the memory cap: RSS ${(overCap / 2 ** 20).toFixed(0)} MiB > ${(ctx.memoryCapBytes! / 2 ** 20).toFixed(0)} MiB (--case-memory)`,
        };
      if (error.kind === "timed-out") return { status: "timed-out", reason: error.message };
      return { status: "failed", reason: error.message };
    } finally {
      stopWatchdog();
      if (perCase && this.workers.get(ctx.repeat) === worker) {
        this.workers.delete(ctx.repeat);
        await worker.close();
      }
    }
  }

  /** The case's weights file, or null when the worker seeds the weights itself (runners/torch/seeded.ts). */
  private weightsPathOf(c: Case): string | null {
    return workerSeeded(c) ? null : ensureWeightsFile(c, this.options.weightsCacheDir);
  }

  /** Full-sequence logits of a case's model on given tokens (fidelity and contract tests), from the repeat-0 worker;
   * for MoE models also the experts each layer's router chose ({layer: token-major [T·k]}, before capacity drops), for
   * routed mixtures of LoRA experts those of each router under the ort graph's output name (`router_indices.{layer}[.{projection}]`). */
  async forwardLogits(
    c: Case,
    inputIds: number[][],
  ): Promise<{
    shape: number[];
    data: Float64Array;
    counts: Record<string, unknown>;
    routing: Record<string, number[]> | null;
  }> {
    const weightsPath = this.weightsPathOf(c);
    const worker = await this.workerFor(0);
    const reply = await worker
      .request({ type: "forward", case: workerCase(c), weightsPath, inputIds }, { final: ["logits"] })
      .catch((error: unknown) => {
        this.retire(0, worker);
        throw error;
      });
    if (reply.type === "error") throw new Error(errorReason(reply));
    return {
      shape: reply.shape as number[],
      data: Float64Array.from(reply.data as number[]),
      counts: reply.counts as Record<string, unknown>,
      routing: (reply.routing as Record<string, number[]> | null) ?? null,
    };
  }

  /** Logits [batch, vocab] of a prefill or decode case's timed step in its execution mode (eager, cuda-graph or
   * compile) on its own inputs: what checks that a mode computes what eager does. */
  async stepLogits(c: Case): Promise<{ shape: number[]; data: Float64Array }> {
    const weightsPath = this.weightsPathOf(c);
    const worker = await this.workerFor(0);
    const reply = await worker.request({ type: "step-logits", case: c, weightsPath }, { final: ["logits"] });
    if (reply.type === "error") throw new Error(errorReason(reply));
    return { shape: reply.shape as number[], data: Float64Array.from(reply.data as number[]) };
  }

  /** `bench calibrate` on a GPU: each CUDA device's copy bandwidth and bf16 GEMM peak (calibrate_gpu.py), by UUID. */
  async calibrateGpus(): Promise<{ gpus: GpuCalibration[]; reason?: string }> {
    const probe = await this.probe();
    if (!probe.available) return { gpus: [], reason: probe.reason };
    const worker = await this.workerFor(0);
    const reply = await worker.request({ type: "calibrate-gpu" }, { final: ["calibration"], timeoutMs: 600_000 });
    if (reply.type === "error") throw new Error(errorReason(reply));
    return reply.calibration as { gpus: GpuCalibration[]; reason?: string };
  }

  /** Parameter counts (total, trainable) as transformers and peft report them on the meta device: no weights allocated. */
  async inspect(
    c: Case,
  ): Promise<{ trainable: number; total: number; architecture: string; activePerToken?: number | null }> {
    const worker = await this.workerFor(0);
    const reply = await worker.request({ type: "inspect", case: workerCase(c) }, { final: ["counts"] });
    if (reply.type === "error") throw new Error(errorReason(reply));
    return reply.counts as { trainable: number; total: number; architecture: string; activePerToken?: number | null };
  }

  /** Round trip of one tiny request through the worker of `repeat` (harness overhead, bench:runners). */
  async ping(repeat = 0): Promise<void> {
    const worker = await this.workerFor(repeat);
    await worker.request({ type: "ping" }, { final: ["pong"] });
  }

  private retire(repeat: number, worker: TorchWorker): void {
    worker.kill();
    if (this.workers.get(repeat) === worker) this.workers.delete(repeat);
  }

  async close(): Promise<void> {
    const workers = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(workers.map((w) => w.close()));
  }
}

/** Tokens of the fidelity prompt: the very ids runners/ort/case-fidelity.ts feeds the ort runner (same seed, same cap). */
const FIDELITY_TOKENS = 32;
export function fidelityInputIds(c: Case): number[][] {
  const rng = createRng(c.protocol.seed + 1);
  return [
    Array.from({ length: Math.min(FIDELITY_TOKENS, c.workload.promptTokens) }, () => Math.floor(rng() * c.model.vocab)),
  ];
}

function errorReason(reply: WorkerMessage): string {
  const message = String(reply.message ?? "unknown error");
  // The innermost frame says where it broke; the full traceback stays in the worker's stderr.
  const frames = String(reply.traceback ?? "").match(/File "[^"]+", line \d+, in \w+/g);
  return frames?.length ? `${message} (at ${frames.at(-1)!.replace(/^File "(?:.*\/)?([^/"]+)"/, "$1")})` : message;
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}
