import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatestFrames, QueueTimeoutError } from '../../src/capture/latest-frames.js';

test('frames come out in order; a waiting consumer gets the next push', async () => {
  const q = new LatestFrames<number>(3);
  q.push(1);
  q.push(2);
  assert.equal(await q.next(), 1);
  assert.equal(await q.next(), 2);
  const waiting = q.next(1000);
  q.push(3);
  assert.equal(await waiting, 3);
});

test('a slow consumer gets the newest frames; older ones are dropped and counted', async () => {
  const q = new LatestFrames<number>(2);
  for (let i = 1; i <= 5; i++) q.push(i);
  assert.equal(q.dropped, 3);
  assert.deepEqual([await q.next(), await q.next()], [4, 5]);
});

test('a failure is delivered after the queued frames, and then every time', async () => {
  const q = new LatestFrames<number>(2);
  q.push(1);
  q.fail(new Error('camera gone'));
  q.fail(new Error('second failure is ignored'));
  q.push(2); // ignored after failure
  assert.equal(await q.next(), 1);
  await assert.rejects(q.next(), /camera gone/);
  await assert.rejects(q.next(), /camera gone/);
});

test('a pending next() is rejected by fail()', async () => {
  const q = new LatestFrames<number>();
  const waiting = q.next(5000);
  q.fail(new Error('exited'));
  await assert.rejects(waiting, /exited/);
});

test('next() times out with QueueTimeoutError', async () => {
  const q = new LatestFrames<number>();
  await assert.rejects(q.next(20), (e: unknown) => e instanceof QueueTimeoutError && e.waitedMs === 20);
  q.push(7); // the timed-out waiter is gone: the frame is queued
  assert.equal(await q.next(), 7);
});

test('two concurrent next() calls are a programming error', async () => {
  const q = new LatestFrames<number>();
  const first = q.next(1000);
  await assert.rejects(q.next(), /another next\(\) is pending/);
  q.push(1);
  assert.equal(await first, 1);
});
