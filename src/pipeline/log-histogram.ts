/**
 * A fixed-size log-bucket histogram for run statistics (frame times, event latencies): constant memory however many
 * values go in (a kiosk runs for months at 15-30 frames/s), quantiles with a stated relative error. Pure.
 *
 * Bucket i holds the values in (min·γ^(i-1), min·γ^i] with γ = (1+α)/(1-α); a quantile is answered with the bucket's
 * midpoint 2·min·γ^i/(γ+1), which is within α (relative) of every value in the bucket. So `quantile(q)` is within
 * `relativeError` of the exact order statistic x[⌊q·(n-1)⌋] of the values seen (the same guarantee as DDSketch).
 * Values at or below `minValue` are one bucket answered as 0 (absolute error <= minValue); values above `maxValue`
 * fall in the top bucket (answered with the largest value seen there). Count, sum, min and max are exact.
 *
 * Default: α = 1 % over 1 µs .. 10^7 ms (2.8 h): 1,152 buckets, 9 KB.
 */
export interface LogHistogramOptions {
  /** Relative error of quantiles, 0 < α < 1 (default 0.01). */
  relativeError?: number;
  /** Values <= this count as 0 (default 0.001: 1 µs in ms). */
  minValue?: number;
  /** Top of the range with the relative guarantee (default 1e7). */
  maxValue?: number;
}

export class LogHistogram {
  readonly relativeError: number;
  private readonly minValue: number;
  private readonly gamma: number;
  private readonly logGamma: number;
  /** counts[0]: values <= minValue; counts[i]: (min·γ^(i-1), min·γ^i]. */
  private readonly counts: Float64Array;
  private n = 0;
  private total = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;

  constructor({ relativeError = 0.01, minValue = 0.001, maxValue = 1e7 }: LogHistogramOptions = {}) {
    if (!(relativeError > 0 && relativeError < 1)) throw new RangeError(`relativeError must be in (0, 1), got ${relativeError}`);
    if (!(minValue > 0 && maxValue > minValue)) throw new RangeError(`need 0 < minValue < maxValue, got ${minValue}, ${maxValue}`);
    this.relativeError = relativeError;
    this.minValue = minValue;
    this.gamma = (1 + relativeError) / (1 - relativeError);
    this.logGamma = Math.log(this.gamma);
    this.counts = new Float64Array(Math.ceil(Math.log(maxValue / minValue) / this.logGamma) + 1);
  }

  /** Records one value (NaN is ignored; negative values count as 0). */
  add(value: number): void {
    if (Number.isNaN(value)) return;
    const v = Math.max(0, value);
    this.counts[this.bucketOf(v)]! += 1;
    this.n += 1;
    this.total += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  get count(): number {
    return this.n;
  }

  get sum(): number {
    return this.total;
  }

  get min(): number {
    return this.n > 0 ? this.lo : Number.NaN;
  }

  get max(): number {
    return this.n > 0 ? this.hi : Number.NaN;
  }

  mean(): number {
    return this.n > 0 ? this.total / this.n : Number.NaN;
  }

  /** Bytes held by the buckets: fixed at construction. */
  get byteSize(): number {
    return this.counts.byteLength;
  }

  /** The q-quantile (0..1) within `relativeError` of the exact one (see the file comment); NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return Number.NaN;
    const rank = Math.floor(Math.min(1, Math.max(0, q)) * (this.n - 1));
    let seen = 0;
    const last = this.counts.length - 1;
    for (let i = 0; i <= last; i++) {
      seen += this.counts[i]!;
      if (seen > rank) {
        if (i === 0) return 0;
        if (i === last) return this.hi;
        // Clamped to the exact extremes: the estimate never leaves the range of the values seen.
        return Math.min(this.hi, Math.max(this.lo, (2 * this.minValue * this.gamma ** i) / (this.gamma + 1)));
      }
    }
    return this.hi;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.total = 0;
    this.lo = Number.POSITIVE_INFINITY;
    this.hi = Number.NEGATIVE_INFINITY;
  }

  private bucketOf(v: number): number {
    if (v <= this.minValue) return 0;
    const i = Math.ceil(Math.log(v / this.minValue) / this.logGamma);
    return Math.min(this.counts.length - 1, Math.max(1, i));
  }
}
