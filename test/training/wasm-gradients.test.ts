import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/training/backend.js';
import { Rng } from '../../src/util/rng.js';

before(async () => {
  // loads wasm and registers the replacement kernels for wasm and cpu
  await initBackend('wasm');
  await initBackend('cpu');
});

type Shape4 = [number, number, number, number];

/** Float64 reference of d/dx and d/dw of sum(conv2d(x, w) * dy) (NHWC, tfjs padding arithmetic). */
function reference(x: Float64Array, xs: Shape4, w: Float64Array, ws: Shape4, dy: Float64Array, strides: number, pad: 'valid' | 'same') {
  const info = tf.backend_util.computeConv2DInfo(xs, ws, strides, 1, pad);
  const [n, h, wd, ci] = xs;
  const [kh, kw, , co] = ws;
  const { outHeight: oh, outWidth: ow } = info;
  const { top, left } = info.padInfo;
  const gx = new Float64Array(x.length);
  const gw = new Float64Array(w.length);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let c = 0; c < co; c++) {
          const g = dy[((b * oh + oy) * ow + ox) * co + c]!;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * strides + ky - top;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * strides + kx - left;
              if (ix < 0 || ix >= wd) continue;
              for (let k = 0; k < ci; k++) {
                const xi = ((b * h + iy) * wd + ix) * ci + k;
                const wi = ((ky * kw + kx) * ci + k) * co + c;
                gw[wi]! += x[xi]! * g;
                gx[xi]! += w[wi]! * g;
              }
            }
          }
        }
  return { gx, gw, outShape: [n, oh, ow, co] as Shape4 };
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / Math.max(scale, 1e-9);
}

const cases: { name: string; x: Shape4; w: Shape4; strides: number; pad: 'valid' | 'same' }[] = [
  { name: '3x3 valid stride 1 (main convolutions)', x: [3, 9, 8, 4], w: [3, 3, 4, 5], strides: 1, pad: 'valid' },
  { name: '7x7 valid, one input channel (attention conv)', x: [2, 14, 14, 1], w: [7, 7, 1, 3], strides: 1, pad: 'valid' },
  { name: '3x3 same stride 1', x: [2, 7, 9, 3], w: [3, 3, 3, 2], strides: 1, pad: 'same' },
  { name: '3x3 same stride 2 (filter via dilation, input via stock kernel)', x: [2, 9, 8, 3], w: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { name: '2x2 valid stride 2', x: [2, 8, 8, 2], w: [2, 2, 2, 3], strides: 2, pad: 'valid' },
];

for (const backend of ['wasm', 'cpu']) {
  for (const c of cases) {
    test(`${backend}: registered Conv2DBackpropFilter / Conv2DBackpropInput match a float64 reference: ${c.name}`, async () => {
      const rng = new Rng(c.x.reduce((a, b) => a * 31 + b, 7));
      const x = Float64Array.from({ length: c.x.reduce((a, b) => a * b, 1) }, () => rng.normal());
      const w = Float64Array.from({ length: c.w.reduce((a, b) => a * b, 1) }, () => rng.normal());
      const probe = reference(x, c.x, w, c.w, new Float64Array(0), c.strides, c.pad).outShape;
      const dy = Float64Array.from({ length: probe.reduce((a, b) => a * b, 1) }, () => rng.normal());
      const ref = reference(x, c.x, w, c.w, dy, c.strides, c.pad);
      await tf.setBackend(backend);
      const got = tf.tidy(() => {
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), tf.tensor(Float32Array.from(dy), probe)));
        const [gx, gw] = tf.grads(f)([tf.tensor4d(Float32Array.from(x), c.x), tf.tensor4d(Float32Array.from(w), c.w)]);
        return { gx: gx!.dataSync().slice(), gw: gw!.dataSync().slice() };
      });
      assert.equal(tf.getBackend(), backend);
      assert.ok(maxRelDiff(got.gw, ref.gw) < 1e-5, `filter gradient differs: ${maxRelDiff(got.gw, ref.gw)}`);
      assert.ok(maxRelDiff(got.gx, ref.gx) < 1e-5, `input gradient differs: ${maxRelDiff(got.gx, ref.gx)}`);
    });
  }
}

test('wasm has a Conv2DBackpropFilter kernel (the stock wasm backend has none)', () => {
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
});
