// Small real Hugging Face checkpoints for the checkpoint and perplexity tests, written by `transformers` itself in
// the project's .venv (save_pretrained with a small max_shard_size, so that they are sharded), with a tiny BPE
// tokenizer trained by the `tokenizers` library, and what transformers computes on them: logits of fixed ids,
// parameter counts, the token ids of a text and its perplexity over chunks.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromRoot } from "../../src/paths.js";

export const venvPython = fromRoot(".venv/bin/python");

export interface CheckpointSpec {
  name: string;
  arch: "llama" | "llama3" | "qwen2" | "qwen3" | "mistral" | "mixtral";
  dtype: "float32" | "bfloat16" | "float16";
  tie: boolean;
  /** save_pretrained(max_shard_size=…) in bytes; small forces shards. */
  maxShardBytes: number;
  tokenizer: boolean;
}

export interface CheckpointFixture {
  dir: string;
  spec: CheckpointSpec;
  /** ids [batch][seq] and transformers' fp32 logits of them, flattened [batch, seq, vocab]. */
  ids: number[][];
  logits: number[];
  params: number;
  files: string[];
  /** Present with a tokenizer: the text's ids and the perplexity transformers computes over chunks of `chunkTokens`. */
  textIds?: number[];
  perplexity?: number;
  chunkTokens?: number;
}

export const FIXTURE_VOCAB = 320;
export const FIXTURE_MAX_POSITIONS = 48;

/** A deterministic English-ish text (a few hundred words), so that the tokenizer has merges to learn. */
export function fixtureText(): string {
  const words =
    "the model reads a token and writes the next one while memory and latency are measured on every layer of the small network".split(
      " ",
    );
  let state = 7;
  const out: string[] = [];
  for (let i = 0; i < 420; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    out.push(words[state % words.length]!);
    if (i % 13 === 12) out.push(i % 2 ? "Ünïcode, café!\n" : "42.\n");
  }
  return out.join(" ");
}

const SCRIPT = String.raw`
import json, sys, math, torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders, processors
import transformers
jobs, text_path, ids = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
results = []
def write(spec, out_dir):
    torch.manual_seed(0)
    common = dict(vocab_size=${FIXTURE_VOCAB}, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=${FIXTURE_MAX_POSITIONS}, rms_norm_eps=1e-6, tie_word_embeddings=spec["tie"])
    if spec["arch"] == "llama":
        config = transformers.LlamaConfig(**common, rope_theta=500000.0)
        model = transformers.LlamaForCausalLM(config)
    elif spec["arch"] == "llama3":
        # Llama 3.1-style rope: head dim 16 at θ 500000 gives wavelengths 6.3, 32 and ≥ 167 — one frequency in each of the
        # high (< 64/4 = 16, kept), interpolated (16 … 64) and low (> 64, divided by 8) bands of original context 64.
        config = transformers.LlamaConfig(**common, rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
        model = transformers.LlamaForCausalLM(config)
    elif spec["arch"] == "qwen3":
        config = transformers.Qwen3Config(**common, head_dim=16, rope_theta=1000000.0, attention_bias=False, use_sliding_window=False)
        model = transformers.Qwen3ForCausalLM(config)
    elif spec["arch"] == "qwen2":
        config = transformers.Qwen2Config(**common, rope_theta=1000000.0, use_sliding_window=False)
        model = transformers.Qwen2ForCausalLM(config)
    elif spec["arch"] == "mistral":
        config = transformers.MistralConfig(**common, rope_theta=10000.0, sliding_window=None)
        model = transformers.MistralForCausalLM(config)
    else:
        config = transformers.MixtralConfig(**common, rope_theta=1000000.0, sliding_window=None, num_local_experts=4, num_experts_per_tok=2)
        model = transformers.MixtralForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Trained-looking weights: norms around 1, biases small, matrices at 1/sqrt(fan_in) (init's 0.02 makes tiny logits).
            if p.ndim == 1:
                p.copy_(1 + 0.1 * torch.randn_like(p) if "norm" in name else 0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p.shape[-1]))  # fan-in is the last dim (3-D fused experts too)
    model = model.to(getattr(torch, spec["dtype"]))
    model.save_pretrained(out_dir, max_shard_size=spec["maxShardBytes"])
    result = {}
    if spec["tokenizer"]:
        text = open(text_path, encoding="utf-8").read()
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator([text], trainer)
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
        tok.save(out_dir + "/tokenizer.json")
        result["textIds"] = tok.encode(text).ids
    # Reload as a user would, in float32 (bf16/fp16 weights upcast exactly).
    loaded = transformers.AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32).eval()
    result["params"] = sum(p.numel() for p in loaded.parameters())
    with torch.no_grad():
        result["logits"] = loaded(torch.tensor(ids)).logits.flatten().tolist()
        if spec["tokenizer"]:
            chunk = ${FIXTURE_MAX_POSITIONS}
            all_ids = result["textIds"]
            nll, count = 0.0, 0
            for start in range(0, len(all_ids), chunk):
                piece = all_ids[start:start + chunk]
                if len(piece) < 2:
                    continue
                t = torch.tensor([piece])
                loss = loaded(t, labels=t).loss.item()  # mean NLL of tokens 2..n given their prefix in the chunk
                nll += loss * (len(piece) - 1)
                count += len(piece) - 1
            result["perplexity"] = math.exp(nll / count)
            result["chunkTokens"] = chunk
    return result
for job in jobs:
    results.append(write(job["spec"], job["dir"]))
print(json.dumps(results))
`;

export const FIXTURE_IDS = [
  [1, 17, 250, 3, 99, 42, 7, 300, 5, 64, 12],
  [319, 0, 8, 77, 150, 2, 33, 201, 90, 11, 4],
];

/** Writes one checkpoint per spec (all in one Python process: importing torch takes seconds) under a fresh temporary folder. */
export function writeCheckpoints(specs: CheckpointSpec[]): {
  root: string;
  fixtures: CheckpointFixture[];
  textPath: string;
} {
  const root = mkdtempSync(join(tmpdir(), "effbench-checkpoints-"));
  const textPath = join(root, "text.txt");
  writeFileSync(textPath, fixtureText());
  const scriptPath = join(root, "write.py");
  writeFileSync(scriptPath, SCRIPT);
  const jobs = specs.map((spec) => ({ spec, dir: join(root, spec.name) }));
  const output = execFileSync(venvPython, [scriptPath, JSON.stringify(jobs), textPath, JSON.stringify(FIXTURE_IDS)], {
    encoding: "utf8",
    env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error", TOKENIZERS_PARALLELISM: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const results = JSON.parse(output.trim().split("\n").at(-1)!) as Omit<
    CheckpointFixture,
    "dir" | "spec" | "ids" | "files"
  >[];
  const fixtures = jobs.map(({ spec, dir }, i) => {
    let files = ["model.safetensors"];
    try {
      files = [
        ...new Set(
          Object.values(
            (
              JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8")) as {
                weight_map: Record<string, string>;
              }
            ).weight_map,
          ),
        ),
      ];
    } catch {
      // not sharded
    }
    return { dir, spec, ids: FIXTURE_IDS, files, ...results[i]! };
  });
  return { root, fixtures, textPath };
}
