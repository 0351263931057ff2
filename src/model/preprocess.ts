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

/**
 * The test-time views of each face: the crop at each zoom, and each of those mirrored left-right when `mirror`.
 * The classifier averages the probabilities of all views (manifest: cropZooms, testTimeFlip).
 */
export interface TestTimeViews {
  zooms: readonly number[];
  mirror: boolean;
}

export const SINGLE_VIEW: TestTimeViews = { zooms: [1], mirror: false };

export function viewsOf(manifest: Pick<ModelManifest, 'cropZooms' | 'testTimeFlip'>): TestTimeViews {
  return { zooms: manifest.cropZooms, mirror: manifest.testTimeFlip };
}

export function viewCount(v: TestTimeViews): number {
  return v.zooms.length * (v.mirror ? 2 : 1);
}

/**
 * Packs crops (each height*width grey bytes, row-major) into NCHW float32 with value = (pixel/255 - mean) / std,
 * one block of N faces per view: for each zoom, the zoomed crops (zoomCrop), then (with mirror) their mirror images.
 */
export function cropsToTensorData(
  crops: readonly Uint8Array[],
  geom: InputGeometry,
  norm: { mean: number; std: number },
  views: TestTimeViews = SINGLE_VIEW,
): Float32Array {
  const { height, width } = geom;
  const plane = height * width;
  const n = crops.length;
  const out = new Float32Array(plane * n * viewCount(views));
  const a = 1 / (255 * norm.std);
  const b = -norm.mean / norm.std;
  crops.forEach((raw, i) => {
    if (raw.length !== plane) throw new RangeError(`face crop ${i} has ${raw.length} bytes, the model needs ${height}x${width}`);
  });
  let block = 0;
  for (const zoom of views.zooms) {
    crops.forEach((raw, i) => {
      const crop = zoom === 1 ? raw : zoomCrop(raw, geom, zoom);
      const o = (block * n + i) * plane;
      for (let j = 0; j < plane; j++) out[o + j] = crop[j]! * a + b;
      if (views.mirror) {
        const m = ((block + 1) * n + i) * plane;
        for (let r = 0; r < height; r++) {
          const row = r * width;
          for (let c = 0; c < width; c++) out[m + row + c] = crop[row + width - 1 - c]! * a + b;
        }
      }
    });
    block += views.mirror ? 2 : 1;
  }
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

/** Averages the views of each face: [views * n, cols] (one block of n rows per view) -> [n, cols]. */
export function averageViews(data: Float32Array, n: number, views: number, cols: number): Float32Array {
  if (views === 1) return data;
  const out = new Float32Array(n * cols);
  for (let v = 0; v < views; v++) for (let i = 0; i < n * cols; i++) out[i]! += data[v * n * cols + i]!;
  for (let i = 0; i < n * cols; i++) out[i]! /= views;
  return out;
}

/**
 * The model's output for every view of `faces` faces ([views * faces, classes], one block per view) -> one row of
 * probabilities per face: softmax when the output is logits, then the views averaged.
 */
export function faceProbabilities(output: Float32Array, kind: 'logits' | 'probabilities', faces: number, views: number, classes: number): Float32Array {
  const rows = faces * views;
  return averageViews(kind === 'logits' ? softmaxRows(output, rows, classes) : Float32Array.from(output), faces, views, classes);
}
