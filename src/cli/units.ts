// Parsing of user-given durations and sizes (`--case-timeout 90s`, `--case-memory 4GiB`).
import { UsageError, messages } from "../messages.js";

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
};

export function parseDurationMs(option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!match)
    throw new UsageError(messages.badOption(option, `expected a duration such as 90s, 5m or 1500ms, got "${text}"`));
  return Number(match[1]) * DURATION_MS[(match[2] ?? "s").toLowerCase()]!;
}

export function parseBytes(option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(text.trim());
  const unit = (match?.[2] ?? "b").toLowerCase();
  if (!match || SIZE_BYTES[unit] === undefined)
    throw new UsageError(messages.badOption(option, `expected a size such as 4GiB or 512MB, got "${text}"`));
  return Number(match[1]) * SIZE_BYTES[unit]!;
}
