/**
 * NetworkDescription (TensorFlow.js layouts) -> float ONNX graph (opset 20, NCHW).
 *
 * Graph contract (written into the manifest by src/onnx/manifest-writer.ts):
 *   input  `input`  float32 [N, 1, S, S], already normalised: (pixel/255 - mean) / std (the manifest states mean/std;
 *          nothing is baked into the graph, so the runtime's preprocessing is the single place it happens);
 *   output `logits` float32 [N, classes] (manifest output.kind = "logits": the runtime applies softmax).
 * The attention branch becomes localisation -> theta [N,6] -> Reshape [N,2,3] -> AffineGrid(align_corners=0) ->
 * GridSample(mode=linear, padding_mode=zeros, align_corners=0) of the input.
 * Exact rewrites on the way: conv kernels [kh,kw,in,out] -> [out,in,kh,kw]; dense rows (h,w,c) -> (c,h,w) after a
 * flatten; batch norm directly after a conv/dense folded into it; MaxPool followed by Relu emitted as Relu ->
 * MaxPool (the two commute), so Conv+Relu sit together for int8 fusion; dropout dropped (identity at inference).
 */
import { attr, GraphBuilder, checkGraph, type OnnxGraph } from './graph.js';
import { convKernelToOihw, denseKernelToOutIn, foldBatchNorm, outputSize, samePads } from './layout.js';
import type { BatchNormLayer, Layer, NetworkDescription } from './network.js';

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';
export const BATCH_DIM = 'N';
/** Node/tensor name prefixes: the quantizer uses them to tell the attention branch from the trunk. */
export const ATTENTION_PREFIX = 'stn/';
export const TRUNK_PREFIX = 'trunk/';
/** The layer producing theta: kept in float by the quantizer. */
export const THETA_NAME = `${ATTENTION_PREFIX}theta`;

export class ExportError extends Error {}

type Shape = { kind: 'image'; c: number; h: number; w: number } | { kind: 'vector'; n: number; flattenedFrom?: [number, number, number] };

function describe(s: Shape): string {
  return s.kind === 'image' ? `[${s.c},${s.h},${s.w}]` : `[${s.n}]`;
}

function emitLayers(b: GraphBuilder, x: string, shape: Shape, layers: Layer[], prefix: string, lastName?: string): { out: string; shape: Shape } {
  let cur = x;
  let s = shape;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    const next = layers[i + 1];
    const foldBn = next?.type === 'batchnorm' ? (next as BatchNormLayer) : null;
    // layers after this one that this step also consumes: a folded batch norm, or the relu emitted before a max-pool
    const consumed = (foldBn && (l.type === 'conv2d' || l.type === 'dense')) || (l.type === 'maxpool' && next?.type === 'relu') ? 1 : 0;
    const isLast = layers.slice(i + 1 + consumed).every((r) => r.type === 'dropout');
    const name = (base: string) => (lastName && isLast ? lastName : `${prefix}${base}`);
    const fail = (msg: string): never => {
      throw new ExportError(`layer ${prefix}${l.name} (${l.type}): ${msg}`);
    };
    switch (l.type) {
      case 'conv2d': {
        if (s.kind !== 'image') fail(`expects an image activation, got a vector ${describe(s)}`);
        const img = s as Extract<Shape, { kind: 'image' }>;
        const [kh, kw, cin, cout] = l.kernelShape;
        if (cin !== img.c) fail(`kernel takes ${cin} input channels, the activation has ${img.c}`);
        let w = convKernelToOihw(l.kernel, l.kernelShape);
        let bias = l.bias ?? new Float32Array(cout);
        if (bias.length !== cout) fail(`bias has ${bias.length} values for ${cout} filters`);
        if (foldBn) {
          if (foldBn.gamma.length !== cout) fail(`the batch norm after it has ${foldBn.gamma.length} channels, the conv ${cout}`);
          ({ weight: w, bias } = foldBatchNorm(w, bias, foldBn));
          i++;
        }
        const [pt, pb] = l.padding === 'same' ? samePads(img.h, kh, l.strides[0]) : [0, 0];
        const [pl, pr] = l.padding === 'same' ? samePads(img.w, kw, l.strides[1]) : [0, 0];
        const h = outputSize(img.h, kh, l.strides[0], pt, pb);
        const wd = outputSize(img.w, kw, l.strides[1], pl, pr);
        if (h < 1 || wd < 1) fail(`output would be ${h}x${wd} from ${img.h}x${img.w}`);
        const wName = b.constant(`${prefix}${l.name}/weight`, w, [cout, cin, kh, kw]);
        const bName = b.constant(`${prefix}${l.name}/bias`, bias, [cout]);
        cur = b.op('Conv', [cur, wName, bName], name(l.name), {
          kernel_shape: attr.ints([kh, kw]),
          strides: attr.ints(l.strides),
          pads: attr.ints([pt, pl, pb, pr]),
          dilations: attr.ints([1, 1]),
          group: attr.int(1),
        });
        s = { kind: 'image', c: cout, h, w: wd };
        break;
      }
      case 'dense': {
        const [nin, nout] = l.kernelShape;
        const flat = s.kind === 'vector' ? s : fail(`expects a vector (add a flatten before it), got an image ${describe(s)}`);
        if (flat.n !== nin) fail(`kernel takes ${nin} inputs, the activation has ${flat.n}`);
        let w = denseKernelToOutIn(l.kernel, l.kernelShape, flat.flattenedFrom);
        let bias = l.bias ?? new Float32Array(nout);
        if (bias.length !== nout) fail(`bias has ${bias.length} values for ${nout} units`);
        if (foldBn) {
          if (foldBn.gamma.length !== nout) fail(`the batch norm after it has ${foldBn.gamma.length} channels, the dense layer ${nout}`);
          ({ weight: w, bias } = foldBatchNorm(w, bias, foldBn));
          i++;
        }
        const wName = b.constant(`${prefix}${l.name}/weight`, w, [nout, nin]);
        const bName = b.constant(`${prefix}${l.name}/bias`, bias, [nout]);
        cur = b.op('Gemm', [cur, wName, bName], name(l.name), { transB: attr.int(1), alpha: attr.float(1), beta: attr.float(1) });
        s = { kind: 'vector', n: nout };
        break;
      }
      case 'batchnorm': {
        const c = s.kind === 'image' ? s.c : s.n;
        if (l.gamma.length !== c) fail(`has ${l.gamma.length} channels, the activation ${c}`);
        const ins = [cur, b.constant(`${prefix}${l.name}/gamma`, l.gamma, [c]), b.constant(`${prefix}${l.name}/beta`, l.beta, [c])];
        ins.push(b.constant(`${prefix}${l.name}/mean`, l.movingMean, [c]), b.constant(`${prefix}${l.name}/var`, l.movingVariance, [c]));
        cur = b.op('BatchNormalization', ins, name(l.name), { epsilon: attr.float(l.epsilon) });
        break;
      }
      case 'relu':
        cur = b.op('Relu', [cur], name(l.name));
        break;
      case 'maxpool': {
        const img = s.kind === 'image' ? s : fail(`expects an image activation, got a vector ${describe(s)}`);
        if (next?.type === 'relu') {
          // max(relu(x)) == relu(max(x)): put the relu first so it sits next to the conv (fused in int8).
          cur = b.op('Relu', [cur], `${prefix}${next.name}`);
          i++;
        }
        const [kh, kw] = l.size;
        const [pt, pb] = l.padding === 'same' ? samePads(img.h, kh, l.strides[0]) : [0, 0];
        const [pl, pr] = l.padding === 'same' ? samePads(img.w, kw, l.strides[1]) : [0, 0];
        const h = outputSize(img.h, kh, l.strides[0], pt, pb);
        const wd = outputSize(img.w, kw, l.strides[1], pl, pr);
        if (h < 1 || wd < 1) fail(`output would be ${h}x${wd} from ${img.h}x${img.w}`);
        cur = b.op('MaxPool', [cur], name(l.name), { kernel_shape: attr.ints([kh, kw]), strides: attr.ints(l.strides), pads: attr.ints([pt, pl, pb, pr]) });
        s = { kind: 'image', c: img.c, h, w: wd };
        break;
      }
      case 'flatten': {
        if (s.kind === 'vector') break;
        cur = b.op('Flatten', [cur], name(l.name), { axis: attr.int(1) });
        s = { kind: 'vector', n: s.c * s.h * s.w, flattenedFrom: [s.c, s.h, s.w] };
        break;
      }
      case 'dropout':
        break;
    }
  }
  return { out: cur, shape: s };
}

/** Builds the float ONNX graph of a network. */
export function exportNetwork(net: NetworkDescription, metadata: Record<string, string> = {}): OnnxGraph {
  const b = new GraphBuilder(net.arch);
  const S = net.inputSize;
  const input = b.input(INPUT_NAME, 'float32', [BATCH_DIM, 1, S, S]);
  let x = input;
  if (net.attention) {
    const loc = emitLayers(b, input, { kind: 'image', c: 1, h: S, w: S }, net.attention.localisation, ATTENTION_PREFIX, THETA_NAME);
    if (loc.shape.kind !== 'vector' || loc.shape.n !== 6) {
      throw new ExportError(`the localisation network must end in 6 values (theta), it ends in ${describe(loc.shape)}`);
    }
    const theta = b.op('Reshape', [loc.out, b.constant(`${ATTENTION_PREFIX}theta_shape`, BigInt64Array.from([-1n, 2n, 3n]), [3])], `${ATTENTION_PREFIX}theta_2x3`);
    const size = b.op('Shape', [input], `${ATTENTION_PREFIX}input_size`);
    const grid = b.op('AffineGrid', [theta, size], `${ATTENTION_PREFIX}grid`, { align_corners: attr.int(0) });
    x = b.op('GridSample', [input, grid], `${ATTENTION_PREFIX}warped`, {
      align_corners: attr.int(0),
      mode: attr.string('linear'),
      padding_mode: attr.string('zeros'),
    });
  }
  const trunk = emitLayers(b, x, { kind: 'image', c: 1, h: S, w: S }, net.trunk, TRUNK_PREFIX, OUTPUT_NAME);
  if (trunk.shape.kind !== 'vector' || trunk.shape.n !== net.classes) {
    throw new ExportError(`the trunk must end in ${net.classes} class logits, it ends in ${describe(trunk.shape)}`);
  }
  if (trunk.out !== OUTPUT_NAME) throw new ExportError(`the trunk's last layer must be a dense (or conv) layer producing the logits; it ends in ${net.trunk.at(-1)?.type}`);
  b.output(OUTPUT_NAME, 'float32', [BATCH_DIM, net.classes]);
  b.graph.metadata = { ...metadata };
  checkGraph(b.graph);
  return b.graph;
}
