/**
 * Pure INT8 quantization math (no I/O, no graphs), following ONNX QuantizeLinear/DequantizeLinear:
 *   q = saturate(round_half_to_even(x / scale) + zero_point),  x' = (q - zero_point) * scale.
 * Activations: asymmetric int8 over a calibrated [min, max] widened to include 0 (so 0 is exact and a ReLU folds
 * into the clamp). Weights: symmetric int8 per output channel in [-127, 127], zero point 0 (the S8S8 scheme ORT's
 * quantization docs recommend). Biases: int32 with scale = input scale * weight scale, zero point 0.
 */

export const INT8_MIN = -128;
export const INT8_MAX = 127;
/** Symmetric weights use [-127, 127] so that -w is representable for every w. */
export const WEIGHT_QMAX = 127;
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** Rounds to the nearest integer, ties to even (what QuantizeLinear does). */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x % 1) === 0.5) return r % 2 === 0 ? r : r - 1;
  return r;
}

/** Math.fround of a scale, as it will be stored (float32) in the model. */
function f32(x: number): number {
  return Math.fround(x);
}

/**
 * Asymmetric int8 parameters for a calibrated range. The range is widened to include 0; an empty range (max == min,
 * e.g. a dead channel) gets scale 1 so the tensor still round-trips exactly at 0.
 */
export function activationParams(min: number, max: number): QuantParams {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) throw new RangeError(`invalid calibration range [${min}, ${max}]`);
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (hi === lo) return { scale: 1, zeroPoint: 0 };
  const scale = f32((hi - lo) / (INT8_MAX - INT8_MIN));
  const zeroPoint = Math.min(INT8_MAX, Math.max(INT8_MIN, roundHalfToEven(INT8_MIN - lo / scale)));
  return { scale, zeroPoint };
}

/** Symmetric int8 scale for values in [-absMax, absMax] (zero point 0). */
export function symmetricScale(absMax: number): number {
  if (!Number.isFinite(absMax) || absMax < 0) throw new RangeError(`invalid absolute maximum ${absMax}`);
  return absMax === 0 ? 1 : f32(absMax / WEIGHT_QMAX);
}

export function quantizeValue(x: number, { scale, zeroPoint }: QuantParams, qmin = INT8_MIN, qmax = INT8_MAX): number {
  return Math.min(qmax, Math.max(qmin, roundHalfToEven(x / scale) + zeroPoint));
}

export function dequantizeValue(q: number, { scale, zeroPoint }: QuantParams): number {
  return (q - zeroPoint) * scale;
}

/** Quantize-then-dequantize: what a QDQ pair does to a value. */
export function fakeQuantize(x: number, p: QuantParams): number {
  return dequantizeValue(quantizeValue(x, p), p);
}

export interface PerChannelWeights {
  values: Int8Array;
  /** One scale per output channel (axis 0). */
  scales: Float32Array;
}

/**
 * Symmetric per-channel int8 quantization of a weight laid out with the output channel first ([out, ...]: ONNX Conv
 * weights and Gemm weights with transB=1).
 */
export function quantizePerChannel(weight: Float32Array, channels: number): PerChannelWeights {
  if (channels <= 0 || weight.length % channels !== 0) throw new RangeError(`${weight.length} weights do not split into ${channels} channels`);
  const per = weight.length / channels;
  const values = new Int8Array(weight.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let absMax = 0;
    for (let j = 0; j < per; j++) absMax = Math.max(absMax, Math.abs(weight[c * per + j]!));
    const scale = symmetricScale(absMax);
    scales[c] = scale;
    for (let j = 0; j < per; j++) values[c * per + j] = quantizeValue(weight[c * per + j]!, { scale, zeroPoint: 0 }, -WEIGHT_QMAX, WEIGHT_QMAX);
  }
  return { values, scales };
}

export interface QuantizedBias {
  values: Int32Array;
  scales: Float32Array;
}

/**
 * int32 bias for a quantized Conv/Gemm: scale[c] = inputScale * weightScale[c], zero point 0, so the integer
 * accumulator and the bias share one scale. Returns null when a value would not fit in int32 (the caller then keeps
 * the bias in float).
 */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): QuantizedBias | null {
  if (bias.length !== weightScales.length) throw new RangeError(`bias has ${bias.length} channels, weight scales ${weightScales.length}`);
  const values = new Int32Array(bias.length);
  const scales = new Float32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const s = f32(inputScale * weightScales[c]!);
    const q = roundHalfToEven(bias[c]! / s);
    if (!Number.isFinite(q) || q < INT32_MIN || q > INT32_MAX) return null;
    scales[c] = s;
    values[c] = q;
  }
  return { values, scales };
}

/** Running min/max of every value seen. */
export class MinMaxObserver {
  min = Infinity;
  max = -Infinity;
  count = 0;

  observe(values: ArrayLike<number>): void {
    let { min, max } = this;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
    this.count += values.length;
  }

  range(): { min: number; max: number } {
    if (this.count === 0) throw new Error('no values observed');
    return { min: this.min, max: this.max };
  }
}

/**
 * Percentile range: keeps a deterministic, evenly strided sample of at most `capacity` values per batch budget and
 * returns the [(100-p)/2... ] style two-sided percentile range, clipping rare outliers that would waste int8 levels.
 */
export class PercentileObserver {
  private readonly samples: number[] = [];
  private readonly minMax = new MinMaxObserver();

  constructor(
    readonly percentile = 99.99,
    private readonly perBatchSamples = 20000,
  ) {
    if (!(percentile > 50 && percentile <= 100)) throw new RangeError(`percentile must be in (50, 100], got ${percentile}`);
  }

  observe(values: ArrayLike<number>): void {
    this.minMax.observe(values);
    const stride = Math.max(1, Math.floor(values.length / this.perBatchSamples));
    for (let i = 0; i < values.length; i += stride) this.samples.push(values[i]!);
  }

  range(): { min: number; max: number } {
    const full = this.minMax.range();
    const sorted = Float64Array.from(this.samples).sort();
    const tail = (100 - this.percentile) / 100;
    const lo = percentileOfSorted(sorted, tail);
    const hi = percentileOfSorted(sorted, 1 - tail);
    return { min: Math.max(full.min, lo), max: Math.min(full.max, hi) };
  }
}

/** Linear-interpolated quantile q in [0, 1] of ascending-sorted values. */
export function percentileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('no values');
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const i = Math.floor(pos);
  const frac = pos - i;
  return i + 1 < n ? sorted[i]! * (1 - frac) + sorted[i + 1]! * frac : sorted[i]!;
}

/** dequantize(quantizePerChannel(w)): the weights a per-channel int8 model really computes with. */
export function fakeQuantizePerChannel(weight: Float32Array, channels: number): Float32Array {
  const { values, scales } = quantizePerChannel(weight, channels);
  const per = weight.length / channels;
  return Float32Array.from(values, (v, i) => v * scales[Math.floor(i / per)]!);
}

/**
 * Accumulates per-channel means of NCHW ([n, c, ...]) or [n, c] tensors over batches: the statistic empirical bias
 * correction compares between the float model and the model with int8 weights.
 */
export class ChannelMeanObserver {
  private sums: Float64Array | null = null;
  private count = 0;

  observe(data: ArrayLike<number>, dims: readonly number[]): void {
    const [n, c] = [dims[0]!, dims[1]!];
    const per = data.length / (n * c);
    if (!Number.isInteger(per) || per < 1) throw new RangeError(`tensor of ${data.length} values does not match dims [${dims.join(',')}]`);
    if (!this.sums) this.sums = new Float64Array(c);
    if (this.sums.length !== c) throw new RangeError(`channel count changed from ${this.sums.length} to ${c}`);
    for (let b = 0; b < n; b++)
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        const o = (b * c + ch) * per;
        for (let j = 0; j < per; j++) s += data[o + j]!;
        this.sums[ch]! += s / per;
      }
    this.count += n;
  }

  means(): Float64Array {
    if (!this.sums || this.count === 0) throw new Error('no values observed');
    return this.sums.map((s) => s / this.count);
  }
}

/**
 * Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", section 4.2): int8 rounding of the weights
 * shifts each output channel's mean by (meanQuantized - meanFloat) on the calibration data; subtracting that shift
 * from the bias removes the systematic part of the error.
 */
export function correctBias(bias: Float32Array, meanFloat: ArrayLike<number>, meanQuantized: ArrayLike<number>): Float32Array {
  if (meanFloat.length !== bias.length || meanQuantized.length !== bias.length) {
    throw new RangeError(`bias has ${bias.length} channels, means have ${meanFloat.length} and ${meanQuantized.length}`);
  }
  return Float32Array.from(bias, (b, i) => b - (meanQuantized[i]! - meanFloat[i]!));
}
