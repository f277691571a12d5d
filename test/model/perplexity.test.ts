// Perplexity on a text with a checkpoint's own tokenizer: token ids equal the Python `tokenizers` library's, and the
// perplexity ORT gives equals what transformers computes on the same checkpoint, text and chunks.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import type { Case } from "../../src/suite/case.js";
import { caseIr } from "../../src/model/case-model.js";
import { caseFidelity } from "../../runners/ort/case-fidelity.js";
import { loadTokenizer, tokenizeTextFile } from "../../src/model/tokenizer.js";
import { chunkNll, perplexityChunks, perplexityOfIr } from "../../runners/ort/perplexity.js";
import { UsageError } from "../../src/messages.js";
import {
  FIXTURE_MAX_POSITIONS,
  fixtureText,
  venvPython,
  writeCheckpoints,
  type CheckpointFixture,
} from "./checkpoint-fixtures.js";

/** Trains tokenizers of other kinds with the Python library (one folder each) and returns Python's ids of `sample`. */
const TOKENIZER_KINDS_SCRIPT = String.raw`
import json, sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, normalizers, processors, decoders, SentencePieceBPETokenizer, SentencePieceUnigramTokenizer
root, text, sample = sys.argv[1], open(sys.argv[2], encoding="utf-8").read(), sys.argv[3]
made = {}
t = SentencePieceBPETokenizer()  # Llama-2 / Mistral style: Metaspace "▁", BPE
t.train_from_iterator([text], vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
made["sentencepiece-bpe"] = t
l2 = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))  # Llama-2's layout: ▁ normaliser, byte fallback
l2.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
l2.train_from_iterator([text], trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]))
l2.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
made["bpe-byte-fallback"] = l2
from tokenizers import Regex  # Qwen2's (and, but for digit grouping, Llama-3's) pre-tokenizer: a Split regex, then bytes
qwen = Tokenizer(models.BPE())
qwen.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
qwen.train_from_iterator([text], trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
made["qwen2-split-bytelevel"] = qwen
w = Tokenizer(models.WordPiece(unk_token="[UNK]"))  # BERT style
w.normalizer = normalizers.BertNormalizer(lowercase=True)
w.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
w.train_from_iterator([text], trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[UNK]", "[CLS]", "[SEP]"]))
w.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
made["wordpiece"] = w
wl = Tokenizer(models.WordLevel(unk_token="[UNK]"))
wl.pre_tokenizer = pre_tokenizers.Whitespace()
wl.train_from_iterator([text], trainers.WordLevelTrainer(vocab_size=300, special_tokens=["[UNK]"]))
made["wordlevel-whitespace"] = wl
b = Tokenizer(models.BPE(unk_token="[UNK]"))
b.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)])
b.train_from_iterator([text], trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"]))
made["bpe-whitespace-digits"] = b
u = SentencePieceUnigramTokenizer()  # its Nmt normaliser is not in the JS library
u.train_from_iterator([text], vocab_size=300, special_tokens=["<unk>"], unk_token="<unk>")
made["unigram-nmt"] = u
ids = {}
for name, tok in made.items():
    tok.save(f"{root}/{name}/tokenizer.json")
    ids[name] = tok.encode(sample).ids
print(json.dumps(ids))
`;

let root: string;
let textPath: string;
let fixtures: CheckpointFixture[];

beforeAll(() => {
  ({ root, fixtures, textPath } = writeCheckpoints([
    { name: "llama-fp32", arch: "llama", dtype: "float32", tie: false, maxShardBytes: 150_000, tokenizer: true },
    { name: "qwen2-bf16", arch: "qwen2", dtype: "bfloat16", tie: true, maxShardBytes: 100_000, tokenizer: true },
  ]));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function plan(model: object, techniques: object[] = [{ kind: "base" }]): Case[] {
  const { suite } = validateSuite(
    { name: "ppl", models: [model], techniques, scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] },
    "ppl.ts",
    root,
  );
  return planSuite(suite, { codeVersion: "test" });
}

describe("chunked perplexity", () => {
  it("splits a text into non-overlapping chunks and drops a last chunk that predicts nothing", () => {
    expect(perplexityChunks([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(perplexityChunks([1, 2, 3, 4, 5, 6, 7, 8], 3)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
  });

  it("scores uniform logits at log(vocab) nats per predicted token, and a confident right guess near 0", () => {
    expect(chunkNll(new Float32Array(3 * 10), [1, 2, 3], 10)).toBeCloseTo(2 * Math.log(10), 10);
    const confident = new Float32Array(2 * 4);
    confident[0 * 4 + 3] = 50; // row 0 predicts token 3
    expect(chunkNll(confident, [0, 3], 4)).toBeLessThan(1e-15 + 3 * Math.exp(-50));
  });
});

describe("tokenizers of other kinds", () => {
  const sample =
    "Hello wörld — the café's naïve résumé: 1234 tokens!\n  Two  spaces, tabs\tand emoji 🙂. Ünïcode 42, 漢字. IT'S\n\n  end   ";
  it("give the Python library's ids (SentencePiece BPE, Llama-2-style byte-fallback BPE, Qwen2's regex split + byte-level BPE, WordPiece with BERT normalisation, WordLevel, Whitespace+Digits BPE), or a clear refusal", () => {
    const kinds = [
      "sentencepiece-bpe",
      "bpe-byte-fallback",
      "qwen2-split-bytelevel",
      "wordpiece",
      "wordlevel-whitespace",
      "bpe-whitespace-digits",
      "unigram-nmt",
    ];
    const dir = join(root, "tokenizers");
    for (const kind of kinds) mkdirSync(join(dir, kind), { recursive: true });
    const script = join(dir, "write.py");
    writeFileSync(script, TOKENIZER_KINDS_SCRIPT);
    const expected = JSON.parse(
      execFileSync(venvPython, [script, dir, textPath, sample], { encoding: "utf8" }),
    ) as Record<string, number[]>;
    for (const kind of kinds.filter((k) => k !== "unigram-nmt"))
      expect(loadTokenizer(join(dir, kind)).encode(sample), kind).toEqual(expected[kind]);
    expect(() => loadTokenizer(join(dir, "unigram-nmt"))).toThrow(
      /tokenizer\.json: this tokenizer is not supported by @huggingface\/tokenizers \(Unknown Normalizer type: Nmt\)/,
    );
  });
});

describe("perplexity of a checkpoint on a text", () => {
  for (const name of ["llama-fp32", "qwen2-bf16"]) {
    it(`${name}: the TypeScript tokenizer gives the Python tokenizers library's ids (BOS from the post-processor included)`, () => {
      const f = fixtures.find((x) => x.spec.name === name)!;
      const ids = loadTokenizer(f.dir).encode(fixtureText());
      expect(ids.length).toBeGreaterThan(3 * FIXTURE_MAX_POSITIONS);
      expect(ids[0]).toBe(0); // <s>
      expect(ids).toEqual(f.textIds);
    });

    it(`${name}: ORT's perplexity equals transformers' within 1e-3 relative (chunks of the ${FIXTURE_MAX_POSITIONS}-token context)`, async () => {
      const f = fixtures.find((x) => x.spec.name === name)!;
      const [c] = plan({ checkpoint: f.dir, perplexityText: "text.txt" });
      const result = await perplexityOfIr(caseIr(c!), tokenizeTextFile(c!.model, c!.model.perplexityText!), {
        intraOpNumThreads: 1,
      });
      console.log(
        `${name}: perplexity ORT ${result.perplexity.toFixed(4)} vs transformers ${f.perplexity!.toFixed(4)} over ${result.predictedTokens} tokens in ${result.chunks} chunks`,
      );
      expect(result.chunkTokens).toBe(f.chunkTokens);
      expect(Math.abs(result.perplexity / f.perplexity! - 1)).toBeLessThan(1e-3);
    });
  }

  it("is part of a technique case's fidelity: the technique's and the base's perplexity", async () => {
    const f = fixtures.find((x) => x.spec.name === "llama-fp32")!;
    const [c] = plan({ checkpoint: f.dir, perplexityText: "text.txt" }, [{ kind: "int4", accuracyLevel: 0 }]);
    const measures = await caseFidelity(c!, { intraOpNumThreads: 1 });
    const byName = new Map(measures.map((m) => [m.metric, m]));
    expect([...byName.keys()]).toEqual(expect.arrayContaining(["rel_l2_error", "perplexity", "perplexity_base"]));
    expect(Math.abs(byName.get("perplexity_base")!.value! / f.perplexity! - 1)).toBeLessThan(1e-3);
    const int4 = byName.get("perplexity")!.value!;
    console.log(
      `llama-fp32 text perplexity: base ${byName.get("perplexity_base")!.value!.toFixed(3)}, int4 ${int4.toFixed(3)}`,
    );
    expect(int4).not.toBe(byName.get("perplexity_base")!.value);
    expect(byName.get("perplexity")!.label).toMatch(/non-overlapping chunks of ≤ 48 tokens/);
  });

  it("is refused at validation without a checkpoint or without its tokenizer; a tokenizer larger than the vocabulary is a reason, not a crash", async () => {
    expect(() =>
      plan({ name: "synthetic", layers: 1, hidden: 16, heads: 2, ffn: 32, vocab: 50, perplexityText: "text.txt" }),
    ).toThrow(UsageError);
    expect(() =>
      plan({ name: "synthetic", layers: 1, hidden: 16, heads: 2, ffn: 32, vocab: 50, perplexityText: "text.txt" }),
    ).toThrow(/models\[0\]\.perplexityText: perplexity needs a tokenizer/);
    expect(() => plan({ checkpoint: fixtures[0]!.dir, perplexityText: "missing.txt" })).toThrow(
      /missing\.txt does not exist/,
    );
    const [c] = plan({ checkpoint: fixtures[0]!.dir, perplexityText: textPath });
    const small = { ...c!, model: { ...c!.model, vocab: 100 } };
    expect(() => tokenizeTextFile(small.model, textPath)).toThrow(
      /outside the model's vocabulary \(100\): the tokenizer does not belong to these weights/,
    );
  });
});
