# Reads a GGUF file with the `gguf` Python package (llama.cpp's own reader) and writes, for the TypeScript test, each
# tensor's type name, ggml-order shape and gguf's float32 dequantisation (raw little-endian) into a folder.
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize, quantize
from gguf.constants import GGMLQuantizationType

path, out = sys.argv[1], sys.argv[2]
reader = GGUFReader(path)
tensors = []
for i, t in enumerate(reader.tensors):
    values = dequantize(t.data, t.tensor_type).astype(np.float32)
    values.tofile(f"{out}/{i}.f32")
    tensors.append({"name": t.name, "type": t.tensor_type.name, "shape": [int(n) for n in t.shape], "file": f"{i}.f32"})
fields = {}
for name, field in reader.fields.items():
    if name.startswith("tokenizer.ggml.tokens") or name.startswith("tokenizer.ggml.scores") or name.startswith("tokenizer.ggml.token_type"):
        fields[name] = len(field.data)
    else:
        fields[name] = field.contents()
# gguf's own Q8_0 / Q4_0 quantisers (bit-exact with ggml's reference ones) on the F32 tensors of a second file.
requantized = {}
if len(sys.argv) > 3:
    for t in GGUFReader(sys.argv[3]).tensors:
        if t.tensor_type != GGMLQuantizationType.F32 or len(t.shape) < 2:
            continue
        values = np.asarray(t.data, dtype=np.float32)
        for qtype in (GGMLQuantizationType.Q8_0, GGMLQuantizationType.Q4_0):
            quantize(values, qtype).tofile(f"{out}/{t.name}.{qtype.name}.bin")
            requantized.setdefault(t.name, []).append(qtype.name)
json.dump({"tensors": tensors, "fields": fields, "requantized": requantized}, open(f"{out}/index.json", "w"), default=str)
