import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveState, FrameStats, stateKey, WindowCounter } from '../../src/telemetry/reducers.js';
import { contractErrors, frame, MODEL } from '../mqtt/helpers/fixtures.js';

test('deriveState counts faces per emotion and sorts faces by id', () => {
  const s = deriveState('d', MODEL, frame(1, [{ id: 3, emotion: 'happy' }, { id: 1, emotion: 'happy' }, { id: 2, emotion: 'fear' }]), 5);
  assert.equal(s.faces, 3);
  assert.equal(s.emotions.happy, 2);
  assert.equal(s.emotions.fear, 1);
  assert.equal(s.emotions.neutral, 0);
  assert.deepEqual(s.facesInView.map((f) => f.faceId), [1, 2, 3]);
  assert.equal(contractErrors('state', s), '');
  assert.equal(stateKey(s), '1:happy,2:fear,3:happy');
});

test('stateKey ignores confidence jitter but not emotion changes', () => {
  const a = deriveState('d', MODEL, frame(1, [{ id: 1, emotion: 'sad' }]), 0);
  const b = { ...a, facesInView: a.facesInView.map((f) => ({ ...f, confidence: 0.1 })) };
  const c = deriveState('d', MODEL, frame(2, [{ id: 1, emotion: 'angry' }]), 0);
  assert.equal(stateKey(a), stateKey(b));
  assert.notEqual(stateKey(a), stateKey(c));
});

test('WindowCounter: events, emotions entered and face-seconds per window', () => {
  const t0 = 1_000_000;
  const w = new WindowCounter('d', 10, t0);
  w.onFrame(frame(0, [{ id: 1, emotion: 'happy' }, { id: 2, emotion: 'sad' }], t0));
  w.onEvent({ type: 'appeared', emotion: 'happy' });
  w.onEvent({ type: 'appeared', emotion: 'sad' });
  w.onFrame(frame(1, [{ id: 1, emotion: 'happy' }], t0 + 1000)); // 1 s of happy + 1 s of sad
  w.onEvent({ type: 'left', emotion: 'sad' });
  w.onEvent({ type: 'emotion_changed', emotion: 'surprise' });
  w.onFrame(frame(2, [{ id: 1, emotion: 'surprise' }], t0 + 3000)); // +2 s happy
  assert.equal(w.due(t0 + 9_999), false);
  assert.equal(w.due(t0 + 10_000), true);
  const c = w.close(t0 + 4000); // +1 s surprise
  assert.deepEqual(c.events, { appeared: 2, emotion_changed: 1, left: 1 });
  assert.equal(c.emotionEvents.happy, 1);
  assert.equal(c.emotionEvents.sad, 1);
  assert.equal(c.emotionEvents.surprise, 1);
  assert.equal(c.faceSeconds.happy, 3);
  assert.equal(c.faceSeconds.sad, 1);
  assert.equal(c.faceSeconds.surprise, 1);
  assert.equal(c.peakFaces, 2);
  assert.equal(c.frames, 3);
  assert.equal(contractErrors('counts', c), '');
  // the next window starts where the last closed, carrying the face still in view
  const c2 = w.close(t0 + 6000);
  assert.equal(c2.windowStart, t0 + 4000);
  assert.equal(c2.faceSeconds.surprise, 2);
  assert.equal(c2.events.appeared, 0);
});

test('WindowCounter caps a stalled camera gap at 2 s of face time', () => {
  const w = new WindowCounter('d', 60, 0);
  w.onFrame(frame(0, [{ id: 1, emotion: 'neutral' }], 0));
  w.onFrame(frame(1, [{ id: 1, emotion: 'neutral' }], 30_000));
  assert.equal(w.close(30_000).faceSeconds.neutral, 2);
});

test('FrameStats: mean latencies and the latest fps since the last snapshot', () => {
  const s = new FrameStats();
  assert.deepEqual(s.snapshot(), { fps: 0, frames: 0, latencyMs: { capture: 0, detect: 0, classify: 0 } });
  s.onFrame({ captureMs: 1, detectMs: 10, classifyMs: 3, fps: 14 });
  s.onFrame({ captureMs: 3, detectMs: 20, classifyMs: 5, fps: 15 });
  assert.deepEqual(s.snapshot(), { fps: 15, frames: 2, latencyMs: { capture: 2, detect: 15, classify: 4 } });
  assert.equal(s.snapshot().frames, 0);
});
