// The boundary rules of eslint.config.js refuse what docs/architecture.md forbids, checked on code linted as if it
// were files of the repo: a core file importing runners/ or reports/ or naming a runner in a string, one runner
// importing another's folder, and a runtime import cycle fail; a runner importing the core or the shared helpers,
// and a type-only import that closes a cycle, pass.
import { ESLint } from "eslint";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../src/paths.js";

const eslint = new ESLint({ cwd: fromRoot() });

async function ruleIdsOf(code: string, filePath: string): Promise<(string | null)[]> {
  const [result] = await eslint.lintText(code, { filePath: fromRoot(filePath) });
  return result!.messages.map((message) => message.ruleId);
}

describe("lint: import boundaries", () => {
  it("fails a core file that imports from runners/ or reports/", async () => {
    const code = [
      'import { measureLoop } from "../../runners/shared/measure-loop.js";',
      'import { formatPlain } from "../../reports/format.js";',
      "export const both = [measureLoop, formatPlain];",
    ].join("\n");
    expect(await ruleIdsOf(code, "src/run/boundary-probe.ts")).toEqual([
      "import-x/no-restricted-paths",
      "import-x/no-restricted-paths",
    ]);
  });

  it("fails a core or report file that names a runner in a string", async () => {
    const code = 'export const onTorch = (runner: string): boolean => runner === "torch";\n';
    expect(await ruleIdsOf(code, "src/measure/boundary-probe.ts")).toEqual(["no-restricted-syntax"]);
    expect(await ruleIdsOf(code, "reports/boundary-probe.ts")).toEqual(["no-restricted-syntax"]);
    expect(await ruleIdsOf(code, "runners/torch/boundary-probe.ts")).toEqual([]);
  });

  it("lets the CLI import runners/index.ts, not a runner's folder", async () => {
    expect(await ruleIdsOf('import "../../runners/index.js";\n', "src/cli/boundary-probe.ts")).toEqual([]);
    const inner = 'import { prepareOrtCase } from "../../runners/ort/prepare.js";\nexport const p = prepareOrtCase;\n';
    expect(await ruleIdsOf(inner, "src/cli/boundary-probe.ts")).toEqual(["import-x/no-restricted-paths"]);
  });

  it("lets the CLI import the report's entry point only", async () => {
    const entry = 'import { reportCommand } from "../../reports/command.js";\nexport const report = reportCommand;\n';
    expect(await ruleIdsOf(entry, "src/cli/boundary-probe.ts")).toEqual([]);
    const inner = 'import { generateReport } from "../../reports/site.js";\nexport const site = generateReport;\n';
    expect(await ruleIdsOf(inner, "src/cli/boundary-probe.ts")).toEqual(["import-x/no-restricted-paths"]);
  });

  it("fails a runner that imports another runner's folder, and passes one that imports the core and shared helpers", async () => {
    const cross = 'import { OrtRunner } from "../ort/runner.js";\nexport const runner = OrtRunner;\n';
    expect(await ruleIdsOf(cross, "runners/torch/boundary-probe.ts")).toEqual(["import-x/no-restricted-paths"]);
    const core = [
      'import { fromRoot } from "../../src/paths.js";',
      'import { measureLoop } from "../shared/measure-loop.js";',
      "export const both = [fromRoot, measureLoop];",
    ].join("\n");
    expect(await ruleIdsOf(core, "runners/torch/boundary-probe.ts")).toEqual([]);
  });
});

describe("lint: import cycles", () => {
  // A cycle needs both files on disk: a temporary folder linted with the repo's config.
  const folder = mkdtempSync(join(fromRoot("test"), ".lint-cycle-"));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  const write = (name: string, code: string) => writeFileSync(join(folder, name), code);
  const cycleLinter = new ESLint({ cwd: folder, overrideConfigFile: fromRoot("eslint.config.js") });

  it("fails a runtime cycle and passes one closed by a type-only import", async () => {
    write("a.ts", 'import { b } from "./b.js";\nexport const a = (): number => b();\n');
    write("b.ts", 'import { a } from "./a.js";\nexport const b = (): number => a();\n');
    write("c.ts", 'import type { D } from "./d.js";\nexport const c = (d: D): number => d.value;\n');
    write("d.ts", 'import { c } from "./c.js";\nexport interface D {\n  value: number;\n}\nexport const d = c;\n');
    const results = await cycleLinter.lintFiles(["*.ts"]);
    const byFile = Object.fromEntries(
      results.map((result) => [result.filePath.slice(folder.length + 1), result.messages.map((m) => m.ruleId)]),
    );
    expect(byFile).toEqual({
      "a.ts": ["import-x/no-cycle"],
      "b.ts": ["import-x/no-cycle"],
      "c.ts": [],
      "d.ts": [],
    });
  });
});
