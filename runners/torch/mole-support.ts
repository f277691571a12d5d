// Which mixture-of-LoRA-experts kinds (mixlora, loramoe, mola, xlora, smora; docs/mole.md) the torch runner runs.
// The technique files (src/techniques/<kind>.ts) ask this for their torch `unsupportedReason`; the torch engineer
// switches a kind on here as its Python module lands (same math and tensor names as the ort graphs: docs/mole.md).
const SUPPORTED_MOLE_KINDS = new Set<string>(["mixlora", "loramoe", "mola", "xlora", "smora"]);

/** undefined when the torch runner runs this MoLE kind; otherwise why not. */
export function torchMoleUnsupportedReason(kind: string): string | undefined {
  return SUPPORTED_MOLE_KINDS.has(kind) ? undefined : `the torch runner does not run ${kind} yet`;
}
