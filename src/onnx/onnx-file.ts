/**
 * OnnxGraph <-> .onnx bytes, through onnx-proto (protobufjs classes generated from ONNX's own onnx.proto).
 * onnx-proto was generated from ONNX 1.10's schema; the opset and IR version are plain numbers in the file, so it
 * writes opset-20 models (AffineGrid, GridSample with mode "linear") that onnxruntime 1.30 runs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { Attr, ConstTensor, DType, GraphNode, OnnxGraph, TensorData, ValueInfo } from './graph.js';
import { elementCount } from './graph.js';

const { onnx } = onnxProto;

/** IR version 9 (ONNX 1.14+) is the lowest that allows opset 20; onnxruntime 1.30 reads up to 11. */
export const IR_VERSION = 9;
export const PRODUCER = 'emotion-kiosk';

const DTYPE_CODE: Record<DType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7 };
const CODE_DTYPE = new Map<number, DType>(Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as DType]));

export class OnnxFileError extends Error {}

function rawBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorToProto(t: ConstTensor): onnxProto.onnx.ITensorProto {
  return { name: t.name, dims: t.dims, dataType: DTYPE_CODE[t.dtype], rawData: rawBytes(t.data) };
}

function attrToProto(name: string, a: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
  }
}

function valueInfoToProto(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: DTYPE_CODE[v.dtype] };
  if (v.shape) tensorType.shape = { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name: v.name, type: { tensorType } };
}

/** Serialises a graph into the bytes of an .onnx file. */
export function encodeModel(g: OnnxGraph): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: PRODUCER,
    producerVersion: '1',
    opsetImport: [{ domain: '', version: g.opset }],
    metadataProps: Object.entries(g.metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      input: g.inputs.map(valueInfoToProto),
      output: g.outputs.map(valueInfoToProto),
      initializer: g.initializers.map(tensorToProto),
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, a]) => attrToProto(k, a)),
      })),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

function num(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

function copyAligned(bytes: Uint8Array): ArrayBuffer {
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  return buf;
}

function tensorFromProto(t: onnxProto.onnx.ITensorProto, where: string): ConstTensor {
  const dtype = CODE_DTYPE.get(t.dataType ?? 0);
  const name = t.name ?? '';
  if (!dtype) throw new OnnxFileError(`${where}: initializer ${name} has element type ${t.dataType}, which this reader does not handle`);
  const dims = (t.dims ?? []).map(num);
  const n = elementCount(dims);
  let data: TensorData;
  if (t.rawData && t.rawData.length > 0) {
    const buf = copyAligned(t.rawData);
    data =
      dtype === 'float32' ? new Float32Array(buf) : dtype === 'int8' ? new Int8Array(buf) : dtype === 'uint8' ? new Uint8Array(buf) : dtype === 'int32' ? new Int32Array(buf) : new BigInt64Array(buf);
  } else if (dtype === 'float32') {
    data = Float32Array.from(t.floatData ?? []);
  } else if (dtype === 'int64') {
    data = BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(num(v))));
  } else {
    const ints = t.int32Data ?? [];
    data = dtype === 'int8' ? Int8Array.from(ints) : dtype === 'uint8' ? Uint8Array.from(ints) : Int32Array.from(ints);
  }
  if (data.length !== n) throw new OnnxFileError(`${where}: initializer ${name} has ${data.length} values for dims [${dims.join(',')}] (truncated file?)`);
  return { name, dtype, dims, data };
}

function attrFromProto(a: onnxProto.onnx.IAttributeProto, where: string): Attr {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT:
      return { kind: 'int', value: num(a.i) };
    case T.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case T.STRING:
      return { kind: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case T.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map(num) };
    case T.FLOATS:
      return { kind: 'floats', value: [...(a.floats ?? [])] };
    default:
      throw new OnnxFileError(`${where}: attribute ${a.name} has type ${a.type}, which this reader does not handle`);
  }
}

function valueInfoFromProto(v: onnxProto.onnx.IValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  const dtype = CODE_DTYPE.get(tt?.elemType ?? 1) ?? 'float32';
  const dims = tt?.shape?.dim;
  const info: ValueInfo = { name: v.name ?? '', dtype };
  if (dims) info.shape = dims.map((d) => (d.dimParam ? d.dimParam : num(d.dimValue)));
  return info;
}

/** Parses .onnx bytes into an OnnxGraph; `where` names the source in errors. */
export function decodeModel(bytes: Uint8Array, where = 'model'): OnnxGraph {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxFileError(`${where} is not a readable ONNX file (protobuf decoding failed: ${(err as Error).message}); re-export it or restore it from git`);
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0) {
    throw new OnnxFileError(`${where} is not a readable ONNX file: it holds no graph nodes (empty, truncated or not ONNX)`);
  }
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const nodes: GraphNode[] = g.node.map((n, i) => {
    if (n.domain && n.domain !== '' && n.domain !== 'ai.onnx') {
      throw new OnnxFileError(`${where}: node ${n.name} uses operator domain ${n.domain}, which this reader does not handle`);
    }
    const attrs: Record<string, Attr> = {};
    for (const a of n.attribute ?? []) attrs[a.name ?? ''] = attrFromProto(a, where);
    return { name: n.name || `node_${i}`, opType: n.opType ?? '', inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
  });
  return {
    name: g.name ?? 'graph',
    inputs: (g.input ?? []).map(valueInfoFromProto),
    outputs: (g.output ?? []).map(valueInfoFromProto),
    nodes,
    initializers: (g.initializer ?? []).map((t) => tensorFromProto(t, where)),
    opset: opset ? num(opset.version) : 0,
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
}

export async function writeModel(file: string, g: OnnxGraph): Promise<number> {
  const bytes = encodeModel(g);
  await writeFile(file, bytes);
  return bytes.byteLength;
}

export async function readModel(file: string): Promise<OnnxGraph> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new OnnxFileError(`cannot read ONNX model ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (bytes.byteLength === 0) throw new OnnxFileError(`ONNX model ${file} is empty (0 bytes); re-export it or restore it from git`);
  return decodeModel(bytes, `ONNX model ${file}`);
}
