/**
 * Training throughput (images/s: augmentation, forward + backward + AdamW step on 48x48 inputs) of the shipped
 * architecture on each backend available here, same batch size and model, in one run; and wasm with the batch split
 * over worker threads (--workers). The pure-JS cpu backend is the baseline the others are compared against.
 * BENCH_TRAIN_WIDTH / _WIDTH2 / _HIDDEN / _BATCH override the network and batch (default: the shipped de-16x48 run).
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../../src/training/adamw.js';
import { NO_AUGMENT } from '../../src/training/augment.js';
import { initBackend, nodeBackendAvailable, type BackendKind } from '../../src/training/backend.js';
import type { FerDataset } from '../../src/training/fer2013.js';
import { GradientWorkerPool } from '../../src/training/gradient-pool.js';
import { DeepEmotion, defaultModelConfig } from '../../src/training/model.js';

const BATCH = Number(process.env['BENCH_TRAIN_BATCH'] ?? 64);
const WIDTH = Number(process.env['BENCH_TRAIN_WIDTH'] ?? 16);
const WIDTH2 = Number(process.env['BENCH_TRAIN_WIDTH2'] ?? 48);
const HIDDEN = Number(process.env['BENCH_TRAIN_HIDDEN'] ?? 256);

/** Random 48x48 faces: throughput does not depend on the pixels. */
function syntheticData(n: number): FerDataset {
  const images = new Uint8Array(n * 48 * 48);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  return { split: 'train', images, labels: Uint8Array.from({ length: n }, (_, i) => i % 7), sources: [], skipped: [] };
}

/** Images/s over `batches` timed steps after one warm-up step, the batch split over `workers` threads. */
async function measure(kind: BackendKind, batches: number, workers = 1): Promise<{ backend: string; ips: number }> {
  const backend = await initBackend(kind);
  const model = new DeepEmotion(defaultModelConfig({ width: WIDTH, width2: WIDTH2, hidden: HIDDEN }), 1);
  const names = model.specs.filter((s) => s.trainable).map((s) => s.name);
  const opt = new AdamW(new Map(names.map((n) => [n, model.p(n)])), new Set(names.filter((n) => n.endsWith('.kernel'))));
  const data = syntheticData(BATCH);
  const weights = new Float32Array(7).fill(1);
  const pool = await GradientWorkerPool.start({ workers, backend, model, trainable: names, data, seed: 1, aug: NO_AUGMENT, classWeights: weights, labelSmoothing: 0 });
  const idx = Array.from({ length: BATCH }, (_, i) => i);
  const step = async (i: number) => {
    const r = await pool.batch(model, data, idx, 1, i);
    model.applyBnUpdates(r.bn);
    opt.apply(r.grads, 1e-3);
    tf.dispose([...r.grads.values()]);
  };
  await step(0);
  const t0 = performance.now();
  for (let i = 1; i <= batches; i++) await step(i);
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  opt.dispose();
  model.dispose();
  return { backend: workers > 1 ? `${backend} x${workers}` : backend, ips: (batches * BATCH) / seconds };
}

export async function benchTraining(): Promise<void> {
  console.log(
    `Deep_Emotion width ${WIDTH}/${WIDTH2}, hidden ${HIDDEN}, attention and BN, batch ${BATCH}: forward + backward + AdamW (images/s, higher is better)`,
  );
  const results: { backend: string; ips: number }[] = [];
  results.push(await measure('cpu', 1));
  results.push(await measure('wasm', 8));
  const cores = availableParallelism();
  if (cores > 1) results.push(await measure('wasm', 8, Math.min(cores, 4)));
  if (await nodeBackendAvailable()) results.push(await measure('node', 8));
  else console.log('  tensorflow (tfjs-node): not installed here (optionalDependency; needs libtensorflow)');
  const base = results[0]!.ips;
  const wasm1 = results[1]!.ips;
  for (const r of results) {
    const vsWasm = r.backend.startsWith('wasm x') ? `   x${(r.ips / wasm1).toFixed(2)} vs one wasm thread` : '';
    console.log(`  ${r.backend.padEnd(10)} ${r.ips.toFixed(1).padStart(8)} img/s   x${(r.ips / base).toFixed(1)} vs cpu   ${(28709 / r.ips / 60).toFixed(1)} min per FER2013 epoch${vsWasm}`);
  }
}
