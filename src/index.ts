// The package entry a suite file imports: `import { defineSuite } from "effbench"`.
// Kept free of runtime dependencies so that suite files bundle small and load fast.
export type { SuiteInput, ResolvedSuite, ModelConfig } from "./suite/schema.js";
export { defineSuite } from "./suite/define.js";
