/** Empirical bias correction: after it, the int8-rounded weights give the float model's per-channel output means. */
import path from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { biasCorrect, correctableNodes, outputMeans } from '../../src/onnx/bias-correction.js';
import { exportNetwork } from '../../src/onnx/export.js';
import { faceBatches } from '../../src/onnx/face-batches.js';
import { evenlySpaced, listFaceImages } from '../../src/onnx/fer-images.js';
import { fakeQuantizePerChannel } from '../../src/onnx/quant-math.js';
import { randomDeepEmotion } from '../../src/onnx/random-network.js';
import { UNTRAINED_NORMALIZATION } from '../../src/onnx/untrained.js';
import type { OnnxGraph } from '../../src/onnx/graph.js';
import { fer2013Dir } from '../helpers/fixtures.js';

test('bias correction cancels the mean shift that int8 weight rounding causes, layer by layer', async () => {
  const g = exportNetwork(randomDeepEmotion({ seed: 21, thetaNoise: 0.01 }));
  const images = evenlySpaced(listFaceImages(path.join(fer2013Dir, 'train')), 96);
  const decoded = [...faceBatches(images, 48, UNTRAINED_NORMALIZATION, undefined, 32)];
  const batches = () => decoded;
  const nodes = correctableNodes(g);
  assert.deepEqual(nodes.map((n) => n.opType), ['Conv', 'Conv', 'Conv', 'Conv', 'Gemm', 'Gemm'], 'the trunk convs and dense layers, not the attention branch');
  const { graph: corrected, shifts } = await biasCorrect(g, batches, 48);
  assert.ok(Object.values(shifts).some((s) => s > 1e-3), `rounding should shift some means: ${JSON.stringify(shifts)}`);

  const round = (src: OnnxGraph): OnnxGraph => {
    const weights = new Set(nodes.map((n) => n.inputs[1]!));
    return { ...src, initializers: src.initializers.map((t) => (weights.has(t.name) ? { ...t, data: fakeQuantizePerChannel(t.data as Float32Array, t.dims[0]!) } : t)) };
  };
  // first layer: its input does not depend on other corrections, so its residual shift must be ~0
  const first = nodes[0]!.outputs[0]!;
  const ref = (await outputMeans(g, [first], batches, 48)).get(first)!;
  const after = (await outputMeans(round(corrected), [first], batches, 48)).get(first)!;
  const before = (await outputMeans(round(g), [first], batches, 48)).get(first)!;
  const maxAbs = (a: Float64Array, b: Float64Array) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
  assert.ok(maxAbs(after, ref) < 1e-5, `residual shift ${maxAbs(after, ref)}`);
  assert.ok(maxAbs(before, ref) > 10 * maxAbs(after, ref), `before ${maxAbs(before, ref)}, after ${maxAbs(after, ref)}`);
  // weights untouched (the quantizer rounds them), only biases move
  const w = nodes[0]!.inputs[1]!;
  assert.deepEqual(corrected.initializers.find((t) => t.name === w)!.data, g.initializers.find((t) => t.name === w)!.data);
});
