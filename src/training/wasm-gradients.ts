/**
 * Convolution gradient kernels computed with the backend's own forward Conv2D plus transposes, padding and a
 * reverse, so they run at forward-conv speed. Registered for:
 *  - wasm, which has no Conv2DBackpropFilter (training fails with "Kernel 'Conv2DBackpropFilter' not registered
 *    for backend 'wasm'") and a slow Conv2DBackpropInput;
 *  - cpu, whose stock Conv2DBackpropFilter is pathologically slow (tens of seconds per batch of 4 at 46x46x12).
 *
 * NHWC only (what the training code uses). Dilated forward convolutions are not supported (error); strided ones are
 * for the filter gradient (through a dilated correlation) and fall back to the stock kernel for the input gradient.
 */
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: tf.KernelBackend;
  attrs?: Record<string, unknown>;
}
type Attrs = Record<string, unknown>;

const backendNames = new WeakMap<tf.KernelBackend, string>();

function kernel(name: string, backendName: string): (args: KernelArgs) => TensorInfo {
  const k = tf.getKernel(name, backendName);
  if (!k) throw new Error(`${backendName} backend has no ${name} kernel`);
  return k.kernelFunc as unknown as (args: KernelArgs) => TensorInfo;
}

function run(backend: tf.KernelBackend, name: string, inputs: Record<string, TensorInfo>, attrs: Attrs): TensorInfo {
  let b = backendNames.get(backend);
  if (!b) {
    b = tf.engine().backendNames().find((n) => tf.engine().findBackend(n) === backend) ?? 'wasm';
    backendNames.set(backend, b);
  }
  return kernel(name, b)({ inputs, backend, attrs });
}

function free(backend: tf.KernelBackend, ...ts: TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
}

function checkFormat(attrs: Attrs, name: string): void {
  const f = attrs['dataFormat'];
  if (f !== undefined && f !== 'NHWC' && f !== 'channelsLast') {
    throw new Error(`${name}: only NHWC is supported by the registered training kernel (got ${String(f)})`);
  }
  const d = attrs['dilations'];
  if (d !== undefined && d !== 1 && !(Array.isArray(d) && d.every((v) => v === 1))) {
    throw new Error(`${name}: dilated convolutions are not supported by the registered training kernel`);
  }
}

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** dW[kh,kw,ci,co] = sum_{n,y,x} X[n, y*s + kh - pt, x*s + kw - pl, ci] dY[n,y,x,co], as one forward conv. */
export function conv2DBackpropFilterWasm({ inputs, backend, attrs = {} }: KernelArgs): TensorInfo {
  checkFormat(attrs, 'Conv2DBackpropFilter');
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const filterShape = attrs['filterShape'] as [number, number, number, number];
  const strides = attrs['strides'] as number | [number, number];
  const pad = attrs['pad'] as Pad;
  const dimRoundingMode = attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  const [kh, kw] = filterShape;
  const temps: TensorInfo[] = [];
  let xp = x;
  if (top || bottom || left || right) {
    xp = run(backend, 'PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 });
    temps.push(xp);
  }
  const xt = run(backend, 'Transpose', { x: xp }, { perm: [3, 1, 2, 0] }); // [Ci, Hp, Wp, N]
  const dyt = run(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  temps.push(xt, dyt);
  let corr = run(backend, 'Conv2D', { x: xt, filter: dyt }, {
    strides: 1,
    pad: 'valid',
    dataFormat: 'NHWC',
    dilations: [info.strideHeight, info.strideWidth],
  }); // [Ci, >=kh, >=kw, Co]
  if (corr.shape[1] !== kh || corr.shape[2] !== kw) {
    const sliced = run(backend, 'Slice', { x: corr }, { begin: [0, 0, 0, 0], size: [corr.shape[0]!, kh, kw, corr.shape[3]!] });
    temps.push(corr);
    corr = sliced;
  }
  const out = run(backend, 'Transpose', { x: corr }, { perm: [1, 2, 0, 3] }); // [kh, kw, Ci, Co]
  temps.push(corr);
  free(backend, ...temps);
  return out;
}

/** Factory: the input gradient as a full correlation with the flipped, in/out-swapped filter (stride 1). */
export function makeConv2DBackpropInputWasm(stock: ((args: KernelArgs) => TensorInfo) | null) {
  return function conv2DBackpropInputWasm(args: KernelArgs): TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    checkFormat(attrs, 'Conv2DBackpropInput');
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const inputShape = attrs['inputShape'] as [number, number, number, number];
    const strides = attrs['strides'] as number | [number, number];
    const pad = attrs['pad'] as Pad;
    const dimRoundingMode = attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined;
    const fs = filter.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(inputShape, fs, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const [kh, kw] = fs;
    const pt = kh - 1 - info.padInfo.top;
    const pl = kw - 1 - info.padInfo.left;
    const pb = info.inHeight - info.outHeight + kh - 1 - pt;
    const pr = info.inWidth - info.outWidth + kw - 1 - pl;
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || pt < 0 || pl < 0 || pb < 0 || pr < 0) {
      if (!stock) throw new Error('Conv2DBackpropInput: strided convolution needs the stock kernel, which is missing');
      return stock(args);
    }
    const temps: TensorInfo[] = [];
    let dyp = dy;
    if (pt || pb || pl || pr) {
      dyp = run(backend, 'PadV2', { x: dy }, { paddings: [[0, 0], [pt, pb], [pl, pr], [0, 0]], constantValue: 0 });
      temps.push(dyp);
    }
    const flipped = run(backend, 'Reverse', { x: filter }, { dims: [0, 1] });
    const wt = run(backend, 'Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh, kw, Co, Ci]
    temps.push(flipped, wt);
    const out = run(backend, 'Conv2D', { x: dyp, filter: wt }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 });
    free(backend, ...temps);
    return out;
  };
}

const registered = new Set<string>();

/**
 * Registers both kernels for a backend ('wasm' or 'cpu'; idempotent). Call after the backend's package is loaded
 * and before it is initialised (tf.setBackend), so the stock Conv2DBackpropInput kept for strided convolutions
 * gets its setup.
 */
export function registerConvGradientKernels(backendName: 'wasm' | 'cpu'): void {
  if (registered.has(backendName)) return;
  const stockInput = tf.getKernel('Conv2DBackpropInput', backendName);
  if (stockInput) tf.unregisterKernel('Conv2DBackpropInput', backendName);
  if (tf.getKernel('Conv2DBackpropFilter', backendName)) tf.unregisterKernel('Conv2DBackpropFilter', backendName);
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc });
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName,
    kernelFunc: makeConv2DBackpropInputWasm(stockInput ? (stockInput.kernelFunc as unknown as (a: KernelArgs) => TensorInfo) : null) as unknown as tf.KernelFunc,
    // the stock kernel (used for strided convolutions) binds its wasm function in its setup
    ...(stockInput?.setupFunc ? { setupFunc: stockInput.setupFunc } : {}),
  });
  registered.add(backendName);
}

/** Registers the kernels for wasm (kept for callers of the first API). */
export function registerWasmGradientKernels(): void {
  registerConvGradientKernels('wasm');
}
