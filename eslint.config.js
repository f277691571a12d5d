// ESLint (flat config): typescript-eslint's recommended rules without type information (fast), and the import
// boundaries of docs/architecture.md (§ Layers) as errors — the core never imports a runner, the report or a script.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import globals from "globals";

const root = fileURLToPath(new URL(".", import.meta.url));
const entriesOf = (folder) => readdirSync(join(root, folder), { withFileTypes: true });

// Folders under runners/ that hold helpers every runner may use rather than a runner of their own.
const SHARED_RUNNER_FOLDERS = new Set(["shared"]);
const runnerFolders = entriesOf("runners")
  .filter((entry) => entry.isDirectory() && !SHARED_RUNNER_FOLDERS.has(entry.name))
  .map((entry) => entry.name);
// Everything in src/ but the CLI, the composition root that wires the registry, the runners and the report.
const coreOutsideCli = entriesOf("src")
  .filter((entry) => entry.name !== "cli")
  .map((entry) => `./src/${entry.name}`);

// Paths are relative to this file; `except` paths are relative to the zone's `from`.
const boundaryZones = [
  {
    target: "./src/cli",
    from: "./runners",
    except: ["./index.ts"],
    message: "the CLI registers the runners through runners/index.ts and uses them through the runner contract",
  },
  {
    target: coreOutsideCli,
    from: "./runners",
    message: "the core names no runner: ask the runner contract (src/runner/) instead",
  },
  {
    target: "./src/cli",
    from: "./reports",
    except: ["./command.ts"],
    message: "the CLI runs the report through its entry point, reports/command.ts",
  },
  {
    target: coreOutsideCli,
    from: "./reports",
    message: "the core does not depend on the report: only the CLI (src/cli/) calls reports/command.ts",
  },
  { target: "./src", from: "./scripts", message: "scripts/ are entry points; nothing in src/ imports them" },
  ...runnerFolders
    .map((name) => ({
      target: `./runners/${name}`,
      from: runnerFolders.filter((other) => other !== name).map((other) => `./runners/${other}`),
      message: `runners/${name}/ uses the core and the shared runner helpers, never another runner's folder`,
    }))
    .filter((zone) => zone.from.length > 0),
  { target: "./runners", from: ["./reports", "./scripts"], message: "a runner does not import the report or a script" },
  {
    target: "./reports",
    from: ["./runners", "./scripts"],
    message: "the report reads stored results and the core's types, not a runner's code",
  },
  {
    target: ["./src", "./runners", "./reports", "./datasets", "./suites", "./bin"],
    from: "./test",
    message: "product code does not import test code",
  },
];

// The core and the report never name a runner: a string literal equal to a runner folder's name is refused there
// (the list follows runners/, so a new runner is covered without editing this file).
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const noRunnerNames = runnerFolders.length
  ? [
      {
        files: ["src/**", "reports/**"],
        rules: {
          "no-restricted-syntax": [
            "error",
            {
              selector: `Literal[value=/^(${runnerFolders.map(escapeRegExp).join("|")})$/]`,
              message: "the core names no runner: ask the runner contract (src/runner/contract.ts) instead",
            },
          ],
        },
      },
    ]
  : [];

export default tseslint.config(
  {
    ignores: ["node_modules/", ".venv/", "native/build/", "site/", "dist/", ".gpu/", ".cache/", "test/fixtures/"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: "module",
      globals: { ...globals.node },
    },
    plugins: { "import-x": importX },
    settings: {
      // Parse .ts files too when following imports (no-cycle walks the graph through them).
      "import-x/extensions": [".ts", ".mts", ".js", ".mjs"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts", ".mts"] },
      "import-x/external-module-folders": ["node_modules"],
      // TypeScript's NodeNext style: `./file.js` in an import names `./file.ts`.
      "import-x/resolver-next": [
        createNodeResolver({
          extensions: [".ts", ".mts", ".js", ".mjs", ".json", ".node"],
          extensionAlias: { ".js": [".ts", ".js"], ".mjs": [".mts", ".mjs"] },
        }),
      ],
    },
    rules: {
      // Type-only imports (`import type`) are ignored by the rule: types may cross, runtime code may not loop.
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "import-x/no-restricted-paths": ["error", { basePath: root, zones: boundaryZones }],
      // Off, deliberately: `Technique<any>` types the heterogeneous technique registry, and parsed JSON headers are
      // `any` until checked; `tsc --noEmit` (strict) types everything else.
      "@typescript-eslint/no-explicit-any": "off",
      // Off, deliberately: the code writes `if (c) (a(), b());` and `has(x) || add(x);` as terse statements.
      "@typescript-eslint/no-unused-expressions": "off",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
    },
  },
  ...noRunnerNames,
  {
    files: ["reports/client/**"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
