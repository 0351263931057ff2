/** Face image lists -> float batches for onnxruntime (calibration, agreement), preprocessed as the runtime does. */
import { cropsToTensorData, SINGLE_VIEW, viewCount, type TestTimeViews } from '../model/index.js';
import { readGreyFace, type FaceImage } from './fer-images.js';

export interface FaceBatch {
  /** [rows, 1, size, size]: one block of the batch's faces per view (see cropsToTensorData). */
  data: Float32Array;
  /** Faces in the batch. */
  n: number;
  /** Images in `data`: n times the number of views. */
  rows: number;
  images: FaceImage[];
}

/** Yields batches of up to `batchSize` decoded, preprocessed faces. Unreadable images throw (with their path). */
export function* faceBatches(
  images: readonly FaceImage[],
  size: number,
  normalization: { mean: number; std: number },
  views: TestTimeViews = SINGLE_VIEW,
  batchSize = 64,
): Generator<FaceBatch> {
  for (let i = 0; i < images.length; i += batchSize) {
    const slice = images.slice(i, i + batchSize);
    const crops = slice.map((img) => readGreyFace(img.file, size));
    const data = cropsToTensorData(crops, { height: size, width: size }, normalization, views);
    yield { data, n: slice.length, rows: slice.length * viewCount(views), images: slice };
  }
}
