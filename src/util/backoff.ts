/** The one reconnect schedule (camera sources, MQTT publisher and subscriber). Pure. */

export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (1-based): initialDelayMs doubling each attempt, capped at maxDelayMs.
 * `jitter` in [0, 1) spreads retries of several kiosks behind one router (delay × (1 − jitter/2 … 1)); 0 = exact.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, jitter = 0): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  if (jitter < 0 || jitter >= 1) throw new RangeError(`jitter must be in [0, 1), got ${jitter}`);
  const { initialDelayMs, maxDelayMs } = policy;
  // 2 ** 1024 is Infinity, so very late attempts simply sit at the cap.
  const raw = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
  const capped = Math.max(0, Math.min(raw, maxDelayMs));
  return Math.round(capped * (1 - jitter / 2));
}
