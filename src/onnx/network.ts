/**
 * A framework-neutral description of a trained Deep_Emotion-style network: an optional spatial-transformer
 * (attention) branch and a sequential trunk, with every weight in TensorFlow.js layout. The checkpoint reader
 * (src/onnx/checkpoint.ts) builds one from a training checkpoint; the exporter (src/onnx/export.ts) turns it into
 * an ONNX graph. Keeping this in between means the exporter never depends on how training names its variables.
 */

export type Padding = 'valid' | 'same';

export interface Conv2dLayer {
  type: 'conv2d';
  name: string;
  /** TensorFlow.js layout [kh, kw, in, out], row-major. */
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  bias: Float32Array | null;
  strides: [number, number];
  padding: Padding;
}

export interface BatchNormLayer {
  type: 'batchnorm';
  name: string;
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  epsilon: number;
}

export interface DenseLayer {
  type: 'dense';
  name: string;
  /** TensorFlow.js layout [in, out], row-major. */
  kernel: Float32Array;
  kernelShape: [number, number];
  bias: Float32Array | null;
}

export interface MaxPoolLayer {
  type: 'maxpool';
  name: string;
  size: [number, number];
  strides: [number, number];
  padding: Padding;
}

/** Element-wise layers and layers that are the identity at inference time. */
export interface SimpleLayer {
  type: 'relu' | 'flatten' | 'dropout';
  name: string;
}

/**
 * `flatten` flattens an NHWC activation in TensorFlow.js order (h, w, c); the exporter works in NCHW and reorders
 * the rows of the dense layer that follows, so no transpose runs at inference time.
 */
export type Layer = Conv2dLayer | BatchNormLayer | DenseLayer | MaxPoolLayer | SimpleLayer;

export interface SpatialTransformer {
  /**
   * The localisation network on the (normalised) input image; its last layer is a dense layer with 6 outputs, theta
   * = [[t0, t1, t2], [t3, t4, t5]] in PyTorch's affine_grid layout: for output pixel at normalised (x, y) in
   * [-1, 1] (x across columns), the input is sampled at (t0 x + t1 y + t2, t3 x + t4 y + t5), align_corners=false,
   * bilinear, zeros outside the image.
   */
  localisation: Layer[];
}

export interface NetworkDescription {
  /** e.g. "deep_emotion" */
  arch: string;
  /** Square input side (48 for FER2013), one grey channel, NCHW in ONNX. */
  inputSize: number;
  attention: SpatialTransformer | null;
  /** From the (warped) image to the class logits. */
  trunk: Layer[];
  /** Number of classes the last layer produces. */
  classes: number;
}

/** Count of weights (not counting batch-norm statistics). */
export function parameterCount(net: NetworkDescription): number {
  const layers = [...(net.attention?.localisation ?? []), ...net.trunk];
  let n = 0;
  for (const l of layers) {
    if (l.type === 'conv2d' || l.type === 'dense') n += l.kernel.length + (l.bias?.length ?? 0);
    if (l.type === 'batchnorm') n += l.gamma.length + l.beta.length;
  }
  return n;
}
