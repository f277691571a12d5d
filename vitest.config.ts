import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/register-runners.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The drift control adds a process after every case process: off in tests that are not about it (those that are
    // set EFFBENCH_DRIFT_CONTROL=on for their runs), so that the suite's time does not double.
    env: { EFFBENCH_DRIFT_CONTROL: "off" },
    // Benchmarks spawn processes and measure; running test files in parallel on 2 cores only adds noise.
    fileParallelism: false,
    pool: "forks",
  },
});
