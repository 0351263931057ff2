/**
 * Deep_Emotion with random (untrained) weights, in TensorFlow.js layouts: the architecture of Minaee et al. 2019 as
 * the widely used PyTorch re-implementation builds it (localisation: conv7 8 -> pool -> relu -> conv5 10 -> pool ->
 * relu -> dense 32 -> relu -> dense 6; trunk: four 3x3 convs of `width` filters with two max-pools, batch norm after
 * the fourth conv, dense 50, dense 7). He-normal weights from a seeded generator, theta initialised to the identity
 * as in training. Used for the untrained model the runtime tests load before a trained one exists.
 */
import type { Conv2dLayer, DenseLayer, Layer, NetworkDescription } from './network.js';
import { seededRandom } from '../util/index.js';


function normal(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function heNormal(rand: () => number, n: number, fanIn: number): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = normal(rand) * std;
  return out;
}

function smallBias(rand: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() - 0.5) * 0.02);
}

export interface RandomNetworkOptions {
  seed?: number;
  /** Filters of the trunk's convs (10 in the paper). */
  width?: number;
  /** Standard deviation of random theta-layer weights; 0 (training's initialisation) makes the warp the identity. */
  thetaNoise?: number;
}

export function randomDeepEmotion({ seed = 1, width = 10, thetaNoise = 0 }: RandomNetworkOptions = {}): NetworkDescription {
  const rand = seededRandom(seed);
  const conv = (name: string, k: number, cin: number, cout: number): Conv2dLayer => ({
    type: 'conv2d',
    name,
    kernel: heNormal(rand, k * k * cin * cout, k * k * cin),
    kernelShape: [k, k, cin, cout],
    bias: smallBias(rand, cout),
    strides: [1, 1],
    padding: 'valid',
  });
  const dense = (name: string, nin: number, nout: number): DenseLayer => ({
    type: 'dense',
    name,
    kernel: heNormal(rand, nin * nout, nin),
    kernelShape: [nin, nout],
    bias: smallBias(rand, nout),
  });
  const pool = (name: string): Layer => ({ type: 'maxpool', name, size: [2, 2], strides: [2, 2], padding: 'valid' });
  const relu = (name: string): Layer => ({ type: 'relu', name });

  const theta: DenseLayer = {
    type: 'dense',
    name: 'fc_loc2',
    kernel: Float32Array.from({ length: 32 * 6 }, () => normal(rand) * thetaNoise),
    kernelShape: [32, 6],
    bias: Float32Array.from([1, 0, 0, 0, 1, 0]),
  };
  const localisation: Layer[] = [
    conv('loc_conv1', 7, 1, 8), pool('loc_pool1'), relu('loc_relu1'),
    conv('loc_conv2', 5, 8, 10), pool('loc_pool2'), relu('loc_relu2'),
    { type: 'flatten', name: 'loc_flatten' },
    dense('fc_loc1', 10 * 8 * 8, 32), relu('fc_loc_relu'),
    theta,
  ];
  const w = width;
  const trunk: Layer[] = [
    conv('conv1', 3, 1, w), relu('relu1'),
    conv('conv2', 3, w, w), pool('pool2'), relu('relu2'),
    conv('conv3', 3, w, w), relu('relu3'),
    conv('conv4', 3, w, w),
    {
      type: 'batchnorm',
      name: 'norm',
      gamma: Float32Array.from({ length: w }, () => 1 + (rand() - 0.5) * 0.2),
      beta: Float32Array.from({ length: w }, () => (rand() - 0.5) * 0.2),
      movingMean: Float32Array.from({ length: w }, () => (rand() - 0.5) * 0.2),
      movingVariance: Float32Array.from({ length: w }, () => 0.5 + rand()),
      epsilon: 1e-5,
    },
    pool('pool4'), relu('relu4'),
    { type: 'dropout', name: 'dropout' },
    { type: 'flatten', name: 'flatten' },
    dense('fc1', w * 9 * 9, 50), relu('fc1_relu'),
    dense('fc2', 50, 7),
  ];
  return { arch: 'deep_emotion', inputSize: 48, attention: { localisation }, trunk, classes: 7 };
}
