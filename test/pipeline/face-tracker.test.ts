import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaceEvent } from '../../src/events/types.js';
import { EMOTIONS, type Emotion, type EmotionScores } from '../../src/model/labels.js';
import { FaceTracker, matchByIou, type TrackerConfig } from '../../src/pipeline/face-tracker.js';

const cfg: TrackerConfig = { iouThreshold: 0.3, confirmFrames: 2, maxMissingMs: 500, smoothingAlpha: 0.5, minDwellMs: 300, minConfidence: 0.4 };

function scores(main: Emotion, p = 0.9): EmotionScores {
  const s = {} as EmotionScores;
  for (const e of EMOTIONS) s[e] = e === main ? p : (1 - p) / 6;
  return s;
}

function tracker(c: Partial<TrackerConfig> = {}) {
  let n = 0;
  return new FaceTracker({ ...cfg, ...c }, { name: 'm', version: '1' }, () => `ev-${++n}`, () => 0);
}

const A = { x: 100, y: 100, width: 80, height: 80 };
const B = { x: 400, y: 120, width: 90, height: 90 };

test('matchByIou pairs the best overlaps first and leaves the rest', () => {
  const pairs = matchByIou([A, B], [{ ...B, x: 405 }, { ...A, x: 104 }, { x: 0, y: 0, width: 10, height: 10 }], 0.3);
  assert.deepEqual(pairs.sort(), [[0, 1], [1, 0]]);
});

test('a face appears after confirmFrames, keeps its id while it moves, and leaves after maxMissingMs', () => {
  const t = tracker();
  const events: FaceEvent[] = [];
  assert.equal(t.update(0, 0, [{ box: A, scores: scores('happy') }]).events.length, 0, 'one detection is not yet a face');
  const out = t.update(1, 33, [{ box: { ...A, x: 105 }, scores: scores('happy') }]);
  events.push(...out.events);
  assert.equal(t.activeFaces().length, 1);
  for (let i = 2; i < 10; i++) events.push(...t.update(i, i * 33, [{ box: { ...A, x: 100 + i * 3 }, scores: scores('happy') }]).events);
  events.push(...t.update(10, 330 + 100, []).events);
  assert.deepEqual(events.map((e) => e.type), ['appeared']);
  events.push(...t.update(11, 330 + 600, []).events);
  assert.deepEqual(events.map((e) => [e.type, e.faceId, e.emotion]), [['appeared', 1, 'happy'], ['left', 1, 'happy']]);
  assert.equal(new Set(events.map((e) => e.eventId)).size, 2, 'event ids are unique');
});

test('a one-frame false detection never becomes a face', () => {
  const t = tracker();
  const ev = [...t.update(0, 0, [{ box: B, scores: scores('fear') }]).events, ...t.update(1, 1000, []).events];
  assert.deepEqual(ev, []);
});

test('emotion_changed needs the new emotion to dwell and to be confident', () => {
  const t = tracker();
  const seq: FaceEvent[] = [];
  let ts = 0;
  const step = (e: Emotion, p = 0.9) => {
    ts += 50;
    seq.push(...t.update(ts / 50, ts, [{ box: A, scores: scores(e, p) }]).events);
  };
  step('neutral');
  step('neutral');
  for (let i = 0; i < 3; i++) step('surprise'); // 150 ms of surprise: under the dwell
  for (let i = 0; i < 3; i++) step('neutral');
  assert.deepEqual(seq.map((e) => e.type), ['appeared']);
  for (let i = 0; i < 12; i++) step('surprise');
  const changed = seq.filter((e) => e.type === 'emotion_changed');
  assert.equal(changed.length, 1);
  assert.equal(changed[0]!.previousEmotion, 'neutral');
  assert.equal(changed[0]!.emotion, 'surprise');
  assert.ok(Math.abs(Object.values(changed[0]!.scores).reduce((a, b) => a + b, 0) - 1) < 1e-6, 'scores stay a distribution');
  // low confidence: a flat distribution never triggers a change
  const flat = {} as EmotionScores;
  for (const e of EMOTIONS) flat[e] = e === 'sad' ? 0.2 : 0.8 / 6;
  for (let i = 0; i < 20; i++) {
    ts += 50;
    seq.push(...t.update(100 + i, ts, [{ box: A, scores: flat }]).events);
  }
  assert.equal(seq.filter((e) => e.type === 'emotion_changed').length, 1);
});

test('two faces keep separate ids; flush ends both', () => {
  const t = tracker({ confirmFrames: 1 });
  const ev = t.update(0, 0, [{ box: A, scores: scores('happy') }, { box: B, scores: scores('sad') }]).events;
  assert.deepEqual(ev.map((e) => [e.faceId, e.emotion]), [[1, 'happy'], [2, 'sad']]);
  const left = t.flush(1, 10);
  assert.deepEqual(left.map((e) => [e.type, e.faceId]), [['left', 1], ['left', 2]]);
});
