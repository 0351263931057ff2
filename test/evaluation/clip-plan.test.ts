import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIP_FORMAT, facesOnFrame, parseClipTruth, planClip, slotBoxes, type LabelledFace } from '../../src/evaluation/clip-plan.js';
import { iou } from '../../src/detection/geometry.js';
import { EMOTIONS } from '../../src/model/labels.js';

const faces: LabelledFace[] = EMOTIONS.flatMap((label) => Array.from({ length: 10 }, (_, i) => ({ file: `/data/${label}/${i}.jpg`, label })));

test('planClip is deterministic under the seed and different across seeds', () => {
  const a = planClip(faces, { pairs: 8, statics: 3, seed: 7, fps: 15 });
  assert.deepEqual(planClip(faces, { pairs: 8, statics: 3, seed: 7, fps: 15 }), a);
  assert.notDeepEqual(planClip(faces, { pairs: 8, statics: 3, seed: 8, fps: 15 }).items, a.items);
  assert.equal(a.format, CLIP_FORMAT);
});

test('pairs show A then B (another label) at the same place for holdMs each, statics one face, each followed by the gap', () => {
  const t = planClip(faces, { pairs: 10, statics: 4, seed: 1, fps: 15, holdMs: 1500, staticMs: 3000, gapMs: 1500 });
  assert.equal(t.items.filter((i) => i.kind === 'pair').length, 10);
  assert.equal(t.items.filter((i) => i.kind === 'static').length, 4);
  const used = t.items.flatMap((i) => i.segments.map((s) => s.image));
  assert.equal(new Set(used).size, used.length, 'no image is shown twice');
  for (const item of t.items) {
    assert.deepEqual(item.box, t.slots[item.slot]);
    const last = item.segments[item.segments.length - 1]!;
    assert.equal(item.gapEndFrame - last.endFrame, 23, '1.5 s gap at 15 fps');
    assert.ok(item.gapEndFrame <= t.frames);
    if (item.kind === 'pair') {
      const [a, b] = item.segments as [typeof last, typeof last];
      assert.notEqual(a.label, b.label);
      assert.equal(a.endFrame, b.startFrame, 'B replaces A at once');
      assert.equal(a.endFrame - a.startFrame, 23);
      assert.equal(b.endFrame - b.startFrame, 23);
    } else {
      assert.equal(last.endFrame - last.startFrame, 45);
    }
  }
  // A slot holds one item at a time (its gap included), and slots never overlap.
  for (const s of t.slots.keys()) {
    const mine = t.items.filter((i) => i.slot === s).sort((x, y) => x.segments[0]!.startFrame - y.segments[0]!.startFrame);
    for (let k = 1; k < mine.length; k++) assert.ok(mine[k]!.segments[0]!.startFrame >= mine[k - 1]!.gapEndFrame);
  }
  for (let i = 0; i < t.slots.length; i++) for (let j = i + 1; j < t.slots.length; j++) assert.equal(iou(t.slots[i]!, t.slots[j]!), 0);
  for (let f = 0; f < t.frames; f += 5) assert.ok(facesOnFrame(t, f).length <= t.slots.length);
});

test('slotBoxes fits the grid inside the frame; a plan needing more faces than the data has is an error', () => {
  for (const b of slotBoxes(960, 540, 180, 3, 2)) assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.width <= 960 && b.y + b.height <= 540);
  assert.throws(() => slotBoxes(300, 200, 180, 2, 1), /do not fit/);
  assert.throws(() => planClip(faces.slice(0, 5), { pairs: 3, statics: 0, seed: 1, fps: 15 }), /need 6 faces/);
});

test('parseClipTruth accepts a plan and names what is wrong in a broken file', () => {
  const t = planClip(faces, { pairs: 2, statics: 1, seed: 3, fps: 15 });
  assert.deepEqual(parseClipTruth(JSON.parse(JSON.stringify(t))), t);
  assert.throws(() => parseClipTruth({ ...t, format: 'x' }), /format/);
  const bad = JSON.parse(JSON.stringify(t));
  bad.items[0].segments[0].label = 'bored';
  assert.throws(() => parseClipTruth(bad), /bored.*not an emotion/);
  bad.items[0].segments[0].label = 'sad';
  bad.items[0].segments[0].endFrame = t.frames + 10;
  assert.throws(() => parseClipTruth(bad), /ends after the clip/);
});
