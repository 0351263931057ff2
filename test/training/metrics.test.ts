import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classificationReport, classWeights, confusionMatrix } from '../../src/training/metrics.js';
import { oneCycleLr } from '../../src/training/schedule.js';

test('confusion matrix and per-class precision / recall / F1', () => {
  const truth = [0, 0, 0, 1, 1, 2];
  const pred = [0, 0, 1, 1, 2, 2];
  const m = confusionMatrix(truth, pred, 3);
  assert.deepEqual(m, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  const r = classificationReport(m, ['a', 'b', 'c']);
  assert.equal(r.n, 6);
  assert.equal(r.accuracy, 4 / 6);
  assert.equal(r.perClass[0]!.precision, 1);
  assert.equal(r.perClass[0]!.recall, 2 / 3);
  assert.equal(r.perClass[1]!.precision, 0.5);
  assert.equal(r.perClass[2]!.f1, (2 * 0.5 * 1) / 1.5);
  assert.ok(Math.abs(r.macroF1 - (0.8 + 0.5 + 2 / 3) / 3) < 1e-12);
});

test('class weights: power 0 is uniform, power 1 balances classes, mean weight per sample is 1', () => {
  const counts = [3995, 436, 4097, 7215, 4830, 3171, 4965];
  assert.deepEqual(classWeights(counts, 0), counts.map(() => 1));
  const w1 = classWeights(counts, 1);
  const total = counts.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(counts.reduce((a, c, i) => a + c * w1[i]!, 0) / total - 1) < 1e-12);
  // fully balanced: every class carries the same total weight
  const perClass = counts.map((c, i) => c * w1[i]!);
  for (const p of perClass) assert.ok(Math.abs(p - perClass[0]!) < 1e-9);
  const w05 = classWeights(counts, 0.5);
  assert.ok(w05[1]! > w05[0]! && w05[1]! < w1[1]!, 'disgust gets more weight, less than fully balanced');
});

test('one-cycle schedule: warm-up to the peak, cosine down to peak / finalDiv', () => {
  const s = { maxLr: 1e-2, totalSteps: 1000, warmupFraction: 0.1, divFactor: 25, finalDiv: 1000 };
  assert.equal(oneCycleLr(0, s), 1e-2 / 25);
  assert.ok(Math.abs(oneCycleLr(100, s) - 1e-2) < 1e-12);
  assert.ok(oneCycleLr(50, s) < oneCycleLr(99, s));
  assert.ok(oneCycleLr(500, s) > oneCycleLr(900, s));
  assert.ok(Math.abs(oneCycleLr(1000, s) - 1e-5) < 1e-12);
});
