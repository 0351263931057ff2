import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchNormAffine, convKernelToOihw, denseKernelToOutIn, foldBatchNorm, outputSize, samePads } from '../../src/onnx/layout.js';

test('conv kernel [kh,kw,in,out] -> [out,in,kh,kw] moves every weight to its ONNX position', () => {
  const [kh, kw, cin, cout] = [2, 3, 4, 5];
  const k = Float32Array.from({ length: kh * kw * cin * cout }, (_, i) => i);
  const o = convKernelToOihw(k, [kh, kw, cin, cout]);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let c = 0; c < cout; c++) assert.equal(o[((c * cin + i) * kh + y) * kw + x], k[((y * kw + x) * cin + i) * cout + c]);
  assert.throws(() => convKernelToOihw(k, [3, 3, 4, 5]), /needs/);
});

test('dense rows written for an NHWC flatten give the same outputs on the NCHW flatten', () => {
  const [c, h, w, nout] = [3, 2, 4, 5];
  const nin = c * h * w;
  const kernel = Float32Array.from({ length: nin * nout }, (_, i) => Math.sin(i));
  const act = Float32Array.from({ length: nin }, (_, i) => Math.cos(i * 1.3)); // activation[ch][y][x] (NCHW)
  // tfjs: flatten NHWC, y = x_nhwc . K
  const nhwc = new Float32Array(nin);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) nhwc[(y * w + x) * c + ch] = act[(ch * h + y) * w + x]!;
  const expected = Array.from({ length: nout }, (_, o) => nhwc.reduce((s, v, r) => s + v * kernel[r * nout + o]!, 0));
  // ONNX: flatten NCHW, Gemm with B = [out, in] (transB = 1)
  const b = denseKernelToOutIn(kernel, [nin, nout], [c, h, w]);
  const got = Array.from({ length: nout }, (_, o) => act.reduce((s, v, r) => s + v * b[o * nin + r]!, 0));
  got.forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-5));
  // without a flatten it is a plain transpose
  const t = denseKernelToOutIn(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual([...t], [1, 4, 2, 5, 3, 6]);
  assert.throws(() => denseKernelToOutIn(kernel, [nin, nout], [c, h, w + 1]), /flattened activation/);
});

test('folding batch norm into the preceding layer equals applying it afterwards', () => {
  const bn = {
    gamma: Float32Array.from([1.5, 0.5]),
    beta: Float32Array.from([0.1, -0.2]),
    movingMean: Float32Array.from([0.3, -1]),
    movingVariance: Float32Array.from([2, 0.25]),
    epsilon: 1e-5,
  };
  const weight = Float32Array.from([1, 2, 3, -1, 0.5, 4]); // [out=2, 3]
  const bias = Float32Array.from([0.2, -0.4]);
  const x = [0.7, -1.2, 2];
  const folded = foldBatchNorm(weight, bias, bn);
  for (let o = 0; o < 2; o++) {
    const pre = x.reduce((s, v, j) => s + v * weight[o * 3 + j]!, bias[o]!);
    const after = ((pre - bn.movingMean[o]!) / Math.sqrt(bn.movingVariance[o]! + bn.epsilon)) * bn.gamma[o]! + bn.beta[o]!;
    const viaFold = x.reduce((s, v, j) => s + v * folded.weight[o * 3 + j]!, folded.bias[o]!);
    assert.ok(Math.abs(after - viaFold) < 1e-5, `channel ${o}: ${after} vs ${viaFold}`);
  }
  const { scale } = batchNormAffine(bn);
  assert.ok(Math.abs(scale[0]! - 1.5 / Math.sqrt(2 + 1e-5)) < 1e-12);
  assert.throws(() => foldBatchNorm(Float32Array.from([1, 2, 3]), null, bn), /cannot fold/);
});

test('SAME padding follows TensorFlow (extra pixel at the end) and output sizes add up', () => {
  assert.deepEqual(samePads(48, 3, 1), [1, 1]);
  assert.deepEqual(samePads(48, 2, 2), [0, 0]);
  assert.deepEqual(samePads(47, 2, 2), [0, 1]);
  assert.deepEqual(samePads(10, 4, 1), [1, 2]);
  assert.equal(outputSize(48, 7, 1, 0, 0), 42);
  assert.equal(outputSize(42, 2, 2, 0, 0), 21);
  assert.equal(outputSize(47, 2, 2, 0, 1), 24);
});
