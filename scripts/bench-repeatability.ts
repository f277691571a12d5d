// npm run bench:repeatability — two consecutive runs of the quick suite (docs/protocol.md): prints every
// case's ratio of medians run2/run1 and the share of cases within 5% (target ≥ 90%).
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import { execa } from "execa";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/store/store.js";

const suite = process.argv[2] ?? "suites/quick.ts";
const dir = mkdtempSync(join(tmpdir(), "effbench-repeat-"));
const medians: Array<Map<string, { name: string; p50: number }>> = [];
for (const run of [1, 2]) {
  const db = join(dir, `run${run}.db`);
  await execa("node", ["bin/bench.js", "run", suite, "--db", db], { stdio: "inherit" });
  const store = await openStore(db, { readonly: true });
  const byCase = new Map<string, { name: string; p50: number }>();
  for (const r of await store.loadResults({ status: "completed" })) {
    const p50 = r.metrics.find((m) => m.name === "latency_p50_ms")?.value;
    if (p50) byCase.set(r.caseKey, { name: r.caseName, p50 });
  }
  await store.close();
  medians.push(byCase);
}
let within = 0;
let total = 0;
console.log("\ncase  run1 p50 ms  run2 p50 ms  ratio");
for (const [key, first] of medians[0]!) {
  const second = medians[1]!.get(key);
  if (!second) continue;
  const ratio = second.p50 / first.p50;
  total++;
  if (Math.abs(ratio - 1) <= 0.05) within++;
  console.log(`${first.name}  ${first.p50.toFixed(4)}  ${second.p50.toFixed(4)}  ${ratio.toFixed(4)}`);
}
const share = total ? within / total : 0;
console.log(
  `\n${within}/${total} cases (${(share * 100).toFixed(0)}%) have medians within 5% (target ≥ 90%): ${share >= 0.9 ? "PASS" : "FAIL"}`,
);
