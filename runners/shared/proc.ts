// Peak RSS of this process from /proc (the sampler measures the time-averaged RSS from the parent).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

/** Resets VmHWM so that the peak excludes model loading (Linux ≥ 4.0: write 5 to clear_refs). */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

export function readPeakRssBytes(): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** RSS of a process and its descendants, from /proc (bytes); null when the process is gone. */
export function treeRssBytes(rootPid: number): number | null {
  const pids = descendants(rootPid);
  let total = 0;
  let found = false;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) {
        total += Number(match[1]) * 1024;
        found = true;
      }
    } catch {
      // the process exited between listing and reading
    }
  }
  return found ? total : null;
}

function descendants(rootPid: number): number[] {
  const out = [rootPid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, "utf8").trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // gone, or /proc/<pid>/task/<tid>/children unavailable (kernel without CONFIG_PROC_CHILDREN)
    }
  }
  return out;
}

const WATCHDOG_INTERVAL_MS = 100;

/** The memory cap (`--case-memory`): an RSS watchdog, not RLIMIT_AS (which breaks V8, ORT and CUDA). */
export function watchRss(pid: number, capBytes: number, onExceed: (rssBytes: number) => void): () => void {
  const timer = setInterval(() => {
    const rss = treeRssBytes(pid);
    if (rss !== null && rss > capBytes) {
      clearInterval(timer);
      onExceed(rss);
    }
  }, WATCHDOG_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
