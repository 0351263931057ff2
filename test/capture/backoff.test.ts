import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffSchedule, mayRetry } from '../../src/capture/backoff.js';
import { backoffDelayMs } from '../../src/util/index.js';
import { configSchema } from '../../src/config/schema.js';

const policy = { initialDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 0 };

test('delays double from initialDelayMs and stop at maxDelayMs', () => {
  assert.deepEqual(backoffSchedule(9, policy), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test('the configured defaults give the same schedule', () => {
  const retry = configSchema.parse({}).camera.retry;
  assert.deepEqual(backoffSchedule(4, retry), [500, 1000, 2000, 4000]);
});

test('very late attempts stay at the cap (no overflow to Infinity or NaN)', () => {
  assert.equal(backoffDelayMs(5000, policy), 30_000);
});

test('an initial delay above the cap is capped', () => {
  assert.equal(backoffDelayMs(1, { initialDelayMs: 10_000, maxDelayMs: 3000 }), 3000);
});

test('jitter shortens a delay by at most half the jitter fraction', () => {
  assert.equal(backoffDelayMs(3, policy, 0.5), 1500);
  assert.equal(backoffDelayMs(3, policy, 0), 2000);
});

test('attempt numbers and jitter are validated', () => {
  assert.throws(() => backoffDelayMs(0, policy), RangeError);
  assert.throws(() => backoffDelayMs(1.5, policy), RangeError);
  assert.throws(() => backoffDelayMs(1, policy, 1), RangeError);
});

test('maxAttempts 0 retries forever, N allows exactly N attempts', () => {
  assert.equal(mayRetry(1_000_000, { maxAttempts: 0 }), true);
  assert.equal(mayRetry(0, { maxAttempts: 3 }), true);
  assert.equal(mayRetry(2, { maxAttempts: 3 }), true);
  assert.equal(mayRetry(3, { maxAttempts: 3 }), false);
});
