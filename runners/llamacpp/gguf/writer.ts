// A GGUF v3 file writer (the format of ggml's docs/gguf.md): header, typed key/value metadata, tensor infos with
// dimensions in ggml order (innermost first: a row-major [out, in] matrix is written as ne = [in, out]), then the
// tensor data, each aligned to `general.alignment` (32). Tensors are produced one at a time and written straight
// to the file, so a multi-gigabyte model never sits in memory whole.
import { closeSync, openSync, writeSync } from "node:fs";
import { GGML_TYPES, rowBytes, type GgmlType } from "./ggml-types.js";

export const GGUF_ALIGNMENT = 32;
const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const GGUF_VERSION = 3;

/** A metadata value with its GGUF type. */
export type GgufValue =
  | { type: "u32" | "i32" | "f32" | "u64"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: string[] }
  | { type: "f32[]" | "i32[]"; value: ArrayLike<number> };

export interface GgufTensor {
  name: string;
  /** Dimensions in ggml order (ne[0] is the contiguous one). */
  ne: number[];
  type: GgmlType;
  /** The tensor's bytes in `type`, produced when it is written. */
  data: () => Uint8Array;
}

const VALUE_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(buffer: Buffer): void {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(sink: ByteSink, value: GgufValue): void {
  switch (value.type) {
    case "u32":
    case "i32":
    case "f32":
    case "u64":
      sink.u32(VALUE_TYPE[value.type]);
      sink[value.type](value.value);
      return;
    case "bool":
      sink.u32(VALUE_TYPE.bool);
      sink.push(Buffer.from([value.value ? 1 : 0]));
      return;
    case "string":
      sink.u32(VALUE_TYPE.string);
      sink.string(value.value);
      return;
    case "string[]":
      sink.u32(VALUE_TYPE.array);
      sink.u32(VALUE_TYPE.string);
      sink.u64(value.value.length);
      for (const s of value.value) sink.string(s);
      return;
    case "f32[]":
    case "i32[]": {
      const element = value.type === "f32[]" ? "f32" : "i32";
      sink.u32(VALUE_TYPE.array);
      sink.u32(VALUE_TYPE[element]);
      sink.u64(value.value.length);
      const b = Buffer.alloc(4 * value.value.length);
      for (let i = 0; i < value.value.length; i++)
        if (element === "f32") b.writeFloatLE(value.value[i]!, 4 * i);
        else b.writeInt32LE(value.value[i]!, 4 * i);
      sink.push(b);
      return;
    }
  }
}

function align(n: number): number {
  return Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
}

/** Bytes a tensor takes in the file (before alignment padding). */
export function tensorBytes(tensor: Pick<GgufTensor, "ne" | "type" | "name">): number {
  const [inner, ...outer] = tensor.ne;
  try {
    return rowBytes(tensor.type, inner!) * outer.reduce((a, b) => a * b, 1);
  } catch (error) {
    throw new Error(`tensor ${tensor.name}: ${(error as Error).message}`);
  }
}

/** Writes a GGUF v3 file; returns its size in bytes. */
export function writeGguf(path: string, metadata: [string, GgufValue][], tensors: GgufTensor[]): number {
  const header = new ByteSink();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(tensors.length);
  header.u64(metadata.length + 1);
  header.string("general.alignment");
  writeValue(header, { type: "u32", value: GGUF_ALIGNMENT });
  for (const [key, value] of metadata) {
    header.string(key);
    writeValue(header, value);
  }
  let offset = 0;
  const sizes: number[] = [];
  for (const tensor of tensors) {
    header.string(tensor.name);
    header.u32(tensor.ne.length);
    for (const n of tensor.ne) header.u64(n);
    header.u32(GGML_TYPES[tensor.type].id);
    header.u64(offset);
    const size = tensorBytes(tensor);
    sizes.push(size);
    offset = align(offset + size);
  }
  const head = header.bytes();
  const fd = openSync(path, "w");
  try {
    let position = 0;
    const write = (buffer: Uint8Array) => {
      let written = 0;
      while (written < buffer.length)
        written += writeSync(fd, buffer, written, buffer.length - written, position + written);
      position += buffer.length;
    };
    write(head);
    write(new Uint8Array(align(position) - position));
    tensors.forEach((tensor, i) => {
      const data = tensor.data();
      if (data.length !== sizes[i])
        throw new Error(
          `tensor ${tensor.name}: produced ${data.length} bytes, expected ${sizes[i]} for ${tensor.type}`,
        );
      write(data);
      write(new Uint8Array(align(position) - position));
    });
    return position;
  } finally {
    closeSync(fd);
  }
}
