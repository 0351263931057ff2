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
 * The test-time views of each face: the crop at each zoom (at each shift: ten-crop style corner windows), and each
 * of those mirrored left-right when `mirror`. The classifier averages the probabilities of all views (manifest:
 * cropZooms, testTimeFlip).
 */
export interface TestTimeViews {
  zooms: readonly number[];
  mirror: boolean;
  /**
   * Where each zoomed window's centre sits, in crop pixels from the crop's centre (default: [[0, 0]], centred).
   * Ten-crop of 44 of 48: zoom 48/44 at [0, 0] and the four corners [+-2, +-2], mirrored.
   */
  shifts?: ReadonlyArray<readonly [number, number]>;
}

/** One view: the window (zoom around the crop's centre moved by dx, dy) and whether it is mirrored. */
export interface CropView {
  zoom: number;
  dx: number;
  dy: number;
  mirror: boolean;
}

export const SINGLE_VIEW: TestTimeViews = { zooms: [1], mirror: false };

export function viewsOf(manifest: Pick<ModelManifest, 'cropZooms' | 'testTimeFlip'>): TestTimeViews {
  return { zooms: manifest.cropZooms, mirror: manifest.testTimeFlip };
}

/** The views in batch order: for each zoom, for each shift, the window then (with mirror) its mirror image. */
export function expandViews(v: TestTimeViews): CropView[] {
  const out: CropView[] = [];
  for (const zoom of v.zooms) {
    for (const [dx, dy] of v.shifts ?? [[0, 0] as const]) {
      out.push({ zoom, dx, dy, mirror: false });
      if (v.mirror) out.push({ zoom, dx, dy, mirror: true });
    }
  }
  return out;
}

export function viewCount(v: TestTimeViews): number {
  return v.zooms.length * (v.shifts?.length ?? 1) * (v.mirror ? 2 : 1);
}

/** Ten-crop: a `window`-pixel window of a `side`-pixel crop at the centre and the four corners, each mirrored. */
export function tenCrop(side: number, window: number): TestTimeViews {
  if (!(window > 0 && window <= side)) throw new RangeError(`ten-crop window must be 1..${side} pixels, got ${window}`);
  const d = (side - window) / 2;
  return { zooms: [side / window], mirror: true, shifts: [[0, 0], [-d, -d], [d, -d], [-d, d], [d, d]] };
}

/**
 * Packs crops (each height*width grey bytes, row-major) into NCHW float32 with value = (pixel/255 - mean) / std,
 * one block of N faces per view (expandViews order): each view's window (windowCrop), mirrored for mirror views.
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
  const all = expandViews(views);
  const out = new Float32Array(plane * n * all.length);
  const a = 1 / (255 * norm.std);
  const b = -norm.mean / norm.std;
  crops.forEach((raw, i) => {
    if (raw.length !== plane) throw new RangeError(`face crop ${i} has ${raw.length} bytes, the model needs ${height}x${width}`);
  });
  all.forEach((view, block) => {
    crops.forEach((raw, i) => {
      const crop = view.zoom === 1 && view.dx === 0 && view.dy === 0 ? raw : windowCrop(raw, geom, view.zoom, view.dx, view.dy);
      const o = (block * n + i) * plane;
      if (!view.mirror) {
        for (let j = 0; j < plane; j++) out[o + j] = crop[j]! * a + b;
        return;
      }
      for (let r = 0; r < height; r++) {
        const row = r * width;
        for (let c = 0; c < width; c++) out[o + row + c] = crop[row + width - 1 - c]! * a + b;
      }
    });
  });
  return out;
}

/**
 * The crop enlarged `zoom` times around its centre, same size (the outer border is cut away), bilinear, pixel
 * values as floats 0..255. The same inverse map as the training augmentation's scale change (src/training/
 * augment.ts): output pixel p samples the input at c + (p - c) / zoom, c = (side - 1) / 2.
 */
export function zoomCrop(crop: Uint8Array, geom: InputGeometry, zoom: number): Float32Array {
  return windowCrop(crop, geom, zoom, 0, 0);
}

/**
 * As zoomCrop, around a centre moved by (dx, dy) pixels: output pixel p samples the input at c + d + (p - c) / zoom
 * (clamped to the crop: a corner window of a ten-crop reaches a fraction of a pixel past the edge).
 */
export function windowCrop(crop: Uint8Array, geom: InputGeometry, zoom: number, dx: number, dy: number): Float32Array {
  if (!(zoom >= 1)) throw new RangeError(`crop zoom must be >= 1, got ${zoom}`);
  const { height, width } = geom;
  const out = new Float32Array(height * width);
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  for (let y = 0; y < height; y++) {
    const sy = clamp(cy + dy + (y - cy) / zoom, height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = clamp(cx + dx + (x - cx) / zoom, width - 1);
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
 * probabilities per face: softmax of logits / temperature (the manifest's temperature, fitted on validation: 1 =
 * none), or for a probabilities output the same rescaling (p^(1/T), renormalised), then the views averaged.
 */
export function faceProbabilities(output: Float32Array, kind: 'logits' | 'probabilities', faces: number, views: number, classes: number, temperature = 1): Float32Array {
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new RangeError(`temperature must be a positive number, got ${temperature}`);
  const rows = faces * views;
  let probs: Float32Array;
  if (kind === 'logits') {
    probs = softmaxRows(temperature === 1 ? output : output.map((z) => z / temperature), rows, classes);
  } else if (temperature === 1) {
    probs = Float32Array.from(output);
  } else {
    probs = softmaxRows(output.map((p) => Math.log(Math.max(p, 1e-30)) / temperature), rows, classes);
  }
  return averageViews(probs, faces, views, classes);
}
