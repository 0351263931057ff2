/**
 * A small typed ONNX graph: the in-memory form the exporter builds and the quantizer rewrites. Plain data (no
 * protobuf objects), so passes over it are ordinary TypeScript; src/onnx/onnx-file.ts turns it into .onnx bytes
 * and back.
 */

export type DType = 'float32' | 'int8' | 'uint8' | 'int32' | 'int64';
export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

/** A constant tensor (an initializer). dims are row-major, as ONNX stores them. */
export interface ConstTensor {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/** One attribute value; the tag keeps ONNX's int/float/string/list types explicit. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
};

export interface GraphNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

/** A graph input or output: element type and shape (a string for a symbolic dimension such as the batch). */
export interface ValueInfo {
  name: string;
  dtype: DType;
  shape?: Array<number | string>;
}

export interface OnnxGraph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** In topological order. */
  nodes: GraphNode[];
  initializers: ConstTensor[];
  /** The default-domain opset the graph is written for. */
  opset: number;
  /** Free-form key/value metadata stored in the model file (producer details, the source run...). */
  metadata: Record<string, string>;
}

export function dtypeOf(data: TensorData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  return 'int64';
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Builds a graph node by node, handing out unique tensor names. */
export class GraphBuilder {
  readonly graph: OnnxGraph;
  private readonly used = new Set<string>();

  constructor(name: string, opset = 20) {
    this.graph = { name, inputs: [], outputs: [], nodes: [], initializers: [], opset, metadata: {} };
  }

  /** A fresh name: `base`, or `base_2`, `base_3`... when taken. */
  unique(base: string): string {
    let name = base;
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: Array<number | string>): string {
    this.used.add(name);
    this.graph.inputs.push({ name, dtype, shape });
    return name;
  }

  output(name: string, dtype: DType, shape?: Array<number | string>): void {
    this.graph.outputs.push(shape ? { name, dtype, shape } : { name, dtype });
  }

  constant(base: string, data: TensorData, dims: number[]): string {
    if (elementCount(dims) !== data.length) {
      throw new RangeError(`initializer ${base}: dims [${dims.join(',')}] hold ${elementCount(dims)} values, data has ${data.length}`);
    }
    const name = this.unique(base);
    this.graph.initializers.push({ name, dtype: dtypeOf(data), dims: [...dims], data });
    return name;
  }

  /** Adds a node with one output named after `outName` (made unique) and returns that output's name. */
  op(opType: string, inputs: string[], outName: string, attrs: Record<string, Attr> = {}): string {
    const out = this.unique(outName);
    this.graph.nodes.push({ name: this.unique(`${outName}/${opType}`), opType, inputs, outputs: [out], attrs });
    return out;
  }
}

/** Producer node of each tensor, and the nodes consuming it. */
export interface GraphIndex {
  producer: Map<string, GraphNode>;
  consumers: Map<string, GraphNode[]>;
  initializer: Map<string, ConstTensor>;
}

export function indexGraph(g: OnnxGraph): GraphIndex {
  const producer = new Map<string, GraphNode>();
  const consumers = new Map<string, GraphNode[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) {
      if (!i) continue;
      const list = consumers.get(i) ?? [];
      list.push(n);
      consumers.set(i, list);
    }
  }
  return { producer, consumers, initializer: new Map(g.initializers.map((t) => [t.name, t])) };
}

/** Throws if a node reads a tensor that nothing defines, or nodes are out of topological order. */
export function checkGraph(g: OnnxGraph): void {
  const defined = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.map((t) => t.name)]);
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (i && !defined.has(i)) throw new Error(`graph ${g.name}: node ${n.name} (${n.opType}) reads ${i}, which is not defined before it`);
    }
    for (const o of n.outputs) {
      if (defined.has(o)) throw new Error(`graph ${g.name}: tensor ${o} is defined twice (second time by ${n.name})`);
      defined.add(o);
    }
  }
  for (const o of g.outputs) if (!defined.has(o.name)) throw new Error(`graph ${g.name}: output ${o.name} is not produced by any node`);
}
