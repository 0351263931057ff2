/**
 * Training throughput (images/s: forward + backward + AdamW step on 48x48 inputs, augmentation excluded) of the
 * shipped architecture on each backend available here, same batch size and model, in one run. The pure-JS cpu
 * backend is the baseline the others are compared against.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../../src/training/adamw.js';
import { initBackend, nodeBackendAvailable, type BackendKind } from '../../src/training/backend.js';
import { DeepEmotion, defaultModelConfig, type BnUpdate } from '../../src/training/model.js';

const BATCH = Number(process.env['BENCH_TRAIN_BATCH'] ?? 32);
const WIDTH = Number(process.env['BENCH_TRAIN_WIDTH'] ?? 12);
const WIDTH2 = process.env['BENCH_TRAIN_WIDTH2'] ? Number(process.env['BENCH_TRAIN_WIDTH2']) : undefined;
const HIDDEN = Number(process.env['BENCH_TRAIN_HIDDEN'] ?? 50);

/** Images/s over `batches` timed steps after one warm-up step. */
async function measure(kind: BackendKind, batches: number): Promise<{ backend: string; ips: number }> {
  const backend = await initBackend(kind);
  const model = new DeepEmotion(defaultModelConfig({ width: WIDTH, ...(WIDTH2 ? { width2: WIDTH2 } : {}), hidden: HIDDEN }), 1);
  const names = model.specs.filter((s) => s.trainable).map((s) => s.name);
  const opt = new AdamW(new Map(names.map((n) => [n, model.p(n)])), new Set(names.filter((n) => n.endsWith('.kernel'))));
  const x = tf.randomNormal([BATCH, 48, 48, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 7), 'int32'), 7);
  const step = (i: number) => {
    const updates: BnUpdate[] = [];
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.forward(x, true, i, updates)) as tf.Scalar, names.map((n) => model.p(n)));
    model.applyBnUpdates(updates);
    opt.apply(new Map(names.map((n) => [n, grads[model.p(n).name]!])), 1e-3);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  step(0);
  const t0 = performance.now();
  for (let i = 1; i <= batches; i++) step(i);
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return { backend, ips: (batches * BATCH) / seconds };
}

export async function benchTraining(): Promise<void> {
  console.log(`Deep_Emotion width ${WIDTH} with attention and BN, batch ${BATCH}, forward + backward + AdamW (images/s, higher is better)`);
  const results: { backend: string; ips: number }[] = [];
  results.push(await measure('cpu', 2));
  results.push(await measure('wasm', 8));
  if (await nodeBackendAvailable()) results.push(await measure('node', 8));
  else console.log('  tensorflow (tfjs-node): not installed here (optionalDependency; needs libtensorflow)');
  const base = results[0]!.ips;
  for (const r of results) {
    console.log(`  ${r.backend.padEnd(10)} ${r.ips.toFixed(1).padStart(8)} img/s   x${(r.ips / base).toFixed(1)} vs cpu   ${(28709 / r.ips / 60).toFixed(1)} min per FER2013 epoch`);
  }
}
