// The report groups techniques by family, taken from each technique's own declaration in the registry.
import { describe, expect, it } from "vitest";
import { familiesMarkdown, familyOf } from "../../reports/families.js";
import type { ReportResult } from "../../reports/data.js";

const result = (technique: Record<string, unknown>, label: string, status = "completed") =>
  ({ caseDetails: { technique }, technique: label, status }) as unknown as ReportResult;

describe("technique families in the report", () => {
  it("takes each technique's family from the registry (peft tuners by peft_type)", () => {
    expect(familyOf(result({ kind: "lora" }, "lora"))).toBe("LoRA-like");
    expect(familyOf(result({ kind: "int4" }, "int4"))).toBe("quantised");
    expect(familyOf(result({ kind: "mixlora" }, "mixlora"))).toBe("mixtures");
    expect(familyOf(result({ kind: "peft", config: { peft_type: "BOFT" } }, "peft boft"))).toBe("orthogonal");
    expect(familyOf(result({ kind: "peft", config: { peft_type: "LOKR" } }, "peft lokr"))).toBe("Kronecker");
    expect(familyOf(result({ kind: "peft", config: { peft_type: "IA3" } }, "peft ia3"))).toBe("vector-based");
    expect(familyOf(result({ kind: "gone" }, "gone"))).toBe("other");
  });

  it("writes one markdown row per family, in the families' order, with case counts", () => {
    const lines = familiesMarkdown([
      result({ kind: "peft", config: { peft_type: "IA3" } }, "peft ia3"),
      result({ kind: "lora" }, "lora r8"),
      result({ kind: "peft", config: { peft_type: "LOHA" } }, "peft loha", "failed"),
      result({ kind: "base" }, "base"),
    ]);
    expect(lines.filter((l) => l.startsWith("| ") && !l.startsWith("| family") && !l.startsWith("| ---"))).toEqual([
      "| base | base | 1 | 1 |",
      "| LoRA-like | lora r8, peft loha | 2 | 1 |",
      "| vector-based | peft ia3 | 1 | 1 |",
    ]);
  });
});
