/**
 * Checkpoint folders (layout in CHECKPOINT.md): model.json (architecture), weights.bin + weights.json
 * (tf.io.encodeWeights), state.json (training state), and for resumable checkpoints optimizer.bin + optimizer.json.
 * Written to a temporary folder and renamed into place, so a kill during the write never leaves a half checkpoint.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readCheckpoint, readWeightFiles, resolveCheckpoint, type CheckpointContents } from '../onnx/index.js';
import { DeepEmotion, defaultModelConfig, paramSpecs, type ModelConfig } from './model.js';

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAcc: number;
  valLoss: number;
  valAcc: number;
  valAccFlip: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainState {
  /** Last completed epoch (1-based; 0 = untrained). */
  epoch: number;
  optimizerStep: number;
  /** Epochs the learning-rate schedule spans (may be lowered by a deadline). */
  plannedEpochs?: number;
  /** The seed every random stream is derived from (shuffle, augmentation, dropout: mixSeed(seed, epoch, ...)). */
  seed: number;
  bestValAcc: number;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  history: EpochRecord[];
  /** The options the run was started with (for resume and the report). */
  options: Record<string, unknown>;
  backend: string;
  savedAt: string;
}

export class CheckpointError extends Error {}

async function writeJson(file: string, v: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(v, null, 2) + '\n');
}

async function writeWeights(dir: string, base: string, tensors: tf.NamedTensorMap): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  await writeFile(path.join(dir, `${base}.bin`), Buffer.from(data));
  await writeJson(path.join(dir, `${base}.json`), specs);
}

/** A weights pair read by the one checkpoint reader (src/onnx/checkpoint.ts), as tensors. */
async function readWeights(dir: string, base: string): Promise<tf.NamedTensorMap> {
  const out: tf.NamedTensorMap = {};
  for (const [name, w] of await readWeightFiles(dir, base)) out[name] = tf.tensor(w.data, w.shape, 'float32');
  return out;
}

export async function saveCheckpoint(
  dir: string,
  model: DeepEmotion,
  state: TrainState,
  optimizer?: { namedState(): tf.NamedTensorMap },
): Promise<void> {
  const tmp = `${dir}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeJson(path.join(tmp, 'model.json'), model.config);
  const named: tf.NamedTensorMap = {};
  for (const s of model.specs) named[s.name] = model.p(s.name);
  await writeWeights(tmp, 'weights', named);
  if (optimizer) await writeWeights(tmp, 'optimizer', optimizer.namedState());
  await writeJson(path.join(tmp, 'state.json'), { ...state, savedAt: new Date().toISOString() });
  const old = `${dir}.old`;
  await rm(old, { recursive: true, force: true });
  if (existsSync(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  model: DeepEmotion;
  state: TrainState | null;
  optimizerState: tf.NamedTensorMap | null;
  dir: string;
}

/**
 * Loads a checkpoint folder into a DeepEmotion ready for predict() (input NHWC [N,48,48,1], normalised), through the
 * one checkpoint reader (validated model.json and weights); the optimizer's state too when it is there.
 */
export async function loadCheckpoint(dirIn: string): Promise<LoadedCheckpoint> {
  let ck: CheckpointContents;
  try {
    ck = await readCheckpoint(dirIn);
  } catch (err) {
    throw new CheckpointError((err as Error).message);
  }
  const { dir } = ck;
  // validated by the reader's schema; training-only fields fall back to the defaults they had when they were added
  const config: ModelConfig = { ...defaultModelConfig(), ...(ck.config as Partial<ModelConfig>) };
  const model = new DeepEmotion(config, 0);
  for (const s of paramSpecs(config)) {
    const w = ck.weights.get(s.name);
    if (!w) throw new CheckpointError(`${dir}/weights.json has no ${s.name}`);
    if (w.shape.join(',') !== s.shape.join(',')) {
      throw new CheckpointError(`${dir}: ${s.name} has shape [${w.shape}] but model.json implies [${s.shape}]`);
    }
    const t = tf.tensor(w.data, w.shape, 'float32');
    model.p(s.name).assign(t);
    t.dispose();
  }
  const state = ck.state as TrainState | null;
  let optimizerState: tf.NamedTensorMap | null = null;
  if (existsSync(path.join(dir, 'optimizer.bin'))) {
    try {
      optimizerState = await readWeights(dir, 'optimizer');
    } catch (err) {
      throw new CheckpointError((err as Error).message);
    }
  }
  return { model, state, optimizerState, dir };
}

/** Resolves a checkpoint folder (or `<dir>.old` after an interrupted save), null when there is none. */
export function resolveCheckpointDir(dir: string): string | null {
  try {
    return resolveCheckpoint(dir);
  } catch {
    return null;
  }
}
