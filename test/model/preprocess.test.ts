import assert from 'node:assert/strict';
import { test } from 'node:test';
import { averageViews, cropsToTensorData, expandViews, faceProbabilities, softmaxRows, tenCrop, viewCount, windowCrop, zoomCrop } from '../../src/model/preprocess.js';
import { argmax, confusionMatrix, reportFromConfusion } from '../../src/model/metrics.js';

test('crops become NCHW floats with the manifest normalisation, mirrored copies after the originals', () => {
  const crop = Uint8Array.from([0, 255, 51, 102]); // 2x2
  const out = cropsToTensorData([crop], { height: 2, width: 2 }, { mean: 0.5, std: 0.5 }, { zooms: [1], mirror: true });
  assert.deepEqual(Array.from(out, (v) => Math.round(v * 1000) / 1000), [-1, 1, -0.6, -0.2, 1, -1, -0.2, -0.6]);
  assert.throws(() => cropsToTensorData([new Uint8Array(3)], { height: 2, width: 2 }, { mean: 0, std: 1 }), /needs 2x2/);
});

test('crop zoom enlarges around the centre (the training augmentation\'s scale change): exact on a linear ramp', () => {
  const ramp3 = Uint8Array.from([0, 10, 20, 0, 10, 20, 0, 10, 20]); // 3x3, value 10 * x
  assert.deepEqual([...zoomCrop(ramp3, { height: 3, width: 3 }, 2)], [5, 10, 15, 5, 10, 15, 5, 10, 15]);
  // 48x48, value 2x + 3y: output (x, y) samples the input at c + (p - c) / 1.1
  const S = 48;
  const c = (S - 1) / 2;
  const ramp = Uint8Array.from({ length: S * S }, (_, i) => 2 * (i % S) + 3 * Math.floor(i / S));
  const z = zoomCrop(ramp, { height: S, width: S }, 1.1);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const want = 2 * (c + (x - c) / 1.1) + 3 * (c + (y - c) / 1.1);
      assert.ok(Math.abs(z[y * S + x]! - want) < 1e-3, `(${x}, ${y}): ${z[y * S + x]} vs ${want}`);
    }
  assert.deepEqual([...zoomCrop(ramp3, { height: 3, width: 3 }, 1)], [...ramp3], 'zoom 1 is the identity');
  assert.throws(() => zoomCrop(ramp3, { height: 3, width: 3 }, 0.9), /zoom must be >= 1/);
  // through cropsToTensorData: zoomed, normalised, then mirrored
  // through cropsToTensorData: one block per view (zoom 1, its mirror, zoom 2, its mirror), normalised
  const t = cropsToTensorData([ramp3], { height: 3, width: 3 }, { mean: 0, std: 1 / 255 }, { zooms: [1, 2], mirror: true });
  const rows = (v: number) => [...t.subarray(v * 9, v * 9 + 3)];
  assert.deepEqual([rows(0), rows(1), rows(2), rows(3)], [[0, 10, 20], [20, 10, 0], [5, 10, 15], [15, 10, 5]]);
});

test('ten-crop: the centre and four corner windows, each mirrored; a corner window samples its corner of the crop', () => {
  const v = tenCrop(48, 44);
  assert.equal(viewCount(v), 10);
  assert.deepEqual(expandViews(v).map((x) => [x.dx, x.dy, x.mirror]), [
    [0, 0, false], [0, 0, true], [-2, -2, false], [-2, -2, true], [2, -2, false], [2, -2, true], [-2, 2, false], [-2, 2, true], [2, 2, false], [2, 2, true],
  ]);
  assert.throws(() => tenCrop(48, 50), /window must be 1\.\.48/);
  // value 2x + 3y: the top-left window (pixels 0..43) maps output p to 21.5 + (p - 23.5) * 44 / 48, clamped at 0
  const S = 48;
  const ramp = Uint8Array.from({ length: S * S }, (_, i) => 2 * (i % S) + 3 * Math.floor(i / S));
  const w = windowCrop(ramp, { height: S, width: S }, 48 / 44, -2, -2);
  const at = (p: number) => Math.max(0, 21.5 + ((p - 23.5) * 44) / 48);
  for (const [x, y] of [[0, 0], [47, 47], [10, 30]] as const) assert.ok(Math.abs(w[y * S + x]! - (2 * at(x) + 3 * at(y))) < 1e-3, `(${x}, ${y})`);
  assert.deepEqual([...windowCrop(ramp, { height: S, width: S }, 1, 0, 0)], [...ramp], 'zoom 1, no shift: the identity');
  // through cropsToTensorData: ten blocks in expandViews order
  const t = cropsToTensorData([ramp], { height: S, width: S }, { mean: 0, std: 1 / 255 }, v);
  assert.equal(t.length, 10 * S * S);
  assert.ok(Math.abs(t[2 * S * S]! - w[0]!) < 1e-3, 'block 2 is the top-left window');
  assert.ok(Math.abs(t[3 * S * S]! - w[S - 1]!) < 1e-3, 'block 3 is its mirror image');
});

test('temperature: logits / T before softmax, per view, then the views average; 1 = as before', () => {
  const z = Float32Array.from([2, 0, 0, 0, 4, 0]); // 1 face, 2 views, 3 classes
  const plain = faceProbabilities(z, 'logits', 1, 2, 3);
  assert.deepEqual(Array.from(faceProbabilities(z, 'logits', 1, 2, 3, 1)), Array.from(plain));
  const t = faceProbabilities(z, 'logits', 1, 2, 3, 2);
  const s1 = softmaxRows([1, 0, 0], 1, 3);
  const s2 = softmaxRows([0, 2, 0], 1, 3);
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(t[k]! - (s1[k]! + s2[k]!) / 2) < 1e-6);
  // a probabilities output gets the same rescaling
  const p = softmaxRows([2, 0, 0], 1, 3);
  const tp = faceProbabilities(p, 'probabilities', 1, 1, 3, 2);
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(tp[k]! - s1[k]!) < 1e-6);
  assert.throws(() => faceProbabilities(z, 'logits', 1, 2, 3, 0), /temperature must be a positive number/);
});

test('softmax rows sum to one and keep the order; views average', () => {
  const p = softmaxRows([1000, 1001, 0, 0], 2, 2);
  assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-6 && p[1]! > p[0]!);
  assert.equal(p[2], 0.5);
  assert.deepEqual(Array.from(averageViews(Float32Array.from([1, 0, 0, 1]), 1, 2, 2)), [0.5, 0.5]);
  // two faces, three views: face i averages rows i, i + 2, i + 4
  assert.deepEqual(Array.from(averageViews(Float32Array.from([3, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]), 2, 3, 2)), [1, 0, 0, 1]);
});

test('metrics: confusion matrix, accuracy, precision, recall, F1', () => {
  const m = confusionMatrix([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3);
  assert.deepEqual(m, [[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
  const r = reportFromConfusion(m, ['a', 'b', 'c']);
  assert.equal(r.n, 5);
  assert.equal(r.accuracy, 0.6);
  assert.equal(r.perClass.b!.precision, 2 / 3);
  assert.equal(r.perClass.b!.recall, 1);
  assert.equal(r.perClass.c!.f1, 0);
  assert.equal(argmax([0.1, 0.7, 0.2]), 1);
});
