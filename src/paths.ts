// Where the project's own files are. Modules find files (the torch worker, the native addon, suite typings) from
// here rather than from their own import.meta.url, so that the esbuild bundle carried to GPU machines
// (scripts/gpu-smoke.sh) finds them too: the bundle sets EFFBENCH_ROOT.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot: string = process.env.EFFBENCH_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function fromRoot(...segments: string[]): string {
  return resolve(projectRoot, ...segments);
}
