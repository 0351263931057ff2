/**
 * Activation-range calibration: runs the float model in onnxruntime over face images with every tensor to be
 * quantized added as an extra graph output, and records each tensor's range (min/max or a percentile range).
 */
import type { OnnxGraph } from './graph.js';
import { encodeModel } from './onnx-file.js';
import { GraphRunner } from './ort-runner.js';
import { MinMaxObserver, PercentileObserver } from './quant-math.js';
import type { Range } from './quantize.js';

export type CalibrationMethod = { kind: 'minmax' } | { kind: 'percentile'; percentile: number };

/** The graph with `tensors` appended to its outputs (float32, shape left to the runtime). */
export function withExtraOutputs(g: OnnxGraph, tensors: readonly string[]): OnnxGraph {
  const existing = new Set(g.outputs.map((o) => o.name));
  return { ...g, outputs: [...g.outputs, ...tensors.filter((t) => !existing.has(t)).map((name) => ({ name, dtype: 'float32' as const }))] };
}

export interface CalibrationInput {
  /** Normalised NCHW batches ([n, 1, size, size] each). */
  batches: AsyncIterable<{ data: Float32Array; n: number }> | Iterable<{ data: Float32Array; n: number }>;
  size: number;
}

export async function calibrate(g: OnnxGraph, tensors: readonly string[], input: CalibrationInput, method: CalibrationMethod = { kind: 'minmax' }): Promise<Map<string, Range>> {
  const runner = await GraphRunner.open(encodeModel(withExtraOutputs(g, tensors)), { optimization: 'disabled' }, `calibration copy of ${g.name}`);
  const observers = new Map(tensors.map((t) => [t, method.kind === 'minmax' ? new MinMaxObserver() : new PercentileObserver(method.percentile)]));
  let images = 0;
  try {
    for await (const batch of input.batches) {
      const result = await runner.run(batch.data, batch.n, input.size, tensors);
      for (const [name, t] of result) observers.get(name)!.observe(t.data);
      images += batch.n;
    }
  } finally {
    await runner.close();
  }
  if (images === 0) throw new Error('calibration saw no images');
  return new Map([...observers].map(([name, o]) => [name, o.range()]));
}
