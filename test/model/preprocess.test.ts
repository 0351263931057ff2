import assert from 'node:assert/strict';
import { test } from 'node:test';
import { averageMirrorPairs, cropsToTensorData, softmaxRows } from '../../src/model/preprocess.js';
import { argmax, confusionMatrix, reportFromConfusion } from '../../src/model/metrics.js';

test('crops become NCHW floats with the manifest normalisation, mirrored copies after the originals', () => {
  const crop = Uint8Array.from([0, 255, 51, 102]); // 2x2
  const out = cropsToTensorData([crop], { height: 2, width: 2 }, { mean: 0.5, std: 0.5 }, true);
  assert.deepEqual(Array.from(out, (v) => Math.round(v * 1000) / 1000), [-1, 1, -0.6, -0.2, 1, -1, -0.2, -0.6]);
  assert.throws(() => cropsToTensorData([new Uint8Array(3)], { height: 2, width: 2 }, { mean: 0, std: 1 }), /needs 2x2/);
});

test('softmax rows sum to one and keep the order; mirror pairs average', () => {
  const p = softmaxRows([1000, 1001, 0, 0], 2, 2);
  assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-6 && p[1]! > p[0]!);
  assert.equal(p[2], 0.5);
  assert.deepEqual(Array.from(averageMirrorPairs(Float32Array.from([1, 0, 0, 1]), 1, 2)), [0.5, 0.5]);
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
