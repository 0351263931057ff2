import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMOTIONS } from '../../src/model/labels.js';
import {
  EMOTION_COLOURS,
  formatFaceLabel,
  formatInfoLine,
  overlayScale,
  planOverlay,
  textColourOn,
  type MeasureText,
} from '../../src/display/overlay-layout.js';

/** A fixed-width font: 10 px per character, 12 px high, 4 px below the baseline. */
const measure: MeasureText = (text) => ({ width: 10 * text.length, height: 12, baseline: 4 });
const frame = { width: 960, height: 540 };

test('labels and the info line', () => {
  assert.equal(formatFaceLabel({ emotion: 'happy', confidence: 0.8749 }), 'happy 87%');
  assert.equal(formatFaceLabel({ emotion: 'sad', confidence: 1.2 }), 'sad 100%');
  assert.equal(formatInfoLine(29.97, 1), '30.0 fps  1 face');
  assert.equal(formatInfoLine(0, 3), '0.0 fps  3 faces');
  assert.equal(formatInfoLine(Number.NaN, 0), '- fps  0 faces');
});

test('every emotion has its own colour, and readable text on it', () => {
  const keys = EMOTIONS.map((e) => EMOTION_COLOURS[e].join(','));
  assert.equal(new Set(keys).size, EMOTIONS.length);
  assert.deepEqual(textColourOn(EMOTION_COLOURS.happy), [0, 0, 0], 'black on yellow');
  assert.deepEqual(textColourOn(EMOTION_COLOURS.sad), [255, 255, 255], 'white on blue');
});

test('a face gets a box in its colour and a filled label above it', () => {
  const plan = planOverlay([{ box: { x: 100, y: 200, width: 150, height: 160 }, emotion: 'angry', confidence: 0.87 }], { fps: 12.3 }, frame, measure);
  const { boxThickness, pad } = overlayScale(frame.width);
  const [box, label, info] = plan.rects;
  assert.deepEqual(box, { x1: 100, y1: 200, x2: 249, y2: 359, colour: EMOTION_COLOURS.angry, thickness: boxThickness });
  const labelH = 12 + 4 + 2 * pad;
  assert.deepEqual(label, { x1: 100, y1: 200 - labelH, x2: 100 + 90 + 2 * pad - 1, y2: 199, colour: EMOTION_COLOURS.angry, thickness: -1 });
  assert.deepEqual(plan.texts[0], { text: 'angry 87%', x: 100 + pad, y: 200 - labelH + pad + 12, colour: [255, 255, 255], scale: overlayScale(960).fontScale, thickness: 1 });
  assert.equal(info!.x1, 0);
  assert.equal(plan.texts[1]!.text, '12.3 fps  1 face');
});

test('a face at the top edge gets its label inside the box; one at the right edge keeps the label on screen', () => {
  const plan = planOverlay([{ box: { x: 900, y: 0, width: 60, height: 60 }, emotion: 'neutral', confidence: 0.5 }], { fps: 1 }, frame, measure);
  const label = plan.rects[1]!;
  assert.equal(label.y1, 0);
  assert.ok(label.x2 <= frame.width - 1 && label.x1 >= 0);
});

test('boxes are clipped to the frame; a box fully outside draws nothing', () => {
  const plan = planOverlay(
    [
      { box: { x: -20, y: -10, width: 100, height: 100 }, emotion: 'fear', confidence: 0.4 },
      { box: { x: 2000, y: 10, width: 50, height: 50 }, emotion: 'sad', confidence: 0.9 },
    ],
    { fps: 5 },
    frame,
    measure,
  );
  const boxes = plan.rects.filter((r) => r.thickness > 0);
  assert.deepEqual(boxes.map((b) => [b.x1, b.y1, b.x2, b.y2]), [[0, 0, 79, 89]]);
  assert.equal(plan.texts.at(-1)!.text, '5.0 fps  2 faces', 'the count is of tracked faces, drawn or not');
});

test('drawing scales with the frame size', () => {
  assert.ok(overlayScale(1920).fontScale > overlayScale(640).fontScale);
  assert.ok(overlayScale(1920).boxThickness >= overlayScale(320).boxThickness);
  assert.ok(overlayScale(160).fontScale >= 0.24, 'still legible on tiny frames');
});
