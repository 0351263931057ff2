import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { batchNormTrain } from '../../src/training/batch-norm.js';
import { initBackend } from '../../src/training/backend.js';
import { Rng } from '../../src/util/rng.js';

before(async () => {
  await initBackend('wasm');
});

/** Float64 reference: y = gamma * (x - mean) / sqrt(var + eps) + beta and the gradients of sum(y * dy). */
function reference(x: Float64Array, m: number, c: number, gamma: Float64Array, beta: Float64Array, dy: Float64Array, eps: number) {
  const y = new Float64Array(m * c);
  const dx = new Float64Array(m * c);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += x[i * c + k]!;
    const mu = s / m;
    let v = 0;
    for (let i = 0; i < m; i++) v += (x[i * c + k]! - mu) ** 2;
    v /= m;
    mean[k] = mu;
    variance[k] = v;
    const inv = 1 / Math.sqrt(v + eps);
    let sdy = 0;
    let sdyx = 0;
    for (let i = 0; i < m; i++) {
      const xh = (x[i * c + k]! - mu) * inv;
      y[i * c + k] = gamma[k]! * xh + beta[k]!;
      sdy += dy[i * c + k]!;
      sdyx += dy[i * c + k]! * xh;
    }
    dbeta[k] = sdy;
    dgamma[k] = sdyx;
    for (let i = 0; i < m; i++) {
      const xh = (x[i * c + k]! - mu) * inv;
      dx[i * c + k] = gamma[k]! * inv * (dy[i * c + k]! - sdy / m - (xh * sdyx) / m);
    }
  }
  return { y, dx, dgamma, dbeta, mean, variance };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

test('batchNormTrain: output, batch moments and gradients match a float64 reference', () => {
  const rng = new Rng(5);
  const m = 300;
  const c = 6;
  const eps = 1e-5;
  const x = Float64Array.from({ length: m * c }, (_, i) => rng.normal() * (1 + (i % c)) + (i % c) - 2);
  const gamma = Float64Array.from({ length: c }, () => 0.5 + rng.next());
  const beta = Float64Array.from({ length: c }, () => rng.normal());
  const dy = Float64Array.from({ length: m * c }, () => rng.normal());
  const ref = reference(x, m, c, gamma, beta, dy, eps);

  const xt = tf.tensor2d(Float32Array.from(x), [m, c]);
  const gt = tf.tensor1d(Float32Array.from(gamma));
  const bt = tf.tensor1d(Float32Array.from(beta));
  const dyt = tf.tensor2d(Float32Array.from(dy), [m, c]);
  let moments: tf.Tensor[] = [];
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => {
    const r = batchNormTrain(a as tf.Tensor2D, b, cc, eps);
    moments = [r.mean, r.variance];
    return r.y.mul(dyt).sum();
  });
  const [dx, dgamma, dbeta] = g([xt, gt, bt]);
  const y = batchNormTrain(xt, gt, bt, eps);
  assert.ok(maxAbsDiff(y.y.dataSync(), ref.y) < 1e-4, 'forward');
  assert.ok(maxAbsDiff(y.mean.dataSync(), ref.mean) < 1e-4, 'mean');
  assert.ok(maxAbsDiff(y.variance.dataSync(), ref.variance) / 36 < 1e-4, 'variance');
  assert.ok(maxAbsDiff(dx!.dataSync(), ref.dx) < 1e-4, `dx ${maxAbsDiff(dx!.dataSync(), ref.dx)}`);
  assert.ok(maxAbsDiff(dgamma!.dataSync(), ref.dgamma) < 1e-3, 'dgamma');
  assert.ok(maxAbsDiff(dbeta!.dataSync(), ref.dbeta) < 1e-3, 'dbeta');
  assert.equal(moments.length, 2);
  tf.dispose([xt, gt, bt, dyt, dx!, dgamma!, dbeta!, y.y, y.mean, y.variance, ...moments]);
});
