/** Reconnect schedule for a frame source that failed mid-run. Pure. */
import type { KioskConfig } from '../config/index.js';
import { backoffDelayMs } from '../util/index.js';

export type RetryPolicy = KioskConfig['camera']['retry'];

/** The schedule itself is shared with MQTT (src/util/backoff.ts). */

/** True when another attempt is allowed after `attemptsMade` failed ones (maxAttempts 0 = try forever). */
export function mayRetry(attemptsMade: number, policy: Pick<RetryPolicy, 'maxAttempts'>): boolean {
  return policy.maxAttempts === 0 || attemptsMade < policy.maxAttempts;
}

/** The first `count` delays, for logs and docs ("retrying in 0.5 s, 1 s, 2 s, … 30 s"). */
export function backoffSchedule(count: number, policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>): number[] {
  return Array.from({ length: count }, (_, i) => backoffDelayMs(i + 1, policy));
}
