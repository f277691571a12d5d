// What of the ort runner's settings changes what is measured, so it joins the case key (defaults left out, so ids
// of cases at default settings never change). The execution provider is in the case key already (its device class).
import { ortSettingsSchema, type OrtSettings } from "./settings.js";

const DEFAULTS = ortSettingsSchema.parse({});

export function caseKeySettings(settings: OrtSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["intraOpThreads", "interOpThreads", "allowSpinning", "graphOptimizationLevel"] as const)
    if (settings[key] !== DEFAULTS[key]) out[key] = settings[key];
  return out;
}
