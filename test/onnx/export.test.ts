/**
 * The exporter on layer combinations the Deep_Emotion checkpoints do not use (SAME padding, strides, a batch norm
 * that cannot be folded, max-pool before relu, no attention branch), checked in onnxruntime against a plain
 * float64 re-implementation of the network in TensorFlow.js semantics (NHWC, (h,w,c) flatten).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportNetwork, ExportError } from '../../src/onnx/export.js';
import type { Layer, NetworkDescription } from '../../src/onnx/network.js';
import { encodeModel } from '../../src/onnx/onnx-file.js';
import { GraphRunner } from '../../src/onnx/ort-runner.js';
import { samePads } from '../../src/onnx/layout.js';
import { seededRandom } from '../../src/util/rng.js';

type Img = { h: number; w: number; c: number; v: Float64Array }; // NHWC, one image

function forward(layers: Layer[], input: Img): Float64Array {
  let x: Img | Float64Array = input;
  for (const l of layers) {
    if (l.type === 'conv2d' || l.type === 'maxpool') {
      const img = x as Img;
      const [kh, kw] = l.type === 'conv2d' ? [l.kernelShape[0], l.kernelShape[1]] : l.size;
      const [sh, sw] = l.strides;
      const [pt] = l.padding === 'same' ? samePads(img.h, kh, sh) : [0];
      const [pl] = l.padding === 'same' ? samePads(img.w, kw, sw) : [0];
      const oh = l.padding === 'same' ? Math.ceil(img.h / sh) : Math.floor((img.h - kh) / sh) + 1;
      const ow = l.padding === 'same' ? Math.ceil(img.w / sw) : Math.floor((img.w - kw) / sw) + 1;
      const oc = l.type === 'conv2d' ? l.kernelShape[3] : img.c;
      const out = new Float64Array(oh * ow * oc);
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++)
          for (let o = 0; o < oc; o++) {
            let acc = l.type === 'conv2d' ? (l.bias?.[o] ?? 0) : -Infinity;
            for (let dy = 0; dy < kh; dy++)
              for (let dx = 0; dx < kw; dx++) {
                const iy = y * sh + dy - pt;
                const ix = xx * sw + dx - pl;
                if (iy < 0 || ix < 0 || iy >= img.h || ix >= img.w) continue;
                if (l.type === 'maxpool') acc = Math.max(acc, img.v[(iy * img.w + ix) * img.c + o]!);
                else for (let i = 0; i < img.c; i++) acc += img.v[(iy * img.w + ix) * img.c + i]! * l.kernel[((dy * kw + dx) * img.c + i) * oc + o]!;
              }
            out[(y * ow + xx) * oc + o] = acc;
          }
      x = { h: oh, w: ow, c: oc, v: out };
    } else if (l.type === 'batchnorm') {
      const v: Float64Array = x instanceof Float64Array ? x : x.v;
      const c = l.gamma.length;
      const out: Float64Array = v.map((val: number, i: number) => ((val - l.movingMean[i % c]!) / Math.sqrt(l.movingVariance[i % c]! + l.epsilon)) * l.gamma[i % c]! + l.beta[i % c]!);
      x = x instanceof Float64Array ? out : { ...x, v: out };
    } else if (l.type === 'relu') {
      const v = (x instanceof Float64Array ? x : x.v).map((a) => Math.max(0, a));
      x = x instanceof Float64Array ? v : { ...x, v };
    } else if (l.type === 'flatten') {
      x = x instanceof Float64Array ? x : x.v; // NHWC memory order is the (h, w, c) flatten
    } else if (l.type === 'dense') {
      const v = x as Float64Array;
      const [nin, nout] = l.kernelShape;
      x = Float64Array.from({ length: nout }, (_, o) => v.reduce((s, a, r) => s + a * l.kernel[r * nout + o]!, l.bias?.[o] ?? 0));
      assert.equal(v.length, nin);
    }
  }
  return x as Float64Array;
}

function randomNet(rand: () => number): NetworkDescription {
  const r = (n: number, s = 0.3) => Float32Array.from({ length: n }, () => (rand() - 0.5) * 2 * s);
  const trunk: Layer[] = [
    { type: 'conv2d', name: 'c1', kernel: r(3 * 3 * 1 * 4), kernelShape: [3, 3, 1, 4], bias: r(4), strides: [1, 1], padding: 'same' },
    { type: 'maxpool', name: 'p1', size: [3, 3], strides: [2, 2], padding: 'same' },
    { type: 'relu', name: 'r1' },
    { type: 'batchnorm', name: 'bn_unfoldable', gamma: r(4, 1), beta: r(4), movingMean: r(4), movingVariance: Float32Array.from(r(4), (v) => 1 + v), epsilon: 1e-3 },
    { type: 'conv2d', name: 'c2', kernel: r(4 * 2 * 4 * 6), kernelShape: [4, 2, 4, 6], bias: null, strides: [2, 1], padding: 'valid' },
    { type: 'batchnorm', name: 'bn_folded', gamma: r(6, 1), beta: r(6), movingMean: r(6), movingVariance: Float32Array.from(r(6), (v) => 1 + v), epsilon: 1e-5 },
    { type: 'relu', name: 'r2' },
    { type: 'dropout', name: 'drop' },
    { type: 'flatten', name: 'flat' },
    { type: 'dense', name: 'fc', kernel: r(6 * 5 * 11 * 7), kernelShape: [6 * 5 * 11, 7], bias: r(7) },
  ];
  return { arch: 'test_net', inputSize: 24, attention: null, trunk, classes: 7 };
}

test('SAME padding, strides, unfoldable batch norm, pool-then-relu and a non-square kernel export exactly', async () => {
  const rand = seededRandom(9);
  const net = randomNet(rand);
  const g = exportNetwork(net);
  const ops = g.nodes.map((n) => n.opType);
  assert.deepEqual(ops, ['Conv', 'Relu', 'MaxPool', 'BatchNormalization', 'Conv', 'Relu', 'Flatten', 'Gemm']);
  const runner = await GraphRunner.open(encodeModel(g));
  const n = 3;
  const data = Float32Array.from({ length: n * 24 * 24 }, () => rand() * 2 - 1);
  const got = (await runner.run(data, n, 24)).get('logits')!.data;
  await runner.close();
  for (let i = 0; i < n; i++) {
    const want = forward(net.trunk, { h: 24, w: 24, c: 1, v: Float64Array.from(data.subarray(i * 576, (i + 1) * 576)) });
    for (let c = 0; c < 7; c++) assert.ok(Math.abs(want[c]! - got[i * 7 + c]!) < 1e-4, `image ${i} class ${c}: ${want[c]} vs ${got[i * 7 + c]}`);
  }
});

test('shape mismatches are reported with the layer name', () => {
  const net = randomNet(seededRandom(1));
  const bad = { ...net, trunk: net.trunk.map((l) => (l.type === 'dense' ? { ...l, kernelShape: [100, 7] as [number, number], kernel: new Float32Array(700) } : l)) };
  assert.throws(() => exportNetwork(bad), (e: Error) => e instanceof ExportError && /layer trunk\/fc \(dense\): kernel takes 100 inputs, the activation has 330/.test(e.message));
  const noClasses = { ...net, classes: 5 };
  assert.throws(() => exportNetwork(noClasses), /must end in 5 class logits/);
});
