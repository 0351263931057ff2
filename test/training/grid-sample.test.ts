import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/training/backend.js';
import { affineGrid, gridSample, spatialTransform } from '../../src/training/grid-sample.js';
import { Rng } from '../../src/util/rng.js';

before(async () => {
  await initBackend('cpu');
});

/** Float64 re-implementation of PyTorch's affine_grid + grid_sample (bilinear, zeros, align_corners=False). */
function referenceWarp(img: Float64Array, n: number, h: number, w: number, theta: Float64Array): Float64Array {
  const out = new Float64Array(n * h * w);
  for (let b = 0; b < n; b++) {
    const t = theta.subarray(b * 6, b * 6 + 6);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const x = (2 * j + 1) / w - 1;
        const y = (2 * i + 1) / h - 1;
        const xi = t[0]! * x + t[1]! * y + t[2]!;
        const yi = t[3]! * x + t[4]! * y + t[5]!;
        const px = ((xi + 1) * w - 1) / 2;
        const py = ((yi + 1) * h - 1) / 2;
        const x0 = Math.floor(px);
        const y0 = Math.floor(py);
        const at = (yy: number, xx: number) => (yy >= 0 && yy < h && xx >= 0 && xx < w ? img[b * h * w + yy * w + xx]! : 0);
        const fx = px - x0;
        const fy = py - y0;
        out[b * h * w + i * w + j] =
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
      }
    }
  }
  return out;
}

function randomTheta(rng: Rng, n: number): Float64Array {
  const t = new Float64Array(n * 6);
  for (let b = 0; b < n; b++) {
    const a = rng.uniform(-0.4, 0.4);
    const s = rng.uniform(0.8, 1.3);
    t.set([s * Math.cos(a), -s * Math.sin(a), rng.uniform(-0.3, 0.3), s * Math.sin(a), s * Math.cos(a), rng.uniform(-0.3, 0.3)], b * 6);
  }
  return t;
}

test('identity theta reproduces the image', () => {
  const rng = new Rng(3);
  const data = Float32Array.from({ length: 2 * 12 * 10 }, () => rng.normal());
  const x = tf.tensor4d(data, [2, 12, 10, 1]);
  const theta = tf.tensor3d([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0], [2, 2, 3]);
  const y = spatialTransform(x, theta);
  const diff = tf.sub(y, x).abs().max().dataSync()[0]!;
  assert.ok(diff < 1e-5, `identity warp differs by ${diff}`);
});

test('random theta matches a float64 re-implementation of PyTorch grid_sample (zeros, align_corners=False)', () => {
  const rng = new Rng(5);
  const n = 3;
  const h = 11;
  const w = 9;
  const img = Float64Array.from({ length: n * h * w }, () => rng.normal());
  const theta = randomTheta(rng, n);
  const ref = referenceWarp(img, n, h, w, theta);
  const got = spatialTransform(tf.tensor4d(Float32Array.from(img), [n, h, w, 1]), tf.tensor3d(Float32Array.from(theta), [n, 2, 3])).dataSync();
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - got[i]!));
  assert.ok(maxDiff < 1e-5, `max abs diff ${maxDiff}`);
  // something actually moved and something fell outside (zeros padding exercised)
  const grid = affineGrid(tf.tensor3d(Float32Array.from(theta), [n, 2, 3]), h, w).abs().max().dataSync()[0]!;
  assert.ok(grid > 1, 'test thetas should sample outside the image');
});

test('d loss / d theta matches central finite differences (float64 reference)', () => {
  const rng = new Rng(11);
  const n = 2;
  const h = 8;
  const w = 8;
  const img = Float64Array.from({ length: n * h * w }, () => rng.normal());
  const weights = Float64Array.from({ length: n * h * w }, () => rng.normal());
  const theta = randomTheta(rng, n);
  const loss = (t: Float64Array) => referenceWarp(img, n, h, w, t).reduce((a, v, i) => a + v * weights[i]!, 0);
  const x = tf.tensor4d(Float32Array.from(img), [n, h, w, 1]);
  const wt = tf.tensor4d(Float32Array.from(weights), [n, h, w, 1]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gridSample(x, affineGrid(t as tf.Tensor3D, h, w)), wt)))(tf.tensor3d(Float32Array.from(theta), [n, 2, 3])).dataSync();
  const eps = 1e-6;
  let worst = 0;
  for (let k = 0; k < theta.length; k++) {
    const tp = Float64Array.from(theta);
    const tm = Float64Array.from(theta);
    tp[k]! += eps;
    tm[k]! -= eps;
    const fd = (loss(tp) - loss(tm)) / (2 * eps);
    const rel = Math.abs(fd - g[k]!) / Math.max(1e-3, Math.abs(fd));
    worst = Math.max(worst, rel);
  }
  assert.ok(worst < 1e-3, `worst relative error ${worst}`);
});
