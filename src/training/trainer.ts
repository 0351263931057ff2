/**
 * The training loop: seeded shuffling and augmentation, class-weighted cross-entropy, AdamW with a one-cycle
 * schedule or SGD (Nesterov momentum, weight decay) with warm-up + cosine, evaluation with and without test-time flip after every epoch, a resumable checkpoint after every epoch
 * (`<run>/last`), the best on validation accuracy (`<run>/best`), and early stopping.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { AdamW } from './adamw.js';
import { DEFAULT_AUGMENT, normalizeInto, NO_AUGMENT, type AugmentParams } from './augment.js';
import { meanStd } from './batch.js';
import { loadCheckpoint, resolveCheckpointDir, saveCheckpoint, type EpochRecord, type TrainState } from './checkpoint.js';
import { classCounts, FER_SIZE, type FerDataset } from './fer2013.js';
import { classificationReport, classWeights, confusionMatrix, type ClassificationReport } from './metrics.js';
import { GradientWorkerPool } from './gradient-pool.js';
import { DeepEmotion, defaultModelConfig, type ModelConfig } from './model.js';
import { mixSeed, Rng } from '../util/index.js';
import { cosineLr, oneCycleLr } from './schedule.js';
import { Sgd } from './sgd.js';

/** What the loop needs of an optimiser (AdamW and Sgd); namedState() is what the checkpoint stores. */
interface Optimizer {
  step: number;
  apply(grads: Map<string, tf.Tensor>, lr: number): void;
  namedState(): tf.NamedTensorMap;
  loadState(state: tf.NamedTensorMap, step: number): void;
  dispose(): void;
}

export type OptimizerKind = 'adamw' | 'sgd';
export type ScheduleKind = 'onecycle' | 'cosine';

const PIX = FER_SIZE * FER_SIZE;

export interface TrainOptions {
  run: string;
  epochs: number;
  batchSize: number;
  maxLr: number;
  weightDecay: number;
  seed: number;
  patience: number;
  classWeightPower: number;
  labelSmoothing: number;
  /**
   * Learning-rate multiplier of the attention (localisation) network. Adam moves every parameter by ~lr per step
   * whatever its gradient's size, and at the full rate theta drifts off the image within an epoch (the warped input
   * becomes all zeros, its gradient vanishes and the network collapses to a constant); 0.1 keeps it stable.
   */
  locLrScale: number;
  augment: boolean;
  /** Changes to DEFAULT_AUGMENT (pad-and-crop, random erasing, mixup, ...); ignored with augment: false. */
  augmentParams?: Partial<AugmentParams>;
  /** 'adamw' (default; decoupled weight decay) or 'sgd' (momentum, L2 weight decay as torch.optim.SGD). */
  optimizer?: OptimizerKind;
  /** SGD momentum (default 0.9) and Nesterov (default true). */
  momentum?: number;
  nesterov?: boolean;
  /** 'onecycle' (default: 15% warm-up from maxLr/25, cosine to maxLr/1000) or 'cosine' (warmupEpochs, cosine to minLr). */
  schedule?: ScheduleKind;
  /** Cosine schedule: linear warm-up epochs from maxLr/10 (default 3) and the final learning rate (default maxLr/1000). */
  warmupEpochs?: number;
  minLr?: number;
  /** Where the validation set came from (recorded in state.json and the report): the list file and the sizes. */
  valSplit?: { file: string; train: number; validation: number };
  resume: boolean;
  model: Partial<ModelConfig>;
  /**
   * Wall-clock deadline (ms since epoch): after each epoch, if the planned epochs would not finish by then, the
   * run is shortened to the epochs that fit and the one-cycle schedule is compressed to end there (so the last
   * epochs still anneal the learning rate). Stored in state.json as plannedEpochs.
   */
  deadline?: number;
  /** End this session after this epoch (the schedule still spans `epochs`; continue later with resume). */
  stopAfterEpoch?: number;
  /** Stop each epoch after this many batches (quick checks, benchmarks). */
  maxBatchesPerEpoch?: number;
  /** Threads that share each batch (data-parallel; the main thread is one). Default 1. Not part of the run's identity: a resumed run may use another count. */
  workers?: number;
  /** Show a progress bar (TTY); otherwise a log line every 10% of an epoch. */
  progressBar?: boolean;
  backend: string;
  log: (line: string) => void;
  /** The command-line options as given (stored in state.json so --resume restores them). */
  cli?: Record<string, unknown>;
}

export { makeBatch, meanStd } from './batch.js';

export const DEFAULT_TRAIN: Omit<TrainOptions, 'run' | 'log' | 'backend'> = {
  epochs: 30,
  batchSize: 128,
  maxLr: 3e-3,
  weightDecay: 1e-4,
  seed: 42,
  patience: 10,
  classWeightPower: 0.5,
  labelSmoothing: 0,
  locLrScale: 0.1,
  augment: true,
  resume: false,
  model: {},
};

export interface EvalResult {
  loss: number;
  accuracy: number;
  accuracyFlip: number;
  /** Confusion and metrics of the test-time-flip predictions. */
  report: ClassificationReport;
  reportNoFlip: ClassificationReport;
}

export function evaluate(model: DeepEmotion, data: FerDataset, batchSize = 256): EvalResult {
  const { mean, std } = model.config.normalization;
  const n = data.labels.length;
  const pred = new Int32Array(n);
  const predFlip = new Int32Array(n);
  let lossSum = 0;
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const x = new Float32Array(m * PIX);
    for (let b = 0; b < m; b++) normalizeInto(data.images.subarray((start + b) * PIX, (start + b + 1) * PIX), FER_SIZE, x, b * PIX, mean, std);
    const labels = data.labels.subarray(start, start + m);
    const [p, pf, l] = tf.tidy(() => {
      const xt = tf.tensor4d(x, [m, FER_SIZE, FER_SIZE, 1]);
      const logits = model.forward(xt, false);
      const probs = tf.softmax(logits);
      const probsFlip = probs.add(tf.softmax(model.forward(tf.reverse(xt, 2), false))).div(2);
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), model.config.labels.length), logits, undefined, undefined, tf.Reduction.SUM);
      return [probs.argMax(1), probsFlip.argMax(1), loss];
    });
    pred.set(p.dataSync() as Int32Array, start);
    predFlip.set(pf.dataSync() as Int32Array, start);
    lossSum += l.dataSync()[0]!;
    tf.dispose([p, pf, l]);
  }
  const k = model.config.labels.length;
  const report = classificationReport(confusionMatrix(data.labels, predFlip, k), model.config.labels);
  const reportNoFlip = classificationReport(confusionMatrix(data.labels, pred, k), model.config.labels);
  return { loss: lossSum / n, accuracy: reportNoFlip.accuracy, accuracyFlip: report.accuracy, report, reportNoFlip };
}

export interface TrainResult {
  state: TrainState;
  best: EvalResult | null;
  stoppedEarly: boolean;
}

/** Trains (or resumes) a run; checkpoints go to <run>/last and <run>/best, the epoch log to <run>/history.jsonl. */
export async function train(opts: TrainOptions, trainData: FerDataset, valData: FerDataset): Promise<TrainResult> {
  const log = opts.log;
  await mkdir(opts.run, { recursive: true });
  const lastDir = path.join(opts.run, 'last');
  const bestDir = path.join(opts.run, 'best');
  let model: DeepEmotion;
  let state: TrainState;
  const counts = classCounts(trainData.labels);
  let optimizer: Optimizer;
  const makeOptimizer = (m: DeepEmotion): Optimizer =>
    opts.optimizer === 'sgd'
      ? new Sgd(paramsOf(m), decayedOf(m), lrScaleOf(m, opts.locLrScale), { momentum: opts.momentum ?? 0.9, nesterov: opts.nesterov ?? true, weightDecay: opts.weightDecay })
      : new AdamW(paramsOf(m), decayedOf(m), lrScaleOf(m, opts.locLrScale), { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: opts.weightDecay });
  const stateKey = opts.optimizer === 'sgd' ? 'mom/' : 'm/';
  const resumeDir = opts.resume ? resolveCheckpointDir(lastDir) : null;
  if (opts.resume && !resumeDir) log(`--resume: no checkpoint in ${lastDir} yet, starting a new run`);
  if (resumeDir) {
    const ck = await loadCheckpoint(resumeDir);
    if (!ck.state) throw new Error(`${resumeDir} has no state.json: cannot resume`);
    model = ck.model;
    state = ck.state;
    optimizer = makeOptimizer(model);
    if (ck.optimizerState && !Object.keys(ck.optimizerState).some((k) => k.startsWith(stateKey))) {
      throw new Error(`${resumeDir}: its optimizer state is not ${opts.optimizer ?? 'adamw'}'s (names ${stateKey}*): resume with the optimizer the run was started with`);
    }
    if (ck.optimizerState) {
      optimizer.loadState(ck.optimizerState, state.optimizerStep);
      tf.dispose(Object.values(ck.optimizerState));
    } else {
      optimizer.step = state.optimizerStep;
      log(`warning: ${resumeDir} has no optimizer state; the optimizer's moments restart from zero`);
    }
    log(`resumed from ${resumeDir}: epoch ${state.epoch} done, best val acc ${(state.bestValAcc * 100).toFixed(2)}% (epoch ${state.bestEpoch})`);
  } else {
    const cfg = defaultModelConfig({ ...opts.model, normalization: meanStd(trainData.images) });
    model = new DeepEmotion(cfg, mixSeed(opts.seed, 0xc0ffee));
    optimizer = makeOptimizer(model);
    state = {
      epoch: 0,
      optimizerStep: 0,
      seed: opts.seed,
      bestValAcc: 0,
      bestEpoch: 0,
      epochsWithoutImprovement: 0,
      history: [],
      options: { ...opts, log: undefined, cli: opts.cli },
      backend: opts.backend,
      savedAt: '',
    };
  }
  const seed = state.seed;
  const weights = classWeights(counts, opts.classWeightPower);
  log(`model ${JSON.stringify(model.config)}; ${model.trainableVariables().reduce((a, v) => a + v.size, 0)} trainable parameters`);
  log(`train ${trainData.labels.length} images, per class ${counts.join('/')}; class weights ${weights.map((w) => w.toFixed(2)).join('/')}; val (${valData.split}) ${valData.labels.length}`);
  const aug: AugmentParams = opts.augment ? { ...DEFAULT_AUGMENT, ...(opts.augmentParams ?? {}) } : NO_AUGMENT;
  log(`optimizer ${opts.optimizer ?? 'adamw'}, schedule ${opts.schedule ?? 'onecycle'}; augmentation ${JSON.stringify(aug)}`);
  const n = trainData.labels.length;
  const fullBatches = Math.ceil(n / opts.batchSize);
  const batchesPerEpoch = Math.min(fullBatches, opts.maxBatchesPerEpoch ?? Infinity);
  let plannedEpochs = Math.min(opts.epochs, state.plannedEpochs ?? opts.epochs);
  if (opts.resume && opts.epochs > (state.plannedEpochs ?? 0)) plannedEpochs = opts.epochs;
  const schedule = { maxLr: opts.maxLr, totalSteps: plannedEpochs * batchesPerEpoch, warmupFraction: 0.15, divFactor: 25, finalDiv: 1e3 };
  const cosine = opts.schedule === 'cosine';
  const lrAt = (step: number): number =>
    cosine
      ? cosineLr(step, { maxLr: opts.maxLr, totalSteps: schedule.totalSteps, warmupSteps: Math.round((opts.warmupEpochs ?? 3) * batchesPerEpoch), divFactor: 10, minLr: opts.minLr ?? opts.maxLr / 1e3 })
      : oneCycleLr(step, schedule);
  const trainable = model.specs.filter((s) => s.trainable).map((s) => s.name);
  const pool = await GradientWorkerPool.start({
    workers: opts.workers ?? 1,
    backend: opts.backend,
    model,
    trainable,
    data: trainData,
    seed,
    aug,
    classWeights: Float32Array.from(weights),
    labelSmoothing: opts.labelSmoothing,
  });
  if (pool.size > 1) log(`data-parallel: each batch split over ${pool.size} threads (${pool.size - 1} worker threads)`);
  let best: EvalResult | null = null;
  let stoppedEarly = false;
  try {
    for (let epoch = state.epoch + 1; epoch <= plannedEpochs; epoch++) {
      const t0 = Date.now();
      const order = Array.from({ length: n }, (_, i) => i);
      new Rng(mixSeed(seed, epoch, 0x5eed)).shuffle(order);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let lr = 0;
      const bar = opts.progressBar
        ? new cliProgress.SingleBar({ format: `epoch ${epoch}/${plannedEpochs} [{bar}] {value}/{total} batches | loss {loss} | acc {acc} | {ips} img/s | eta {eta_formatted}` }, cliProgress.Presets.shades_classic)
        : null;
      bar?.start(batchesPerEpoch, 0, { loss: '-', acc: '-', ips: '-' });
      for (let b = 0; b < batchesPerEpoch; b++) {
        const idx = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
        lr = lrAt(optimizer.step);
        const r = await pool.batch(model, trainData, idx, epoch, b);
        model.applyBnUpdates(r.bn);
        optimizer.apply(r.grads, lr);
        const lossV = r.loss;
        const m = r.count;
        lossSum += lossV * m;
        correct += r.correct;
        seen += m;
        tf.dispose([...r.grads.values()]);
        if (!Number.isFinite(lossV)) throw new Error(`loss became ${lossV} at epoch ${epoch} batch ${b}: lower --max-lr`);
        const ips = (seen / ((Date.now() - t0) / 1000)).toFixed(0);
        bar?.update(b + 1, { loss: (lossSum / seen).toFixed(4), acc: ((correct / seen) * 100).toFixed(1) + '%', ips });
        if (!bar && (b + 1) % Math.max(1, Math.round(batchesPerEpoch / 10)) === 0 && b + 1 < batchesPerEpoch) {
          log(`epoch ${epoch} ${b + 1}/${batchesPerEpoch} batches loss ${(lossSum / seen).toFixed(4)} acc ${((correct / seen) * 100).toFixed(2)}% lr ${lr.toExponential(2)} ${ips} img/s`);
        }
      }
      bar?.stop();
      const trainSeconds = (Date.now() - t0) / 1000;
      const ev = evaluate(model, valData);
      const rec: EpochRecord = {
        epoch,
        lr,
        trainLoss: lossSum / seen,
        trainAcc: correct / seen,
        valLoss: ev.loss,
        valAcc: ev.accuracy,
        valAccFlip: ev.accuracyFlip,
        seconds: (Date.now() - t0) / 1000,
        imagesPerSecond: seen / trainSeconds,
      };
      state.history.push(rec);
      state.epoch = epoch;
      state.optimizerStep = optimizer.step;
      if (opts.deadline !== undefined && epoch < plannedEpochs) {
        const perEpoch = rec.seconds * 1000 * 1.1 + 5000;
        const fit = epoch + Math.max(1, Math.floor((opts.deadline - Date.now()) / perEpoch));
        if (fit < plannedEpochs) {
          log(`deadline ${new Date(opts.deadline).toISOString()}: ${plannedEpochs} epochs would not finish; shortening the run to ${fit} epochs`);
          plannedEpochs = fit;
          schedule.totalSteps = plannedEpochs * batchesPerEpoch;
        }
      }
      state.plannedEpochs = plannedEpochs;
      const improved = ev.accuracyFlip > state.bestValAcc;
      if (improved) {
        state.bestValAcc = ev.accuracyFlip;
        state.bestEpoch = epoch;
        state.epochsWithoutImprovement = 0;
        best = ev;
      } else {
        state.epochsWithoutImprovement++;
      }
      await appendFile(path.join(opts.run, 'history.jsonl'), JSON.stringify(rec) + '\n');
      await saveCheckpoint(lastDir, model, state, optimizer);
      if (improved) {
        await saveCheckpoint(bestDir, model, state);
        await import('node:fs/promises').then((fs) =>
          fs.writeFile(path.join(bestDir, 'eval.json'), JSON.stringify({ epoch, split: valData.split, n: ev.report.n, flip: ev.report, noFlip: ev.reportNoFlip }, null, 2) + '\n'),
        );
      }
      log(
        `epoch ${epoch}/${plannedEpochs} train loss ${rec.trainLoss.toFixed(4)} acc ${(rec.trainAcc * 100).toFixed(2)}% | ` +
          `val loss ${rec.valLoss.toFixed(4)} acc ${(rec.valAcc * 100).toFixed(2)}% flip ${(rec.valAccFlip * 100).toFixed(2)}% ` +
          `macroF1 ${ev.report.macroF1.toFixed(3)} | lr ${lr.toExponential(2)} | ${rec.imagesPerSecond.toFixed(0)} img/s | ${rec.seconds.toFixed(0)} s` +
          (improved ? ' | new best, saved' : ` | best ${(state.bestValAcc * 100).toFixed(2)}% at epoch ${state.bestEpoch}`),
      );
      if (opts.stopAfterEpoch !== undefined && epoch >= opts.stopAfterEpoch && epoch < plannedEpochs) {
        log(`stopping after epoch ${epoch} as asked; continue with --resume`);
        break;
      }
      if (state.epochsWithoutImprovement >= opts.patience) {
        log(`early stopping: no improvement for ${opts.patience} epochs`);
        stoppedEarly = true;
        break;
      }
    }
  } finally {
    await pool.close();
  }
  optimizer.dispose();
  model.dispose();
  return { state, best, stoppedEarly };
}

function paramsOf(model: DeepEmotion): Map<string, tf.Variable> {
  const m = new Map<string, tf.Variable>();
  for (const s of model.specs) if (s.trainable) m.set(s.name, model.p(s.name));
  return m;
}

function lrScaleOf(model: DeepEmotion, locScale: number): Map<string, number> {
  return new Map(model.specs.filter((s) => s.name.startsWith('loc.')).map((s) => [s.name, locScale]));
}

function decayedOf(model: DeepEmotion): Set<string> {
  return new Set(model.specs.filter((s) => s.decay).map((s) => s.name));
}
