/** Face crops (grey bytes) -> the model's input tensor data. Pure: parameters come from the model manifest. */
import type { ModelManifest } from './manifest.js';

export interface InputGeometry {
  height: number;
  width: number;
}

export function inputGeometry(manifest: ModelManifest): InputGeometry {
  const [, , height, width] = manifest.input.shape;
  return { height, width };
}

export interface PreprocessOptions {
  /** Append each crop's left-right mirror image after the originals (batch 2N) for test-time flip averaging. */
  mirror?: boolean;
  /** The manifest's cropZoom: enlarge each crop by this factor around its centre first (1 = as it is). */
  zoom?: number;
}

/**
 * Packs crops (each height*width grey bytes, row-major) into NCHW float32 with value = (pixel/255 - mean) / std,
 * optionally zoomed (zoomCrop) and followed by mirrored copies.
 */
export function cropsToTensorData(
  crops: readonly Uint8Array[],
  geom: InputGeometry,
  norm: { mean: number; std: number },
  { mirror = false, zoom = 1 }: PreprocessOptions = {},
): Float32Array {
  const { height, width } = geom;
  const plane = height * width;
  const n = crops.length;
  const out = new Float32Array(plane * n * (mirror ? 2 : 1));
  const a = 1 / (255 * norm.std);
  const b = -norm.mean / norm.std;
  crops.forEach((raw, i) => {
    if (raw.length !== plane) throw new RangeError(`face crop ${i} has ${raw.length} bytes, the model needs ${height}x${width}`);
    const crop = zoom === 1 ? raw : zoomCrop(raw, geom, zoom);
    const o = i * plane;
    for (let j = 0; j < plane; j++) out[o + j] = crop[j]! * a + b;
    if (mirror) {
      const m = (n + i) * plane;
      for (let r = 0; r < height; r++) {
        const row = r * width;
        for (let c = 0; c < width; c++) out[m + row + c] = crop[row + width - 1 - c]! * a + b;
      }
    }
  });
  return out;
}

/**
 * The crop enlarged `zoom` times around its centre, same size (the outer border is cut away), bilinear, pixel
 * values as floats 0..255. The same inverse map as the training augmentation's scale change (src/training/
 * augment.ts): output pixel p samples the input at c + (p - c) / zoom, c = (side - 1) / 2.
 */
export function zoomCrop(crop: Uint8Array, geom: InputGeometry, zoom: number): Float32Array {
  if (!(zoom >= 1)) throw new RangeError(`crop zoom must be >= 1, got ${zoom}`);
  const { height, width } = geom;
  const out = new Float32Array(height * width);
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  for (let y = 0; y < height; y++) {
    const sy = cy + (y - cy) / zoom;
    const y0 = Math.floor(sy);
    const y1 = Math.min(height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = cx + (x - cx) / zoom;
      const x0 = Math.floor(sx);
      const x1 = Math.min(width - 1, x0 + 1);
      const fx = sx - x0;
      const top = crop[y0 * width + x0]! * (1 - fx) + crop[y0 * width + x1]! * fx;
      const bottom = crop[y1 * width + x0]! * (1 - fx) + crop[y1 * width + x1]! * fx;
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Numerically stable softmax of each row of a [rows, cols] matrix. */
export function softmaxRows(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, data[r * cols + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(data[r * cols + c]! - max);
      out[r * cols + c] = e;
      sum += e;
    }
    for (let c = 0; c < cols; c++) out[r * cols + c]! /= sum;
  }
  return out;
}

/** Averages row i with row i + n (the mirrored copy) for i < n: [2n, cols] -> [n, cols]. */
export function averageMirrorPairs(data: Float32Array, n: number, cols: number): Float32Array {
  const out = new Float32Array(n * cols);
  for (let i = 0; i < n * cols; i++) out[i] = (data[i]! + data[n * cols + i]!) / 2;
  return out;
}
