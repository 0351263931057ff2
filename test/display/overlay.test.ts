/** The overlay drawn by OpenCV on a real Megamind frame, checked pixel by pixel at the box edges. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawOverlay } from '../../src/display/overlay.js';
import { EMOTION_COLOURS, overlayScale } from '../../src/display/overlay-layout.js';
import { cv, type Mat } from '../../src/vision/opencv.js';
import { MEGAMIND, face } from './faces.js';

function frame(n: number): Mat {
  const cap = new cv.VideoCapture(MEGAMIND, cv.CAP_FFMPEG);
  for (let i = 0; i < n; i++) cap.read();
  const m = cap.read();
  cap.release();
  return m;
}

const px = (m: Mat, x: number, y: number) => m.atRaw(y, x) as unknown as number[];

test('boxes in the emotion colour at their edges, the inside untouched, labels and the info corner drawn', () => {
  const original = frame(60);
  const mat = original.copy();
  const faces = [face(1, 'angry', 0.87, { x: 100, y: 150, width: 150, height: 160 }), face(2, 'happy', 0.5, { x: 400, y: 80, width: 120, height: 120 })];
  drawOverlay(mat, faces, { fps: 23.4 });
  const t = overlayScale(mat.cols).boxThickness;
  for (const f of faces) {
    const { x, y, width, height } = f.box;
    const colour = [...EMOTION_COLOURS[f.emotion]];
    const midX = x + Math.floor(width / 2);
    const midY = y + Math.floor(height / 2);
    assert.deepEqual(px(mat, x, midY), colour, `${f.emotion}: left edge`);
    assert.deepEqual(px(mat, x + width - 1, midY), colour, `${f.emotion}: right edge`);
    assert.deepEqual(px(mat, midX, y + height - 1), colour, `${f.emotion}: bottom edge`);
    assert.deepEqual(px(mat, x + width - 1, y + height - 1), colour, `${f.emotion}: bottom-right corner`);
    assert.deepEqual(px(mat, midX, midY), px(original, midX, midY), `${f.emotion}: the face itself is not painted over`);
    assert.deepEqual(px(mat, x + t + 2, midY), px(original, x + t + 2, midY), `${f.emotion}: box lines are ${t} px`);
    // Label background directly above the box's left corner.
    assert.deepEqual(px(mat, x + 1, y - 2), colour, `${f.emotion}: label background`);
  }
  // The info corner: black background with white text somewhere in it.
  assert.deepEqual(px(mat, 1, 1), [0, 0, 0]);
  const corner = mat.getRegion(new cv.Rect(0, 0, 120, 20)).cvtColor(cv.COLOR_BGR2GRAY).threshold(200, 255, cv.THRESH_BINARY);
  assert.ok(corner.countNonZero() > 30, 'white "fps" text in the corner');
});

test('only BGR frames are accepted', () => {
  const grey = frame(60).cvtColor(cv.COLOR_BGR2GRAY);
  assert.throws(() => drawOverlay(grey, [], { fps: 1 }), /needs a BGR 8UC3 frame/);
});
