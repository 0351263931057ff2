/**
 * Runs two models (e.g. float and int8) over the same labelled faces in onnxruntime-node and reports how often their
 * top-1 classes agree, how far their probabilities move, and each one's accuracy against the labels.
 */
import { loadManifest, faceProbabilities, viewCount, viewsOf } from '../model/index.js';
import { faceBatches } from './face-batches.js';
import type { FaceImage } from './fer-images.js';
import { GraphRunner } from './ort-runner.js';

export interface ModelAgreement {
  n: number;
  top1Agreement: number;
  maxAbsProbDiff: number;
  accuracyA: number;
  accuracyB: number;
}

function argmaxRow(p: Float32Array, row: number, cols: number): number {
  let best = 0;
  for (let c = 1; c < cols; c++) if (p[row * cols + c]! > p[row * cols + best]!) best = c;
  return best;
}

/** Probabilities of a model for each image, batch by batch, preprocessed as its manifest (next to it) says: crop zooms, test-time flip. */
export async function* modelProbabilities(modelPath: string, images: readonly FaceImage[], batchSize = 64): AsyncGenerator<{ probs: Float32Array; images: FaceImage[]; classes: number }> {
  const manifest = await loadManifest(modelPath);
  const size = manifest.input.shape[2];
  const runner = await GraphRunner.open(modelPath);
  try {
    const views = viewsOf(manifest);
    for (const batch of faceBatches(images, size, manifest.normalization, views, batchSize)) {
      // as the runtime does (EmotionClassifier): every view of every face in one run, probabilities averaged
      const out = (await runner.run(batch.data, batch.rows, size, [manifest.output.name])).get(manifest.output.name)!;
      const classes = out.data.length / batch.rows;
      const probs = faceProbabilities(out.data, manifest.output.kind, batch.n, viewCount(views), classes);
      yield { probs, images: batch.images, classes };
    }
  } finally {
    await runner.close();
  }
}

export async function compareModels(modelA: string, modelB: string, images: readonly FaceImage[]): Promise<ModelAgreement> {
  const [ma, mb] = [await loadManifest(modelA), await loadManifest(modelB)];
  if (ma.labels.join() !== mb.labels.join()) throw new Error(`${modelA} and ${modelB} have different label orders`);
  const labels = ma.labels;
  const a: Float32Array[] = [];
  for await (const r of modelProbabilities(modelA, images)) a.push(r.probs);
  let i = 0;
  let n = 0;
  let agree = 0;
  let correctA = 0;
  let correctB = 0;
  let maxDiff = 0;
  for await (const r of modelProbabilities(modelB, images)) {
    const pa = a[i++]!;
    const rows = r.images.length;
    for (let row = 0; row < rows; row++) {
      const ta = argmaxRow(pa, row, r.classes);
      const tb = argmaxRow(r.probs, row, r.classes);
      const truth = labels.indexOf(r.images[row]!.label);
      if (ta === tb) agree++;
      if (ta === truth) correctA++;
      if (tb === truth) correctB++;
      for (let c = 0; c < r.classes; c++) maxDiff = Math.max(maxDiff, Math.abs(pa[row * r.classes + c]! - r.probs[row * r.classes + c]!));
      n++;
    }
  }
  return { n, top1Agreement: agree / n, maxAbsProbDiff: maxDiff, accuracyA: correctA / n, accuracyB: correctB / n };
}
