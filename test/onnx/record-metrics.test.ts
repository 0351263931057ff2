/** Measured accuracy goes into the manifest only from a real `evaluate` run of that very model. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { evaluateModel } from '../../src/cli/evaluate.js';
import { loadManifest } from '../../src/model/manifest.js';
import { parseEvaluation, recordMetrics } from '../../src/onnx/record-metrics.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { fer2013Dir } from '../helpers/fixtures.js';

let tmp: string;
let model: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'onnx-metrics-'));
  model = await makeUntrainedModel(tmp);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('records the accuracy that emotion-kiosk evaluate measured', async () => {
  const result = await evaluateModel({ model, data: path.join(fer2013Dir, 'test'), limit: 40 });
  const evaluation = parseEvaluation(JSON.stringify(result), 'eval.json');
  const m = await recordMetrics(model, evaluation, 'FER2013 PublicTest (first 40 images)');
  assert.equal(m.metrics?.n, 40);
  assert.equal(m.metrics?.accuracy, Math.round(result.accuracy * 1e6) / 1e6);
  assert.equal(m.metrics?.measuredBy, 'emotion-kiosk evaluate');
  assert.deepEqual((await loadManifest(model)).metrics, m.metrics);
});

test('refuses an evaluation of another model or version, and non-evaluate JSON', async () => {
  const result = await evaluateModel({ model, data: path.join(fer2013Dir, 'test'), limit: 5 });
  const other = parseEvaluation(JSON.stringify({ ...result, model: path.join(tmp, 'other.onnx') }), 'x');
  await assert.rejects(recordMetrics(model, other, 'd'), /measured .*other.onnx, not/);
  const stale = parseEvaluation(JSON.stringify({ ...result, modelVersion: 'old' }), 'x');
  await assert.rejects(recordMetrics(model, stale, 'd'), /version old.*re-run evaluate/);
  assert.throws(() => parseEvaluation('{"accuracy": 2}', 'eval.json'), /eval.json is not emotion-kiosk evaluate --json output/);
  assert.throws(() => parseEvaluation('not json', 'eval.json'), /eval.json is not JSON/);
});
