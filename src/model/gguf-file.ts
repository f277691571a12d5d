// Reads the header of a GGUF file (ggml's docs/gguf.md, versions 2 and 3): the metadata and the tensor infos, never the
// tensor data (files are gigabytes), synchronously so that suite validation stays synchronous. Read in 1 MiB chunks.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { createHash } from "node:crypto";

/** Every ggml tensor type a GGUF may hold: id → name, values per block, bytes per block (ggml's type traits, as the
 * `gguf` Python package's GGML_QUANT_SIZES lists them). */
export const GGML_TYPE_TABLE: Record<number, { name: string; blockElements: number; blockBytes: number }> = {
  0: { name: "F32", blockElements: 1, blockBytes: 4 },
  1: { name: "F16", blockElements: 1, blockBytes: 2 },
  2: { name: "Q4_0", blockElements: 32, blockBytes: 18 },
  3: { name: "Q4_1", blockElements: 32, blockBytes: 20 },
  6: { name: "Q5_0", blockElements: 32, blockBytes: 22 },
  7: { name: "Q5_1", blockElements: 32, blockBytes: 24 },
  8: { name: "Q8_0", blockElements: 32, blockBytes: 34 },
  9: { name: "Q8_1", blockElements: 32, blockBytes: 40 },
  10: { name: "Q2_K", blockElements: 256, blockBytes: 84 },
  11: { name: "Q3_K", blockElements: 256, blockBytes: 110 },
  12: { name: "Q4_K", blockElements: 256, blockBytes: 144 },
  13: { name: "Q5_K", blockElements: 256, blockBytes: 176 },
  14: { name: "Q6_K", blockElements: 256, blockBytes: 210 },
  15: { name: "Q8_K", blockElements: 256, blockBytes: 292 },
  16: { name: "IQ2_XXS", blockElements: 256, blockBytes: 66 },
  17: { name: "IQ2_XS", blockElements: 256, blockBytes: 74 },
  18: { name: "IQ3_XXS", blockElements: 256, blockBytes: 98 },
  19: { name: "IQ1_S", blockElements: 256, blockBytes: 50 },
  20: { name: "IQ4_NL", blockElements: 32, blockBytes: 18 },
  21: { name: "IQ3_S", blockElements: 256, blockBytes: 110 },
  22: { name: "IQ2_S", blockElements: 256, blockBytes: 82 },
  23: { name: "IQ4_XS", blockElements: 256, blockBytes: 136 },
  24: { name: "I8", blockElements: 1, blockBytes: 1 },
  25: { name: "I16", blockElements: 1, blockBytes: 2 },
  26: { name: "I32", blockElements: 1, blockBytes: 4 },
  27: { name: "I64", blockElements: 1, blockBytes: 8 },
  28: { name: "F64", blockElements: 1, blockBytes: 8 },
  29: { name: "IQ1_M", blockElements: 256, blockBytes: 56 },
  30: { name: "BF16", blockElements: 1, blockBytes: 2 },
  34: { name: "TQ1_0", blockElements: 256, blockBytes: 54 },
  35: { name: "TQ2_0", blockElements: 256, blockBytes: 66 },
  39: { name: "MXFP4", blockElements: 32, blockBytes: 17 },
  40: { name: "NVFP4", blockElements: 64, blockBytes: 36 },
  41: { name: "Q1_0", blockElements: 128, blockBytes: 18 },
};

/** `general.file_type` (llama.h's enum llama_ftype) → llama-quantize's name for it. */
export const LLAMA_FILE_TYPE_NAMES: Record<number, string> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  7: "Q8_0",
  8: "Q5_0",
  9: "Q5_1",
  10: "Q2_K",
  11: "Q3_K_S",
  12: "Q3_K_M",
  13: "Q3_K_L",
  14: "Q4_K_S",
  15: "Q4_K_M",
  16: "Q5_K_S",
  17: "Q5_K_M",
  18: "Q6_K",
  19: "IQ2_XXS",
  20: "IQ2_XS",
  21: "Q2_K_S",
  22: "IQ3_XS",
  23: "IQ3_XXS",
  24: "IQ1_S",
  25: "IQ4_NL",
  26: "IQ3_S",
  27: "IQ3_M",
  28: "IQ2_S",
  29: "IQ2_M",
  30: "IQ4_XS",
  31: "IQ1_M",
  32: "BF16",
  36: "TQ1_0",
  37: "TQ2_0",
  38: "MXFP4_MOE",
  39: "NVFP4",
  40: "Q1_0",
};

/** A metadata value: scalars as they are; arrays as their element type and length (their contents are skipped). */
export type GgufMetaValue = number | bigint | boolean | string | { arrayType: number; length: number };

export interface GgufTensorInfo {
  name: string;
  /** Dimensions in ggml order (ne[0] is the contiguous one). */
  ne: number[];
  typeId: number;
  /** Offset from the start of the data section. */
  offset: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufMetaValue>;
  tensors: GgufTensorInfo[];
  /** Bytes of the header (magic to the end of the tensor infos). */
  headerBytes: number;
  /** Where the tensor data starts (the header aligned to general.alignment). */
  dataOffset: number;
  fileBytes: number;
  /** sha256 of the header bytes (hex). */
  headerSha256: string;
}

export class GgufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GgufError";
  }
}

const MAGIC = 0x46554747; // "GGUF" read little-endian
const CHUNK = 1 << 20;
/** Element sizes of the fixed-size metadata value types (gguf value types 0–7, 10–12). */
const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** A forward reader over a file descriptor that refills a buffer as the parse needs more bytes. */
class Cursor {
  private buffer = Buffer.alloc(0);
  private start = 0; // file position of buffer[0]
  private index = 0; // position in buffer
  readonly hash = createHash("sha256");

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  get position(): number {
    return this.start + this.index;
  }

  private need(n: number): void {
    if (this.index + n <= this.buffer.length) return;
    if (this.position + n > this.size)
      throw new GgufError(
        `the header ends past the end of the file (${this.size} bytes) — the file is truncated or not a GGUF`,
      );
    const keep = this.buffer.subarray(this.index);
    this.hash.update(this.buffer.subarray(0, this.index));
    const wanted = Math.min(this.size - this.position, Math.max(CHUNK, n));
    const next = Buffer.alloc(wanted);
    keep.copy(next);
    let filled = keep.length;
    while (filled < wanted) {
      const read = readSync(this.fd, next, filled, wanted - filled, this.position + filled);
      if (read === 0) break;
      filled += read;
    }
    this.start = this.position;
    this.buffer = next.subarray(0, filled);
    this.index = 0;
  }

  /** Finishes the header hash at the current position. */
  digest(): string {
    this.hash.update(this.buffer.subarray(0, this.index));
    return this.hash.digest("hex");
  }

  u32(): number {
    this.need(4);
    const v = this.buffer.readUInt32LE(this.index);
    this.index += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.buffer.readBigUInt64LE(this.index);
    this.index += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError(`a count or size of ${v} is not plausible`);
    return Number(v);
  }
  skip(n: number): void {
    while (n > 0) {
      const step = Math.min(n, CHUNK);
      this.need(step);
      this.index += step;
      n -= step;
    }
  }
  string(): string {
    const length = this.u64();
    if (length > 1 << 24) throw new GgufError(`a ${length}-byte string in the header is not plausible`);
    this.need(length);
    const s = this.buffer.toString("utf8", this.index, this.index + length);
    this.index += length;
    return s;
  }
  scalar(type: number): number | bigint | boolean {
    const bytes = SCALAR_BYTES[type]!;
    this.need(bytes);
    const b = this.buffer;
    const i = this.index;
    this.index += bytes;
    switch (type) {
      case 0:
        return b.readUInt8(i);
      case 1:
        return b.readInt8(i);
      case 2:
        return b.readUInt16LE(i);
      case 3:
        return b.readInt16LE(i);
      case 4:
        return b.readUInt32LE(i);
      case 5:
        return b.readInt32LE(i);
      case 6:
        return b.readFloatLE(i);
      case 7:
        return b.readUInt8(i) !== 0;
      case 10:
        return b.readBigUInt64LE(i);
      case 11:
        return b.readBigInt64LE(i);
      default:
        return b.readDoubleLE(i);
    }
  }
}

function readValue(cursor: Cursor, type: number, key: string): GgufMetaValue {
  if (type in SCALAR_BYTES) {
    const v = cursor.scalar(type);
    return typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  }
  if (type === 8) return cursor.string();
  if (type === 9) {
    const arrayType = cursor.u32();
    const length = cursor.u64();
    if (arrayType in SCALAR_BYTES) cursor.skip(length * SCALAR_BYTES[arrayType]!);
    else if (arrayType === 8) for (let i = 0; i < length; i++) cursor.skip(cursor.u64());
    else throw new GgufError(`metadata ${key}: an array of value type ${arrayType} (nested arrays are not read)`);
    return { arrayType, length };
  }
  throw new GgufError(`metadata ${key}: unknown value type ${type} — the file is corrupt or not a GGUF`);
}

/** Bytes of a tensor of this type and shape as stored; throws when the type is unknown or a row is not whole blocks. */
export function ggmlTensorBytes(tensor: Pick<GgufTensorInfo, "name" | "ne" | "typeId">): number {
  const type = GGML_TYPE_TABLE[tensor.typeId];
  if (!type) throw new GgufError(`tensor ${tensor.name}: unknown ggml type id ${tensor.typeId}`);
  const [inner = 1, ...outer] = tensor.ne;
  if (inner % type.blockElements !== 0)
    throw new GgufError(
      `tensor ${tensor.name}: rows of ${inner} values are not whole ${type.name} blocks of ${type.blockElements}`,
    );
  return (inner / type.blockElements) * type.blockBytes * outer.reduce((a, b) => a * b, 1);
}

/** Reads a GGUF file's header and checks that every tensor's data lies inside the file. */
export function readGgufHeader(path: string): GgufHeader {
  const fd = openSync(path, "r");
  try {
    const fileBytes = fstatSync(fd).size;
    const cursor = new Cursor(fd, fileBytes);
    if (fileBytes < 24 || cursor.u32() !== MAGIC)
      throw new GgufError(`not a GGUF file: it does not start with the magic bytes "GGUF"`);
    const version = cursor.u32();
    if (version === 1)
      throw new GgufError(`GGUF version 1 is not read (llama.cpp no longer loads it) — convert the model again`);
    if (version !== 2 && version !== 3)
      throw new GgufError(
        version > 0xffff
          ? `a big-endian GGUF (version field ${version}): llama.cpp on this machine reads little-endian files`
          : `GGUF version ${version} is not known (versions 2 and 3 are read)`,
      );
    const tensorCount = cursor.u64();
    const kvCount = cursor.u64();
    const metadata = new Map<string, GgufMetaValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = cursor.string();
      metadata.set(key, readValue(cursor, cursor.u32(), key));
    }
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = cursor.string();
      const dims = cursor.u32();
      if (dims > 4) throw new GgufError(`tensor ${name}: ${dims} dimensions (ggml has at most 4)`);
      const ne = Array.from({ length: dims }, () => cursor.u64());
      tensors.push({ name, ne, typeId: cursor.u32(), offset: cursor.u64() });
    }
    const headerBytes = cursor.position;
    const headerSha256 = cursor.digest();
    const alignmentValue = metadata.get("general.alignment") ?? 32;
    const alignment = typeof alignmentValue === "number" && alignmentValue > 0 ? alignmentValue : 32;
    const dataOffset = Math.ceil(headerBytes / alignment) * alignment;
    for (const tensor of tensors) {
      const end = dataOffset + tensor.offset + ggmlTensorBytes(tensor);
      if (end > fileBytes)
        throw new GgufError(
          `tensor ${tensor.name} ends at byte ${end}, past the end of the file (${fileBytes} bytes) — the file is truncated (an interrupted download?)`,
        );
    }
    return { version, metadata, tensors, headerBytes, dataOffset, fileBytes, headerSha256 };
  } finally {
    closeSync(fd);
  }
}
