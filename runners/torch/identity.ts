// What of the torch runner's settings changes what is measured, so it joins the case key (defaults left out, so ids
// of cases at default settings never change), and the execution-mode axis: one suite lists modes, each is a case.
import type { ExecutionMode, TorchSettings } from "./settings.js";

/** The torch settings of one case: a single execution mode. */
export type TorchCaseSettings = Omit<TorchSettings, "mode"> & { mode: ExecutionMode };

export const DEFAULT_MODE: ExecutionMode = "eager";

/** One settings object per execution mode the suite lists (in its order, duplicates dropped). */
export function settingsVariants(settings: TorchSettings): TorchCaseSettings[] {
  const modes = [...new Set(Array.isArray(settings.mode) ? settings.mode : [settings.mode ?? DEFAULT_MODE])];
  return modes.map((mode) => ({ ...settings, mode }));
}

/** The non-default settings that change what a case measures: dtype, threads, gradient checkpointing, mode. The
 * device is in the case key already (its device class). */
export function caseKeySettings(settings: TorchSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (settings.dtype !== "fp32") out.dtype = settings.dtype;
  if (settings.threads !== undefined) out.threads = settings.threads;
  if (settings.gradientCheckpointing) out.gradientCheckpointing = true;
  if (settings.mode !== DEFAULT_MODE) out.mode = settings.mode;
  return out;
}

/** What the case name adds: the execution mode when it is not eager. */
export function caseLabel(settings: TorchSettings): string | undefined {
  return typeof settings.mode === "string" && settings.mode !== DEFAULT_MODE ? settings.mode : undefined;
}
