/**
 * Training-time augmentation on 48x48 grey images, in plain TypeScript (no tensors, no I/O), deterministic under
 * a seed: the same (seed, epoch, sample) always gives the same image, whatever the batch order or a resume.
 *
 * One inverse affine warp with bilinear sampling and edge replication does rotation, scale change, translation
 * and the random crop (a crop of a random window re-scaled to 48x48 is exactly a scale + translation), then a
 * horizontal flip, then brightness and contrast. Output is written normalised ((v/255 - mean) / std) straight
 * into a batch buffer.
 */
import { Rng } from '../util/index.js';

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
  /**
   * Pad-and-crop (torchvision RandomCrop(48, padding=k)): after the warp and the colour changes, shift the image by
   * whole pixels uniform in [-k, k] on each axis, filling what comes in with black (pixel 0). 0 or absent = off.
   */
  padCrop?: number;
  /**
   * Random erasing (Zhong et al. 2017, torchvision RandomErasing defaults): with this probability, one rectangle of
   * area uniform in [erasingAreaMin, erasingAreaMax] of the image and aspect ratio log-uniform in [0.3, 3.3] is set
   * to 0 after normalisation (the data set's mean grey). 0 or absent = off.
   */
  erasingProb?: number;
  erasingAreaMin?: number;
  erasingAreaMax?: number;
  /**
   * Mixup (Zhang et al. 2018): each training image is blended with a partner drawn from the whole training set,
   * x = lam x_i + (1 - lam) x_j, target lam y_i + (1 - lam) y_j, lam ~ Beta(alpha, alpha) folded to >= 0.5 (the
   * image's own label dominates). Seeded per (seed, epoch, image), so independent of batch order and shards.
   * 0 or absent = off. Applied in batch.ts (it needs the data set), not by applyAugment.
   */
  mixupAlpha?: number;
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
  /** Pad-and-crop shift in whole pixels (absent = none). */
  shiftX?: number;
  shiftY?: number;
  /** Erased rectangle [x0, y0, w, h] in output pixels (absent = none). */
  erase?: [number, number, number, number];
}

/**
 * Draws in a fixed order: the base transform first, then (only when enabled) pad-and-crop, then erasing; a
 * configuration without the optional ones draws exactly what it did before they existed.
 */
export function drawAugment(rng: Rng, p: AugmentParams, size: number): AugmentDraw {
  const d = drawBase(rng, p, size);
  const k = p.padCrop ?? 0;
  if (k > 0) {
    d.shiftX = rng.int(2 * k + 1) - k;
    d.shiftY = rng.int(2 * k + 1) - k;
  }
  const pe = p.erasingProb ?? 0;
  if (pe > 0 && rng.next() < pe) {
    const amin = p.erasingAreaMin ?? 0.02;
    const amax = p.erasingAreaMax ?? 0.33;
    // as torchvision: up to 10 attempts to fit the rectangle inside the image
    for (let attempt = 0; attempt < 10; attempt++) {
      const area = rng.uniform(amin, amax) * size * size;
      const ratio = Math.exp(rng.uniform(Math.log(0.3), Math.log(1 / 0.3)));
      const h = Math.round(Math.sqrt(area * ratio));
      const w = Math.round(Math.sqrt(area / ratio));
      if (h < 1 || w < 1 || h > size || w > size) continue;
      d.erase = [rng.int(size - w + 1), rng.int(size - h + 1), w, h];
      break;
    }
  }
  return d;
}

function drawBase(rng: Rng, p: AugmentParams, size: number): AugmentDraw {
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
  const sx = d.shiftX ?? 0;
  const sy = d.shiftY ?? 0;
  if (sx !== 0 || sy !== 0) {
    // output (x, y) shows (x - sx, y - sy); what comes in from outside is black
    const black = (0 - mean) / std;
    const copy = out.slice(offset, offset + size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const xs = x - sx;
        const ys = y - sy;
        out[offset + y * size + x] = xs >= 0 && xs < size && ys >= 0 && ys < size ? copy[ys * size + xs]! : black;
      }
    }
  }
  if (d.erase) {
    const [x0, y0, w, h] = d.erase;
    for (let y = y0; y < y0 + h; y++) out.fill(0, offset + y * size + x0, offset + y * size + x0 + w);
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
