/**
 * An untrained Deep_Emotion through the real exporter: `<dir>/deep_emotion.untrained.onnx` + its manifest
 * ("untrained": true, metrics null). Runtime tests use it before (and independently of) the trained model.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { exportNetwork } from './export.js';
import { buildManifest, writeManifest } from './manifest-writer.js';
import { writeModel } from './onnx-file.js';
import { randomDeepEmotion, type RandomNetworkOptions } from './random-network.js';

export const UNTRAINED_FILE = 'deep_emotion.untrained.onnx';
/** The normalisation the untrained model declares: value = (pixel/255 - 0.5) / 0.5, i.e. [-1, 1]. */
export const UNTRAINED_NORMALIZATION = { mean: 0.5, std: 0.5 };

/** Writes the untrained model and its manifest into `dir` (created if needed); returns the .onnx path. */
export async function makeUntrainedModel(dir: string, opts: RandomNetworkOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const seed = opts.seed ?? 1;
  const net = randomDeepEmotion({ ...opts, seed });
  const file = path.join(dir, UNTRAINED_FILE);
  await writeModel(file, exportNetwork(net, { untrained: 'true', seed: String(seed) }));
  await writeManifest(
    file,
    buildManifest(file, {
      name: 'deep_emotion',
      version: `untrained-seed${seed}`,
      description: 'Deep_Emotion with random weights: for tests only, its outputs mean nothing',
      inputSize: net.inputSize,
      normalization: UNTRAINED_NORMALIZATION,
      source: {
        architecture: 'Deep_Emotion (Minaee et al. 2019): spatial-transformer attention + 4-conv trunk, width 10',
        trainingData: 'none (random weights)',
        trainedBy: 'src/onnx/untrained.ts (makeUntrainedModel)',
      },
      untrained: true,
      metrics: null,
    }),
  );
  return file;
}
