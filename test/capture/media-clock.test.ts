/** The media clock of video files (pure): positions from the decoder, index / fps where they fail, on across loops. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MediaClock } from '../../src/capture/media-clock.js';

test('positions from the decoder are the frame times', () => {
  const c = new MediaClock(40);
  assert.deepEqual([41.7, 83.4, 125.1].map((p) => c.next(p)), [41.7, 83.4, 125.1]);
});

test('a missing, NaN, negative or non-increasing position is the previous time plus one frame interval', () => {
  const c = new MediaClock(40);
  assert.deepEqual([undefined, Number.NaN, 100, -1, 100, 50, 300].map((p) => c.next(p)), [0, 40, 100, 140, 180, 220, 300]);
});

test('after a loop the clock goes on from one interval after the last frame, never backwards', () => {
  const c = new MediaClock(40);
  c.next(40);
  c.next(80);
  c.next(0); // OpenCV reports 0 after the last frame of Megamind.avi
  c.loop();
  assert.deepEqual([40, 80, 120].map((p) => c.next(p)), [160, 200, 240]);
  assert.throws(() => new MediaClock(0), RangeError);
});
