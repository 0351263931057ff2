/**
 * Empirical bias correction before INT8 quantization: runs the float graph and a copy whose trunk Conv/Gemm weights
 * are replaced by their int8 round trip over the calibration images, and moves each of those layers' biases by the
 * per-channel mean shift the rounding causes (quant-math.ts correctBias). Opt-in (quantize.ts --bias-correction):
 * on de-w12 it raised PublicTest float/int8 agreement at epoch 2 (97.99 -> 98.58%) but lowered it at epoch 11.
 */
import type { GraphNode, OnnxGraph } from './graph.js';
import { encodeModel } from './onnx-file.js';
import { withExtraOutputs } from './calibrate.js';
import { GraphRunner } from './ort-runner.js';
import { ChannelMeanObserver, correctBias, fakeQuantizePerChannel } from './quant-math.js';
import { ATTENTION_PREFIX } from './export.js';

type Batches = () => Iterable<{ data: Float32Array; n: number }>;

/** The trunk Conv/Gemm nodes whose weights the quantizer stores int8 with int8 activations (with a float bias). */
export function correctableNodes(g: OnnxGraph): GraphNode[] {
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  return g.nodes.filter(
    (n) =>
      (n.opType === 'Conv' || (n.opType === 'Gemm' && n.attrs.transB?.kind === 'int' && n.attrs.transB.value === 1)) &&
      !n.name.startsWith(ATTENTION_PREFIX) &&
      !n.outputs.some((o) => o.startsWith(ATTENTION_PREFIX)) &&
      inits.get(n.inputs[1] ?? '')?.dtype === 'float32' &&
      inits.get(n.inputs[2] ?? '')?.dtype === 'float32',
  );
}

export async function outputMeans(g: OnnxGraph, outputs: string[], batches: Batches, size: number): Promise<Map<string, Float64Array>> {
  const runner = await GraphRunner.open(encodeModel(withExtraOutputs(g, outputs)), { optimization: 'disabled' }, `bias-correction copy of ${g.name}`);
  const obs = new Map(outputs.map((o) => [o, new ChannelMeanObserver()]));
  try {
    for (const b of batches()) {
      for (const [name, t] of await runner.run(b.data, b.n, size, outputs)) obs.get(name)!.observe(t.data, t.dims);
    }
  } finally {
    await runner.close();
  }
  return new Map([...obs].map(([k, o]) => [k, o.means()]));
}

export interface BiasCorrection {
  graph: OnnxGraph;
  /** Largest absolute per-channel mean shift removed, per layer output. */
  shifts: Record<string, number>;
}

/** Returns a copy of the float graph with corrected trunk biases (weights unchanged: the quantizer rounds them). */
export async function biasCorrect(g: OnnxGraph, batches: Batches, size: number): Promise<BiasCorrection> {
  const nodes = correctableNodes(g);
  if (nodes.length === 0) return { graph: g, shifts: {} };
  const outputs = nodes.map((n) => n.outputs[0]!);
  const weightNames = new Set(nodes.map((n) => n.inputs[1]!));
  const rounded: OnnxGraph = {
    ...g,
    initializers: g.initializers.map((t) => (weightNames.has(t.name) ? { ...t, data: fakeQuantizePerChannel(t.data as Float32Array, t.dims[0]!) } : t)),
  };
  const meanFloat = await outputMeans(g, outputs, batches, size);
  const meanRounded = await outputMeans(rounded, outputs, batches, size);
  const biasOf = new Map(nodes.map((n) => [n.inputs[2]!, n.outputs[0]!]));
  const shifts: Record<string, number> = {};
  const initializers = g.initializers.map((t) => {
    const out = biasOf.get(t.name);
    if (!out) return t;
    const f = meanFloat.get(out)!;
    const q = meanRounded.get(out)!;
    shifts[out] = Math.max(...Array.from(f, (v, i) => Math.abs(q[i]! - v)));
    return { ...t, data: correctBias(t.data as Float32Array, f, q) };
  });
  return { graph: { ...g, initializers }, shifts };
}
