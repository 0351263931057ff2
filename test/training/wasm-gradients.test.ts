import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/training/backend.js';
import { Rng } from '../../src/training/rng.js';

before(async () => {
  await initBackend('wasm'); // loads the wasm backend and registers the replacement kernels
});


async function gradsOn(backend: string, x: { data: Float32Array; shape: number[] }, w: { data: Float32Array; shape: number[] }, dy: Float32Array, strides: number, pad: 'valid' | 'same') {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xt = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
    const wt = tf.tensor4d(w.data, w.shape as [number, number, number, number]);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad);
      return tf.sum(tf.mul(y, tf.tensor(dy.subarray(0, y.size), y.shape)));
    };
    const [gx, gw] = tf.grads(f)([xt, wt]);
    return { gx: gx!.dataSync().slice(), gw: gw!.dataSync().slice(), backend: tf.getBackend() };
  });
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / Math.max(scale, 1e-6);
}

const cases: { name: string; x: number[]; w: number[]; strides: number; pad: 'valid' | 'same' }[] = [
  { name: '3x3 valid stride 1', x: [3, 9, 8, 4], w: [3, 3, 4, 5], strides: 1, pad: 'valid' },
  { name: '7x7 valid, one input channel (attention conv)', x: [2, 14, 14, 1], w: [7, 7, 1, 3], strides: 1, pad: 'valid' },
  { name: '3x3 same stride 1', x: [2, 7, 9, 3], w: [3, 3, 3, 2], strides: 1, pad: 'same' },
  { name: '3x3 same stride 2 (filter via dilation, input via stock kernel)', x: [2, 9, 8, 3], w: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { name: '2x2 valid stride 2', x: [2, 8, 8, 2], w: [2, 2, 2, 3], strides: 2, pad: 'valid' },
];

for (const c of cases) {
  test(`wasm Conv2DBackpropFilter / Conv2DBackpropInput match the cpu backend: ${c.name}`, async () => {
    const rng = new Rng(c.x.reduce((a, b) => a * 31 + b, 7));
    const x = { data: Float32Array.from({ length: c.x.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape: c.x };
    const w = { data: Float32Array.from({ length: c.w.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape: c.w };
    const dy = Float32Array.from({ length: c.x[0]! * c.x[1]! * c.x[2]! * c.w[3]! }, () => rng.normal());
    const onWasm = await gradsOn('wasm', x, w, dy, c.strides, c.pad);
    const onCpu = await gradsOn('cpu', x, w, dy, c.strides, c.pad);
    assert.equal(onWasm.backend, 'wasm');
    assert.equal(onCpu.backend, 'cpu');
    assert.ok(maxRelDiff(onWasm.gw, onCpu.gw) < 1e-5, `filter gradient differs: ${maxRelDiff(onWasm.gw, onCpu.gw)}`);
    assert.ok(maxRelDiff(onWasm.gx, onCpu.gx) < 1e-5, `input gradient differs: ${maxRelDiff(onWasm.gx, onCpu.gx)}`);
  });
}

test('the registered kernels are the ones wasm uses', () => {
  const k = tf.getKernel('Conv2DBackpropFilter', 'wasm');
  assert.ok(k, 'Conv2DBackpropFilter must be registered for wasm');
});
