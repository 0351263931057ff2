/**
 * Training-time augmentation on 48x48 grey images, in plain TypeScript (no tensors, no I/O), deterministic under
 * a seed: the same (seed, epoch, sample) always gives the same image, whatever the batch order or a resume.
 *
 * One inverse affine warp with bilinear sampling and edge replication does rotation, scale change, translation
 * and the random crop (a crop of a random window re-scaled to 48x48 is exactly a scale + translation), then a
 * horizontal flip, then brightness and contrast. Output is written normalised ((v/255 - mean) / std) straight
 * into a batch buffer.
 */
import { Rng } from './rng.js';

export interface AugmentParams {
  /** Max rotation, degrees (uniform in +-). */
  rotateDeg: number;
  /** Zoom factor range (1 = none; > 1 zooms in, i.e. crops a smaller window). */
  scaleMin: number;
  scaleMax: number;
  /** Max translation as a fraction of the side (uniform in +-). */
  translate: number;
  /** Probability of a horizontal flip. */
  flipProb: number;
  /** Additive brightness, fraction of full range (uniform in +-). */
  brightness: number;
  /** Contrast factor range around the image mean (1 = none): uniform in [1 - c, 1 + c]. */
  contrast: number;
}

export const DEFAULT_AUGMENT: AugmentParams = {
  rotateDeg: 15,
  scaleMin: 0.9,
  scaleMax: 1.2,
  translate: 0.1,
  flipProb: 0.5,
  brightness: 0.2,
  contrast: 0.25,
};

export const NO_AUGMENT: AugmentParams = {
  rotateDeg: 0,
  scaleMin: 1,
  scaleMax: 1,
  translate: 0,
  flipProb: 0,
  brightness: 0,
  contrast: 0,
};

/** The random draw for one image (exposed so tests can check what was applied). */
export interface AugmentDraw {
  angle: number;
  scale: number;
  tx: number;
  ty: number;
  flip: boolean;
  brightness: number;
  contrast: number;
}

export function drawAugment(rng: Rng, p: AugmentParams, size: number): AugmentDraw {
  return {
    angle: (rng.uniform(-p.rotateDeg, p.rotateDeg) * Math.PI) / 180,
    scale: rng.uniform(p.scaleMin, p.scaleMax),
    tx: rng.uniform(-p.translate, p.translate) * size,
    ty: rng.uniform(-p.translate, p.translate) * size,
    flip: rng.next() < p.flipProb,
    brightness: rng.uniform(-p.brightness, p.brightness),
    contrast: rng.uniform(1 - p.contrast, 1 + p.contrast),
  };
}

/**
 * Applies `d` to the size x size grey image `src` (0..255) and writes normalised floats to out[offset..].
 * With the identity draw it reproduces the input exactly.
 */
export function applyAugment(
  src: Uint8Array,
  size: number,
  d: AugmentDraw,
  out: Float32Array,
  offset: number,
  mean: number,
  std: number,
): void {
  const c = (size - 1) / 2;
  const cos = Math.cos(d.angle) / d.scale;
  const sin = Math.sin(d.angle) / d.scale;
  const tmp = new Float32Array(size * size);
  let sum = 0;
  const identity = d.angle === 0 && d.scale === 1 && d.tx === 0 && d.ty === 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const xo = d.flip ? size - 1 - x : x;
      let v: number;
      if (identity) {
        v = src[y * size + xo]!;
      } else {
        // inverse map: output -> source (rotate by -angle, divide by scale, undo the shift)
        const u = xo - c - d.tx;
        const w = y - c - d.ty;
        let sx = cos * u + sin * w + c;
        let sy = -sin * u + cos * w + c;
        if (sx < 0) sx = 0;
        else if (sx > size - 1) sx = size - 1;
        if (sy < 0) sy = 0;
        else if (sy > size - 1) sy = size - 1;
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const x1 = x0 + 1 < size ? x0 + 1 : x0;
        const y1 = y0 + 1 < size ? y0 + 1 : y0;
        const fx = sx - x0;
        const fy = sy - y0;
        const a = src[y0 * size + x0]!;
        const b = src[y0 * size + x1]!;
        const e = src[y1 * size + x0]!;
        const f = src[y1 * size + x1]!;
        v = (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * e + fx * f);
      }
      tmp[y * size + x] = v;
      sum += v;
    }
  }
  const m = sum / (size * size);
  const add = d.brightness * 255;
  for (let i = 0; i < size * size; i++) {
    let v = (tmp[i]! - m) * d.contrast + m + add;
    if (v < 0) v = 0;
    else if (v > 255) v = 255;
    out[offset + i] = (v / 255 - mean) / std;
  }
}

/** Normalises without augmentation (evaluation), optionally mirrored. */
export function normalizeInto(src: Uint8Array, size: number, out: Float32Array, offset: number, mean: number, std: number, flip = false): void {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const xs = flip ? size - 1 - x : x;
      out[offset + y * size + x] = (src[y * size + xs]! / 255 - mean) / std;
    }
  }
}
