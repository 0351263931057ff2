/**
 * Training batches: the dataset's pixel statistics (the network's input normalisation) and one augmented,
 * normalised batch for a list of sample indices (augmentation seeded per image and epoch, so any split of a batch
 * over workers draws the same augmentations).
 */
import { applyAugment, drawAugment, normalizeInto, type AugmentParams } from './augment.js';
import { FER_SIZE, type FerDataset } from './fer2013.js';
import { mixSeed, Rng } from './rng.js';

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
): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(indices.length * PIX);
  const y = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b]!;
    const src = data.images.subarray(i * PIX, (i + 1) * PIX);
    const rng = new Rng(mixSeed(seed, epoch, i));
    applyAugment(src, FER_SIZE, drawAugment(rng, aug, FER_SIZE), x, b * PIX, norm.mean, norm.std);
    y[b] = data.labels[i]!;
  }
  return { x, y };
}
