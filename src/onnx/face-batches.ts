/** Face image lists -> normalised float batches for onnxruntime (calibration, agreement, fallback evaluation). */
import { normaliseBatch, readGreyFace, type FaceImage } from './fer-images.js';

export interface FaceBatch {
  data: Float32Array;
  n: number;
  images: FaceImage[];
}

/** Yields batches of up to `batchSize` decoded, normalised faces. Unreadable images throw (with their path). */
export function* faceBatches(images: readonly FaceImage[], size: number, norm: { mean: number; std: number }, batchSize = 64): Generator<FaceBatch> {
  for (let i = 0; i < images.length; i += batchSize) {
    const slice = images.slice(i, i + batchSize);
    const crops = slice.map((img) => readGreyFace(img.file, size));
    yield { data: normaliseBatch(crops, norm), n: slice.length, images: slice };
  }
}
