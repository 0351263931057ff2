/**
 * Static INT8 quantization of an exported float graph into QDQ format (S8S8), from calibrated activation ranges.
 *
 * - Trunk Conv / Gemm / MatMul: weights int8 symmetric per output channel (DequantizeLinear axis 0 in front), biases
 *   int32 at input scale x weight scale, inputs and outputs int8 asymmetric (QuantizeLinear -> DequantizeLinear pairs),
 *   so onnxruntime fuses them into QLinearConv / QGemm.
 * - A Relu right after a quantized Conv/Gemm is removed and the conv's output quantized with the Relu's calibrated
 *   range [0, max]: the int8 clamp at the zero point does the Relu exactly (what ORT's quantizer does).
 * - MaxPool and Flatten pass int8 through: their outputs reuse their input's scale and zero point (exact: max and
 *   reshaping commute with a monotonic quantizer).
 * - The attention branch (localisation net, theta, AffineGrid, GridSample) computes in float: theta steers the whole
 *   warp and the sampler is not quantizable. With `attentionWeights: 'int8'` (the default) its conv/dense weights are
 *   still stored as int8 per-channel, dequantized by Cast + Mul that onnxruntime folds at load (weight-only:
 *   activations stay float), except
 *   the theta layer itself, which stays float entirely; `'float'` keeps the branch's weights in float too.
 * - The logits (graph outputs) stay float.
 */
import { attr, checkGraph, indexGraph, type ConstTensor, type GraphNode, type OnnxGraph } from './graph.js';
import { ATTENTION_PREFIX, THETA_NAME } from './export.js';
import { activationParams, quantizeBias, quantizePerChannel, type QuantParams } from './quant-math.js';

export type Range = { min: number; max: number };

export interface QuantizeOptions {
  attentionWeights?: 'int8' | 'float';
  /** Activation tensors to leave in float (like ORT's nodes_to_exclude, by tensor name). */
  floatActivations?: readonly string[];
}

export interface QuantizeSummary {
  /** Activation tensors given a QuantizeLinear/DequantizeLinear pair. */
  activations: string[];
  /** Weights stored as int8 (per channel), by initializer name. */
  int8Weights: string[];
  /** Weights left in float. */
  floatWeights: string[];
  /** Relu nodes folded into the preceding quantized op. */
  fusedRelus: string[];
  /** Biases that would overflow int32 and were kept float. */
  floatBiases: string[];
}

export class QuantizeError extends Error {}

const WEIGHTED = new Set(['Conv', 'Gemm', 'MatMul']);
const PASS_THROUGH = new Set(['MaxPool', 'Flatten', 'Reshape']);

function inAttention(n: GraphNode): boolean {
  return n.outputs.some((o) => o.startsWith(ATTENTION_PREFIX)) || n.name.startsWith(ATTENTION_PREFIX);
}

function isTheta(n: GraphNode): boolean {
  return n.outputs.includes(THETA_NAME);
}

/** Activation tensors whose ranges the quantizer needs: every float node output (calibrate these). */
export function tensorsToCalibrate(g: OnnxGraph): string[] {
  return g.nodes.filter((n) => n.opType !== 'Shape').flatMap((n) => n.outputs);
}

/** Returns a new graph in QDQ form; the input graph is not modified. */
export function quantizeGraph(src: OnnxGraph, ranges: ReadonlyMap<string, Range>, opts: QuantizeOptions = {}): { graph: OnnxGraph; summary: QuantizeSummary } {
  const attentionWeights = opts.attentionWeights ?? 'int8';
  const keepFloat = new Set(opts.floatActivations ?? []);
  // Work on copies of the node list (node objects are copied where changed).
  let nodes: GraphNode[] = src.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] }));
  const initializers = new Map(src.initializers.map((t) => [t.name, t]));
  const graphOutputs = new Set(src.outputs.map((o) => o.name));
  const summary: QuantizeSummary = { activations: [], int8Weights: [], floatWeights: [], fusedRelus: [], floatBiases: [] };

  const isQuantOp = (n: GraphNode) => !inAttention(n) && (WEIGHTED.has(n.opType) || PASS_THROUGH.has(n.opType));

  // 1. Fold Relu into a preceding quantized Conv/Gemm when the Relu's output will itself be quantized.
  {
    const idx = indexGraph({ ...src, nodes });
    const drop = new Set<GraphNode>();
    for (const n of nodes) {
      if (n.opType !== 'Relu' || inAttention(n)) continue;
      const x = n.inputs[0]!;
      const y = n.outputs[0]!;
      const prod = idx.producer.get(x);
      const consumersOfX = idx.consumers.get(x) ?? [];
      const consumersOfY = idx.consumers.get(y) ?? [];
      if (!prod || !WEIGHTED.has(prod.opType) || inAttention(prod) || consumersOfX.length !== 1 || graphOutputs.has(x)) continue;
      if (graphOutputs.has(y) || keepFloat.has(y) || consumersOfY.length === 0 || !consumersOfY.every(isQuantOp) || !ranges.has(y)) continue;
      prod.outputs[0] = y;
      drop.add(n);
      summary.fusedRelus.push(n.name);
    }
    nodes = nodes.filter((n) => !drop.has(n));
  }

  const idx = indexGraph({ ...src, nodes });
  const params = new Map<string, QuantParams>();
  const paramsFor = (t: string): QuantParams | undefined => params.get(t);

  // 2. Choose the activation tensors to quantize and their parameters, in topological order.
  const candidates = [...src.inputs.map((i) => i.name), ...nodes.flatMap((n) => n.outputs)];
  for (const t of candidates) {
    if (initializers.has(t) || graphOutputs.has(t) || keepFloat.has(t)) continue;
    const consumers = idx.consumers.get(t) ?? [];
    if (consumers.length === 0 || !consumers.every(isQuantOp)) continue;
    const prod = idx.producer.get(t);
    const upstream = prod && PASS_THROUGH.has(prod.opType) && !inAttention(prod) ? paramsFor(prod.inputs[0]!) : undefined;
    if (upstream) {
      params.set(t, upstream);
    } else {
      const r = ranges.get(t);
      if (!r) throw new QuantizeError(`no calibrated range for tensor ${t} (calibrate every tensor in tensorsToCalibrate())`);
      params.set(t, activationParams(r.min, r.max));
    }
  }
  // A pass-through op whose input is quantized must have its output quantized with the same parameters (and the
  // reverse): otherwise drop both so ORT does not see mismatched pairs around MaxPool/Flatten.
  for (const n of nodes) {
    if (!PASS_THROUGH.has(n.opType) || inAttention(n)) continue;
    const pin = params.get(n.inputs[0]!);
    const pout = params.get(n.outputs[0]!);
    if (pin && !pout && !graphOutputs.has(n.outputs[0]!) && !keepFloat.has(n.outputs[0]!)) {
      // output consumed by a float op: still quantize it (same params) so the int8 chain is not broken mid-way
      params.set(n.outputs[0]!, pin);
    }
  }

  // 3. Rewrite: weights/biases of quantized ops, QDQ pairs after every quantized activation.
  const newInits: ConstTensor[] = [];
  const used = new Set<string>([...initializers.keys(), ...nodes.flatMap((n) => [...n.inputs, ...n.outputs]), ...src.inputs.map((i) => i.name)]);
  const unique = (base: string) => {
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const scalarCache = new Map<string, [string, string]>();
  const scaleZp = (p: QuantParams): [string, string] => {
    const key = `${p.scale}|${p.zeroPoint}`;
    const hit = scalarCache.get(key);
    if (hit) return hit;
    const s = unique(`qparams/scale_${scalarCache.size}`);
    const z = unique(`qparams/zero_point_${scalarCache.size}`);
    newInits.push({ name: s, dtype: 'float32', dims: [], data: Float32Array.of(p.scale) });
    newInits.push({ name: z, dtype: 'int8', dims: [], data: Int8Array.of(p.zeroPoint) });
    scalarCache.set(key, [s, z]);
    return [s, z];
  };
  const dqName = new Map<string, string>();
  const out: GraphNode[] = [];
  const emitQdq = (t: string) => {
    const p = params.get(t);
    if (!p) return;
    const [s, z] = scaleZp(p);
    const q = unique(`${t}/quantized`);
    const dq = unique(`${t}/dequantized`);
    out.push({ name: unique(`${t}/QuantizeLinear`), opType: 'QuantizeLinear', inputs: [t, s, z], outputs: [q], attrs: {} });
    out.push({ name: unique(`${t}/DequantizeLinear`), opType: 'DequantizeLinear', inputs: [q, s, z], outputs: [dq], attrs: {} });
    dqName.set(t, dq);
    summary.activations.push(t);
  };
  const replaced = new Set<string>();
  /**
   * int8 per-channel weight in front of a node. `castMul` (weight-only weights of float ops) spells the dequantization
   * Cast + Mul instead of DequantizeLinear: the same values, but onnxruntime constant-folds it at load time (it keeps
   * DequantizeLinear nodes for QDQ fusion, which would otherwise dequantize these weights on every run).
   */
  const weightDq = (w: ConstTensor, what: string, castMul = false): string => {
    const channels = w.dims[0]!;
    const { values, scales } = quantizePerChannel(w.data as Float32Array, channels);
    const qName = unique(`${w.name}/int8`);
    const sName = unique(`${w.name}/scale`);
    newInits.push({ name: qName, dtype: 'int8', dims: [...w.dims], data: values });
    const dq = unique(`${w.name}/dequantized`);
    if (castMul) {
      newInits.push({ name: sName, dtype: 'float32', dims: [channels, ...w.dims.slice(1).map(() => 1)], data: scales });
      const cast = unique(`${w.name}/as_float`);
      out.push({ name: unique(`${w.name}/Cast`), opType: 'Cast', inputs: [qName], outputs: [cast], attrs: { to: attr.int(1) } });
      out.push({ name: unique(`${w.name}/Mul`), opType: 'Mul', inputs: [cast, sName], outputs: [dq], attrs: {} });
    } else {
      const zName = unique(`${w.name}/zero_point`);
      newInits.push({ name: sName, dtype: 'float32', dims: [channels], data: scales });
      newInits.push({ name: zName, dtype: 'int8', dims: [channels], data: new Int8Array(channels) });
      out.push({ name: unique(`${w.name}/DequantizeLinear`), opType: 'DequantizeLinear', inputs: [qName, sName, zName], outputs: [dq], attrs: { axis: attr.int(0) } });
    }
    replaced.add(w.name);
    summary.int8Weights.push(`${w.name} (${what})`);
    return dq;
  };

  for (const t of src.inputs.map((i) => i.name)) emitQdq(t);
  for (const n0 of nodes) {
    const n: GraphNode = { ...n0, inputs: n0.inputs.map((i) => dqName.get(i) ?? i) };
    if (WEIGHTED.has(n.opType)) {
      const w = initializers.get(n0.inputs[1] ?? '');
      const b = n0.inputs[2] ? initializers.get(n0.inputs[2]) : undefined;
      const transB = n.attrs.transB?.kind === 'int' ? n.attrs.transB.value : 0;
      const outFirst = n.opType === 'Conv' || (n.opType === 'Gemm' && transB === 1);
      const trunk = !inAttention(n0);
      const weightOnly = !trunk && attentionWeights === 'int8' && !isTheta(n0);
      if (w && w.dtype === 'float32' && outFirst && (trunk || weightOnly)) {
        n.inputs[1] = trunk ? weightDq(w, 'per-channel int8, int8 activations') : weightDq(w, 'per-channel int8 weight-only, float activations', true);
        const xParams = params.get(n0.inputs[0]!);
        if (b && b.dtype === 'float32' && trunk && xParams) {
          const scales = quantizePerChannel(w.data as Float32Array, w.dims[0]!).scales;
          const qb = quantizeBias(b.data as Float32Array, xParams.scale, scales);
          if (qb) {
            const qName = unique(`${b.name}/int32`);
            const sName = unique(`${b.name}/scale`);
            const zName = unique(`${b.name}/zero_point`);
            newInits.push({ name: qName, dtype: 'int32', dims: [...b.dims], data: qb.values });
            newInits.push({ name: sName, dtype: 'float32', dims: [qb.scales.length], data: qb.scales });
            newInits.push({ name: zName, dtype: 'int32', dims: [qb.scales.length], data: new Int32Array(qb.scales.length) });
            const dq = unique(`${b.name}/dequantized`);
            out.push({ name: unique(`${b.name}/DequantizeLinear`), opType: 'DequantizeLinear', inputs: [qName, sName, zName], outputs: [dq], attrs: { axis: attr.int(0) } });
            n.inputs[2] = dq;
            replaced.add(b.name);
          } else {
            summary.floatBiases.push(b.name);
          }
        }
      } else if (w) {
        summary.floatWeights.push(w.name);
      }
    }
    out.push(n);
    for (const o of n.outputs) emitQdq(o);
  }

  const stillUsed = new Set(out.flatMap((n) => n.inputs));
  const keptInits = src.initializers.filter((t) => !replaced.has(t.name) && stillUsed.has(t.name));
  for (const t of src.initializers) if (!replaced.has(t.name) && stillUsed.has(t.name) && t.dtype === 'float32' && t.data.length > 16) summary.floatWeights.push(t.name);
  const graph: OnnxGraph = {
    ...src,
    name: `${src.name}_int8`,
    nodes: out,
    initializers: [...keptInits, ...newInits],
    metadata: { ...src.metadata, quantization: 'QDQ S8S8: per-channel symmetric int8 weights, asymmetric int8 activations' },
  };
  checkGraph(graph);
  summary.floatWeights = [...new Set(summary.floatWeights)];
  return { graph, summary };
}
