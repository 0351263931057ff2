/**
 * Writes a checkpoint with untrained (randomly initialised, seeded) weights, so ONNX export can be developed and
 * tested before a trained model exists. The identity-initialised attention branch is perturbed slightly (--perturb)
 * so the exported AffineGrid/GridSample path is exercised with a non-identity theta.
 *
 *   node --import tsx scripts/make-untrained-checkpoint.ts --out runs/untrained-smoke [--width 16] [--seed 7]
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/training/backend.js';
import { saveCheckpoint } from '../src/training/checkpoint.js';
import { DeepEmotion, defaultModelConfig } from '../src/training/model.js';
import { Rng } from '../src/util/rng.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
};

const o = new Command()
  .requiredOption('--out <dir>', 'checkpoint folder to write')
  .option('--width <n>', 'main conv channels', int, 16)
  .option('--hidden <n>', 'hidden dense units', int, 50)
  .addOption(new Option('--batch-norm <mode>').choices(['all', 'original']).default('all'))
  .option('--seed <n>', 'seed', int, 7)
  .option('--perturb <x>', 'scale of random noise added to theta\'s layer and BN statistics (0 = pure init)', Number, 0.05)
  .parse()
  .opts();

await initBackend('cpu');
const model = new DeepEmotion(defaultModelConfig({ width: o['width'], hidden: o['hidden'], batchNorm: o['batchNorm'], normalization: { mean: 0.5077, std: 0.2550 } }), o['seed']);
const rng = new Rng(o['seed'] + 1);
const eps = o['perturb'] as number;
if (eps > 0) {
  for (const s of model.specs) {
    if (s.name === 'loc.fc2.kernel' || s.name.endsWith('.movingMean') || s.name.endsWith('.beta') || s.name.endsWith('.bias')) {
      const v = model.p(s.name);
      const noise = Float32Array.from({ length: v.size }, () => rng.normal() * eps);
      v.assign(v.add(tf.tensor(noise, v.shape)));
    } else if (s.name.endsWith('.movingVariance') || s.name.endsWith('.gamma')) {
      const v = model.p(s.name);
      const noise = Float32Array.from({ length: v.size }, () => 1 + Math.abs(rng.normal()) * eps * 4);
      v.assign(v.mul(tf.tensor(noise, v.shape)));
    }
  }
}
await saveCheckpoint(o['out'], model, {
  epoch: 0,
  optimizerStep: 0,
  seed: o['seed'],
  bestValAcc: 0,
  bestEpoch: 0,
  epochsWithoutImprovement: 0,
  history: [],
  options: { untrained: true, perturb: eps },
  backend: 'cpu',
  savedAt: '',
});
process.stdout.write(`untrained checkpoint written to ${o['out']} (${model.specs.length} tensors)\n`);
