// The environment variable through which the ort runner hands its children the run's model cache folder.
/** The runner's model cache (runners/ort/prepare.ts), shared by the children of one run. */
export const ORT_CACHE_DIR_VARIABLE = "EFFBENCH_ORT_CACHE_DIR";
