/**
 * Training batches: the dataset's pixel statistics (the network's input normalisation) and one augmented,
 * normalised batch for a list of sample indices (augmentation seeded per image and epoch, so any split of a batch
 * over workers draws the same augmentations).
 */
import { applyAugment, drawAugment, normalizeInto, type AugmentParams } from './augment.js';
import { FER_SIZE, type FerDataset } from './fer2013.js';
import { mixSeed, Rng } from '../util/index.js';

const PIX = FER_SIZE * FER_SIZE;

export function meanStd(images: Uint8Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const v of images) {
    s += v;
    s2 += v * v;
  }
  const n = images.length;
  const mean = s / n / 255;
  const std = Math.sqrt(Math.max(1e-12, s2 / n / (255 * 255) - mean * mean));
  return { mean: Math.round(mean * 1e5) / 1e5, std: Math.round(std * 1e5) / 1e5 };
}

/** Builds one training batch (augmented, normalised) for the given sample indices. */
export function makeBatch(
  data: FerDataset,
  indices: ArrayLike<number>,
  epoch: number,
  seed: number,
  aug: AugmentParams,
  norm: { mean: number; std: number },
): MixedBatch {
  const x = new Float32Array(indices.length * PIX);
  const y = new Int32Array(indices.length);
  const alpha = aug.mixupAlpha ?? 0;
  const mix = alpha > 0 ? { y2: new Int32Array(indices.length), lam: new Float32Array(indices.length) } : null;
  const other = mix ? new Float32Array(PIX) : null;
  const n = data.labels.length;
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b]!;
    const src = data.images.subarray(i * PIX, (i + 1) * PIX);
    const rng = new Rng(mixSeed(seed, epoch, i));
    applyAugment(src, FER_SIZE, drawAugment(rng, aug, FER_SIZE), x, b * PIX, norm.mean, norm.std);
    y[b] = data.labels[i]!;
    if (mix && other) {
      const mr = new Rng(mixSeed(seed, epoch, i, 0x3171));
      const l = mr.beta(alpha, alpha);
      const lam = Math.max(l, 1 - l);
      const j = mr.int(n);
      applyAugment(data.images.subarray(j * PIX, (j + 1) * PIX), FER_SIZE, drawAugment(mr, aug, FER_SIZE), other, 0, norm.mean, norm.std);
      for (let k = 0; k < PIX; k++) x[b * PIX + k] = lam * x[b * PIX + k]! + (1 - lam) * other[k]!;
      mix.y2[b] = data.labels[j]!;
      mix.lam[b] = lam;
    }
  }
  return mix ? { x, y, y2: mix.y2, lam: mix.lam } : { x, y };
}

/** A batch; with mixup, each image i is lam[i] of class y[i] and 1 - lam[i] of class y2[i]. */
export interface MixedBatch {
  x: Float32Array;
  y: Int32Array;
  y2?: Int32Array;
  lam?: Float32Array;
}
