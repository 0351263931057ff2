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
 * Packs crops (each height*width grey bytes, row-major) into NCHW float32 with value = (pixel/255 - mean) / std.
 * With `mirror`, each crop's left-right mirror image follows the originals (batch 2N) for test-time flip averaging.
 */
export function cropsToTensorData(
  crops: readonly Uint8Array[],
  geom: InputGeometry,
  norm: { mean: number; std: number },
  mirror = false,
): Float32Array {
  const { height, width } = geom;
  const plane = height * width;
  const n = crops.length;
  const out = new Float32Array(plane * n * (mirror ? 2 : 1));
  const a = 1 / (255 * norm.std);
  const b = -norm.mean / norm.std;
  crops.forEach((crop, i) => {
    if (crop.length !== plane) throw new RangeError(`face crop ${i} has ${crop.length} bytes, the model needs ${height}x${width}`);
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
