/** The model check with real files: the untrained test network (flagged), a corrupt one, a missing manifest. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { checkCascade, checkModelLoad, type ModelLoad } from '../../src/doctor/model.js';
import { EmotionClassifier } from '../../src/model/emotion-classifier.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-doctor-model-'));
let model: string;
before(async () => {
  model = await makeUntrainedModel(tmp);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function load(p: string): Promise<ModelLoad> {
  try {
    const c = await EmotionClassifier.load(p);
    await c.close();
    return { manifest: c.manifest, path: p };
  } catch (err) {
    return { error: (err as Error).message, path: p };
  }
}

test('an untrained network loads but is flagged', async () => {
  const r = checkModelLoad(await load(model));
  assert.equal(r.status, 'warn');
  assert.match(r.summary, /UNTRAINED network/);
  assert.match(r.details![1]!, /no measured accuracy/);
});

test('a trained manifest with metrics passes and shows its accuracy', async () => {
  const loaded = await load(model);
  if (!('manifest' in loaded)) throw new Error(loaded.error);
  const trained: ModelLoad = { path: loaded.path, manifest: { ...loaded.manifest, untrained: false, metrics: { dataset: 'FER2013 PublicTest', n: 3589, accuracy: 0.612, measuredBy: 'test' } } };
  const r = checkModelLoad(trained);
  assert.equal(r.status, 'ok');
  assert.match(r.details![1]!, /accuracy 61\.2% on FER2013 PublicTest \(n=3589\)/);
});

test('corrupt and manifest-less models fail with the loader\'s reason', async () => {
  const corrupt = path.join(tmp, 'corrupt.onnx');
  writeFileSync(corrupt, 'not an onnx file'.repeat(50));
  writeFileSync(path.join(tmp, 'corrupt.json'), JSON.stringify({ ...JSON.parse(readFileSync(model.replace(/\.onnx$/, '.json'), 'utf8')), file: 'corrupt.onnx' }));
  const r = checkModelLoad(await load(corrupt));
  assert.equal(r.status, 'fail');
  assert.match(r.summary, /could not be loaded by onnxruntime/);
  const lonely = path.join(tmp, 'lonely.onnx');
  copyFileSync(model, lonely);
  assert.match(checkModelLoad(await load(lonely)).summary, /manifest .*lonely\.json not found/);
  assert.match(checkModelLoad(await load(path.join(tmp, 'absent.onnx'))).summary, /not found/);
});

test('cascade results', () => {
  assert.equal(checkCascade({ path: '/x.xml' }).status, 'ok');
  assert.equal(checkCascade({ path: '/x.xml', error: 'Haar cascade /x.xml not found' }).status, 'fail');
});
