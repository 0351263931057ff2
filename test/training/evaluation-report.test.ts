import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { softmaxRows } from '../../src/model/preprocess.js';
import { calibration, fitTemperature, probabilitiesAt } from '../../src/onnx/temperature.js';
import { evaluationMarkdown, readEvaluation } from '../../src/training/evaluation-report.js';
import { Rng } from '../../src/util/rng.js';

function writeJson(dir: string, name: string, value: unknown): void {
  writeFileSync(path.join(dir, name), JSON.stringify(value));
}

const row = (name: string, views: number, accuracy: number) => ({ name, views, accuracy, macroF1: 0.5, nll: 1.2, ece: 0.08, temperature: 0.75, nllAfter: 1.1, eceAfter: 0.02 });

test('the report\'s evaluation section: views chosen within the per-face budget, temperature with its table, crop kept when the fit does not win', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ek-eval-report-'));
  writeJson(dir, 'views.json', {
    split: 'models/splits/fer2013-val.txt',
    n: 2873,
    results: [{ model: '/tmp/x/deep_emotion.int8.onnx', version: 'v-e18', quantization: 'QDQ', rows: [row('flip', 2, 0.585), row('zooms 1, 1.1 + flip', 4, 0.59), row('ten-crop 44/48', 10, 0.6)] }],
  });
  writeJson(dir, 'views-cost.json', { model: 'm', runs: 400, rows: [{ name: 'flip', views: 2, p50: 0.76, p95: 9 }, { name: 'zooms 1, 1.1 + flip', views: 4, p50: 1.5, p95: 15 }, { name: 'ten-crop 44/48', views: 10, p50: 3.9, p95: 20 }] });
  // a real temperature fit (the tool's own functions) on logits whose labels were drawn at T = 0.7
  const rng = new Rng(5);
  const n = 2000;
  const logits = Float32Array.from({ length: n * 7 }, () => 3 * (rng.next() - 0.5));
  const p = softmaxRows(logits.map((z) => z / 0.7), n, 7);
  const truth = Array.from({ length: n }, (_, i) => {
    let u = rng.next();
    for (let k = 0; k < 7; k++) if ((u -= p[i * 7 + k]!) < 0) return k;
    return 6;
  });
  const v = { logits, n, views: 1, classes: 7 };
  const fit = fitTemperature(v, truth);
  const t = Math.round(fit.temperature * 1e4) / 1e4;
  writeJson(dir, 'temperature.json', { model: 'm.int8.onnx', version: 'v-e18', views: '4 views (zooms 1, 1.1, flip)', split: 's', n, temperature: t, before: calibration(probabilitiesAt(v, 1), truth, 7), after: calibration(probabilitiesAt(v, t), truth, 7) });
  writeJson(dir, 'crop-calibration.json', {
    faces: 2873, detected: 1599, detectionRate: 0.5566, faceSizes: [120, 240], detection: { scaleFactor: 1.15, minNeighbors: 3 },
    geometry: { scale: 0.977, offsetX: -0.0025, offsetY: 0 }, iqr: { scale: [0.918, 1.038], offsetX: [-0.02, 0.02], offsetY: [-0.02, 0.02] },
    accuracy: { n: 1599, native: 0.619, crops: [{ crop: 'Haar box (current)', accuracy: 0.6116, deltaPoints: -0.75 }, { crop: 'fitted (0.977, -0.003, 0.000)', accuracy: 0.6073, deltaPoints: -1.19 }] },
  });
  const e = await readEvaluation(dir);
  const md = evaluationMarkdown(e, 18).join('\n');
  assert.match(md, /\| test-time views \| zooms 1, 1\.1 \+ flip \(4 views, 59\.00%\)/, 'the best set within 2.0 ms, not the more accurate ten-crop');
  assert.match(md, /\| 10 \| ten-crop 44\/48 \| 60\.00% .* \| 3\.90 \|/);
  assert.match(md, new RegExp(`temperature \\*\\*${t}\\*\\*`));
  assert.ok(t < 1 && /under-confident/.test(md), `fitted ${t}`);
  assert.match(md, /\| face crop \| the Haar box as it is \(unchanged\)/);
  assert.match(md, /\| Haar box \(current\) \| 61\.16% \| -0\.75 points \|/);
  assert.doesNotMatch(md, /evaluation clips from validation faces/, 'no clip.json, no clip section');
  // two clips: one row each
  const clip = (name: string, delta: number) => ({
    modelVersion: 'v-e18', clip: `/tmp/${name}/clip.avi`, frames: 1524, detection: { rate: 0.65, truthFaces: 5950, falseDetections: 13 },
    accuracy: { detected: 0.59, nativeSameFrames: 0.59 - delta / 100, deltaPoints: delta, n: 3853 }, pairs: { n: 100, followRateCorrect: 0.44, followedCorrect: 15, correct: 34 }, statics: { n: 30, changes: 1 },
  });
  writeJson(dir, 'clip.json', clip('a', -6.28));
  writeJson(dir, 'clip-b.json', clip('b', -0.62));
  writeJson(dir, 'unrelated.json', { x: 1 });
  const withClips = evaluationMarkdown(await readEvaluation(dir), 18).join('\n');
  assert.match(withClips, /\| a\/clip\.avi \(v-e18\) \| 1524 .* -6\.28 points/);
  assert.match(withClips, /\| b\/clip\.avi \(v-e18\) \| 1524 .* -0\.62 points/);
  assert.match(md, /PublicTest is not used/);
});

test('the evaluation folder: a malformed file is an error naming it; an empty folder says what it needs', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ek-eval-report-'));
  await assert.rejects(readEvaluation(dir), /holds none of views\.json, views-cost\.json, temperature\.json, crop-calibration\.json, clip\[-<name>\]\.json/);
  writeFileSync(path.join(dir, 'temperature.json'), '{"model": "m"');
  await assert.rejects(readEvaluation(dir), /temperature\.json is not readable JSON/);
  writeJson(dir, 'temperature.json', { model: 'm', temperature: 'hot' });
  await assert.rejects(readEvaluation(dir), /temperature\.json is not what its tool writes: .*temperature/);
});
