/**
 * Deep_Emotion (Minaee et al. 2019) in TensorFlow.js ops, NHWC, with its spatial-transformer attention branch.
 * Parameters are plain named tf.Variables so the checkpoint (CHECKPOINT.md) lists each one by name and shape.
 *
 * forward(x [N,48,48,1] normalised):
 *   attention: loc.conv1 7x7 1->8 valid -> maxpool 2 -> relu -> loc.conv2 5x5 8->10 valid -> maxpool 2 -> relu
 *              -> flatten (h,w,c) 640 -> loc.fc1 640->32 -> relu -> loc.fc2 32->6 = theta (init: zero kernel,
 *              identity bias) -> xs = grid_sample(x, affine_grid(theta)) (align_corners=False, zeros padding)
 *   main:      conv1 3x3 1->w -> [bn1] -> relu -> conv2 3x3 w->w -> [bn2] -> relu -> maxpool 2
 *              -> conv3 3x3 w->w2 -> [bn3] -> relu -> conv4 3x3 w2->w2 -> bn4 -> relu -> maxpool 2
 *              -> dropout (training only) -> flatten (h,w,c) 81w2 -> fc1 81w2->hidden -> relu -> fc2 hidden->7 logits
 * w2 = width2 (default: width, as in the reference where all four convs have 10 channels).
 * batchNorm "original" keeps only bn4 (as the reference implementation); "all" adds bn1..bn3.
 */
import * as tf from '@tensorflow/tfjs';
import { EMOTIONS } from '../model/index.js';
import { batchNormTrain } from './batch-norm.js';
import { spatialTransform } from './grid-sample.js';
import { maxPool2 } from './pool.js';
import { Rng } from '../util/index.js';

export interface ModelConfig {
  arch: 'deep_emotion';
  /** Channels of the main convolutions (reference: 10); of conv1-conv2 when width2 is set. */
  width: number;
  /** Channels of conv3-conv4 (after the first pool, at a quarter of the pixels); default: width. */
  width2?: number;
  /** Units of the hidden dense layer (reference: 50). */
  hidden: number;
  /** "all": BN after every main conv; "original": only after conv4 as in the reference code. */
  batchNorm: 'all' | 'original';
  /** The spatial-transformer branch (the shipped network keeps it; off only for ablations). */
  attention: boolean;
  dropout: number;
  inputSize: 48;
  labels: string[];
  /** value = (pixel / 255 - mean) / std */
  normalization: { mean: number; std: number };
  bnEpsilon: number;
  bnMomentum: number;
}

export function defaultModelConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    arch: 'deep_emotion',
    width: 10,
    hidden: 50,
    batchNorm: 'all',
    attention: true,
    dropout: 0.5,
    inputSize: 48,
    labels: [...EMOTIONS],
    normalization: { mean: 0.5, std: 0.25 },
    bnEpsilon: 1e-5,
    bnMomentum: 0.1,
    ...over,
  };
}

export interface ParamSpec {
  name: string;
  shape: number[];
  trainable: boolean;
  /** Decoupled weight decay applies (kernels only). */
  decay: boolean;
  init: 'he' | 'zeros' | 'ones' | 'identity-theta' | 'glorot';
}

/** Channels of conv3 and conv4. */
export function stage2Width(cfg: Pick<ModelConfig, 'width' | 'width2'>): number {
  return cfg.width2 ?? cfg.width;
}

function bnNames(cfg: ModelConfig): string[] {
  return cfg.batchNorm === 'all' ? ['bn1', 'bn2', 'bn3', 'bn4'] : ['bn4'];
}

/** Every parameter in checkpoint order (the order of weights.json). */
export function paramSpecs(cfg: ModelConfig): ParamSpec[] {
  const w = cfg.width;
  const w2 = stage2Width(cfg);
  const specs: ParamSpec[] = [];
  const bnsEarly = bnNames(cfg);
  const conv = (name: string, k: number, cin: number, cout: number) => {
    specs.push({ name: `${name}.kernel`, shape: [k, k, cin, cout], trainable: true, decay: true, init: 'he' });
    const followedByBn = /^conv\d$/.test(name) && bnsEarly.includes(`bn${name.slice(4)}`);
    if (!followedByBn) specs.push({ name: `${name}.bias`, shape: [cout], trainable: true, decay: false, init: 'zeros' });
  };
  const dense = (name: string, cin: number, cout: number, init: ParamSpec['init'] = 'he') => {
    specs.push({ name: `${name}.kernel`, shape: [cin, cout], trainable: true, decay: init !== 'zeros', init });
    specs.push({ name: `${name}.bias`, shape: [cout], trainable: true, decay: false, init: init === 'zeros' ? 'identity-theta' : 'zeros' });
  };
  if (cfg.attention) {
    conv('loc.conv1', 7, 1, 8);
    conv('loc.conv2', 5, 8, 10);
    dense('loc.fc1', 640, 32);
    dense('loc.fc2', 32, 6, 'zeros');
  }
  const bns = bnNames(cfg);
  const bn = (name: string, c: number) => {
    if (!bns.includes(name)) return;
    specs.push({ name: `${name}.gamma`, shape: [c], trainable: true, decay: false, init: 'ones' });
    specs.push({ name: `${name}.beta`, shape: [c], trainable: true, decay: false, init: 'zeros' });
    specs.push({ name: `${name}.movingMean`, shape: [c], trainable: false, decay: false, init: 'zeros' });
    specs.push({ name: `${name}.movingVariance`, shape: [c], trainable: false, decay: false, init: 'ones' });
  };
  conv('conv1', 3, 1, w);
  bn('bn1', w);
  conv('conv2', 3, w, w);
  bn('bn2', w);
  conv('conv3', 3, w, w2);
  bn('bn3', w2);
  conv('conv4', 3, w2, w2);
  bn('bn4', w2);
  dense('fc1', 81 * w2, cfg.hidden);
  dense('fc2', cfg.hidden, cfg.labels.length, 'glorot');
  return specs;
}

function initValues(spec: ParamSpec, rng: Rng): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  switch (spec.init) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'identity-theta':
      out.set([1, 0, 0, 0, 1, 0]);
      break;
    case 'he':
    case 'glorot': {
      const fanIn = spec.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const fanOut = spec.shape[spec.shape.length - 1]!;
      const std = spec.init === 'he' ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
      break;
    }
  }
  return out;
}

export class DeepEmotion {
  readonly params = new Map<string, tf.Variable>();
  readonly specs: ParamSpec[];

  constructor(
    readonly config: ModelConfig,
    seed = 1,
  ) {
    this.specs = paramSpecs(config);
    const rng = new Rng(seed);
    for (const s of this.specs) {
      this.params.set(s.name, tf.variable(tf.tensor(initValues(s, rng), s.shape), s.trainable, `de_${s.name}_${Math.random().toString(36).slice(2, 8)}`));
    }
  }

  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`model has no parameter ${name}`);
    return v;
  }

  trainableVariables(): tf.Variable[] {
    return this.specs.filter((s) => s.trainable).map((s) => this.p(s.name));
  }

  /** theta [N,2,3] from the localisation network. */
  theta(x: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      let h: tf.Tensor4D = addChannels(tf.conv2d(x, this.p('loc.conv1.kernel') as tf.Tensor4D, 1, 'valid'), this.p('loc.conv1.bias'));
      h = tf.relu(maxPool2(h));
      h = addChannels(tf.conv2d(h, this.p('loc.conv2.kernel') as tf.Tensor4D, 1, 'valid'), this.p('loc.conv2.bias'));
      h = tf.relu(maxPool2(h));
      const f = h.reshape([x.shape[0], -1]) as tf.Tensor2D;
      const z = tf.relu(tf.matMul(f, this.p('loc.fc1.kernel') as tf.Tensor2D).add(this.p('loc.fc1.bias'))) as tf.Tensor2D;
      return tf.matMul(z, this.p('loc.fc2.kernel') as tf.Tensor2D).add(this.p('loc.fc2.bias')).reshape([x.shape[0], 2, 3]) as tf.Tensor3D;
    });
  }

  private bn(name: string, h: tf.Tensor4D, training: boolean, updates: BnUpdate[] | null): tf.Tensor4D {
    if (!this.params.has(`${name}.gamma`)) return h;
    const gamma = this.p(`${name}.gamma`);
    const beta = this.p(`${name}.beta`);
    const eps = this.config.bnEpsilon;
    const c = h.shape[3];
    // channel-wise ops on a [N*H*W, C] view: wasm's 4-D broadcasting is ~4x slower than the 2-D one
    const flat = h.reshape([-1, c]);
    if (training) {
      const r = batchNormTrain(flat as tf.Tensor2D, gamma, beta, eps);
      if (updates) updates.push({ name, mean: r.mean, variance: r.variance, count: flat.shape[0] });
      else tf.dispose([r.mean, r.variance]);
      return r.y.reshape(h.shape) as tf.Tensor4D;
    }
    const mean = this.p(`${name}.movingMean`);
    const variance = this.p(`${name}.movingVariance`);
    const scale = gamma.mul(tf.rsqrt(variance.add(eps)));
    const shift = beta.sub(mean.mul(scale));
    return flat.mul(scale).add(shift).reshape(h.shape) as tf.Tensor4D;
  }

  /**
   * Logits [N,7]. `training` uses batch statistics and dropout (seeded by dropoutSeed) and collects the batch
   * moments into `updates` (apply them with applyBnUpdates after the step).
   */
  forward(x: tf.Tensor4D, training = false, dropoutSeed = 0, updates: BnUpdate[] | null = null): tf.Tensor2D {
    const conv = (h: tf.Tensor4D, name: string) => {
      const y = tf.conv2d(h, this.p(`${name}.kernel`) as tf.Tensor4D, 1, 'valid');
      // no bias before a batch norm (its beta does that job)
      return this.params.has(`${name}.bias`) ? addChannels(y, this.p(`${name}.bias`)) : y;
    };
    let h = x;
    if (this.config.attention) h = spatialTransform(x, this.theta(x));
    h = tf.relu(this.bn('bn1', conv(h, 'conv1'), training, updates));
    h = tf.relu(this.bn('bn2', conv(h, 'conv2'), training, updates));
    h = maxPool2(h);
    h = tf.relu(this.bn('bn3', conv(h, 'conv3'), training, updates));
    h = tf.relu(this.bn('bn4', conv(h, 'conv4'), training, updates));
    h = maxPool2(h);
    if (training && this.config.dropout > 0) h = tf.dropout(h, this.config.dropout, undefined, dropoutSeed) as tf.Tensor4D;
    const f = h.reshape([x.shape[0], -1]) as tf.Tensor2D;
    const z = tf.relu(tf.matMul(f, this.p('fc1.kernel') as tf.Tensor2D).add(this.p('fc1.bias'))) as tf.Tensor2D;
    return tf.matMul(z, this.p('fc2.kernel') as tf.Tensor2D).add(this.p('fc2.bias')) as tf.Tensor2D;
  }

  /** Moving averages (PyTorch convention): m <- (1 - momentum) m + momentum * batch; variance unbiased (n/(n-1)). */
  applyBnUpdates(updates: BnUpdate[]): void {
    const mom = this.config.bnMomentum;
    tf.tidy(() => {
      for (const u of updates) {
        const mm = this.p(`${u.name}.movingMean`);
        const mv = this.p(`${u.name}.movingVariance`);
        mm.assign(mm.mul(1 - mom).add(u.mean.mul(mom)));
        mv.assign(mv.mul(1 - mom).add(u.variance.mul((mom * u.count) / Math.max(1, u.count - 1))));
      }
    });
    for (const u of updates) {
      u.mean.dispose();
      u.variance.dispose();
    }
  }

  /** Softmax probabilities, optionally averaged with the horizontally mirrored input (test-time flip). */
  predict(x: tf.Tensor4D, testTimeFlip = false): tf.Tensor2D {
    return tf.tidy(() => {
      const p = tf.softmax(this.forward(x, false));
      if (!testTimeFlip) return p;
      return p.add(tf.softmax(this.forward(tf.reverse(x, 2), false))).div(2);
    });
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

/** h + b over the channel axis, through a 2-D view (much faster than 4-D broadcasting on wasm). */
function addChannels(h: tf.Tensor4D, b: tf.Tensor): tf.Tensor4D {
  return h.reshape([-1, h.shape[3]]).add(b).reshape(h.shape) as tf.Tensor4D;
}

export interface BnUpdate {
  name: string;
  mean: tf.Tensor;
  variance: tf.Tensor;
  count: number;
}
