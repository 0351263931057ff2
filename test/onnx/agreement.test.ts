/** The agreement loop computes exactly what the runtime classifier computes (normalisation, softmax, test-time flip). */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EmotionClassifier } from '../../src/model/emotion-classifier.js';
import { manifestPathFor } from '../../src/model/manifest.js';
import { compareModels, modelProbabilities } from '../../src/onnx/agreement.js';
import { evenlySpaced, listFaceImages, readGreyFace } from '../../src/onnx/fer-images.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { fer2013Dir } from '../helpers/fixtures.js';

let tmp: string;
let model: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'onnx-agree-'));
  model = await makeUntrainedModel(tmp, { seed: 8, thetaNoise: 0.01 });
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

for (const [flip, zooms] of [[false, [1]], [true, [1]], [true, [1, 1.1]]] as const) {
  test(`probabilities match EmotionClassifier.classifyRaw (testTimeFlip ${flip}, cropZooms ${zooms.join(' ')})`, async () => {
    const manifestFile = manifestPathFor(model);
    const m = JSON.parse(await readFile(manifestFile, 'utf8')) as Record<string, unknown>;
    await writeFile(manifestFile, JSON.stringify({ ...m, testTimeFlip: flip, cropZooms: zooms }));
    const images = evenlySpaced(listFaceImages(path.join(fer2013Dir, 'test')), 10);
    const rows: Float32Array[] = [];
    for await (const r of modelProbabilities(model, images, 4)) for (let i = 0; i < r.images.length; i++) rows.push(r.probs.slice(i * 7, i * 7 + 7));
    const c = await EmotionClassifier.load(model);
    const runtime = await c.classifyRaw(images.map((i) => readGreyFace(i.file, 48)));
    await c.close();
    assert.equal(rows.length, 10);
    rows.forEach((row, i) => row.forEach((p, k) => assert.ok(Math.abs(p - runtime[i]![k]!) < 1e-6, `image ${i} class ${k}: ${p} vs ${runtime[i]![k]}`)));
  });
}

test('a model agrees with itself completely', async () => {
  const a = await compareModels(model, model, evenlySpaced(listFaceImages(path.join(fer2013Dir, 'test')), 50));
  assert.equal(a.n, 50);
  assert.equal(a.top1Agreement, 1);
  assert.equal(a.maxAbsProbDiff, 0);
  assert.equal(a.accuracyA, a.accuracyB);
});
