/**
 * Runs two models (e.g. float and int8) over the same labelled faces in onnxruntime-node and reports how often their
 * top-1 classes agree, how far their probabilities move, and each one's accuracy against the labels.
 */
import { loadManifest } from '../model/manifest.js';
import { softmaxRows } from '../model/preprocess.js';
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

/** Left-right mirror of each [size, size] image of an NCHW (C = 1) batch. */
export function mirrorBatch(data: Float32Array, n: number, size: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < size; r++) {
      const row = (b * size + r) * size;
      for (let c = 0; c < size; c++) out[row + c] = data[row + size - 1 - c]!;
    }
  return out;
}

/** Probabilities of a model (with test-time flip averaging when its manifest asks for it) (manifest next to it) for each image, batch by batch. */
export async function* modelProbabilities(modelPath: string, images: readonly FaceImage[], batchSize = 64): AsyncGenerator<{ probs: Float32Array; images: FaceImage[]; classes: number }> {
  const manifest = await loadManifest(modelPath);
  const size = manifest.input.shape[2];
  const runner = await GraphRunner.open(modelPath);
  try {
    for (const batch of faceBatches(images, size, manifest.normalization, batchSize)) {
      const toProbs = async (data: Float32Array) => {
        const out = (await runner.run(data, batch.n, size, [manifest.output.name])).get(manifest.output.name)!;
        const classes = out.data.length / batch.n;
        return { classes, probs: manifest.output.kind === 'logits' ? softmaxRows(out.data, batch.n, classes) : Float32Array.from(out.data) };
      };
      const { classes, probs } = await toProbs(batch.data);
      if (manifest.testTimeFlip) {
        // as the runtime does: average with the left-right mirror image of each face
        const mirrored = (await toProbs(mirrorBatch(batch.data, batch.n, size))).probs;
        for (let i = 0; i < probs.length; i++) probs[i] = (probs[i]! + mirrored[i]!) / 2;
      }
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
