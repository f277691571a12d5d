"""scripts/gpu-smoke.sh's mode-equality check on the GPU: for each technique, the logits of one decode step in eager mode
and in cuda-graph mode (captured, replayed) on the same worker-seeded weights and inputs; relative L2 between them.
Pairs come from scripts/gpu-mode-check-prepare.ts.

    python runners/torch/mode_check.py .gpu/mode-check.json  ->  $OUT/mode-check.json and one line per pair on stdout
"""

import json
import os
import sys
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import scenarios  # noqa: E402
import worker  # noqa: E402, F401  (redirects stray prints to stderr)

# bf16 logits of two execution paths (DynamicCache vs StaticCache attention over promptTokens+1 slots) differ by
# rounding; the same weights and inputs agree far closer than any technique's own effect (int4 vs base: ~0.5).
TOLERANCE = 2e-2


def main():
    plan = json.load(open(sys.argv[1]))
    out = []
    for pair in plan["pairs"]:
        entry = {"technique": pair["technique"]}
        try:
            _, eager = scenarios.step_logits(pair["eager"], None)
            _, graph = scenarios.step_logits(pair["graph"], None)
            a, b = torch.tensor(eager, dtype=torch.float64), torch.tensor(graph, dtype=torch.float64)
            rel = float((b - a).norm() / a.norm())
            entry.update(relativeL2=rel, argmaxEqual=bool((a.argmax() == b.argmax()).item()), ok=rel <= TOLERANCE)
        except Exception as error:
            entry.update(ok=False, error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
        out.append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k != "traceback"}), flush=True)
    with open(os.path.join(os.environ.get("OUT", "."), "mode-check.json"), "w") as f:
        json.dump({"tolerance": TOLERANCE, "pairs": out}, f, indent=1)


if __name__ == "__main__":
    main()
