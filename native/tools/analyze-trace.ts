// Reads what native/tools/nvml-check wrote (trace.csv, info.json, load.log) and prints the sampler metrics over
// the load's measure window, with the counter energy beside integrated power (usage: node --import tsx … DIR).
import { energyFromCounter, energyFromPower } from "../../src/measure/energy.js";
import { samplerMetrics } from "../../src/measure/sampler-metrics.js";
import { readNvmlCheck } from "./read-trace.js";

const { trace, load, samplerCpuMs, wallMs } = readNvmlCheck(process.argv[2]!);
const info = {
  devices: trace.devices,
  driverVersion: trace.driverVersion,
  samplerCpuMs,
  wallMs,
  rows: trace.timestampsMs.length,
};
const window = { startMs: load.windowStartMs, endMs: load.windowEndMs };
const result = samplerMetrics(trace, window, { tokens: load.iterations });
const t = trace.timestampsMs;
const counter = energyFromCounter(t, trace.columns["gpu0.energy_mj"]!, window, 1e-3);
const integrated = energyFromPower(
  t,
  Float64Array.from(trace.columns["gpu0.power_mw"]!, (mw) => mw / 1000),
  window,
);
console.log(
  JSON.stringify({
    device: info.devices,
    driver: info.driverVersion,
    load,
    samplerCpuMs: info.samplerCpuMs,
    wallMs: info.wallMs,
    rows: info.rows,
  }),
);
console.log("counter:", JSON.stringify(counter));
console.log("integrated power:", JSON.stringify(integrated));
if (counter.energyJ !== null && integrated.energyJ !== null)
  console.log(`counter / integrated power = ${(counter.energyJ / integrated.energyJ).toFixed(4)}`);
for (const m of result.metrics)
  console.log(`${m.metric} = ${m.value}${m.value === null ? ` (${m.reason})` : ""}${m.label ? `  [${m.label}]` : ""}`);
for (const v of result.validity) console.log(`validity: ${v.flag}: ${v.detail}`);
const procMem = trace.columns["gpu0.process_memory_bytes"]!;
console.log(
  `process memory max ${Math.max(...Array.from(procMem).filter(Number.isFinite))}, torch reserved ${load.memoryReservedBytes}`,
);
