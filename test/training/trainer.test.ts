import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../../src/training/adamw.js';
import { NO_AUGMENT } from '../../src/training/augment.js';
import { initBackend } from '../../src/training/backend.js';
import { loadCheckpoint } from '../../src/training/checkpoint.js';
import { loadFer2013, type FerDataset } from '../../src/training/fer2013.js';
import { DeepEmotion, defaultModelConfig } from '../../src/training/model.js';
import { DEFAULT_TRAIN, makeBatch, meanStd, train, type TrainOptions } from '../../src/training/trainer.js';
import { fer2013Dir } from '../helpers/fixtures.js';

const FER = fer2013Dir;
let tmp: string;
let trainData: FerDataset;
let valData: FerDataset;

before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(tmpdir(), 'trainer-test-'));
  trainData = await loadFer2013(FER, 'train', { limitPerClass: 6 });
  valData = await loadFer2013(FER, 'PublicTest', { limitPerClass: 3 });
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('a few optimiser steps on real faces lower the loss (wasm backend, attention on)', () => {
  const model = new DeepEmotion(defaultModelConfig({ width: 6, dropout: 0, normalization: meanStd(trainData.images) }), 3);
  const names = model.specs.filter((s) => s.trainable).map((s) => s.name);
  const opt = new AdamW(new Map(names.map((n) => [n, model.p(n)])), new Set(), new Map(names.filter((n) => n.startsWith('loc.')).map((n) => [n, 0.1])));
  const idx = Array.from({ length: trainData.labels.length }, (_, i) => i);
  const { x, y } = makeBatch(trainData, idx, 1, 1, NO_AUGMENT, model.config.normalization);
  const xt = tf.tensor4d(x, [idx.length, 48, 48, 1]);
  const yt = tf.oneHot(tf.tensor1d(y, 'int32'), 7);
  const losses: number[] = [];
  for (let step = 0; step < 12; step++) {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yt, model.forward(xt, true, step, [])) as tf.Scalar, names.map((n) => model.p(n)));
    opt.apply(new Map(names.map((n) => [n, grads[model.p(n).name]!])), 3e-3);
    losses.push(value.dataSync()[0]!);
    tf.dispose([value, ...Object.values(grads)]);
  }
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(losses[losses.length - 1]! < losses[0]! * 0.5, `loss went ${losses.map((l) => l.toFixed(3)).join(' -> ')}`);
  tf.dispose([xt, yt]);
  opt.dispose();
  model.dispose();
});

function options(run: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN,
    run,
    epochs: 3,
    batchSize: 16,
    patience: 10,
    model: { width: 4 },
    backend: 'wasm',
    log: () => {},
    ...over,
  };
}

test('an interrupted run resumed from last/ ends exactly where an uninterrupted run does', async () => {
  const straight = path.join(tmp, 'straight');
  const r1 = await train(options(straight), trainData, valData);
  assert.equal(r1.state.epoch, 3);
  assert.equal(r1.state.history.length, 3);

  // a run of the same 3-epoch schedule that stops after epoch 1 (as a kill after its first checkpoint), then resumes
  const killed = path.join(tmp, 'killed');
  await train(options(killed, { stopAfterEpoch: 1 }), trainData, valData);
  const before = JSON.parse(await readFile(path.join(killed, 'last', 'state.json'), 'utf8')) as { epoch: number };
  assert.equal(before.epoch, 1);
  const r2 = await train(options(killed, { resume: true }), trainData, valData);
  assert.equal(r2.state.epoch, 3);
  const a = await loadCheckpoint(path.join(straight, 'last'));
  const b = await loadCheckpoint(path.join(killed, 'last'));
  for (const s of a.model.specs) {
    const diff = tf.sub(a.model.p(s.name), b.model.p(s.name)).abs().max().dataSync()[0]!;
    assert.ok(diff === 0, `${s.name} differs by ${diff} after resume`);
  }
  assert.deepEqual(
    r2.state.history.map((h) => h.valAccFlip),
    r1.state.history.map((h) => h.valAccFlip),
  );
  a.model.dispose();
  b.model.dispose();
});

test('best/ holds eval.json and a checkpoint that loads for inference (NHWC, probabilities)', async () => {
  const run = path.join(tmp, 'straight');
  const best = await loadCheckpoint(path.join(run, 'best'));
  const evalJson = JSON.parse(await readFile(path.join(run, 'best', 'eval.json'), 'utf8')) as { flip: { n: number; confusion: number[][] } };
  assert.equal(evalJson.flip.n, valData.labels.length);
  const x = tf.zeros([2, 48, 48, 1]) as tf.Tensor4D;
  const p = best.model.predict(x, true);
  assert.deepEqual(p.shape, [2, 7]);
  const sums = p.sum(1).dataSync();
  for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5);
  best.model.dispose();
});

test('the run report has PNG charts (Chart.js), metrics.json and a Markdown summary', async () => {
  const { writeRunReport } = await import('../../src/training/report.js');
  const run = path.join(tmp, 'straight');
  const dir = await writeRunReport(run, () => {});
  for (const png of ['accuracy.png', 'loss.png', 'confusion.png', 'per-class.png']) {
    const head = (await readFile(path.join(dir, png))).subarray(0, 8);
    assert.deepEqual([...head], [137, 80, 78, 71, 13, 10, 26, 10], `${png} is not a PNG`);
  }
  const metrics = JSON.parse(await readFile(path.join(dir, 'metrics.json'), 'utf8')) as { n: number; accuracyFlip: number; confusion: number[][] };
  assert.equal(metrics.n, valData.labels.length);
  assert.equal(metrics.confusion.flat().reduce((a, b) => a + b, 0), valData.labels.length);
  const md = await readFile(path.join(dir, 'README.md'), 'utf8');
  assert.match(md, /Class imbalance/);
  assert.ok(md.includes(`${(metrics.accuracyFlip * 100).toFixed(2)}%`));
  await assert.rejects(writeRunReport(path.join(tmp, 'no-such-run'), () => {}), /no checkpoint/);
});

test('an interim run report with the validation evaluation: banner, the section, its files copied beside it', async () => {
  const { writeRunReport } = await import('../../src/training/report.js');
  const { calibration } = await import('../../src/onnx/temperature.js');
  const evalDir = path.join(tmp, 'evaluation');
  await mkdir(evalDir, { recursive: true });
  const probs = Float32Array.from([0.9, 0.1, 0.6, 0.4]);
  const c = calibration(probs, [0, 1], 2);
  await writeFile(path.join(evalDir, 'temperature.json'), JSON.stringify({ model: 'm.int8.onnx', version: 'v', views: '2 views (zooms 1, flip)', split: 's', n: 2, temperature: 0.8, before: c, after: c }));
  const dir = await writeRunReport(path.join(tmp, 'straight'), () => {}, [], [], { evaluation: evalDir, interim: true });
  const md = await readFile(path.join(dir, 'README.md'), 'utf8');
  assert.match(md, /^# Training report: straight \(INTERIM\)/);
  assert.match(md, /\*\*Interim report\*\*: the run is still training/);
  assert.match(md, /### Temperature \(honest confidences\)[\s\S]*temperature \*\*0\.8\*\*/);
  assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'temperature.json'), 'utf8')).temperature, 0.8);
  const metrics = JSON.parse(await readFile(path.join(dir, 'metrics.json'), 'utf8')) as { interim: boolean; evaluation: { temperature: { temperature: number } } };
  assert.equal(metrics.interim, true);
  assert.equal(metrics.evaluation.temperature.temperature, 0.8);
});
