import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { applyAugment, DEFAULT_AUGMENT, drawAugment, NO_AUGMENT, type AugmentParams } from '../../src/training/augment.js';
import { initBackend } from '../../src/training/backend.js';
import { makeBatch } from '../../src/training/batch.js';
import { loadCheckpoint } from '../../src/training/checkpoint.js';
import { loadFer2013, type FerDataset } from '../../src/training/fer2013.js';
import { mixSeed, Rng } from '../../src/util/rng.js';
import { cosineLr, oneCycleLr } from '../../src/training/schedule.js';
import { Sgd } from '../../src/training/sgd.js';
import { shardGradients } from '../../src/training/shard-gradients.js';
import { DeepEmotion, defaultModelConfig } from '../../src/training/model.js';
import { DEFAULT_TRAIN, train, type TrainOptions } from '../../src/training/trainer.js';
import { fer2013Dir } from '../helpers/fixtures.js';

const FER = fer2013Dir;
const SIZE = 48;
let tmp: string;
let trainData: FerDataset;
let valData: FerDataset;

before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(tmpdir(), 'levers-test-'));
  const all = await loadFer2013(FER, 'train', { limitPerClass: 8 });
  // a tiny train / validation split of Training (the trainer never sees PublicTest)
  const { applySplit, splitKey, stratifiedSplit } = await import('../../src/training/split.js');
  const keys = all.sources.map((s) => splitKey(FER, s, false));
  const r = applySplit(all, keys, new Set(stratifiedSplit(keys, all.labels, 0.25, 1)));
  trainData = r.train;
  valData = r.validation;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('SGD with Nesterov momentum and L2 decay matches the torch.optim.SGD update by hand', () => {
  const p = tf.variable(tf.tensor1d([1, -2]));
  const q = tf.variable(tf.tensor1d([0.5]));
  const opt = new Sgd(new Map([['p', p], ['q', q]]), new Set(['p']), new Map([['q', 0.1]]), { momentum: 0.9, nesterov: true, weightDecay: 0.01 });
  const g = new Map<string, tf.Tensor>([['p', tf.tensor1d([0.2, 0.4])], ['q', tf.tensor1d([1])]]);
  opt.apply(g, 0.1);
  opt.apply(g, 0.1);
  // by hand, p[0]: g' = 0.2 + 0.01 * 1 = 0.21; buf = 0.21; step = 0.21 + 0.9 * 0.21 = 0.399; p = 1 - 0.0399 = 0.9601
  //   then g' = 0.2 + 0.01 * 0.9601 = 0.209601; buf = 0.9 * 0.21 + 0.209601 = 0.398601; step = 0.209601 + 0.9 * 0.398601
  const p0a = 1 - 0.1 * (0.21 + 0.9 * 0.21);
  const g2 = 0.2 + 0.01 * p0a;
  const p0b = p0a - 0.1 * (g2 + 0.9 * (0.9 * 0.21 + g2));
  assert.ok(Math.abs(p.dataSync()[0]! - p0b) < 1e-6, `${p.dataSync()[0]} vs ${p0b}`);
  // q: no decay, lr x0.1: step 1 = 1.9, step 2 = 1 + 0.9 * 1.9 = 2.71
  assert.ok(Math.abs(q.dataSync()[0]! - (0.5 - 0.01 * 1.9 - 0.01 * (1 + 0.9 * 1.9))) < 1e-6);
  // state round-trips by name
  const state = opt.namedState();
  assert.deepEqual(Object.keys(state).sort(), ['mom/p', 'mom/q']);
  const p2 = tf.variable(tf.tensor1d([0, 0]));
  const q2 = tf.variable(tf.tensor1d([0]));
  const opt2 = new Sgd(new Map([['p', p2], ['q', q2]]), new Set(['p']));
  opt2.loadState(state, opt.step);
  assert.equal(opt2.step, 2);
  assert.deepEqual([...opt2.buf.get('p')!.dataSync()], [...opt.buf.get('p')!.dataSync()]);
  tf.dispose([p, q, p2, q2, ...g.values()]);
  opt.dispose();
  opt2.dispose();
});

test('the cosine schedule warms up linearly, peaks, and anneals to minLr; it depends only on the step', () => {
  const s = { maxLr: 0.01, totalSteps: 1000, warmupSteps: 100, divFactor: 10, minLr: 1e-5 };
  assert.ok(Math.abs(cosineLr(0, s) - 0.001) < 1e-12);
  assert.ok(Math.abs(cosineLr(50, s) - 0.0055) < 1e-12);
  assert.ok(Math.abs(cosineLr(100, s) - 0.01) < 1e-12);
  assert.ok(Math.abs(cosineLr(550, s) - (0.01 + 1e-5) / 2) < 1e-12);
  assert.ok(Math.abs(cosineLr(1000, s) - 1e-5) < 1e-12);
  assert.ok(Math.abs(cosineLr(5000, s) - 1e-5) < 1e-12);
  for (let t = 101; t < 1000; t += 37) assert.ok(cosineLr(t, s) <= cosineLr(t - 1, s));
  assert.equal(cosineLr(0, { ...s, warmupSteps: 0 }), 0.01);
  // the one-cycle curve is unchanged
  assert.ok(Math.abs(oneCycleLr(0, { maxLr: 0.002, totalSteps: 100, warmupFraction: 0.15, divFactor: 25, finalDiv: 1e3 }) - 0.002 / 25) < 1e-12);
});

function img(): Uint8Array {
  const a = new Uint8Array(SIZE * SIZE);
  for (let i = 0; i < a.length; i++) a[i] = 100 + (i % 50);
  return a;
}

test('a configuration without the new options draws and applies exactly what it did before (same stream)', () => {
  const rng1 = new Rng(mixSeed(42, 3, 17));
  const rng2 = new Rng(mixSeed(42, 3, 17));
  const a = drawAugment(rng1, DEFAULT_AUGMENT, SIZE);
  const b = drawAugment(rng2, { ...DEFAULT_AUGMENT, padCrop: 0, erasingProb: 0, mixupAlpha: 0 }, SIZE);
  assert.deepEqual(a, b);
  assert.equal(a.shiftX, undefined);
  assert.equal(a.erase, undefined);
  assert.equal(rng1.state, rng2.state);
});

test('pad-and-crop shifts by whole pixels within [-k, k], filling with black; deterministic under the seed', () => {
  const p: AugmentParams = { ...NO_AUGMENT, padCrop: 4 };
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const d = drawAugment(new Rng(mixSeed(1, i)), p, SIZE);
    assert.ok(Number.isInteger(d.shiftX) && Math.abs(d.shiftX!) <= 4 && Number.isInteger(d.shiftY) && Math.abs(d.shiftY!) <= 4);
    seen.add(d.shiftX!);
  }
  assert.equal(seen.size, 9);
  const src = img();
  const out = new Float32Array(SIZE * SIZE);
  const d = { ...drawAugment(new Rng(1), NO_AUGMENT, SIZE), shiftX: 3, shiftY: -2 };
  applyAugment(src, SIZE, d, out, 0, 0.5, 0.25);
  const black = (0 - 0.5) / 0.25;
  assert.equal(out[10 * SIZE + 1], black, 'left columns come from outside');
  assert.equal(out[(SIZE - 1) * SIZE + 20], black, 'bottom rows come from outside');
  assert.ok(Math.abs(out[10 * SIZE + 20]! - (src[12 * SIZE + 17]! / 255 - 0.5) / 0.25) < 1e-6);
  const again = new Float32Array(SIZE * SIZE);
  const p2: AugmentParams = { ...DEFAULT_AUGMENT, padCrop: 4, erasingProb: 0.5 };
  applyAugment(src, SIZE, drawAugment(new Rng(77), p2, SIZE), out, 0, 0.5, 0.25);
  applyAugment(src, SIZE, drawAugment(new Rng(77), p2, SIZE), again, 0, 0.5, 0.25);
  assert.deepEqual(out, again);
});

test('random erasing: about p of the images get one rectangle of 2-33% of the area set to the mean (0)', () => {
  const p: AugmentParams = { ...NO_AUGMENT, erasingProb: 0.5 };
  let erased = 0;
  for (let i = 0; i < 1000; i++) {
    const d = drawAugment(new Rng(mixSeed(5, i)), p, SIZE);
    if (!d.erase) continue;
    erased++;
    const [x0, y0, w, h] = d.erase;
    assert.ok(x0 >= 0 && y0 >= 0 && x0 + w <= SIZE && y0 + h <= SIZE);
    const area = (w * h) / (SIZE * SIZE);
    assert.ok(area > 0.015 && area < 0.36, `area ${area}`);
  }
  assert.ok(erased > 430 && erased < 570, `${erased} of 1000 erased`);
  const out = new Float32Array(SIZE * SIZE);
  const d = { ...drawAugment(new Rng(1), NO_AUGMENT, SIZE), erase: [5, 6, 10, 4] as [number, number, number, number] };
  applyAugment(img(), SIZE, d, out, 0, 0.5, 0.25);
  let zeros = 0;
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) if (out[y * SIZE + x] === 0) zeros++, assert.ok(x >= 5 && x < 15 && y >= 6 && y < 10);
  assert.equal(zeros, 40);
});

test('mixup: lam >= 0.5, partners from the data set, the same batch for the same (seed, epoch) whatever the shard', () => {
  const aug: AugmentParams = { ...NO_AUGMENT, mixupAlpha: 0.4 };
  const norm = { mean: 0.5, std: 0.25 };
  const idx = [0, 3, 5, 9, 12, 20];
  const a = makeBatch(trainData, idx, 2, 42, aug, norm);
  assert.ok(a.lam && a.y2);
  for (const l of a.lam) assert.ok(l >= 0.5 && l <= 1);
  const whole = makeBatch(trainData, idx, 2, 42, aug, norm);
  assert.deepEqual(whole, a);
  const tail = makeBatch(trainData, idx.slice(3), 2, 42, aug, norm);
  assert.deepEqual(tail.x, a.x.subarray(3 * SIZE * SIZE));
  assert.deepEqual(tail.lam, a.lam.subarray(3));
  const plain = makeBatch(trainData, idx, 2, 42, NO_AUGMENT, norm);
  assert.equal(plain.lam, undefined);
  assert.notDeepEqual(plain.x, a.x);
  // a mixed image is the lam-blend of its own (unaugmented) image and its partner's
  let lamSum = 0;
  for (const l of a.lam) lamSum += l;
  assert.ok(lamSum / a.lam.length < 1);
});

test('mixup loss is the lam-weighted sum of the two cross-entropies (class weights included)', () => {
  const model = new DeepEmotion(defaultModelConfig({ width: 4, hidden: 8, dropout: 0, attention: false }), 3);
  const trainable = model.specs.filter((s) => s.trainable).map((s) => s.name);
  const cw = Float32Array.from([1, 2, 1, 0.5, 1, 1, 1]);
  const idx = [0, 1, 2, 3];
  const aug: AugmentParams = { ...NO_AUGMENT, mixupAlpha: 1 };
  const ctx = { epoch: 1, batchIndex: 0, shard: 0, seed: 9, aug, classWeights: cw, labelSmoothing: 0, batchSize: 4 };
  const r = shardGradients(model, trainData, idx, trainable, ctx);
  const b = makeBatch(trainData, idx, 1, 9, aug, model.config.normalization);
  const logp = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor4d(b.x, [4, 48, 48, 1]), true, 0, [])).arraySync() as number[][]);
  let expected = 0;
  for (let i = 0; i < 4; i++) expected += b.lam![i]! * cw[b.y[i]!]! * -logp[i]![b.y[i]!]! + (1 - b.lam![i]!) * cw[b.y2![i]!]! * -logp[i]![b.y2![i]!]!;
  expected /= 4;
  assert.ok(Math.abs(r.loss - expected) < 1e-4, `${r.loss} vs ${expected}`);
  tf.dispose([...r.grads.values()]);
  model.dispose();
});

function options(run: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN,
    run,
    epochs: 3,
    batchSize: 16,
    patience: 10,
    maxLr: 0.02,
    weightDecay: 5e-4,
    optimizer: 'sgd',
    schedule: 'cosine',
    warmupEpochs: 1,
    augmentParams: { padCrop: 4, erasingProb: 0.5, mixupAlpha: 0.2 },
    model: { width: 4, hidden: 16 },
    backend: 'wasm',
    log: () => {},
    ...over,
  };
}

test('SGD + cosine + the new augmentations: a killed run resumed from last/ ends exactly where a straight run does', async () => {
  const straight = path.join(tmp, 'sgd-straight');
  const r1 = await train(options(straight), trainData, valData);
  assert.equal(r1.state.epoch, 3);
  const killed = path.join(tmp, 'sgd-killed');
  await train(options(killed, { stopAfterEpoch: 1 }), trainData, valData);
  const r2 = await train(options(killed, { resume: true }), trainData, valData);
  assert.equal(r2.state.epoch, 3);
  const a = await loadCheckpoint(path.join(straight, 'last'));
  const b = await loadCheckpoint(path.join(killed, 'last'));
  assert.ok(a.optimizerState && Object.keys(a.optimizerState).every((k) => k.startsWith('mom/')), 'SGD momentum in the checkpoint');
  for (const s of a.model.specs) {
    const diff = tf.sub(a.model.p(s.name), b.model.p(s.name)).abs().max().dataSync()[0]!;
    assert.ok(diff === 0, `${s.name} differs by ${diff} after resume`);
  }
  assert.deepEqual(r2.state.history.map((h) => h.lr), r1.state.history.map((h) => h.lr));
  assert.deepEqual(r2.state.history.map((h) => h.valAccFlip), r1.state.history.map((h) => h.valAccFlip));
  // the weights layout is the unchanged one (the ONNX exporter reads it)
  const specs = JSON.parse(await readFile(path.join(straight, 'last', 'weights.json'), 'utf8')) as { name: string }[];
  assert.deepEqual(specs.map((s) => s.name), a.model.specs.map((s) => s.name));
  const evalJson = JSON.parse(await readFile(path.join(straight, 'best', 'eval.json'), 'utf8')) as { split: string };
  assert.equal(evalJson.split, 'validation');
  // resuming with the other optimizer is refused, not silently restarted
  await assert.rejects(train(options(killed, { resume: true, epochs: 4, optimizer: 'adamw' }), trainData, valData), /optimizer state is not adamw/);
  a.model.dispose();
  b.model.dispose();
});

test('the report names the validation split held out of Training (not PublicTest) and the SGD recipe', async () => {
  const { writeRunReport } = await import('../../src/training/report.js');
  const dir = await writeRunReport(path.join(tmp, 'sgd-straight'), () => {});
  const md = await readFile(path.join(dir, 'README.md'), 'utf8');
  assert.match(md, /Validation = the validation split held out of FER2013 Training/);
  assert.match(md, /\| validation \(held out of Training\) accuracy, test-time flip/);
  assert.doesNotMatch(md, /Validation = PublicTest/);
  assert.match(md, /Optimiser: SGD, Nesterov momentum/);
  assert.match(md, /pad-and-crop \+-4 px/);
  const metrics = JSON.parse(await readFile(path.join(dir, 'metrics.json'), 'utf8')) as { split: string };
  assert.equal(metrics.split, 'validation');
});
