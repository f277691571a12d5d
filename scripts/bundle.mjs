// Bundles the CLI and runners into one ESM file for machines without node_modules (scripts/gpu-smoke.sh).
// Native and binary packages stay external and travel beside it.
import { build } from "esbuild";

const out = process.argv[2] ?? ".gpu/bench.mjs";
await build({
  entryPoints: ["scripts/bundle-entry.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile: out,
  // The report is built back on the developer machine from the returned DB (a GPU machine has no Node).
  // node-llama-cpp loads platform binaries at run time: the llamacpp runner reports itself unavailable there.
  external: ["@vscode/sqlite3", "esbuild", "tsx", "tsx/*", "../../reports/*", "node-llama-cpp", "@node-llama-cpp/*"],
  alias: { "onnxruntime-node": "./scripts/ort-stub.mjs" },
  // The bundle's own location is not the project's: source paths resolve from the working directory.
  banner: {
    js: [
      "import { createRequire as __effbenchRequire } from 'node:module';",
      "const require = __effbenchRequire(import.meta.url);",
      "process.env.EFFBENCH_ROOT ??= process.cwd();",
    ].join("\n"),
  },
  logLevel: "warning",
});
console.log(`bundled → ${out}`);

// Suites are bundled here too, so that the machine they travel to needs no esbuild.
for (const suite of process.argv.slice(3)) {
  const suiteOut = `${out.replace(/[^/]*$/, "")}suites/${suite.replace(/^.*\//, "").replace(/\.ts$/, ".mjs")}`;
  await build({
    entryPoints: [suite],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: suiteOut,
    alias: { effbench: "./src/index.ts" },
    logLevel: "warning",
  });
  console.log(`bundled ${suite} → ${suiteOut}`);
}
