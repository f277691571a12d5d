import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/register-runners.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Benchmarks spawn processes and measure; running test files in parallel on 2 cores only adds noise.
    fileParallelism: false,
    pool: "forks",
  },
});
