import assert from 'node:assert/strict';
import { test } from 'node:test';
import { softmaxRows } from '../../src/model/preprocess.js';
import { calibration, fitTemperature, meanNll, probabilitiesAt } from '../../src/onnx/temperature.js';
import { Rng } from '../../src/util/rng.js';

/** n faces of `classes` classes whose labels are drawn from softmax(logits / t0): the right temperature is t0. */
function synthetic(n: number, classes: number, t0: number, seed: number) {
  const rng = new Rng(seed);
  const logits = Float32Array.from({ length: n * classes }, () => 4 * (rng.next() - 0.5) * 2);
  const p = softmaxRows(logits.map((z) => z / t0), n, classes);
  const truth = Array.from({ length: n }, (_, i) => {
    let u = rng.next();
    for (let k = 0; k < classes; k++) if ((u -= p[i * classes + k]!) < 0) return k;
    return classes - 1;
  });
  return { logits, truth };
}

test('temperature scaling recovers the temperature the labels were drawn at, and lowers NLL and ECE', () => {
  for (const t0 of [0.5, 2.5]) {
    const { logits, truth } = synthetic(6000, 7, t0, 7);
    const v = { logits, n: 6000, views: 1, classes: 7 };
    const fit = fitTemperature(v, truth);
    assert.ok(Math.abs(Math.log(fit.temperature / t0)) < 0.08, `fitted ${fit.temperature}, drawn at ${t0}`);
    const before = calibration(probabilitiesAt(v, 1), truth, 7);
    const after = calibration(probabilitiesAt(v, fit.temperature), truth, 7);
    assert.ok(after.nll < before.nll && after.ece < before.ece, `NLL ${before.nll} -> ${after.nll}, ECE ${before.ece} -> ${after.ece}`);
    assert.ok(after.ece < 0.03, `ECE after ${after.ece}`);
    assert.equal(after.accuracy, before.accuracy, 'a temperature never changes the top-1 class of one view');
    assert.ok(Math.abs(fit.nll - after.nll) < 1e-9);
  }
  assert.throws(() => fitTemperature({ logits: new Float32Array(14), n: 2, views: 1, classes: 7 }, [0]), /1 labels for 2 faces/);
});

test('temperature with several views: each view tempered, then averaged (the runtime\'s order)', () => {
  const { logits, truth } = synthetic(3000, 7, 2, 11);
  // two views: the logits and a copy with a little noise, one block of n rows each
  const rng = new Rng(3);
  const two = new Float32Array(2 * logits.length);
  two.set(logits, 0);
  two.set(logits.map((z) => z + (rng.next() - 0.5)), logits.length);
  const v = { logits: two, n: 3000, views: 2, classes: 7 };
  const p = probabilitiesAt(v, 2);
  const a = softmaxRows(logits.map((z) => z / 2), 3000, 7);
  const b = softmaxRows(two.subarray(logits.length).map((z) => z / 2), 3000, 7);
  for (const i of [0, 100, 2999 * 7 + 6]) assert.ok(Math.abs(p[i]! - (a[i]! + b[i]!) / 2) < 1e-6);
  const fit = fitTemperature(v, truth);
  assert.ok(fit.temperature > 1.5 && fit.temperature < 2.5, `fitted ${fit.temperature}`);
});

test('ECE and the reliability table on a hand-made example (15 bins)', () => {
  // four faces, two classes: confidences 0.95 (right), 0.95 (wrong), 0.55 (right), 0.55 (right)
  const probs = Float32Array.from([0.95, 0.05, 0.95, 0.05, 0.55, 0.45, 0.45, 0.55]);
  const truth = [0, 1, 0, 1];
  const c = calibration(probs, truth, 2);
  assert.equal(c.n, 4);
  assert.equal(c.accuracy, 0.75);
  const high = c.bins[14]!; // [14/15, 1]
  const mid = c.bins[8]!; // [8/15, 9/15)
  assert.deepEqual([high.n, mid.n], [2, 2]);
  assert.ok(Math.abs(high.confidence - 0.95) < 1e-6 && high.accuracy === 0.5);
  assert.ok(Math.abs(mid.confidence - 0.55) < 1e-6 && mid.accuracy === 1);
  // ECE = 2/4 * |0.5 - 0.95| + 2/4 * |1 - 0.55| = 0.45
  assert.ok(Math.abs(c.ece - 0.45) < 1e-6, `ECE ${c.ece}`);
  assert.equal(c.bins.reduce((s, b) => s + b.n, 0), 4);
  assert.ok(Math.abs(c.meanConfidence - 0.75) < 1e-6);
  assert.ok(Math.abs(meanNll(probs, truth, 2) - -(Math.log(0.95) + Math.log(0.05) + 2 * Math.log(0.55)) / 4) < 1e-6);
  // a confidence of exactly 1 falls in the last bin
  assert.equal(calibration(Float32Array.from([1, 0]), [0], 2).bins[14]!.n, 1);
});
