import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { loadGrayImage } from '../../src/detection/haar-detector.js';
import { EmotionClassifier, ModelError } from '../../src/model/emotion-classifier.js';
import { EMOTIONS } from '../../src/model/labels.js';
import { ManifestError, manifestPathFor } from '../../src/model/manifest.js';
import { zoomCrop } from '../../src/model/preprocess.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { fer2013Dir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-classifier-'));
let model: string;
const faces = EMOTIONS.map((e) => {
  const dir = path.join(fer2013Dir, 'test', e);
  return loadGrayImage(path.join(dir, readdirSync(dir)[0]!), 48);
});

before(async () => {
  model = await makeUntrainedModel(path.join(tmp, 'model'));
});

/** A copy of the untrained model under another name, with its manifest edited. */
function variant(name: string, edit: (m: Record<string, unknown>) => void, onnxBytes?: Buffer): string {
  const file = path.join(tmp, `${name}.onnx`);
  if (onnxBytes) writeFileSync(file, onnxBytes);
  else copyFileSync(model, file);
  const manifest = JSON.parse(readFileSync(manifestPathFor(model), 'utf8')) as Record<string, unknown>;
  manifest.file = path.basename(file);
  edit(manifest);
  writeFileSync(manifestPathFor(file), JSON.stringify(manifest));
  return file;
}

test('classifies a batch of real face crops into probabilities over the seven classes', async () => {
  const c = await EmotionClassifier.load(model);
  const out = await c.classify(faces);
  assert.equal(out.length, 7);
  for (const scores of out) {
    assert.deepEqual(Object.keys(scores).sort(), [...EMOTIONS].sort());
    const sum = Object.values(scores).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `sums to ${sum}`);
  }
  const single = await c.classify([faces[3]!]);
  for (const e of EMOTIONS) assert.ok(Math.abs(single[0]![e] - out[3]![e]) < 1e-5, 'batching does not change a face\'s scores');
  assert.deepEqual(await c.classify([]), []);
  await c.close();
});

test('test-time flip averages a face with its mirror image', async () => {
  const plain = await EmotionClassifier.load(model);
  const flip = await EmotionClassifier.load(variant('flip', (m) => (m.testTimeFlip = true)));
  const mirrored = faces.map((f) => {
    const m = new Uint8Array(f.length);
    for (let r = 0; r < 48; r++) for (let c = 0; c < 48; c++) m[r * 48 + c] = f[r * 48 + 47 - c]!;
    return m;
  });
  const [a, b, avg] = [await plain.classifyRaw(faces), await plain.classifyRaw(mirrored), await flip.classifyRaw(faces)];
  for (let i = 0; i < faces.length; i++) for (let k = 0; k < 7; k++) assert.ok(Math.abs((a[i]![k]! + b[i]![k]!) / 2 - avg[i]![k]!) < 1e-5);
  await plain.close();
  await flip.close();
});

test('crop zooms: the classifier sees each face enlarged around its centre, views averaged (cropZooms in the manifest)', async () => {
  const plain = await EmotionClassifier.load(model);
  const zoomed = await EmotionClassifier.load(variant('zoom', (m) => (m.cropZooms = [1.1])));
  // the zoomed crop fed to the plain model by hand (rounded to bytes: within a few thousandths)
  const byHand = faces.map((f) => Uint8Array.from(zoomCrop(f, { height: 48, width: 48 }, 1.1), (v) => Math.round(v)));
  const [a, b, plainScores] = [await zoomed.classifyRaw(faces), await plain.classifyRaw(byHand), await plain.classifyRaw(faces)];
  let moved = 0;
  for (let i = 0; i < faces.length; i++)
    for (let k = 0; k < 7; k++) {
      assert.ok(Math.abs(a[i]![k]! - b[i]![k]!) < 5e-3, `face ${i} class ${k}: ${a[i]![k]} vs ${b[i]![k]}`);
      moved = Math.max(moved, Math.abs(a[i]![k]! - plainScores[i]![k]!));
    }
  assert.ok(moved > 1e-4, 'the zoom changes what the network sees');
  // two zooms: the average of the two single-view results
  const both = await EmotionClassifier.load(variant('zooms', (m) => (m.cropZooms = [1, 1.1])));
  const avg = await both.classifyRaw(faces);
  for (let i = 0; i < faces.length; i++) for (let k = 0; k < 7; k++) assert.ok(Math.abs((plainScores[i]![k]! + a[i]![k]!) / 2 - avg[i]![k]!) < 1e-5);
  await both.close();
  await plain.close();
  await zoomed.close();
});

test('temperature: the manifest\'s temperature divides the logits before softmax; none = 1 (older manifests)', async () => {
  const plain = await EmotionClassifier.load(model);
  const one = await EmotionClassifier.load(variant('t1', (m) => (m.temperature = 1)));
  const hot = await EmotionClassifier.load(variant('t2', (m) => (m.temperature = 2)));
  const [p, p1, p2] = [await plain.classifyRaw(faces), await one.classifyRaw(faces), await hot.classifyRaw(faces)];
  assert.equal(plain.manifest.temperature, undefined, 'the untrained manifest carries no temperature');
  for (let i = 0; i < faces.length; i++) {
    // softmax(z / 2) = p^(1/2) / sum p^(1/2) for p = softmax(z)
    const root = Array.from(p[i]!, (v) => Math.sqrt(v));
    const sum = root.reduce((a, b) => a + b, 0);
    for (let k = 0; k < 7; k++) {
      assert.ok(Math.abs(p1[i]![k]! - p[i]![k]!) < 1e-6, 'temperature 1 changes nothing');
      assert.ok(Math.abs(p2[i]![k]! - root[k]! / sum) < 1e-5, `face ${i} class ${k}: ${p2[i]![k]} vs ${root[k]! / sum}`);
    }
  }
  // with test-time views: each view tempered, then averaged (what calibrate-temperature fits)
  const both = await EmotionClassifier.load(variant('t2-flip', (m) => ((m.temperature = 2), (m.testTimeFlip = true))));
  const mirrored = faces.map((f) => Uint8Array.from({ length: 48 * 48 }, (_, j) => f[Math.floor(j / 48) * 48 + 47 - (j % 48)]!));
  const [a, b, avg] = [p2, await hot.classifyRaw(mirrored), await both.classifyRaw(faces)];
  for (let i = 0; i < faces.length; i++) for (let k = 0; k < 7; k++) assert.ok(Math.abs((a[i]![k]! + b[i]![k]!) / 2 - avg[i]![k]!) < 1e-5);
  for (const c of [plain, one, hot, both]) await c.close();
  await assert.rejects(EmotionClassifier.load(variant('t0', (m) => (m.temperature = 0))), /manifest .* is invalid: temperature/);
  await assert.rejects(EmotionClassifier.load(variant('tneg', (m) => (m.temperature = -1))), /manifest .* is invalid: temperature/);
});

test('fewer views than the manifest declares (ClassifierOptions.views, e.g. a Pi 4): the same as a manifest with those views', async () => {
  const four = variant('four-views', (m) => ((m.cropZooms = [1, 1.1]), (m.testTimeFlip = true), (m.temperature = 0.8)));
  const oneView = variant('one-view', (m) => ((m.cropZooms = [1]), (m.testTimeFlip = false), (m.temperature = 0.8)));
  const chosen = await EmotionClassifier.load(four, { views: { zooms: [1], flip: false } });
  const byManifest = await EmotionClassifier.load(oneView);
  const all = await EmotionClassifier.load(four);
  assert.deepEqual(chosen.views, { zooms: [1], mirror: false });
  assert.deepEqual(all.views, { zooms: [1, 1.1], mirror: true });
  const [a, b, c] = [await chosen.classifyRaw(faces), await byManifest.classifyRaw(faces), await all.classifyRaw(faces)];
  let differs = 0;
  for (let i = 0; i < faces.length; i++)
    for (let k = 0; k < 7; k++) {
      assert.ok(Math.abs(a[i]![k]! - b[i]![k]!) < 1e-6);
      differs = Math.max(differs, Math.abs(a[i]![k]! - c[i]![k]!));
    }
  assert.ok(differs > 1e-4, 'four views give other scores than one');
  const flipOnly = await EmotionClassifier.load(four, { views: { zooms: [1] } });
  assert.deepEqual(flipOnly.views, { zooms: [1], mirror: true }, 'an unset field keeps the manifest\'s');
  for (const cl of [chosen, byManifest, all, flipOnly]) await cl.close();
  await assert.rejects(EmotionClassifier.load(four, { views: { zooms: [0.5] } }), (e: unknown) => e instanceof ModelError && /zooms must be one to four numbers from 1 to 2, got \[0\.5\]/.test(e.message));
  await assert.rejects(EmotionClassifier.load(four, { views: { zooms: [] } }), /zooms must be one to four/);
});

test('missing, empty or corrupt model files and bad manifests are clear errors', async () => {
  await assert.rejects(EmotionClassifier.load(path.join(tmp, 'none.onnx')), (e: unknown) => e instanceof ModelError && /not found/.test(e.message));
  await assert.rejects(EmotionClassifier.load(variant('empty', () => {}, Buffer.alloc(0))), /is empty/);
  await assert.rejects(EmotionClassifier.load(variant('garbage', () => {}, Buffer.from('this is not a protobuf at all'.repeat(20)))), /could not be loaded by onnxruntime \(corrupt or not ONNX\?\)/);
  const truncated = readFileSync(model).subarray(0, 2000);
  await assert.rejects(EmotionClassifier.load(variant('truncated', () => {}, truncated)), /could not be loaded by onnxruntime/);
  const noManifest = path.join(tmp, 'lonely.onnx');
  copyFileSync(model, noManifest);
  await assert.rejects(EmotionClassifier.load(noManifest), (e: unknown) => e instanceof ManifestError && /manifest .*lonely\.json not found/.test(e.message));
  await assert.rejects(EmotionClassifier.load(variant('labels', (m) => (m.labels = ['happy']))), /manifest .* is invalid: labels/);
  await assert.rejects(EmotionClassifier.load(variant('zoom-out', (m) => (m.cropZooms = [0.5]))), /manifest .* is invalid: cropZooms/);
});

test('a manifest that disagrees with the model is rejected before the kiosk starts', async () => {
  await assert.rejects(
    EmotionClassifier.load(variant('shape', (m) => ((m.input as { shape: unknown[] }).shape = [-1, 1, 64, 64]))),
    /disagree on the input shape: model \[.*48, 48\], manifest \[-1, 1, 64, 64\]/,
  );
  await assert.rejects(EmotionClassifier.load(variant('inname', (m) => ((m.input as { name: string }).name = 'pixels'))), /input "pixels" is not among the model's inputs/);
  await assert.rejects(EmotionClassifier.load(variant('outname', (m) => ((m.output as { name: string }).name = 'nope'))), /output "nope" is not among the model's outputs/);
});
