/** Face image lists -> float batches for onnxruntime (calibration, agreement), preprocessed as the runtime does. */
import { cropsToTensorData } from '../model/preprocess.js';
import { readGreyFace, type FaceImage } from './fer-images.js';

export interface FaceBatch {
  /** [n, 1, size, size], or [2n, ...] with the mirrored copies after the originals when `mirror` was asked for. */
  data: Float32Array;
  n: number;
  images: FaceImage[];
}

export interface FacePreprocessing {
  normalization: { mean: number; std: number };
  /** The manifest's cropZoom (default 1). */
  zoom?: number;
  /** Append mirrored copies (test-time flip). */
  mirror?: boolean;
}

/** Yields batches of up to `batchSize` decoded, preprocessed faces. Unreadable images throw (with their path). */
export function* faceBatches(images: readonly FaceImage[], size: number, prep: FacePreprocessing, batchSize = 64): Generator<FaceBatch> {
  for (let i = 0; i < images.length; i += batchSize) {
    const slice = images.slice(i, i + batchSize);
    const crops = slice.map((img) => readGreyFace(img.file, size));
    const data = cropsToTensorData(crops, { height: size, width: size }, prep.normalization, { mirror: prep.mirror ?? false, zoom: prep.zoom ?? 1 });
    yield { data, n: slice.length, images: slice };
  }
}
