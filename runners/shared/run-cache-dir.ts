// A runner's cache folder for one run (models built once, shared by the repeats' child processes): created on first
// use under the system temp folder, removed on close or when the process exits; a run killed with -9 runs no exit
// handler, so the next run removes the folders of processes that are gone (they may hold gigabytes).
import { randomUUID } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, someone else's
  }
}

export class RunCacheDir {
  private dir?: string;
  private readonly remove = () => {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  };

  /** `prefix`, e.g. "effbench-ort-cache": folders are named `<prefix>-<pid>-<8 hex>`. */
  constructor(private readonly prefix: string) {}

  /** The folder, created (in name: children create it) on first use. */
  path(): string {
    if (!this.dir) {
      this.removeOrphans();
      this.dir = join(tmpdir(), `${this.prefix}-${process.pid}-${randomUUID().slice(0, 8)}`);
      process.once("exit", this.remove); // also when the run ends without close()
    }
    return this.dir;
  }

  close(): void {
    this.remove();
    process.removeListener("exit", this.remove);
  }

  private removeOrphans(): void {
    const pattern = new RegExp(`^${this.prefix}-(\\d+)-[0-9a-f]{8}(\\.building-.*)?$`);
    for (const name of readdirSync(tmpdir())) {
      const match = pattern.exec(name);
      if (!match || processAlive(Number(match[1]))) continue;
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}
