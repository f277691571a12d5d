// Loads a suite file: bundles it with esbuild (TypeScript, relative imports, JSON, `import … from "effbench"`),
// imports the bundle, validates the default export with zod, and turns zod issues into `file › path: message`.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { fromRoot } from "../paths.js";
import type { z } from "zod";
import { UsageError, messages } from "../messages.js";
import { suiteSchema, type ResolvedSuite } from "./schema.js";
import { getTechnique, techniqueKinds } from "../techniques/registry.js";
import { expandCheckpointModels } from "../model/checkpoint.js";
import { expandHfModels } from "../model/hf-config.js";
import { expandGgufModels } from "../model/gguf-model.js";

const packageEntry = fromRoot("src/index.ts");

export interface LoadedSuite {
  path: string;
  /** The path as the user should read it in messages (relative to the cwd when inside it). */
  displayPath: string;
  suite: ResolvedSuite;
  /** sha256 of the resolved suite's canonical JSON. */
  suiteHash: string;
}

export async function loadSuite(path: string): Promise<LoadedSuite> {
  const absolute = resolve(path);
  const displayPath = relative(process.cwd(), absolute).startsWith("..") ? absolute : relative(process.cwd(), absolute);
  if (!existsSync(absolute)) throw new UsageError(messages.suiteNotFound(displayPath));
  const raw = await importSuiteModule(absolute, displayPath);
  return { path: absolute, displayPath, ...validateSuite(raw, displayPath, dirname(absolute)) };
}

/** Validates a suite object (as a suite file's default export) and fills in defaults; relative paths resolve against `baseDir`. */
export function validateSuite(
  raw: unknown,
  displayPath: string,
  baseDir = process.cwd(),
): { suite: ResolvedSuite; suiteHash: string } {
  // Checkpoint models (docs/checkpoints.md): their architecture fields come from config.json, read here (src/model/checkpoint.ts).
  // Models given as a transformers config: the IR fields derived from it (src/model/hf-config.ts).
  const hf = expandHfModels(raw, baseDir);
  if (hf.issues.length > 0) throw new UsageError(messages.suiteInvalid(displayPath, hf.issues));
  // Local GGUF files: their architecture fields come from the file's header (src/model/gguf-model.ts).
  const gguf = expandGgufModels(hf.raw, baseDir);
  if (gguf.issues.length > 0) throw new UsageError(messages.suiteInvalid(displayPath, gguf.issues));
  const expanded = expandCheckpointModels(gguf.raw, baseDir);
  if (expanded.issues.length > 0) throw new UsageError(messages.suiteInvalid(displayPath, expanded.issues));
  raw = expanded.raw;
  const techniques = expandTechniqueInputs(raw, baseDir);
  if (techniques.issues.length > 0) throw new UsageError(messages.suiteInvalid(displayPath, techniques.issues));
  raw = techniques.raw;
  const parsed = suiteSchema().safeParse(raw);
  if (!parsed.success) throw new UsageError(messages.suiteInvalid(displayPath, formatIssues(parsed.error.issues, raw)));
  return { suite: parsed.data as ResolvedSuite, suiteHash: sha256(canonicalJson(parsed.data)) };
}

/** Each technique entry through its technique's `expandInput` (file paths resolved against the suite's folder). */
function expandTechniqueInputs(raw: unknown, baseDir: string): { raw: unknown; issues: string[] } {
  if (!raw || typeof raw !== "object" || !Array.isArray((raw as { techniques?: unknown }).techniques))
    return { raw, issues: [] };
  const issues: string[] = [];
  const techniques = (raw as { techniques: unknown[] }).techniques.map((entry, index) => {
    if (!entry || typeof entry !== "object") return entry;
    const kind = (entry as { kind?: unknown }).kind;
    if (typeof kind !== "string" || !techniqueKinds().includes(kind)) return entry;
    const expand = getTechnique(kind).expandInput;
    if (!expand) return entry;
    const out = expand(entry as Record<string, unknown>, baseDir);
    issues.push(...out.issues.map((issue) => `techniques[${index}].${issue}`));
    return out.raw;
  });
  return { raw: { ...(raw as object), techniques }, issues };
}

async function importSuiteModule(absolute: string, displayPath: string): Promise<unknown> {
  // An already-bundled suite (.mjs, as scripts/gpu-smoke.sh carries to machines without esbuild) imports as is.
  if (absolute.endsWith(".mjs")) return importDefault(pathToFileURL(absolute).href, displayPath);
  const { build } = await import("esbuild");
  let code: string;
  try {
    const result = await build({
      entryPoints: [absolute],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      write: false,
      logLevel: "silent",
      alias: { effbench: packageEntry },
      // Suites may import npm packages of the user's own project; leave those to Node.
      packages: "external",
    });
    code = result.outputFiles[0]!.text;
  } catch (error) {
    const errors = (
      error as {
        errors?: Array<{ text: string; location?: { file: string; line: number; column: number; lineText: string } }>;
      }
    ).errors;
    if (!errors) throw new UsageError(messages.suiteSyntax(displayPath, String(error)));
    const detail = errors
      .map((e) =>
        e.location
          ? `  ${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}\n    ${e.location.lineText}`
          : `  ${e.text}`,
      )
      .join("\n");
    throw new UsageError(messages.suiteSyntax(displayPath, detail));
  }
  // Write the bundle next to the suite so that packages it imports resolve from the suite's own folder.
  const dir = makeBundleDir(dirname(absolute));
  const file = join(dir, "suite.mjs");
  try {
    writeFileSync(file, code);
    return await importDefault(pathToFileURL(file).href, displayPath);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function importDefault(url: string, displayPath: string): Promise<unknown> {
  try {
    const module = (await import(url)) as { default?: unknown };
    if (module.default === undefined) throw new UsageError(messages.suiteNoDefault(displayPath));
    return module.default;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(messages.suiteThrew(displayPath, error instanceof Error ? error.message : String(error)));
  }
}

/** Beside the suite when its folder is writable (so its own packages resolve), else in the temp dir. */
function makeBundleDir(suiteDir: string): string {
  try {
    return mkdtempSync(join(suiteDir, ".effbench-suite-"));
  } catch {
    return mkdtempSync(join(tmpdir(), "effbench-suite-"));
  }
}

/** `models[0].heads: expected a positive integer, got 0` — the path as a user reads it, with the value found there. */
export function formatIssues(issues: z.core.$ZodIssue[], raw: unknown): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(issue.path);
      return issue.keys.map((key) => {
        const hint = closest(key, known);
        return `${formatPath([...issue.path, key])}: unknown field — ${hint ? `did you mean "${hint}"?` : "remove it or check its spelling"}`;
      });
    }
    const path = formatPath(issue.path);
    const got = valueAt(raw, issue.path);
    if (issue.path.at(-1) === "kind" && issue.path[0] === "techniques") {
      const hint = typeof got.value === "string" ? closest(got.value, techniqueKinds()) : undefined;
      return `${path}: unknown technique ${describe(got.value)} — known: ${techniqueKinds().join(", ")}${hint ? ` (did you mean "${hint}"?)` : ""}`;
    }
    const gotText = got.found
      ? `, got ${describe(got.value)}`
      : issue.code === "invalid_type"
        ? " — this field is required"
        : "";
    let message = issue.message.replace(/^Invalid input: /, "");
    if (issue.code === "invalid_value" && typeof got.value === "string") {
      const hint = closest(got.value, (issue.values as unknown[]).map(String));
      if (hint) message += ` (did you mean "${hint}"?)`;
    }
    const alreadyHasGot = /received|got /i.test(message);
    return `${path || "(suite)"}: ${message}${alreadyHasGot ? "" : gotText}`;
  });
}

/** The keys a strict object at `path` accepts, for "did you mean" hints. */
function knownKeysAt(path: PropertyKey[]): string[] {
  let schema: unknown = suiteSchema();
  for (const key of path) {
    const def = (
      schema as {
        def?: { type: string; shape?: Record<string, unknown>; element?: unknown; innerType?: unknown; in?: unknown };
      }
    ).def;
    if (!def) return [];
    if (def.type === "array") schema = def.element;
    else if (def.shape) schema = def.shape[String(key)];
    else return [];
    while (
      (schema as { def?: { innerType?: unknown; in?: unknown } })?.def?.innerType ||
      (schema as { def?: { in?: unknown } })?.def?.in
    )
      schema =
        (schema as { def: { innerType?: unknown; in?: unknown } }).def.innerType ??
        (schema as { def: { in?: unknown } }).def.in;
  }
  const shape = (schema as { def?: { shape?: Record<string, unknown> } })?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

/** The candidate within edit distance 2 (or a third of the word), if any. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function formatPath(path: PropertyKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out;
}

function valueAt(root: unknown, path: PropertyKey[]): { found: boolean; value?: unknown } {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== "object" || !(key in (node as object))) return { found: false };
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return { found: path.length > 0, value: node };
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** JSON with object keys sorted, so equal configs hash equally whatever order they were written in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  return value;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
