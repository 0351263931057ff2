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
