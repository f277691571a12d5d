// Reads the folder native/tools/nvml-check writes (trace.csv, info.json, load.log) back into a SamplerTrace.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SamplerTrace } from "../../src/measure/sampler.js";

export interface GpuLoad {
  windowStartMs: number;
  windowEndMs: number;
  iterations: number;
  tflops: number;
  memoryReservedBytes: number;
  memoryAllocatedBytes: number;
  uuid: string;
  name: string;
  pid: number;
}

export function readNvmlCheck(dir: string): {
  trace: SamplerTrace;
  load: GpuLoad;
  samplerCpuMs: number;
  wallMs: number;
} {
  const info = JSON.parse(readFileSync(join(dir, "info.json"), "utf8"));
  const load = JSON.parse(
    readFileSync(join(dir, "load.log"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("{"))!,
  ) as GpuLoad;
  const [header, ...rows] = readFileSync(join(dir, "trace.csv"), "utf8").trim().split("\n");
  const names = header!.split(",");
  const data = names.map(() => new Float64Array(rows.length));
  rows.forEach((row, i) => row.split(",").forEach((v, c) => (data[c]![i] = v === "" ? NaN : Number(v))));
  const trace: SamplerTrace = {
    hz: info.hz,
    timestampsMs: data[0]!,
    columns: Object.fromEntries(names.slice(1).map((n, c) => [n, data[c + 1]!])),
    unavailable: info.unavailable,
    devices: info.devices,
    raplDomains: info.raplDomains,
    driverVersion: info.driverVersion,
    processMemoryFunction: info.processMemoryFunction,
    samplerTid: info.samplerTid,
    droppedRows: 0,
  };
  return { trace, load, samplerCpuMs: info.samplerCpuMs, wallMs: info.wallMs };
}
