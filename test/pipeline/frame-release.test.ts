/**
 * Frames are native buffers that V8 does not see (the OpenCV add-on's external-memory accounting is off, see
 * src/vision/opencv.ts): a Mat the kiosk no longer needs must be released at once, not left to a garbage collection
 * that nothing prompts. A grey or BGRA camera frame converted to BGR leaves the original behind: it is released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cv } from '../../src/vision/opencv.js';
import { toBgr } from '../../src/capture/opencv-source.js';

for (const [name, type, channels] of [
  ['grey', cv.CV_8UC1, 1],
  ['BGRA', cv.CV_8UC4, 4],
] as const) {
  test(`a ${name} frame converted to BGR: the converted copy is returned and the original released`, () => {
    const original = new cv.Mat(48, 64, type, channels === 1 ? 200 : [10, 20, 30, 255]);
    const bgr = toBgr(original);
    assert.equal(bgr.type, cv.CV_8UC3);
    assert.deepEqual([bgr.rows, bgr.cols], [48, 64]);
    assert.deepEqual(bgr.atRaw(0, 0), channels === 1 ? [200, 200, 200] : [10, 20, 30]);
    assert.ok(original.empty, 'the original frame still holds its pixels');
    bgr.release();
  });
}

test('a BGR frame is passed through untouched', () => {
  const frame = new cv.Mat(48, 64, cv.CV_8UC3, [1, 2, 3]);
  assert.equal(toBgr(frame), frame);
  assert.ok(!frame.empty);
  frame.release();
});
