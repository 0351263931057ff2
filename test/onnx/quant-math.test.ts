import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  activationParams,
  ChannelMeanObserver,
  correctBias,
  fakeQuantizePerChannel,
  dequantizeValue,
  fakeQuantize,
  MinMaxObserver,
  PercentileObserver,
  percentileOfSorted,
  quantizeBias,
  quantizePerChannel,
  quantizeValue,
  roundHalfToEven,
  symmetricScale,
} from '../../src/onnx/quant-math.js';

test('roundHalfToEven rounds ties to the even neighbour, like QuantizeLinear', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, -3.7].map(roundHalfToEven), [0, 2, 2, -0, -2, -2, 2, 3, -4]);
});

test('activation parameters: asymmetric int8 covering the range, 0 exactly representable', () => {
  const p = activationParams(-1, 3);
  assert.equal(p.scale, Math.fround(4 / 255));
  assert.equal(p.zeroPoint, roundHalfToEven(-128 + 1 / p.scale));
  assert.equal(fakeQuantize(0, p), 0);
  assert.equal(quantizeValue(-1, p), -128);
  assert.equal(quantizeValue(3, p), 127);
  // values beyond the range saturate
  assert.equal(quantizeValue(100, p), 127);
  assert.equal(quantizeValue(-100, p), -128);
  // round-trip error within half a step inside the range
  for (let x = -1; x <= 3; x += 0.0137) assert.ok(Math.abs(fakeQuantize(x, p) - x) <= p.scale / 2 + 1e-7, `x=${x}`);
});

test('a non-negative range puts the zero point at -128, so the int8 clamp is an exact ReLU', () => {
  const p = activationParams(0, 6);
  assert.equal(p.zeroPoint, -128);
  assert.equal(fakeQuantize(-0.3, p), 0);
  assert.equal(fakeQuantize(-50, p), 0);
  assert.ok(fakeQuantize(2, p) > 1.9);
});

test('a range that excludes 0 is widened to include it; an empty range gets scale 1', () => {
  const p = activationParams(2, 4);
  assert.equal(p.zeroPoint, -128);
  assert.equal(p.scale, Math.fround(4 / 255));
  assert.deepEqual(activationParams(0, 0), { scale: 1, zeroPoint: 0 });
  assert.throws(() => activationParams(3, 1), /invalid calibration range/);
  assert.throws(() => activationParams(NaN, 1), /invalid calibration range/);
});

test('per-channel symmetric weights: each output channel gets its own scale, max maps to +-127', () => {
  // two channels of 3 weights: [out, ...] layout
  const w = Float32Array.from([0.5, -1.0, 0.25, 10, -2.5, 5]);
  const { values, scales } = quantizePerChannel(w, 2);
  assert.equal(scales[0], Math.fround(1 / 127));
  assert.equal(scales[1], Math.fround(10 / 127));
  assert.deepEqual([...values], [64, -127, 32, 127, -32, 64]);
  for (let i = 0; i < w.length; i++) {
    const s = scales[Math.floor(i / 3)]!;
    assert.ok(Math.abs(dequantizeValue(values[i]!, { scale: s, zeroPoint: 0 }) - w[i]!) <= s / 2 + 1e-7);
  }
  // per-tensor would crush channel 0 to a few levels; per-channel keeps it precise
  assert.ok(Math.abs(values[2]! * scales[0]! - 0.25) < 0.004);
});

test('an all-zero channel quantizes to zeros with scale 1 (no division by zero)', () => {
  const { values, scales } = quantizePerChannel(Float32Array.from([0, 0, 1, -1]), 2);
  assert.deepEqual([...values], [0, 0, 127, -127]);
  assert.equal(scales[0], 1);
  assert.equal(symmetricScale(0), 1);
  assert.throws(() => quantizePerChannel(Float32Array.from([1, 2, 3]), 2), /do not split/);
});

test('int32 bias uses input scale x weight scale per channel, and refuses overflow', () => {
  const q = quantizeBias(Float32Array.from([0.1, -0.2]), 0.02, Float32Array.from([0.01, 0.005]))!;
  assert.equal(q.scales[0], Math.fround(0.02 * 0.01));
  assert.equal(q.values[0], Math.round(0.1 / Math.fround(0.0002)));
  assert.equal(q.values[1], Math.round(-0.2 / Math.fround(0.0001)));
  assert.equal(quantizeBias(Float32Array.from([1e6]), 1e-6, Float32Array.from([1e-6])), null);
  assert.throws(() => quantizeBias(Float32Array.from([1]), 1, Float32Array.from([1, 2])), /channels/);
});

test('min/max observer tracks the extremes over batches', () => {
  const o = new MinMaxObserver();
  assert.throws(() => o.range(), /no values/);
  o.observe([1, 2, 3]);
  o.observe(Float32Array.from([-4, 0.5]));
  assert.deepEqual(o.range(), { min: -4, max: 3 });
});

test('percentile observer clips rare outliers but stays inside the observed range', () => {
  const o = new PercentileObserver(99, 100000);
  const values = Float32Array.from({ length: 10000 }, (_, i) => (i % 100) / 100);
  values[0] = 1000; // one outlier
  o.observe(values);
  const r = o.range();
  assert.ok(r.max < 1.01 && r.max > 0.95, `max ${r.max}`);
  assert.ok(r.min >= 0 && r.min < 0.02, `min ${r.min}`);
  assert.equal(percentileOfSorted([0, 10], 0.5), 5);
  assert.throws(() => new PercentileObserver(40), /percentile/);
});

test('fake-quantized per-channel weights are the int8 values times their channel scale', () => {
  const w = Float32Array.from([0.5, -1.0, 0.25, 10, -2.5, 5]);
  const fq = fakeQuantizePerChannel(w, 2);
  const { values, scales } = quantizePerChannel(w, 2);
  assert.deepEqual([...fq], [...values].map((v, i) => Math.fround(v * scales[Math.floor(i / 3)]!)));
  assert.ok(fq.every((v, i) => Math.abs(v - w[i]!) <= scales[Math.floor(i / 3)]! / 2 + 1e-7));
});

test('channel means over NCHW batches, and bias correction removes the measured shift', () => {
  const o = new ChannelMeanObserver();
  // batch of 2, 2 channels, 2 pixels: channel 0 = [1,3] and [5,7] -> mean 4; channel 1 = [0,0] and [2,2] -> 1
  o.observe(Float32Array.from([1, 3, 0, 0, 5, 7, 2, 2]), [2, 2, 1, 2]);
  o.observe(Float32Array.from([4, 4, 1, 1]), [1, 2]); // [n, c] rows count too
  assert.deepEqual([...o.means()], [4, 1]);
  assert.throws(() => o.observe(Float32Array.from([1, 2, 3]), [1, 3, 1, 1]), /channel count changed/);
  assert.deepEqual([...correctBias(Float32Array.from([0.5, -1]), [2, 3], [2.25, 2.5])], [0.25, -0.5]);
  assert.throws(() => correctBias(Float32Array.from([1]), [1, 2], [1, 2]), /channels/);
});
