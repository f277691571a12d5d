// Reads what native/tools/nvml-check wrote (trace.csv, info.json, load.log) and prints the sampler metrics over
// the load's measure window, with the counter energy beside integrated power (usage: node --import tsx … DIR).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { energyFromCounter, energyFromPower } from "../../src/measure/energy.js";
import type { SamplerTrace } from "../../src/measure/sampler.js";
import { samplerMetrics } from "../../src/measure/sampler-metrics.js";

const dir = process.argv[2]!;
const info = JSON.parse(readFileSync(join(dir, "info.json"), "utf8"));
const load = JSON.parse(readFileSync(join(dir, "load.log"), "utf8").split("\n").find((l) => l.startsWith("{"))!);
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
  samplerTid: info.samplerTid,
  droppedRows: 0,
};
const window = { startMs: load.windowStartMs, endMs: load.windowEndMs };
const result = samplerMetrics(trace, window, { tokens: load.iterations });
const t = trace.timestampsMs;
const counter = energyFromCounter(t, trace.columns["gpu0.energy_mj"]!, window, 1e-3);
const integrated = energyFromPower(t, Float64Array.from(trace.columns["gpu0.power_mw"]!, (mw) => mw / 1000), window);
console.log(JSON.stringify({ device: info.devices, driver: info.driverVersion, load, samplerCpuMs: info.samplerCpuMs, wallMs: info.wallMs, rows: info.rows }));
console.log("counter:", JSON.stringify(counter));
console.log("integrated power:", JSON.stringify(integrated));
if (counter.energyJ !== null && integrated.energyJ !== null) console.log(`counter / integrated power = ${(counter.energyJ / integrated.energyJ).toFixed(4)}`);
for (const m of result.metrics) console.log(`${m.metric} = ${m.value}${m.value === null ? ` (${m.reason})` : ""}${m.label ? `  [${m.label}]` : ""}`);
for (const v of result.validity) console.log(`validity: ${v.flag}: ${v.detail}`);
const procMem = trace.columns["gpu0.process_memory_bytes"]!;
console.log(`process memory max ${Math.max(...Array.from(procMem).filter(Number.isFinite))}, torch reserved ${load.memoryReservedBytes}`);
