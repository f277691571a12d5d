// The ggml tensor types the GGUF writer emits: their ids in a GGUF file (ggml.h's `enum ggml_type`) and their block
// layout (elements per block, bytes per block), as ggml-common.h defines them.

export const GGML_TYPES = {
  F32: { id: 0, blockElements: 1, blockBytes: 4 },
  F16: { id: 1, blockElements: 1, blockBytes: 2 },
  Q4_0: { id: 2, blockElements: 32, blockBytes: 18 }, // f16 d, 16 bytes of nibbles
  Q8_0: { id: 8, blockElements: 32, blockBytes: 34 }, // f16 d, 32 int8
  Q4_K: { id: 12, blockElements: 256, blockBytes: 144 }, // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
  Q6_K: { id: 14, blockElements: 256, blockBytes: 210 }, // 128 bytes low nibbles, 64 bytes high 2 bits, 16 int8 scales, f16 d
  BF16: { id: 30, blockElements: 1, blockBytes: 2 },
} as const;

export type GgmlType = keyof typeof GGML_TYPES;

export const GGML_TYPE_NAMES = Object.keys(GGML_TYPES) as GgmlType[];

/** Bytes of a row of `elements` values; throws when the row is not a whole number of blocks. */
export function rowBytes(type: GgmlType, elements: number): number {
  const { blockElements, blockBytes } = GGML_TYPES[type];
  if (elements % blockElements !== 0)
    throw new Error(`a ${type} row needs a multiple of ${blockElements} values, got ${elements}`);
  return (elements / blockElements) * blockBytes;
}

/** Whether rows of this width can be stored as `type` (K-quants: multiples of 256; Q4_0/Q8_0: of 32). */
export function fitsRow(type: GgmlType, elements: number): boolean {
  return elements % GGML_TYPES[type].blockElements === 0;
}
