// The nightly GPU workflow, checked offline: YAML that parses, the structure a GitHub Actions workflow needs
// (a small zod schema), job dependencies and output references that resolve, and `bench` invocations that the
// CLI accepts. No network, no actionlint: what can be checked from the file and the code.
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { commands } from "../../src/cli/commands.js";

const SOURCE = "scripts/nightly-gpu.yml";
const COPY = ".github/workflows/nightly-gpu.yml";

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const expression = z.string().regex(/\$\{\{.*\}\}|^[^$]/);
const step = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z_][\w-]*$/)
      .optional(),
    name: z.string().optional(),
    if: z.string().optional(),
    uses: z
      .string()
      .regex(/^[\w.-]+\/[\w./-]+@v\d+$/, "actions are pinned to a major version (owner/name@vN)")
      .optional(),
    run: z.string().min(1).optional(),
    with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    shell: z.string().optional(),
    "continue-on-error": z.boolean().optional(),
    "timeout-minutes": z.number().positive().optional(),
  })
  .strict()
  .refine((s) => (s.uses === undefined) !== (s.run === undefined), "a step has exactly one of `uses` and `run`");
const permission = z.enum(["read", "write", "none"]);
const job = z
  .object({
    name: z.string().optional(),
    "runs-on": stringOrList,
    needs: stringOrList.optional(),
    if: z.string().optional(),
    permissions: z.record(z.string(), permission).optional(),
    environment: z.object({ name: z.string(), url: expression.optional() }).strict().optional(),
    outputs: z.record(z.string(), expression).optional(),
    strategy: z
      .object({
        "fail-fast": z.boolean().optional(),
        "max-parallel": z.number().optional(),
        matrix: z.record(z.string(), z.array(z.union([z.string(), z.number()])).min(1)),
      })
      .strict()
      .optional(),
    "timeout-minutes": z.number().positive().optional(),
    env: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    steps: z.array(step).min(1),
  })
  .strict();
const workflow = z
  .object({
    name: z.string(),
    on: z
      .object({
        schedule: z.array(z.object({ cron: z.string().regex(/^(\S+\s+){4}\S+$/) }).strict()).optional(),
        workflow_dispatch: z.unknown().optional(),
      })
      .strict(),
    permissions: z.record(z.string(), permission).optional(),
    concurrency: z.object({ group: z.string(), "cancel-in-progress": z.boolean() }).strict().optional(),
    env: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    jobs: z.record(z.string().regex(/^[A-Za-z_][\w-]*$/), job),
  })
  .strict();
type Workflow = z.infer<typeof workflow>;
type Job = Workflow["jobs"][string];

const text = readFileSync(SOURCE, "utf8");
// `yaml` reads YAML 1.2, where `on` stays a string key (YAML 1.1 would make it `true`); duplicate keys are errors.
const parsed = workflow.parse(parse(text, { uniqueKeys: true, strict: true }));
const list = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Each `node bin/bench.js <command> …` in the run scripts, split into its words (quotes removed). */
function benchInvocations(j: Job): string[][] {
  const out: string[][] = [];
  for (const s of j.steps)
    for (const line of (s.run ?? "").replace(/\\\n/g, " ").split("\n"))
      for (const match of line.matchAll(/node bin\/bench\.js ([^|>&;]*)/g))
        out.push(
          match[1]!
            .trim()
            .split(/\s+/)
            .map((w) => w.replace(/^"|"$/g, "")),
        );
  return out;
}

describe("scripts/nightly-gpu.yml", () => {
  it("is the file GitHub runs: .github/workflows/nightly-gpu.yml is an identical copy", () => {
    expect(existsSync(COPY)).toBe(true);
    expect(readFileSync(COPY, "utf8")).toBe(text);
  });

  it("has every job's dependencies defined and acyclic, in the order shards → merge → deploy → gate", () => {
    const jobs = parsed.jobs;
    for (const [name, j] of Object.entries(jobs))
      for (const dependency of list(j.needs)) expect(jobs, `${name} needs ${dependency}`).toHaveProperty(dependency);
    const order: string[] = [];
    const visit = (name: string, path: string[]) => {
      expect(path, `cycle through ${name}`).not.toContain(name);
      if (order.includes(name)) return;
      for (const dependency of list(jobs[name]!.needs)) visit(dependency, [...path, name]);
      order.push(name);
    };
    for (const name of Object.keys(jobs)) visit(name, []);
    expect(order).toEqual(["shard", "merge", "deploy", "gate"]);
  });

  it("runs one shard per matrix entry on self-hosted GPU runners, n taken from the matrix size", () => {
    const shard = parsed.jobs.shard!;
    expect(list(shard["runs-on"])).toEqual(expect.arrayContaining(["self-hosted", "gpu"]));
    const shards = shard.strategy!.matrix.shard!;
    expect(shards).toEqual(Array.from({ length: shards.length }, (_, i) => i + 1));
    expect(shard.strategy!["fail-fast"]).toBe(false);
    const [run] = benchInvocations(shard);
    expect(run!.slice(0, 2)).toEqual(["run", "$SUITE"]);
    expect(run!.join(" ")).toContain("--shard ${{ matrix.shard }}/${{ strategy.job-total }}");
    expect(existsSync(String(parsed.env!.SUITE))).toBe(true);
    const upload = shard.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    expect(upload.with!.name).toBe("shard-${{ matrix.shard }}");
    expect(upload.if).toBe("${{ !cancelled() }}"); // a shard with a failed case still uploads its numbers
  });

  it("merges the shards, reports, publishes Pages, compares with the published database and fails only in the gate", () => {
    const { merge, deploy, gate } = parsed.jobs;
    const download = merge!.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"))!;
    expect(download.with).toMatchObject({ pattern: "shard-*", "merge-multiple": true });
    const invocations = benchInvocations(merge!).map((words) => words[0]);
    expect(invocations).toEqual(["merge", "compare", "compare", "merge", "report"]);
    expect(merge!.steps.some((s) => s.uses?.startsWith("actions/upload-pages-artifact@"))).toBe(true);
    expect(merge!.steps.find((s) => s.id === "previous")!.run).toContain("results.db");
    expect(deploy!.permissions).toMatchObject({ pages: "write", "id-token": "write" });
    expect(deploy!.environment!.name).toBe("github-pages");
    expect(deploy!.steps.map((s) => s.uses)).toEqual(["actions/deploy-pages@v4"]);
    expect(gate!.if).toBe("${{ always() }}");
    expect(gate!.steps[0]!.run).toMatch(/COMPARE_EXIT" = "1" \]; then .*exit 1/);
  });

  it("refers only to step ids of the same job and to outputs its needed jobs declare", () => {
    for (const [name, j] of Object.entries(parsed.jobs)) {
      const ids = new Set(j.steps.map((s) => s.id).filter(Boolean));
      const needs = new Set(list(j.needs));
      const json = JSON.stringify(j);
      for (const [, id] of json.matchAll(/steps\.([\w-]+)\.outputs/g))
        expect(ids, `${name}: steps.${id}`).toContain(id);
      for (const [, other, output] of json.matchAll(/needs\.([\w-]+)\.(?:outputs\.([\w-]+)|result)/g)) {
        expect(needs, `${name} refers to needs.${other} without needing it`).toContain(other);
        if (output) expect(parsed.jobs[other!]!.outputs ?? {}, `${other} declares ${output}`).toHaveProperty(output);
      }
    }
  });

  it("calls only bench commands and options that the CLI has", () => {
    for (const j of Object.values(parsed.jobs))
      for (const [command, ...args] of benchInvocations(j)) {
        expect(commands, `bench ${command}`).toHaveProperty(command!);
        const options = commands[command!]!.options;
        for (const word of args)
          if (word.startsWith("--")) expect(options, `bench ${command} ${word}`).toHaveProperty(word.slice(2));
          else if (/^-\w$/.test(word)) expect(Object.values(options).map((o) => o.short)).toContain(word.slice(1));
      }
  });

  it("rejects what a broken workflow would look like (the schema is not vacuous)", () => {
    const broken = parse(text) as Record<string, any>;
    delete broken.jobs.merge["runs-on"];
    expect(workflow.safeParse(broken).success).toBe(false);
    const stepBoth = parse(text) as Record<string, any>;
    stepBoth.jobs.shard.steps[0].run = "echo";
    expect(workflow.safeParse(stepBoth).success).toBe(false);
    const unpinned = parse(text) as Record<string, any>;
    unpinned.jobs.shard.steps[0].uses = "actions/checkout@main";
    expect(workflow.safeParse(unpinned).success).toBe(false);
  });
});
