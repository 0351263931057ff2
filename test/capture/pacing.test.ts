import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FramePacer } from '../../src/capture/pacing.js';

test('frames are due 1/fps apart from the first one', () => {
  const p = new FramePacer(25);
  assert.equal(p.delayBeforeNext(1000), 0);
  assert.equal(p.delayBeforeNext(1000), 40);
  assert.equal(p.delayBeforeNext(1010), 70); // frame 2 due at 1080
  assert.equal(p.delayBeforeNext(1120), 0); // frame 3 due at 1120
});

test('a consumer that falls behind is not made to burst: the clock re-anchors', () => {
  const p = new FramePacer(10);
  p.delayBeforeNext(0);
  assert.equal(p.delayBeforeNext(500), 0); // frame 1 was due at 100: 400 ms late
  assert.equal(p.delayBeforeNext(500), 100); // next frame 100 ms after the new anchor
});

test('slightly late frames (within one interval) keep the original schedule', () => {
  const p = new FramePacer(10);
  p.delayBeforeNext(0);
  assert.equal(p.delayBeforeNext(150), 0); // due 100, 50 ms late
  assert.equal(p.delayBeforeNext(160), 40); // due 200
});

test('reset() starts a new schedule (after looping a file)', () => {
  const p = new FramePacer(10);
  p.delayBeforeNext(0);
  p.delayBeforeNext(0);
  p.reset();
  assert.equal(p.delayBeforeNext(5000), 0);
  assert.equal(p.delayBeforeNext(5000), 100);
});

test('fps must be positive and finite', () => {
  assert.throws(() => new FramePacer(0), RangeError);
  assert.throws(() => new FramePacer(Number.NaN), RangeError);
  assert.throws(() => new FramePacer(Infinity), RangeError);
});
