/** Pure weight-layout conversions TensorFlow.js -> ONNX, and batch-norm folding. No I/O. */

/** Conv kernel [kh, kw, in, out] (tfjs) -> [out, in, kh, kw] (ONNX). */
export function convKernelToOihw(kernel: Float32Array, [kh, kw, cin, cout]: readonly [number, number, number, number]): Float32Array {
  if (kernel.length !== kh * kw * cin * cout) throw new RangeError(`conv kernel has ${kernel.length} values, shape [${kh},${kw},${cin},${cout}] needs ${kh * kw * cin * cout}`);
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = kernel[((y * kw + x) * cin + i) * cout + o]!;
  return out;
}

/**
 * Dense kernel [in, out] (tfjs) -> [out, in] (ONNX Gemm with transB=1). With `flattenedFrom` = [c, h, w], the rows
 * were written for a flatten of an NHWC activation (index (y*w + x)*c + ch) and are reordered for a flatten of the
 * NCHW activation (index ch*h*w + y*w + x).
 */
export function denseKernelToOutIn(kernel: Float32Array, [nin, nout]: readonly [number, number], flattenedFrom?: readonly [number, number, number]): Float32Array {
  if (kernel.length !== nin * nout) throw new RangeError(`dense kernel has ${kernel.length} values, shape [${nin},${nout}] needs ${nin * nout}`);
  const rowOf = new Int32Array(nin);
  if (flattenedFrom) {
    const [c, h, w] = flattenedFrom;
    if (c * h * w !== nin) throw new RangeError(`dense layer takes ${nin} inputs but the flattened activation has ${c}x${h}x${w} = ${c * h * w}`);
    for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rowOf[ch * h * w + y * w + x] = (y * w + x) * c + ch;
  } else {
    for (let r = 0; r < nin; r++) rowOf[r] = r;
  }
  const out = new Float32Array(kernel.length);
  for (let o = 0; o < nout; o++) for (let r = 0; r < nin; r++) out[o * nin + r] = kernel[rowOf[r]! * nout + o]!;
  return out;
}

export interface BatchNormParams {
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  epsilon: number;
}

/** Per-channel a, b with bn(x) = a*x + b (inference mode), computed in float64. */
export function batchNormAffine(bn: BatchNormParams): { scale: Float64Array; shift: Float64Array } {
  const n = bn.gamma.length;
  for (const [k, v] of [['beta', bn.beta], ['movingMean', bn.movingMean], ['movingVariance', bn.movingVariance]] as const) {
    if (v.length !== n) throw new RangeError(`batch norm ${k} has ${v.length} channels, gamma has ${n}`);
  }
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    scale[c] = bn.gamma[c]! / Math.sqrt(bn.movingVariance[c]! + bn.epsilon);
    shift[c] = bn.beta[c]! - bn.movingMean[c]! * scale[c]!;
  }
  return { scale, shift };
}

/**
 * Folds a batch norm that directly follows a layer into that layer's weights, given in ONNX layout with the output
 * channel first ([out, ...]): w'[o] = w[o] * a[o], b'[o] = b[o] * a[o] + shift[o]. Exact up to float rounding.
 */
export function foldBatchNorm(weightOutFirst: Float32Array, bias: Float32Array | null, bn: BatchNormParams): { weight: Float32Array; bias: Float32Array } {
  const { scale, shift } = batchNormAffine(bn);
  const cout = scale.length;
  if (weightOutFirst.length % cout !== 0) throw new RangeError(`cannot fold a ${cout}-channel batch norm into a weight of ${weightOutFirst.length} values`);
  if (bias && bias.length !== cout) throw new RangeError(`bias has ${bias.length} channels, batch norm has ${cout}`);
  const per = weightOutFirst.length / cout;
  const weight = new Float32Array(weightOutFirst.length);
  const b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const a = scale[o]!;
    for (let j = 0; j < per; j++) weight[o * per + j] = weightOutFirst[o * per + j]! * a;
    b[o] = (bias ? bias[o]! : 0) * a + shift[o]!;
  }
  return { weight, bias: b };
}

/** TensorFlow's SAME padding along one axis: [begin, end] (the extra pixel goes at the end). */
export function samePads(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** Output size of a conv/pool along one axis with explicit pads. */
export function outputSize(size: number, kernel: number, stride: number, padBegin: number, padEnd: number): number {
  return Math.floor((size + padBegin + padEnd - kernel) / stride) + 1;
}
