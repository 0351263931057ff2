/**
 * Export parity: the same checkpoint through TensorFlow.js (the training code's own DeepEmotion.predict) and through
 * the ONNX export in onnxruntime-node gives the same probabilities on real FER2013 face crops.
 * The checkpoint is written by the training code (saveCheckpoint) with every parameter moved off its initial value
 * (theta layer included, so the attention warp is not the identity; batch-norm statistics not 0/1, so folding is
 * exercised).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { exportCheckpoint } from '../../src/onnx/export-checkpoint.js';
import { evenlySpaced, listFaceImages, readGreyFace } from '../../src/onnx/fer-images.js';
import { GraphRunner } from '../../src/onnx/ort-runner.js';
import { seededRandom } from '../../src/util/rng.js';
import { loadManifest } from '../../src/model/manifest.js';
import { softmaxRows, cropsToTensorData } from '../../src/model/preprocess.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/training/checkpoint.js';
import { DeepEmotion, defaultModelConfig, type ModelConfig } from '../../src/training/model.js';
import { fer2013Dir } from '../helpers/fixtures.js';

const FER_TEST = path.join(fer2013Dir, 'test');
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'onnx-parity-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A model whose every parameter has been moved off its initialisation, saved as a training checkpoint. */
async function perturbedCheckpoint(dir: string, over: Partial<ModelConfig>, seed: number): Promise<void> {
  const model = new DeepEmotion(defaultModelConfig(over), seed);
  const rand = seededRandom(seed);
  const noise = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() - 0.5) * 2 * scale);
  for (const s of model.specs) {
    const v = model.p(s.name);
    const n = v.size;
    let values: Float32Array;
    if (s.name.endsWith('movingVariance')) values = Float32Array.from(noise(n, 0.4), (x) => 0.8 + x);
    else if (s.name.endsWith('gamma')) values = Float32Array.from(noise(n, 0.3), (x) => 1 + x);
    else if (s.name === 'loc.fc2.kernel') values = noise(n, 0.01);
    else if (s.name === 'loc.fc2.bias') values = Float32Array.from([0.9, 0.1, 0.05, -0.1, 0.95, -0.05]);
    else if (s.init === 'zeros') values = noise(n, 0.1);
    else values = (await v.data()) as Float32Array;
    v.assign(tf.tensor(values, v.shape));
  }
  await saveCheckpoint(dir, model, {
    epoch: 3, optimizerStep: 0, seed, bestValAcc: 0, bestEpoch: 3, epochsWithoutImprovement: 0, history: [], options: {}, backend: tf.getBackend(), savedAt: '',
  });
  model.dispose();
}

async function parity(over: Partial<ModelConfig>, seed: number): Promise<{ maxDiff: number; thetaSpread: number }> {
  const ckDir = path.join(tmp, `run-${seed}`, 'best');
  await perturbedCheckpoint(ckDir, over, seed);
  const onnxFile = path.join(tmp, `model-${seed}.onnx`);
  const exported = await exportCheckpoint(ckDir, onnxFile);
  assert.equal(exported.epoch, 3);
  assert.match(exported.manifest.version, new RegExp(`run-${seed}-e3$`));
  const manifest = await loadManifest(onnxFile);

  const images = evenlySpaced(listFaceImages(FER_TEST), 12);
  const data = cropsToTensorData(images.map((i) => readGreyFace(i.file, 48)), { height: 48, width: 48 }, manifest.normalization);

  const { model } = await loadCheckpoint(ckDir);
  const x = tf.tensor4d(data, [images.length, 48, 48, 1]);
  const tfProbs = (await model.predict(x).data()) as Float32Array;
  const theta = (await model.theta(x).data()) as Float32Array;
  x.dispose();
  model.dispose();

  const runner = await GraphRunner.open(onnxFile);
  const logits = (await runner.run(data, images.length, 48)).get('logits')!;
  await runner.close();
  const ortProbs = softmaxRows(logits.data, images.length, 7);

  let maxDiff = 0;
  for (let i = 0; i < tfProbs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(tfProbs[i]! - ortProbs[i]!));
  // how far theta is from the identity across the batch (proves the warp does something)
  let thetaSpread = 0;
  for (let i = 0; i < images.length; i++) thetaSpread = Math.max(thetaSpread, Math.abs(theta[i * 6]! - 1), Math.abs(theta[i * 6 + 1]!), Math.abs(theta[i * 6 + 2]!));
  return { maxDiff, thetaSpread };
}

test('ONNX export matches TensorFlow.js probabilities on real faces (attention, BN after every conv, conv3-4 wider)', async (t) => {
  const { maxDiff, thetaSpread } = await parity({ batchNorm: 'all', attention: true, width: 12, width2: 20, hidden: 40 }, 11);
  t.diagnostic(`max |p_tfjs - p_onnx| = ${maxDiff.toExponential(2)}, theta spread ${thetaSpread.toFixed(3)}`);
  assert.ok(thetaSpread > 0.02, `theta should not be the identity in this test (spread ${thetaSpread})`);
  assert.ok(maxDiff <= 1e-4, `max |p_tfjs - p_onnx| = ${maxDiff}`);
});

test('ONNX export matches TensorFlow.js with the reference batch norm (bn4 only)', async (t) => {
  const { maxDiff } = await parity({ batchNorm: 'original', attention: true }, 12);
  t.diagnostic(`max |p_tfjs - p_onnx| = ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff <= 1e-4, `max |p_tfjs - p_onnx| = ${maxDiff}`);
});
