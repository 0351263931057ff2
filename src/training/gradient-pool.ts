/**
 * Data-parallel gradients over worker threads. wasm runs one thread per process under Node, so a batch is split
 * into shards: the main thread computes shard 0 while each worker computes one more, then the shards' gradients
 * (already scaled to the whole batch) are summed and the main thread's optimizer applies them. Every step sends the
 * current trainable weights to the workers, so their replicas never drift.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { AugmentParams } from './augment.js';
import type { FerDataset } from './fer2013.js';
import type { BnUpdate, DeepEmotion, ModelConfig } from './model.js';
import { combineMoments, shardGradients, type ShardContext, type ShardResult } from './shard-gradients.js';

export interface WorkerInit {
  kind: 'init';
  backend: string;
  config: ModelConfig;
  trainable: string[];
  images: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  seed: number;
  aug: AugmentParams;
  classWeights: number[];
  labelSmoothing: number;
}

export interface WorkerStep {
  kind: 'step';
  id: number;
  weights: Float32Array;
  indices: Int32Array;
  epoch: number;
  batchIndex: number;
  shard: number;
  batchSize: number;
}

export type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'error'; message: string }
  | {
      kind: 'step';
      id: number;
      grads: Float32Array;
      loss: number;
      correct: number;
      count: number;
      bn: { name: string; mean: Float32Array; variance: Float32Array; count: number }[];
    };

/** Workers for `--workers auto`: one per core (the main thread is one of them). */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

/** Splits n items into k contiguous shards whose sizes differ by at most one. */
export function shardSizes(n: number, k: number): number[] {
  const parts = Math.max(1, Math.min(k, n));
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

/**
 * Starts gradient-worker in a thread. Compiled, it is plain .js. Under tsx (scripts/train.ts) it is .ts, and loader
 * hooks registered with --import do not reach worker threads in Node 20: a small bootstrap registers tsx there first.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./gradient-worker.js', import.meta.url));
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const target = new URL('./gradient-worker.ts', import.meta.url).href;
  const boot = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(target)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`));
}

function shared(src: Uint8Array): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(src.byteLength);
  new Uint8Array(sab).set(src);
  return sab;
}

interface Pending {
  resolve: (r: Extract<WorkerReply, { kind: 'step' }>) => void;
  reject: (e: Error) => void;
}

class WorkerHandle {
  private pending = new Map<number, Pending>();
  private ready: Promise<void>;
  private failed: Error | null = null;
  constructor(
    readonly worker: Worker,
    init: WorkerInit,
    index: number,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: WorkerReply) => {
        if (msg.kind === 'ready') resolve();
        else if (msg.kind === 'error') this.fail(new Error(`training worker ${index}: ${msg.message}`), reject);
        else {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          p?.resolve(msg);
        }
      });
      worker.on('error', (err) => this.fail(new Error(`training worker ${index} crashed: ${err.message}`), reject));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`training worker ${index} exited with code ${code}`), reject);
      });
    });
    worker.postMessage(init);
  }

  private fail(err: Error, rejectReady: (e: Error) => void): void {
    this.failed ??= err;
    rejectReady(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async whenReady(): Promise<void> {
    await this.ready;
  }

  step(msg: WorkerStep): Promise<Extract<WorkerReply, { kind: 'step' }>> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      this.worker.postMessage(msg, [msg.weights.buffer as ArrayBuffer]);
    });
  }
}

export interface BatchResult {
  grads: Map<string, tf.Tensor>;
  loss: number;
  correct: number;
  count: number;
  bn: BnUpdate[];
}

/** Copies tensors' values one after another into one array (weights to the workers, gradients back). */
export function packTensors(ts: tf.Tensor[]): Float32Array {
  const flat = new Float32Array(ts.reduce((a, t) => a + t.size, 0));
  let off = 0;
  for (const t of ts) {
    flat.set(t.dataSync() as Float32Array, off);
    off += t.size;
  }
  return flat;
}

/** What every shard of a run shares; the step (epoch, batch) comes with each batch. */
type RunContext = Omit<ShardContext, 'epoch' | 'batchIndex' | 'shard' | 'batchSize'>;

export class GradientWorkerPool {
  private nextId = 0;
  private constructor(
    private readonly handles: WorkerHandle[],
    private readonly trainable: string[],
    private readonly run: RunContext,
  ) {}

  /** Starts `workers - 1` worker threads (the main thread computes shard 0). */
  static async start(opts: {
    workers: number;
    backend: string;
    model: DeepEmotion;
    trainable: string[];
    data: FerDataset;
    seed: number;
    aug: AugmentParams;
    classWeights: Float32Array;
    labelSmoothing: number;
  }): Promise<GradientWorkerPool> {
    const images = shared(opts.data.images);
    const labels = shared(opts.data.labels);
    const handles: WorkerHandle[] = [];
    const backend = opts.backend === 'tensorflow' ? 'node' : opts.backend;
    for (let i = 1; i < opts.workers; i++) {
      const init: WorkerInit = {
        kind: 'init',
        backend,
        config: opts.model.config,
        trainable: opts.trainable,
        images,
        labels,
        seed: opts.seed,
        aug: opts.aug,
        classWeights: Array.from(opts.classWeights),
        labelSmoothing: opts.labelSmoothing,
      };
      handles.push(new WorkerHandle(startWorker(), init, i));
    }
    const pool = new GradientWorkerPool(handles, opts.trainable, { seed: opts.seed, aug: opts.aug, classWeights: opts.classWeights, labelSmoothing: opts.labelSmoothing });
    try {
      await Promise.all(handles.map((h) => h.whenReady()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.handles.length + 1;
  }

  /** Gradients of one batch: shard 0 here, the others on the workers; summed, with combined BN moments. */
  async batch(model: DeepEmotion, data: FerDataset, indices: number[], epoch: number, batchIndex: number): Promise<BatchResult> {
    const sizes = shardSizes(indices.length, this.size);
    const shards: number[][] = [];
    let off = 0;
    for (const s of sizes) {
      shards.push(indices.slice(off, off + s));
      off += s;
    }
    const weights = shards.length > 1 ? packTensors(this.trainable.map((n) => model.p(n))) : null;
    const remote = shards.slice(1).map((idx, k) =>
      this.handles[k]!.step({
        kind: 'step',
        id: this.nextId++,
        weights: k === shards.length - 2 ? weights! : weights!.slice(),
        indices: Int32Array.from(idx),
        epoch,
        batchIndex,
        shard: k + 1,
        batchSize: indices.length,
      }),
    );
    const own: ShardResult = shardGradients(model, data, shards[0]!, this.trainable, { ...this.run, epoch, batchIndex, shard: 0, batchSize: indices.length });
    const replies = await Promise.all(remote);
    if (replies.length === 0) return own;
    const grads = new Map<string, tf.Tensor>();
    let goff = 0;
    for (const name of this.trainable) {
      const g = own.grads.get(name)!;
      const size = g.size;
      const sum = tf.tidy(() => replies.reduce((acc: tf.Tensor, r) => acc.add(tf.tensor(r.grads.subarray(goff, goff + size), g.shape)), g));
      grads.set(name, sum);
      g.dispose();
      goff += size;
    }
    const bn: BnUpdate[] = own.bn.map((u, i) => {
      const parts = [{ mean: u.mean.dataSync() as Float32Array, variance: u.variance.dataSync() as Float32Array, count: u.count }, ...replies.map((r) => r.bn[i]!)];
      const c = combineMoments(parts);
      tf.dispose([u.mean, u.variance]);
      return { name: u.name, mean: tf.tensor1d(c.mean), variance: tf.tensor1d(c.variance), count: c.count };
    });
    return {
      grads,
      loss: own.loss + replies.reduce((a, r) => a + r.loss, 0),
      correct: own.correct + replies.reduce((a, r) => a + r.correct, 0),
      count: own.count + replies.reduce((a, r) => a + r.count, 0),
      bn,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }
}
