// The JSON-lines client of the torch worker (runners/torch/worker.py; docs/torch-runner.md): starts it, checks the
// handshake, sends one request at a time with an id and collects the replies to that id.
import { execa, type ResultPromise } from "execa";
import { createInterface } from "node:readline";
import { fromRoot } from "../../src/paths.js";

export const TORCH_PROTOCOL_VERSION = 1;
export const workerPath = fromRoot("runners/torch/worker.py");
/** Importing torch, transformers and peft takes seconds (more on a cold disk or a GPU machine). */
export const HELLO_TIMEOUT_MS = 180_000;
const STDERR_TAIL_CHARS = 4000;

export interface CudaDevice {
  index: number;
  name: string;
  capability: string;
  uuid: string | null;
  memoryBytes: number;
}

export interface WorkerHello {
  type: "hello";
  protocol: number;
  python: string;
  torch: string;
  transformers: string;
  peft: string;
  cudaRuntime: string | null;
  cuda: CudaDevice[];
  threads: number;
  pid: number;
}

/** A reply or an intermediate message of the worker; every one carries the request's id. */
export type WorkerMessage = { id: number; type: string; [key: string]: unknown };

/** Why a request did not get its reply. `kind` decides the repeat's status. */
export class WorkerError extends Error {
  constructor(
    message: string,
    readonly kind: "crashed" | "timed-out" | "aborted" | "protocol" | "start",
  ) {
    super(message);
  }
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with each message of this request before its final reply (e.g. window marks). */
  onMessage?: (message: WorkerMessage) => void;
  /** Reply types that end the request (besides "error"). */
  final: string[];
}

interface Pending {
  id: number;
  final: Set<string>;
  onMessage?: (message: WorkerMessage) => void;
  resolve: (message: WorkerMessage) => void;
  reject: (error: WorkerError) => void;
}

export class TorchWorker {
  private nextId = 1;
  private pending: Pending | undefined;
  private stderrTail = "";
  private exitInfo: string | undefined;
  private helloWaiter: { resolve: (h: WorkerHello) => void; reject: (e: WorkerError) => void } | undefined;
  private broken: string | undefined;
  hello: WorkerHello | undefined;

  private constructor(
    private readonly child: ResultPromise,
    readonly python: string,
  ) {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => this.onLine(line));
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-STDERR_TAIL_CHARS);
      if (process.env.EFFBENCH_TORCH_STDERR) process.stderr.write(chunk);
    });
    void child.then((result) => {
      const how = result.signal
        ? `was killed by ${result.signal}`
        : result.exitCode === undefined
          ? `could not be started (${python}): ${(result as { originalMessage?: string }).originalMessage ?? result.shortMessage}`
          : `exited with code ${result.exitCode}`;
      this.exitInfo = how;
      this.fail(new WorkerError(`the torch worker ${how}${this.stderrSummary()}`, "crashed"));
    });
  }

  /** Starts `python -u worker.py` and waits for its handshake. */
  static async start(
    python: string,
    options: { env?: Record<string, string | undefined>; args?: string[]; helloTimeoutMs?: number } = {},
  ): Promise<TorchWorker> {
    const child = execa(python, ["-u", workerPath, ...(options.args ?? [])], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      buffer: false,
      reject: false,
      env: { PYTHONUNBUFFERED: "1", ...options.env },
      // Its own process group: a terminal Ctrl-C reaches only bench, which then stops after this case.
      detached: true,
    });
    // A missing interpreter makes execa's promise settle with a spawn error; the exit handler reports it.
    const worker = new TorchWorker(child, python);
    const hello = await new Promise<WorkerHello>((resolve, reject) => {
      worker.helloWaiter = { resolve, reject };
      const timer = setTimeout(
        () =>
          reject(
            new WorkerError(
              `the torch worker sent no handshake within ${options.helloTimeoutMs ?? HELLO_TIMEOUT_MS} ms${worker.stderrSummary()}`,
              "start",
            ),
          ),
        options.helloTimeoutMs ?? HELLO_TIMEOUT_MS,
      );
      timer.unref();
    }).catch((error: WorkerError) => {
      worker.kill();
      throw new WorkerError(error.message, "start");
    });
    if (hello.protocol !== TORCH_PROTOCOL_VERSION) {
      worker.kill();
      throw new WorkerError(
        `the torch worker speaks protocol ${hello.protocol}, this harness ${TORCH_PROTOCOL_VERSION}: ${workerPath} and the harness come from different versions`,
        "start",
      );
    }
    worker.hello = hello;
    return worker;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** False once the worker exited, was killed or broke the protocol: start a new one. */
  get usable(): boolean {
    return this.exitInfo === undefined && this.broken === undefined;
  }

  request(body: Record<string, unknown>, options: RequestOptions): Promise<WorkerMessage> {
    if (!this.usable)
      return Promise.reject(
        new WorkerError(`the torch worker is not usable: ${this.broken ?? this.exitInfo}`, "crashed"),
      );
    if (this.pending)
      return Promise.reject(new WorkerError("the torch worker serves one request at a time", "protocol"));
    const id = this.nextId++;
    return new Promise<WorkerMessage>((resolve, reject) => {
      const cleanups: Array<() => void> = [];
      const settle = () => {
        this.pending = undefined;
        for (const cleanup of cleanups) cleanup();
      };
      this.pending = {
        id,
        final: new Set(["error", ...options.final]),
        onMessage: options.onMessage,
        resolve: (message) => {
          settle();
          resolve(message);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      if (options.timeoutMs !== undefined) {
        const timer = setTimeout(() => {
          this.kill();
          this.pending?.reject(
            new WorkerError(`no result within the case timeout of ${options.timeoutMs} ms`, "timed-out"),
          );
        }, options.timeoutMs);
        cleanups.push(() => clearTimeout(timer));
      }
      if (options.signal) {
        const onAbort = () => {
          this.kill();
          this.pending?.reject(new WorkerError("interrupted", "aborted"));
        };
        if (options.signal.aborted) return onAbort();
        options.signal.addEventListener("abort", onAbort, { once: true });
        cleanups.push(() => options.signal!.removeEventListener("abort", onAbort));
      }
      this.child.stdin!.write(JSON.stringify({ id, ...body }) + "\n");
    });
  }

  /** Ends the worker: stdin EOF lets it exit by itself; SIGKILL after `graceMs`. */
  async close(graceMs = 2000): Promise<void> {
    if (this.exitInfo !== undefined) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.child.catch(() => {});
    clearTimeout(timer);
  }

  kill(): void {
    this.broken ??= "killed";
    this.child.kill("SIGKILL");
  }

  stderrSummary(): string {
    const tail = this.stderrTail.trim();
    return tail ? `; stderr: ${tail.split("\n").slice(-12).join("\n")}` : "";
  }

  private onLine(line: string): void {
    let message: WorkerMessage | WorkerHello;
    try {
      message = JSON.parse(line) as WorkerMessage;
      if (typeof message !== "object" || message === null || typeof message.type !== "string")
        throw new Error("no type");
    } catch {
      // The protocol stream can no longer be trusted: fail the request in flight and retire the worker.
      const shown = line.length > 200 ? `${line.slice(0, 200)}…` : line;
      this.broken = `it wrote a line that is not protocol JSON: ${JSON.stringify(shown)}`;
      this.fail(
        new WorkerError(
          `the torch worker wrote a line to stdout that is not protocol JSON (${JSON.stringify(shown)}); it was restarted`,
          "protocol",
        ),
      );
      this.child.kill("SIGKILL");
      return;
    }
    if (message.type === "hello") {
      this.helloWaiter?.resolve(message as unknown as WorkerHello);
      this.helloWaiter = undefined;
      return;
    }
    const pending = this.pending;
    if (!pending || (message as WorkerMessage).id !== pending.id) return; // a late message of a request given up on
    if (pending.final.has(message.type)) pending.resolve(message as WorkerMessage);
    else pending.onMessage?.(message as WorkerMessage);
  }

  private fail(error: WorkerError): void {
    this.helloWaiter?.reject(error);
    this.helloWaiter = undefined;
    this.pending?.reject(error);
  }
}
