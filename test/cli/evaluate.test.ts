import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { EMOTIONS } from '../../src/model/labels.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { cliPath, fer2013Dir } from '../helpers/fixtures.js';

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-evaluate-'));
const data = path.join(tmp, 'data');
let model: string;

before(async () => {
  model = await makeUntrainedModel(path.join(tmp, 'model'));
  // a slice of FER2013 PublicTest: 5 real images per class, linked (never copied)
  for (const e of EMOTIONS) {
    mkdirSync(path.join(data, e), { recursive: true });
    const src = path.join(fer2013Dir, 'test', e);
    for (const f of readdirSync(src).slice(0, 5)) symlinkSync(path.join(src, f), path.join(data, e, f));
  }
  writeFileSync(path.join(data, 'sad', 'PublicTest_broken.jpg'), 'not a jpeg');
});

test('evaluate --json reports n, accuracy, per-class metrics and the 7x7 confusion matrix', async () => {
  const { stdout } = await run(process.execPath, [cliPath, 'evaluate', '--model', model, '--data', data, '--json']);
  const r = JSON.parse(stdout) as {
    n: number; accuracy: number; labels: string[]; confusionMatrix: number[][];
    perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
    skipped: Array<{ file: string; reason: string }>; modelVersion: string;
  };
  assert.equal(r.n, 35);
  assert.deepEqual(r.labels, [...EMOTIONS]);
  assert.equal(r.confusionMatrix.length, 7);
  assert.ok(r.confusionMatrix.every((row) => row.length === 7 && row.reduce((a, b) => a + b, 0) === 5));
  const diag = r.confusionMatrix.reduce((a, row, i) => a + row[i]!, 0);
  assert.equal(r.accuracy, diag / 35);
  for (const e of EMOTIONS) assert.equal(r.perClass[e]!.support, 5);
  assert.equal(r.skipped.length, 1, 'the unreadable image is reported, not counted');
  assert.match(r.skipped[0]!.file, /PublicTest_broken\.jpg$/);
  assert.match(r.modelVersion, /untrained/);
});

test('evaluate: --prefix filters the split, bad inputs are clear errors with a non-zero exit', async () => {
  const { stdout } = await run(process.execPath, [cliPath, 'evaluate', '--model', model, '--data', data, '--prefix', 'PrivateTest_', '--json']).catch((e: { stderr: string }) => ({ stdout: e.stderr }));
  assert.match(stdout, /no images found .* starting with PrivateTest_/);
  await assert.rejects(run(process.execPath, [cliPath, 'evaluate', '--model', path.join(tmp, 'missing.onnx'), '--data', data]), (e: { code: number; stderr: string }) => {
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /model file .*missing\.onnx not found/);
    return true;
  });
  await assert.rejects(run(process.execPath, [cliPath, 'evaluate', '--model', model, '--data', path.join(tmp, 'model')]), /are not emotion classes|holds no class folders/);
});
