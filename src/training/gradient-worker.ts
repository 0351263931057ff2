/**
 * A data-parallel training worker (worker thread): holds its own TensorFlow.js backend and a replica of the
 * network, receives the current trainable weights and its shard's sample indices for every step, and answers with
 * the shard's gradients (one flat Float32Array in parameter order), loss, accuracy count and batch-norm moments.
 * The dataset arrives once, in SharedArrayBuffers (no copy per worker). Started by GradientWorkerPool.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendKind } from './backend.js';
import type { FerDataset } from './fer2013.js';
import { DeepEmotion, type ModelConfig } from './model.js';
import { shardGradients, type ShardContext } from './shard-gradients.js';
import { packTensors, type WorkerInit, type WorkerReply, type WorkerStep } from './gradient-pool.js';

if (!parentPort) throw new Error('gradient-worker.ts runs as a worker thread (started by GradientWorkerPool)');
const port = parentPort;

let model: DeepEmotion | null = null;
let data: FerDataset | null = null;
let trainable: string[] = [];
let base: Omit<ShardContext, 'epoch' | 'batchIndex' | 'shard'> | null = null;

function setWeights(flat: Float32Array): void {
  let off = 0;
  tf.tidy(() => {
    for (const name of trainable) {
      const v = model!.p(name);
      v.assign(tf.tensor(flat.subarray(off, off + v.size), v.shape));
      off += v.size;
    }
  });
  if (off !== flat.length) throw new Error(`worker: ${flat.length} weights received, the model has ${off}`);
}

async function init(msg: WorkerInit): Promise<void> {
  await initBackend(msg.backend as BackendKind);
  model = new DeepEmotion(msg.config as ModelConfig, 1);
  trainable = msg.trainable;
  data = { split: 'train', images: new Uint8Array(msg.images), labels: new Uint8Array(msg.labels), sources: [], skipped: [] };
  base = { seed: msg.seed, aug: msg.aug, classWeights: new Float32Array(msg.classWeights), labelSmoothing: msg.labelSmoothing, batchSize: 0 };
}

function step(msg: WorkerStep): Extract<WorkerReply, { kind: 'step' }> {
  setWeights(msg.weights);
  const r = shardGradients(model!, data!, msg.indices, trainable, { ...base!, epoch: msg.epoch, batchIndex: msg.batchIndex, shard: msg.shard, batchSize: msg.batchSize });
  const grads = packTensors(trainable.map((name) => r.grads.get(name)!));
  const bn = r.bn.map((u) => ({ name: u.name, mean: u.mean.dataSync() as Float32Array, variance: u.variance.dataSync() as Float32Array, count: u.count }));
  tf.dispose([...r.grads.values(), ...r.bn.flatMap((u) => [u.mean, u.variance])]);
  return { kind: 'step', id: msg.id, grads, loss: r.loss, correct: r.correct, count: r.count, bn };
}

port.on('message', (msg: WorkerInit | WorkerStep) => {
  void (async () => {
    try {
      if (msg.kind === 'init') {
        await init(msg);
        port.postMessage({ kind: 'ready' } satisfies WorkerReply);
      } else {
        const reply = step(msg);
        port.postMessage(reply, [reply.grads.buffer as ArrayBuffer]);
      }
    } catch (err) {
      port.postMessage({ kind: 'error', message: (err as Error).stack ?? String(err) } satisfies WorkerReply);
    }
  })();
});
