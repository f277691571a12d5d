// Number formatting for every format of the report (HTML, markdown, the browser bundle): one place decides how a
// value and its CI print, so that the site and the PR comment agree. Free of Node imports.

/** Three significant digits, without exponent noise for everyday magnitudes. */
export function formatPlain(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  if (abs === 0) return "0";
  if (abs >= 1e6 || abs < 1e-3) return x.toExponential(2);
  if (abs >= 100) return x.toFixed(0);
  return String(Number(x.toPrecision(3)));
}

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB"];
const DECIMAL = ["", "k", "M", "G", "T"];

/** Chooses a display scale for a value in `unit` and returns the divisor and the unit to print. */
export function displayScale(value: number, unit: string): { divisor: number; unit: string } {
  const abs = Math.abs(value);
  if (unit === "B") {
    let i = 0;
    while (i < BINARY.length - 1 && abs >= 1024 ** (i + 1)) i++;
    return { divisor: 1024 ** i, unit: BINARY[i] };
  }
  if (unit === "ms") {
    if (abs < 1) return { divisor: 1e-3, unit: "µs" };
    if (abs >= 10_000) return { divisor: 1000, unit: "s" };
    return { divisor: 1, unit: "ms" };
  }
  if (unit === "count" || unit === "FLOP" || unit === "tok/s" || unit === "samples/s") {
    let i = 0;
    while (i < DECIMAL.length - 1 && abs >= 1000 ** (i + 1)) i++;
    const suffix = DECIMAL[i];
    const base = unit === "count" ? "" : ` ${unit}`;
    return { divisor: 1000 ** i, unit: `${suffix}${base}`.trim() };
  }
  if (unit === "ratio") return { divisor: 1, unit: "" };
  return { divisor: 1, unit };
}

/** "3.16 ms", "189 MiB", "20.3k tok/s"; `null` prints as an em dash (never 0). */
export function formatValue(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return "—";
  const scale = displayScale(value, unit);
  const text = formatPlain(value / scale.divisor);
  if (!scale.unit) return text;
  // Decimal prefixes attach to the number ("20.3k tok/s", "2.46M"); units take a space ("3.16 ms").
  return /^[kMGT]($| )/.test(scale.unit) ? `${text}${scale.unit}` : `${text} ${scale.unit}`;
}

/** "[2.24, 3.92] ms" in the value's own scale, or "" without a CI. */
export function formatCi(value: number | null, ciLow: number | null, ciHigh: number | null, unit: string): string {
  if (value === null || ciLow === null || ciHigh === null || !Number.isFinite(ciLow) || !Number.isFinite(ciHigh))
    return "";
  const scale = displayScale(value, unit);
  return `[${formatPlain(ciLow / scale.divisor)}, ${formatPlain(ciHigh / scale.divisor)}]`;
}

/**
 * Rounds to `digits` significant digits: the pages carry display precision, not 17 digits. Arithmetic rather than
 * toPrecision (a string per number): an integer divided by an exact power of ten is the double nearest the decimal,
 * which JSON prints short.
 */
export function roundSignificant(x: number | null, digits = 5): number | null {
  if (x === null || !Number.isFinite(x) || x === 0) return x;
  const exponent = digits - Math.ceil(Math.log10(Math.abs(x)));
  return exponent >= 0
    ? Math.round(x * 10 ** exponent) / 10 ** exponent
    : Math.round(x / 10 ** -exponent) * 10 ** -exponent;
}
