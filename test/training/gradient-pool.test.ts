import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { NO_AUGMENT } from '../../src/training/augment.js';
import { meanStd } from '../../src/training/batch.js';
import { initBackend } from '../../src/training/backend.js';
import { loadFer2013, type FerDataset } from '../../src/training/fer2013.js';
import { GradientWorkerPool, shardSizes } from '../../src/training/gradient-pool.js';
import { DeepEmotion, defaultModelConfig } from '../../src/training/model.js';
import { combineMoments, shardGradients } from '../../src/training/shard-gradients.js';
import { DEFAULT_TRAIN, train } from '../../src/training/trainer.js';
import { fer2013Dir } from '../helpers/fixtures.js';

let data: FerDataset;
let tmp: string;

before(async () => {
  await initBackend('wasm');
  data = await loadFer2013(fer2013Dir, 'train', { limitPerClass: 4 });
  tmp = await mkdtemp(path.join(tmpdir(), 'gradient-pool-'));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('shardSizes splits a batch into near-equal contiguous shards', () => {
  assert.deepEqual(shardSizes(64, 2), [32, 32]);
  assert.deepEqual(shardSizes(7, 3), [3, 2, 2]);
  assert.deepEqual(shardSizes(1, 4), [1]);
});

test('combineMoments gives the moments of the whole batch', () => {
  const a = [1, 2, 3, 4];
  const b = [10, 20];
  const moments = (v: number[]) => {
    const mu = v.reduce((x, y) => x + y, 0) / v.length;
    return { mean: Float32Array.of(mu), variance: Float32Array.of(v.reduce((x, y) => x + (y - mu) ** 2, 0) / v.length), count: v.length };
  };
  const c = combineMoments([moments(a), moments(b)]);
  const all = moments([...a, ...b]);
  assert.ok(Math.abs(c.mean[0]! - all.mean[0]!) < 1e-5);
  assert.ok(Math.abs(c.variance[0]! - all.variance[0]!) < 1e-3);
  assert.equal(c.count, 6);
});

test('a batch split over a worker thread gives the sum of its shards computed on one thread', async () => {
  const model = new DeepEmotion(defaultModelConfig({ width: 6, width2: 8, hidden: 16, dropout: 0.3, normalization: meanStd(data.images) }), 9);
  const trainable = model.specs.filter((s) => s.trainable).map((s) => s.name);
  const idx = Array.from({ length: 20 }, (_, i) => i);
  const ctx = { epoch: 2, batchIndex: 5, seed: 7, aug: NO_AUGMENT, classWeights: Float32Array.from([1, 2, 1, 0.5, 1, 1, 1]), labelSmoothing: 0 };
  const pool = await GradientWorkerPool.start({ workers: 2, backend: 'wasm', model, trainable, data, seed: 7, aug: NO_AUGMENT, classWeights: ctx.classWeights, labelSmoothing: 0 });
  try {
    assert.equal(pool.size, 2);
    const r = await pool.batch(model, data, idx, ctx.epoch, ctx.batchIndex);
    const s0 = shardGradients(model, data, idx.slice(0, 10), trainable, { ...ctx, shard: 0, batchSize: 20 });
    const s1 = shardGradients(model, data, idx.slice(10), trainable, { ...ctx, shard: 1, batchSize: 20 });
    assert.equal(r.count, 20);
    assert.ok(Math.abs(r.loss - (s0.loss + s1.loss)) < 1e-5, `loss ${r.loss} vs ${s0.loss + s1.loss}`);
    assert.equal(r.correct, s0.correct + s1.correct);
    let worst = 0;
    for (const name of trainable) {
      const want = tf.add(s0.grads.get(name)!, s1.grads.get(name)!);
      const got = r.grads.get(name)!;
      const d = tf.max(tf.abs(tf.sub(want, got))).dataSync()[0]! / Math.max(1e-6, tf.max(tf.abs(want)).dataSync()[0]!);
      worst = Math.max(worst, d);
      want.dispose();
    }
    assert.ok(worst < 1e-4, `relative gradient difference ${worst}`);
    assert.equal(r.bn.length, 4);
    assert.equal(r.bn[0]!.count, s0.bn[0]!.count + s1.bn[0]!.count);
    tf.dispose([...r.grads.values(), ...s0.grads.values(), ...s1.grads.values(), ...[...r.bn, ...s0.bn, ...s1.bn].flatMap((u) => [u.mean, u.variance])]);
  } finally {
    await pool.close();
    model.dispose();
  }
});

test('training with two threads runs, checkpoints and learns', async () => {
  const run = path.join(tmp, 'dp');
  const val = await loadFer2013(fer2013Dir, 'PublicTest', { limitPerClass: 2 });
  const r = await train({ ...DEFAULT_TRAIN, run, epochs: 2, batchSize: 14, model: { width: 4 }, backend: 'wasm', workers: 2, log: () => {} }, data, val);
  assert.equal(r.state.epoch, 2);
  const h = r.state.history;
  assert.ok(h.every((e) => Number.isFinite(e.trainLoss)));
  const saved = JSON.parse(await readFile(path.join(run, 'last', 'state.json'), 'utf8')) as { epoch: number };
  assert.equal(saved.epoch, 2);
});
