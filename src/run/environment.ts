// The machine and software a run measured on, stored with every run's numbers. Read once, before any case: systeminformation
// shells out (lspci, nvidia-smi) synchronously, so it must stay off every timed path.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import si from "systeminformation";
import { projectRoot } from "../paths.js";

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { version: string }).version;
}

/** The git commit of effbench's own checkout, with `-dirty` when it has uncommitted changes; null outside git. */
export function gitCommit(): string | null {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: projectRoot, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return null;
  }
}

export function codeVersion(commit = gitCommit()): string {
  return `${packageVersion()}+${commit ?? "nogit"}`;
}

export async function readEnvironment(): Promise<Record<string, unknown>> {
  const [cpu, mem, os, graphics] = await Promise.all([
    si.cpu(),
    si.mem(),
    si.osInfo(),
    si.graphics().catch(() => ({ controllers: [] as Array<Record<string, unknown>> })),
  ]);
  return {
    cpu: {
      manufacturer: cpu.manufacturer,
      brand: cpu.brand,
      cores: cpu.cores,
      physicalCores: cpu.physicalCores,
      speedGHz: cpu.speed,
      flags: cpu.flags,
    },
    memoryBytes: mem.total,
    os: { platform: os.platform, distro: os.distro, release: os.release, kernel: os.kernel, arch: os.arch },
    gpus: graphics.controllers.map((g) => ({ model: g.model, vendor: g.vendor, vramMB: g.vram })),
    node: process.version,
    effbench: packageVersion(),
    gitCommit: gitCommit(),
    cpuGovernor: readOptional("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
    hostname: os.hostname,
  };
}

function readOptional(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}
