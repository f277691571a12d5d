import type { SuiteInput } from "./schema.js";

/** Declares a suite. Returns its argument unchanged; the loader validates it (types give editor completion). */
export function defineSuite(suite: SuiteInput): SuiteInput {
  return suite;
}
