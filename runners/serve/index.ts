// The serve runner's definition: an OpenAI-compatible server under load — a managed `transformers serve` on the
// case's model (CPU or CUDA) or the user's endpoint — one case per load point (docs/serving.md).
import type { RunnerDefinition } from "../../src/runner/contract.js";
import { weightCopiesMemory } from "../shared/memory.js";
import { caseLabel, pointKey, pointVariants, serveSettingsSchema, type ServeSettings } from "./settings.js";
import { serveStaticReason } from "./support.js";

const managedOnHost = (s: ServeSettings) => !s.endpoint && s.device === "cpu";

export const serveRunnerDefinition: RunnerDefinition<ServeSettings> = {
  name: "serve",
  description:
    "an OpenAI-compatible server under open- or closed-loop load: managed transformers serve, or your endpoint",
  settingsSchema: serveSettingsSchema as RunnerDefinition<ServeSettings>["settingsSchema"],
  deviceClass: (s) => (s.endpoint ? "external" : s.device),
  settingsVariants: pointVariants,
  caseKeySettings: pointKey,
  caseLabel,
  onHost: managedOnHost,
  unsupportedReason: serveStaticReason,
  // The server holds the weights once it loaded them; the directory is written from a second copy.
  hostMemory: (c, inspection) =>
    managedOnHost(c.settings as ServeSettings) ? weightCopiesMemory(inspection, 2) : undefined,
  // A managed transformers serve starts in about 35 s on the shared 2-core VM (imports), once per served model.
  estimate: { startS: 35, device: (s) => (s.device === "cuda" ? "cuda" : "cpu") },
  async load(options) {
    const { ServeRunner } = await import("./runner.js");
    return new ServeRunner(options);
  },
};
