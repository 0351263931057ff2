/**
 * One shard of a training batch: augmentation, forward, class-weighted cross-entropy and gradients. The main
 * thread and the data-parallel workers (gradient-worker.ts) run this same function, so a batch split over workers
 * computes what one thread would (up to float rounding and batch-norm statistics, which are per shard).
 *
 * Loss of a whole batch of m images = sum_i w_i l_i / m (SUM_BY_NONZERO_WEIGHTS with positive class weights), so
 * each shard reports its weighted loss sum and gradients scaled to the whole batch: the batch's gradient is the plain
 * sum of its shards' gradients.
 */
import * as tf from '@tensorflow/tfjs';
import type { AugmentParams } from './augment.js';
import type { FerDataset } from './fer2013.js';
import { FER_SIZE } from './fer2013.js';
import type { BnUpdate, DeepEmotion } from './model.js';
import { mixSeed } from '../util/index.js';
import { makeBatch } from './batch.js';

export interface ShardContext {
  epoch: number;
  batchIndex: number;
  /** 0 for the main thread; workers 1.. (shard 0 keeps the single-thread dropout seed). */
  shard: number;
  seed: number;
  aug: AugmentParams;
  /** Loss weight per class. */
  classWeights: Float32Array;
  labelSmoothing: number;
  /** Images in the whole batch (the gradient scale is shard size / batch size). */
  batchSize: number;
}

export interface ShardResult {
  /** Gradients of the whole batch's loss restricted to this shard, by parameter name. */
  grads: Map<string, tf.Tensor>;
  /** sum over the shard of w_i * l_i / batchSize (the shard's part of the batch loss). */
  loss: number;
  correct: number;
  count: number;
  bn: BnUpdate[];
}

export function dropoutSeed(seed: number, epoch: number, batchIndex: number, shard: number): number {
  return shard === 0 ? mixSeed(seed, epoch, batchIndex, 0xd20f) : mixSeed(seed, epoch, batchIndex, 0xd20f + shard);
}

export function shardGradients(model: DeepEmotion, data: FerDataset, indices: ArrayLike<number>, trainable: string[], ctx: ShardContext): ShardResult {
  const m = indices.length;
  const { x, y, y2, lam } = makeBatch(data, indices, ctx.epoch, ctx.seed, ctx.aug, model.config.normalization);
  const bn: BnUpdate[] = [];
  const vars = trainable.map((name) => model.p(name));
  const k = model.config.labels.length;
  const { value, grads, predicted } = tf.tidy(() => {
    const xt = tf.tensor4d(x, [m, FER_SIZE, FER_SIZE, 1]);
    const yt = tf.tensor1d(y, 'int32');
    let oneHot: tf.Tensor = tf.oneHot(yt, k);
    let sw = tf.tensor1d(Float32Array.from(y, (c) => ctx.classWeights[c]!));
    if (y2 && lam) {
      // mixup: weight W = lam w_y + (1 - lam) w_y2 and target (lam w_y e_y + (1 - lam) w_y2 e_y2) / W, so that
      // W * CE(target) = lam w_y CE(y) + (1 - lam) w_y2 CE(y2) (cross-entropy is linear in the target)
      const t = new Float32Array(m * k);
      const w = new Float32Array(m);
      for (let b = 0; b < m; b++) {
        const a = lam[b]! * ctx.classWeights[y[b]!]!;
        const c = (1 - lam[b]!) * ctx.classWeights[y2[b]!]!;
        w[b] = a + c;
        t[b * k + y[b]!] = (t[b * k + y[b]!] ?? 0) + a / (a + c);
        t[b * k + y2[b]!] = (t[b * k + y2[b]!] ?? 0) + c / (a + c);
      }
      oneHot = tf.tensor2d(t, [m, k]);
      sw = tf.tensor1d(w);
    }
    let logitsKept: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(xt, true, dropoutSeed(ctx.seed, ctx.epoch, ctx.batchIndex, ctx.shard), bn);
      logitsKept = tf.keep(logits);
      const loss = tf.losses.softmaxCrossEntropy(oneHot, logits, sw, ctx.labelSmoothing, tf.Reduction.SUM_BY_NONZERO_WEIGHTS) as tf.Scalar;
      return m === ctx.batchSize ? loss : (loss.mul(m / ctx.batchSize) as tf.Scalar);
    }, vars);
    const predicted = tf.equal(tf.argMax(logitsKept!, 1), yt).sum();
    return { value, grads, predicted };
  });
  const byName = new Map<string, tf.Tensor>();
  trainable.forEach((name) => byName.set(name, grads[model.p(name).name]!));
  const loss = value.dataSync()[0]!;
  const correct = predicted.dataSync()[0]!;
  tf.dispose([value, predicted]);
  return { grads: byName, loss, correct, count: m, bn };
}

/** Batch-norm moments of shards combined into those of the whole batch (exact for the biased variance). */
export function combineMoments(parts: { mean: Float32Array; variance: Float32Array; count: number }[]): { mean: Float32Array; variance: Float32Array; count: number } {
  const c = parts[0]!.mean.length;
  const total = parts.reduce((a, p) => a + p.count, 0);
  const mean = new Float32Array(c);
  const variance = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    let mu = 0;
    let sq = 0;
    for (const p of parts) {
      mu += (p.count / total) * p.mean[k]!;
      sq += (p.count / total) * (p.variance[k]! + p.mean[k]! ** 2);
    }
    mean[k] = mu;
    variance[k] = Math.max(0, sq - mu * mu);
  }
  return { mean, variance, count: total };
}
