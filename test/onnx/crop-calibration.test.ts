import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cropRegion, fitCropGeometry, IDENTITY_CROP, relativeGeometry } from '../../src/onnx/crop-calibration.js';

test('crop calibration: the frame relative to a box, and back (cropRegion inverts relativeGeometry)', () => {
  const box = { x: 100, y: 50, width: 80, height: 80 };
  const frame = { x: 96, y: 58, width: 72, height: 72 }; // smaller, centre moved by (-8, +4)
  const g = relativeGeometry(box, frame);
  assert.deepEqual(g, { scale: 0.9, offsetX: -0.1, offsetY: 0.05 });
  const back = cropRegion(box, g);
  for (const k of ['x', 'y', 'width', 'height'] as const) assert.ok(Math.abs(back[k] - frame[k]) < 1e-9, k);
  assert.deepEqual(cropRegion(box, IDENTITY_CROP), box, 'identity: the box as it is');
  assert.throws(() => relativeGeometry({ x: 0, y: 0, width: 0, height: 10 }, frame), /positive size/);
});

test('crop calibration fit: medians (a detector box on half a face does not drag it) and the quartile spread', () => {
  const samples = [0.96, 0.98, 1, 1.02, 1.04].map((scale, i) => ({ scale, offsetX: [0, 0.01, -0.01, 0.02, -0.02][i]!, offsetY: 0 }));
  samples.push({ scale: 2.5, offsetX: 0.6, offsetY: -0.5 }); // an outlier
  const fit = fitCropGeometry(samples);
  assert.equal(fit.n, 6);
  assert.ok(Math.abs(fit.geometry.scale - 1.01) < 1e-9, `scale ${fit.geometry.scale}`);
  assert.ok(Math.abs(fit.geometry.offsetX - 0.005) < 1e-9);
  assert.equal(fit.geometry.offsetY, 0);
  assert.ok(fit.iqr.scale[0] > 0.97 && fit.iqr.scale[1] < 1.05, `IQR ${fit.iqr.scale}`);
  assert.throws(() => fitCropGeometry([]), /at least one detected face/);
});
