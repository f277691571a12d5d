// Expands a resolved suite into its cases: model × technique × scenario × workload × runner. Each case's identity
// (caseKey) and its runner's settings come from the runner's definition (src/runner/contract.ts).
import type { Case } from "./case.js";
import { canonicalJson, sha256 } from "./loader.js";
import type { ExcludeEntry, ResolvedSuite, Workload } from "./schema.js";
import { getRunnerDefinition } from "../runner/registry.js";
import { getTechnique } from "../techniques/registry.js";
import { UsageError, messages } from "../messages.js";
import { scaleModelDetailed, type Scale } from "../model/scale.js";
import { checkpointFilesVersion, checkpointIdentity, textIdentity } from "../model/checkpoint.js";
import { ggufFileVersion } from "../model/gguf-model.js";

export interface PlanOptions {
  /** `--scale`: every model scaled down by this rule (src/model/scale.ts), recorded with the case. */
  scale?: Scale;
  /** Included in every configHash: a new code version invalidates `--resume`. */
  codeVersion: string;
  filter?: string;
}

export function planSuite(suite: ResolvedSuite, options: PlanOptions): Case[] {
  const cases: Case[] = [];
  const scaled = suite.models.map((m) =>
    options.scale === undefined ? { model: m } : scaleModelDetailed(m, options.scale),
  );
  for (const [modelIndex, { model, ...scaling }] of scaled.entries()) {
    // A checkpoint's case key names it by content, not by its absolute path (the same checkpoint in another folder
    // is the same case); the config hash also carries the files' modification times, so --resume reruns new weights.
    // A local GGUF likewise: by its identity (header hash and size, src/model/gguf-model.ts), its modification time in
    // the config hash.
    const keyModel = model.checkpoint
      ? {
          ...model,
          checkpoint: checkpointIdentity(model.checkpoint),
          ...(model.perplexityText ? { perplexityText: textIdentity(model.perplexityText) } : {}),
        }
      : model.gguf
        ? { ...model, gguf: model.gguf.identity }
        : model;
    const weightsVersion = model.checkpoint
      ? { checkpointFiles: checkpointFilesVersion(model.checkpoint) }
      : model.gguf
        ? { ggufFile: ggufFileVersion(model.gguf.path) }
        : {};
    for (const technique of suite.techniques)
      for (const scenario of suite.scenarios)
        for (const workload of suite.workloads)
          for (const runner of suite.runners) {
            // Excludes name the model as written (before --scale renames it).
            if (
              isExcluded(suite.exclude ?? [], {
                model: suite.models[modelIndex]!.name,
                technique,
                scenario,
                workload,
                runner,
              })
            )
              continue;
            const definition = getRunnerDefinition(runner);
            // A runner may expand its settings along an axis (torch's execution modes): one case per variant.
            const suiteSettings = suite[runner] as Record<string, unknown>;
            for (const settings of definition.settingsVariants?.(suiteSettings) ?? [suiteSettings]) {
              const deviceClass = definition.deviceClass(settings);
              const keySettings = definition.caseKeySettings?.(settings) ?? {};
              const caseKey = canonicalJson({
                model: keyModel,
                technique: getTechnique(technique.kind).caseKeyParams?.(technique) ?? technique,
                scenario,
                workload,
                runner,
                deviceClass,
                ...(Object.keys(keySettings).length > 0 ? { settings: keySettings } : {}),
              });
              const configHash = sha256(
                canonicalJson({
                  caseKey,
                  protocol: suite.protocol,
                  settings,
                  codeVersion: options.codeVersion,
                  ...weightsVersion,
                }),
              );
              const name = [
                model.name,
                getTechnique(technique.kind).label(technique),
                scenario,
                workloadLabel(workload),
                runner,
                ...(definition.caseLabel?.(settings) ? [definition.caseLabel(settings)!] : []),
              ].join(" · ");
              cases.push({
                id: sha256(caseKey).slice(0, 12),
                caseKey,
                configHash,
                name,
                model,
                technique,
                scenario,
                workload,
                runner,
                protocol: suite.protocol,
                settings,
                ...("widthFactor" in scaling
                  ? {
                      scale: {
                        requested: scaling.requested,
                        widthFactor: scaling.widthFactor,
                        layersFrom: scaling.layers.from,
                        layersTo: scaling.layers.to,
                      },
                    }
                  : {}),
              });
            }
          }
  }
  return options.filter ? filterCases(cases, options.filter) : cases;
}

/** Whether an `exclude` entry drops this case: every field the entry gives matches. */
function isExcluded(
  exclude: ExcludeEntry[],
  c: {
    model: string;
    technique: { kind: string; name?: string };
    scenario: string;
    workload: Workload;
    runner: string;
  },
): boolean {
  const matches = (value: string | string[] | undefined, candidates: (string | undefined)[]) =>
    value === undefined || (Array.isArray(value) ? value : [value]).some((v) => candidates.includes(v));
  return exclude.some(
    (e) =>
      matches(e.model, [c.model]) &&
      matches(e.technique, [c.technique.kind, c.technique.name]) &&
      matches(e.scenario, [c.scenario]) &&
      matches(e.workload, [c.workload.name]) &&
      matches(e.runner, [c.runner]),
  );
}

/** Every whitespace-separated term must match the case's id or name (case-insensitive substring). */
export function filterCases(cases: Case[], filter: string): Case[] {
  const terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const selected = cases.filter((c) => terms.every((t) => c.id.startsWith(t) || c.name.toLowerCase().includes(t)));
  if (selected.length === 0) throw new UsageError(messages.filterMatchedNothing(filter, cases.length));
  return selected;
}

export function workloadLabel(w: Workload): string {
  const parts = [w.name ?? "", `b${w.batch}`, `p${w.promptTokens}`];
  if (w.newTokens > 1) parts.push(`n${w.newTokens}`);
  if (w.routingSkew > 0) parts.push(`zipf${w.routingSkew}`);
  return parts.filter(Boolean).join(" ");
}
