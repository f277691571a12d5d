// A child process for the concurrency test: opens the store given on the command line and records results.
import { openStore } from "../../src/store/store.js";
import { completedRecord, plannedCases, runInfo } from "./fixtures.js";

const [path, countText, saltText, startAtText] = process.argv.slice(2);
const store = await openStore(path!);
const runId = await store.beginRun(runInfo);
// Both writers start writing at the same moment, whatever their start-up times.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAtText) - Date.now())));
const cases = plannedCases();
for (let i = 0; i < Number(countText); i++) {
  await store.recordResult(runId, completedRecord(cases[i % cases.length]!, 2, 300, Number(saltText)));
  // A real run measures between writes; without a pause, the writer that holds the lock takes it again at once.
  await new Promise((resolve) => setTimeout(resolve, 3));
}
await store.finishRun(runId, "completed");
await store.close();
