/** Small numeric helpers for run summaries and benchmarks. */

/** The q-quantile (0..1) of values by linear interpolation; NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Rounds to `digits` decimals (for printing and JSON summaries). */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Frames per second over the last `size` frame times. */
export class RateMeter {
  private readonly times: number[] = [];
  constructor(private readonly size = 30) {}
  tick(t: number): number {
    this.times.push(t);
    if (this.times.length > this.size) this.times.shift();
    return this.rate();
  }
  rate(): number {
    const n = this.times.length;
    if (n < 2) return 0;
    const span = this.times[n - 1]! - this.times[0]!;
    return span > 0 ? ((n - 1) * 1000) / span : 0;
  }
}
