import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { detectionScale, iou, scaleBoxToFrame } from '../../src/detection/geometry.js';
import { DetectorError, HaarFaceDetector, loadGrayImage } from '../../src/detection/haar-detector.js';
import { defaultCascadePath } from '../../src/util/paths.js';
import { cv } from '../../src/vision/opencv.js';
import { fer2013Dir, megamindVideo } from '../helpers/fixtures.js';

const params = { scaleFactor: 1.1, minNeighbors: 5, minSize: 48, downscaleWidth: 320 };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-detect-'));

test('box geometry: IoU, mapping back from the downscaled frame, clipping', () => {
  assert.equal(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 }), 50 / 150);
  assert.equal(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 20, y: 0, width: 10, height: 10 }), 0);
  assert.deepEqual(scaleBoxToFrame({ x: 10, y: 20, width: 30, height: 30 }, 0.5, 1000, 1000), { x: 20, y: 40, width: 60, height: 60 });
  assert.deepEqual(scaleBoxToFrame({ x: 90, y: 90, width: 30, height: 30 }, 0.5, 200, 200), { x: 180, y: 180, width: 20, height: 20 });
  assert.equal(detectionScale(720, 320), 320 / 720);
  assert.equal(detectionScale(320, 640), 1);
  assert.equal(detectionScale(720, 0), 1);
});

test('finds the face on most frames of a real clip, downscaled, boxes in frame pixels', () => {
  const detector = HaarFaceDetector.load(defaultCascadePath, params);
  const cap = new cv.VideoCapture(megamindVideo);
  let frames = 0;
  let withFace = 0;
  for (let i = 0; i < 120; i++) {
    const mat = cap.read();
    if (mat.empty) break;
    frames++;
    const faces = detector.detectAndCrop(mat, 48);
    if (faces.length > 0) withFace++;
    for (const f of faces) {
      assert.equal(f.crop.length, 48 * 48);
      assert.ok(f.box.x >= 0 && f.box.y >= 0 && f.box.x + f.box.width <= mat.cols && f.box.y + f.box.height <= mat.rows);
      assert.ok(f.box.width >= params.minSize, `box ${JSON.stringify(f.box)} is at least minSize`);
    }
  }
  assert.equal(frames, 120);
  assert.ok(withFace / frames > 0.6, `faces on ${withFace}/${frames} frames`);
});

test('no face in a blank frame', () => {
  const detector = HaarFaceDetector.load(defaultCascadePath, params);
  assert.deepEqual(detector.detectAndCrop(new cv.Mat(480, 640, cv.CV_8UC3, [200, 200, 200]), 48), []);
});

test('a missing, truncated or foreign cascade file is a clear error, not a crash', () => {
  assert.throws(() => HaarFaceDetector.load(path.join(tmp, 'nope.xml'), params), (e: unknown) => e instanceof DetectorError && /not found/.test(e.message));
  const truncated = path.join(tmp, 'truncated.xml');
  writeFileSync(truncated, readFileSync(defaultCascadePath).subarray(0, 50_000));
  assert.throws(() => HaarFaceDetector.load(truncated, params), /not a complete OpenCV cascade XML \(truncated/);
  const foreign = path.join(tmp, 'foreign.xml');
  writeFileSync(foreign, '<?xml version="1.0"?>\n<opencv_storage>\n<x>1</x>\n</opencv_storage>\n');
  assert.throws(() => HaarFaceDetector.load(foreign, params), /no cascade in it/);
});

test('labelled images load as grey crops of the model size; an unreadable one says which file', () => {
  const img = path.join(fer2013Dir, 'test', 'happy');
  const file = path.join(img, readdirSync(img)[0]!);
  const crop = loadGrayImage(file, 48);
  assert.equal(crop.length, 48 * 48);
  assert.ok(crop.some((v) => v !== crop[0]), 'a real picture, not a flat grey');
  const bad = path.join(tmp, 'bad.jpg');
  writeFileSync(bad, 'not a jpeg');
  assert.throws(() => loadGrayImage(bad, 48), /cannot read image .*bad\.jpg/);
});
