// The synthetic tokenizer: a prompt of N words is exactly N tokens (read back with the tokenizer.json the serve runner
// writes, through @huggingface/tokenizers as transformers' fast tokenizer runs it), ids in range, same seed same prompt.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTokenizer } from "../../src/model/tokenizer.js";
import { syntheticPrompt, writeSyntheticTokenizer } from "../../src/model/synthetic-tokenizer.js";

describe("synthetic tokenizer", () => {
  it("makes prompts of exact token lengths, every id a word and none special", () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-tok-"));
    try {
      writeSyntheticTokenizer(dir, 97, 4096);
      const tokenizer = loadTokenizer(dir);
      for (const n of [1, 7, 128]) {
        const prompt = syntheticPrompt(n, 97, n);
        const ids = tokenizer.encode(prompt);
        expect(ids).toHaveLength(n);
        expect(ids.every((id) => id >= 1 && id < 97)).toBe(true);
        expect(prompt.split(" ").map((w) => Number(w.slice(1)))).toEqual(ids);
      }
      expect(syntheticPrompt(16, 97, 3)).toBe(syntheticPrompt(16, 97, 3));
      expect(syntheticPrompt(16, 97, 3)).not.toBe(syntheticPrompt(16, 97, 4));
      expect(tokenizer.encode("t0 t96")).toEqual([0, 96]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
