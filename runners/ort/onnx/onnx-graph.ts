// A small builder of ONNX graphs over onnx-proto (protobufjs): nodes, raw_data initialisers, inputs and
// outputs, then ModelProto bytes.
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";
import { closeSync, openSync, writeSync } from "node:fs";
import { basename } from "node:path";

export const { onnx } = onnxProto;

/** ONNX opset of the default domain; com.microsoft ops (MatMulNBits…) are imported at version 1. */
export const OPSET = 17;
/** IR version 8 (ONNX 1.10): onnxruntime 1.30 loads ≤ 13 (Python onnx writes 14 by default). */
export const IR_VERSION = 8;
export const MS_DOMAIN = "com.microsoft";

export type ElementType = "float32" | "float16" | "bfloat16" | "int64" | "int32" | "int8" | "uint8" | "bool";

export const ELEMENT_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

export type AttributeValue =
  number | number[] | string | { float: number } | { floats: number[] } | { int: number } | { graph: Onnx.IGraphProto };

function attribute(name: string, value: AttributeValue): Onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === "number")
    return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ("float" in value) return { name, type: T.FLOAT, f: value.float };
  if ("floats" in value) return { name, type: T.FLOATS, floats: value.floats };
  if ("graph" in value) return { name, type: T.GRAPH, g: value.graph };
  return { name, type: T.INT, i: value.int };
}

/** A dimension: a fixed size or a symbolic name ("batch", "sequence"…). */
export type Dim = number | string;

/** A protobuf message is limited to 2 GiB; above this many initialiser bytes a model needs external data. */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31;
/** Default spill threshold: models whose initialisers exceed ~1.8 GiB keep them in an external data file. */
export const EXTERNAL_DATA_THRESHOLD_BYTES = Math.floor(1.8 * 2 ** 30);
/** Offsets in the data file are aligned to a page so that ORT can mmap each tensor in place. */
export const EXTERNAL_DATA_ALIGNMENT_BYTES = 4096;
/** Initialisers smaller than this stay in the protobuf even in an external-data model (as onnx's own helper does). */
export const EXTERNAL_DATA_MIN_TENSOR_BYTES = 1024;
const WRITE_CHUNK_BYTES = 2 ** 30;

/**
 * Where a builder may put its initialisers: `dataPath` (beside the model file; the model refers to it by its base
 * name, which ORT resolves relative to the model's own path). Initialisers stay in memory until their total exceeds
 * `thresholdBytes`; then every one of at least EXTERNAL_DATA_MIN_TENSOR_BYTES is written out (and its bytes released
 * by the builder) and later ones are written as they are added, so the builder never holds more than the threshold.
 */
export interface ExternalDataOptions {
  dataPath: string;
  thresholdBytes?: number;
}

let ambientExternalData: ExternalDataOptions | undefined;

export class GraphBuilder {
  /** Nodes of the graph being built: the main graph, or a subgraph while `subgraph()` runs. */
  private nodes: Onnx.INodeProto[] = [];
  private readonly initializers: Onnx.ITensorProto[] = [];
  private readonly initializerNames = new Set<string>();
  private readonly inputs: Onnx.IValueInfoProto[] = [];
  private readonly outputs: Onnx.IValueInfoProto[] = [];
  private counter = 0;
  private usesMsDomain = false;
  /** Bytes of all initialisers (what the model file carries). */
  initializerBytes = 0;
  private readonly externalData?: ExternalDataOptions;
  private dataFd?: number;
  private dataBytes = 0;
  private retainedBytes = 0;
  /** Whether the initialisers went to the external data file (known after toBytes). */
  usesExternalData = false;

  constructor(options: { externalData?: ExternalDataOptions } = {}) {
    this.externalData = options.externalData ?? ambientExternalData;
    if (ambientExternalData) ambientExternalData = undefined; // one builder per scope takes it (see withExternalData)
  }

  /**
   * Runs `build` with external data offered to the first GraphBuilder it creates (for code that builds a model
   * through emitOnnx and cannot pass the option down). Synchronous, restored afterwards.
   */
  static withExternalData<T>(options: ExternalDataOptions, build: () => T): T {
    const outer = ambientExternalData;
    ambientExternalData = options;
    try {
      return build();
    } finally {
      ambientExternalData = outer;
    }
  }

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  node(
    op: string,
    inputs: string[],
    outputs: string[] | number | string,
    attributes: Record<string, AttributeValue> = {},
    domain?: string,
  ): string[] {
    const outs =
      typeof outputs === "number"
        ? Array.from({ length: outputs }, () => this.fresh(op))
        : typeof outputs === "string"
          ? [outputs]
          : outputs;
    if (domain === MS_DOMAIN) this.usesMsDomain = true;
    this.nodes.push({
      opType: op,
      name: this.fresh(`n_${op}`),
      input: inputs,
      output: outs,
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
      domain: domain ?? "",
    });
    return outs;
  }

  /** One-output node; returns the output name. */
  op(
    op: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    options: { name?: string; domain?: string } = {},
  ): string {
    return this.node(op, inputs, options.name ?? 1, attributes, options.domain)[0]!;
  }

  /**
   * A subgraph (the body of an If or Loop): the nodes that `build` emits go into it, not the main graph; initialisers
   * and constants it creates stay in the main graph and the subgraph reads them as outer-scope values (no copy).
   * `build` returns the subgraph's outputs, which must be values computed inside it.
   */
  subgraph(name: string, build: () => { name: string; type: ElementType }[]): Onnx.IGraphProto {
    const outer = this.nodes;
    this.nodes = [];
    try {
      const outputs = build();
      return {
        name,
        node: this.nodes,
        output: outputs.map((o) => ({ name: o.name, type: { tensorType: { elemType: ELEMENT_TYPE[o.type] } } })),
      };
    } finally {
      this.nodes = outer;
    }
  }

  hasInitializer(name: string): boolean {
    return this.initializerNames.has(name);
  }

  /** Adds an initialiser from little-endian bytes (raw_data). */
  initializer(name: string, type: ElementType, dims: number[], rawData: Uint8Array): string {
    if (this.initializerNames.has(name)) throw new Error(`initialiser ${name} added twice`);
    this.initializerNames.add(name);
    const tensor: Onnx.ITensorProto = { name, dataType: ELEMENT_TYPE[type], dims, rawData };
    this.initializers.push(tensor);
    this.initializerBytes += rawData.byteLength;
    if (this.dataFd !== undefined) this.writeExternal(tensor);
    else if (this.externalData && rawData.byteLength >= EXTERNAL_DATA_MIN_TENSOR_BYTES) {
      this.retainedBytes += rawData.byteLength;
      if (this.retainedBytes > (this.externalData.thresholdBytes ?? EXTERNAL_DATA_THRESHOLD_BYTES)) this.spill();
    }
    return name;
  }

  /** Opens the data file and moves every large initialiser so far into it. */
  private spill(): void {
    this.dataFd = openSync(this.externalData!.dataPath, "w");
    this.usesExternalData = true;
    for (const tensor of this.initializers) this.writeExternal(tensor);
  }

  private writeExternal(tensor: Onnx.ITensorProto): void {
    const data = tensor.rawData;
    if (!data || data.byteLength < EXTERNAL_DATA_MIN_TENSOR_BYTES) return;
    const offset = Math.ceil(this.dataBytes / EXTERNAL_DATA_ALIGNMENT_BYTES) * EXTERNAL_DATA_ALIGNMENT_BYTES;
    for (let done = 0; done < data.byteLength; done += WRITE_CHUNK_BYTES)
      writeSync(this.dataFd!, data, done, Math.min(WRITE_CHUNK_BYTES, data.byteLength - done), offset + done);
    this.dataBytes = offset + data.byteLength;
    tensor.rawData = undefined; // the builder keeps no copy
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.externalData = [
      { key: "location", value: basename(this.externalData!.dataPath) },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(data.byteLength) },
    ];
  }

  float(name: string, dims: number[], data: Float32Array): string {
    return this.initializer(name, "float32", dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** A small int64 constant initialiser (shapes, axes, indices). */
  int64(values: number[], dims: number[] = [values.length], name?: string): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.initializer(name ?? this.fresh("const_i64"), "int64", dims, new Uint8Array(data.buffer));
  }

  /** A float32 scalar (or 1-D) constant. */
  scalar(value: number, name?: string): string {
    return this.float(name ?? this.fresh("const_f32"), [], Float32Array.of(value));
  }

  input(name: string, type: ElementType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElementType, dims: Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Serialised ModelProto. */
  toBytes(graphName: string, docString = ""): Uint8Array {
    const opsetImport: Onnx.IOperatorSetIdProto[] = [{ domain: "", version: OPSET }];
    if (this.usesMsDomain) opsetImport.push({ domain: MS_DOMAIN, version: 1 });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: "effbench",
      producerVersion: "0.1.0",
      docString,
      opsetImport,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    if (this.dataFd !== undefined) {
      closeSync(this.dataFd);
      this.dataFd = undefined;
    }
    const total = this.initializerBytes;
    if (!this.usesExternalData && total >= PROTOBUF_LIMIT_BYTES - 2 ** 24)
      throw new Error(
        `the ONNX model would carry ${(total / 2 ** 30).toFixed(2)} GiB of weights, over the 2 GiB limit of a single ONNX file; \`bench run\` (the ort runner) writes such models with external data, but \`bench export\` and fidelity build in memory — export a scaled-down case (\`--scale tiny\`) or a smaller model`,
      );
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElementType, dims: Dim[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export { transpose2d } from "../../../src/model/transpose.js";
