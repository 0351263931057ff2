/**
 * One-cycle learning-rate schedule (pure): linear warm-up from maxLr / divFactor to maxLr over the first
 * `warmupFraction` of the steps, then cosine annealing to maxLr / finalDiv. Depends only on the global step, so
 * a resumed run continues on the same curve.
 */
export interface OneCycle {
  maxLr: number;
  totalSteps: number;
  warmupFraction: number;
  divFactor: number;
  finalDiv: number;
}

export function oneCycleLr(step: number, s: OneCycle): number {
  const warm = Math.max(1, Math.round(s.totalSteps * s.warmupFraction));
  const start = s.maxLr / s.divFactor;
  const end = s.maxLr / s.finalDiv;
  if (step < warm) return start + ((s.maxLr - start) * step) / warm;
  const t = Math.min(1, (step - warm) / Math.max(1, s.totalSteps - warm));
  return end + ((s.maxLr - end) * (1 + Math.cos(Math.PI * t))) / 2;
}

/**
 * Warm-up + cosine (SGD recipes): linear from maxLr / divFactor to maxLr over `warmupSteps`, then cosine annealing
 * to `minLr` at `totalSteps` (held there after). Pure in the global step, like oneCycleLr, so resume continues it.
 */
export interface Cosine {
  maxLr: number;
  totalSteps: number;
  warmupSteps: number;
  divFactor: number;
  minLr: number;
}

export function cosineLr(step: number, s: Cosine): number {
  const warm = Math.max(0, Math.min(s.warmupSteps, s.totalSteps));
  if (step < warm) {
    const start = s.maxLr / s.divFactor;
    return start + ((s.maxLr - start) * step) / warm;
  }
  const t = Math.min(1, (step - warm) / Math.max(1, s.totalSteps - warm));
  return s.minLr + ((s.maxLr - s.minLr) * (1 + Math.cos(Math.PI * t))) / 2;
}
