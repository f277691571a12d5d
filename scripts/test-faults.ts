// `npm run test:faults`: runs every fault scenario of test/faults/scenarios.ts against the real CLI and prints
// the table of docs/reliability.md (fault | injected | survived | rows lost). Exit 1 when a scenario did not survive or lost rows.
// `npm run test:faults -- kill-9 ort-segv` runs only the scenarios whose id contains one of the terms.
import { removeSeedDatabase, scenarios, type FaultOutcome } from "../test/faults/scenarios.js";
import { removeTempDirs } from "../test/faults/harness.js";

const terms = process.argv.slice(2);
const selected = terms.length ? scenarios.filter((s) => terms.some((term) => s.id.includes(term))) : scenarios;
const rows: Array<FaultOutcome & { seconds: number; skipped?: string }> = [];
const started = Date.now();
for (const s of selected) {
  const skipped = s.unavailable?.();
  if (skipped) {
    rows.push({ fault: s.fault, injected: 0, survived: 0, rowsLost: 0, problems: [], notes: [], seconds: 0, skipped });
    process.stderr.write(`skip ${s.id}: ${skipped}\n`);
    continue;
  }
  const t0 = Date.now();
  process.stderr.write(`${s.id} … `);
  const outcome = await s.run();
  const seconds = (Date.now() - t0) / 1000;
  rows.push({ ...outcome, seconds });
  process.stderr.write(
    `${outcome.survived}/${outcome.injected} survived, ${outcome.rowsLost} rows lost (${seconds.toFixed(1)} s)\n`,
  );
  for (const p of outcome.problems) process.stderr.write(`    ✗ ${p}\n`);
  if (outcome.problems.length === 0) removeTempDirs(); // kept when a scenario failed, to look at
}
await removeSeedDatabase();

const header = ["fault", "injected", "survived", "rows lost", "s"];
const table = rows.map((r) => [
  r.fault,
  String(r.injected),
  r.skipped ? `skipped: ${r.skipped}` : String(r.survived),
  String(r.rowsLost),
  r.seconds.toFixed(1),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log("\n" + line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of table) console.log(line(row));
const notes = rows.flatMap((r) => r.notes);
if (notes.length) console.log("\n" + notes.map((n) => `note: ${n}`).join("\n"));
const failed = rows.filter((r) => !r.skipped && (r.survived < r.injected || r.rowsLost > 0));
console.log(
  `\n${rows.length} fault(s), ${failed.length} not survived, ${rows.reduce((a, r) => a + r.rowsLost, 0)} rows lost, ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
process.exitCode = failed.length ? 1 : 0;
