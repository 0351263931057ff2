/** Reconnect schedule for a frame source that failed mid-run. Pure. */
import type { KioskConfig } from '../config/schema.js';

export type RetryPolicy = KioskConfig['camera']['retry'];

/**
 * Delay before reconnect attempt `attempt` (1-based): initialDelayMs doubling each attempt, capped at maxDelayMs.
 * `jitter` in [0, 1) spreads retries of several kiosks behind one router (delay × (1 − jitter/2 … 1)); 0 = exact.
 */
export function backoffDelayMs(attempt: number, policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>, jitter = 0): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  if (jitter < 0 || jitter >= 1) throw new RangeError(`jitter must be in [0, 1), got ${jitter}`);
  const { initialDelayMs, maxDelayMs } = policy;
  // 2 ** 1024 is Infinity, so very late attempts simply sit at the cap.
  const raw = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
  const capped = Math.max(0, Math.min(raw, maxDelayMs));
  return Math.round(capped * (1 - jitter / 2));
}

/** True when another attempt is allowed after `attemptsMade` failed ones (maxAttempts 0 = try forever). */
export function mayRetry(attemptsMade: number, policy: Pick<RetryPolicy, 'maxAttempts'>): boolean {
  return policy.maxAttempts === 0 || attemptsMade < policy.maxAttempts;
}

/** The first `count` delays, for logs and docs ("retrying in 0.5 s, 1 s, 2 s, … 30 s"). */
export function backoffSchedule(count: number, policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>): number[] {
  return Array.from({ length: count }, (_, i) => backoffDelayMs(i + 1, policy));
}
