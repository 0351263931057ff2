/**
 * Checkpoint folders (layout in CHECKPOINT.md): model.json (architecture), weights.bin + weights.json
 * (tf.io.encodeWeights), state.json (training state), and for resumable checkpoints optimizer.bin + optimizer.json.
 * Written to a temporary folder and renamed into place, so a kill during the write never leaves a half checkpoint.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DeepEmotion, paramSpecs, type ModelConfig } from './model.js';

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

async function readWeights(dir: string, base: string): Promise<tf.NamedTensorMap> {
  const specFile = path.join(dir, `${base}.json`);
  const binFile = path.join(dir, `${base}.bin`);
  let specs: tf.io.WeightsManifestEntry[];
  let bin: Buffer;
  try {
    specs = JSON.parse(await readFile(specFile, 'utf8')) as tf.io.WeightsManifestEntry[];
    bin = await readFile(binFile);
  } catch (err) {
    throw new CheckpointError(`cannot read checkpoint weights ${binFile} / ${specFile}: ${(err as Error).message}`);
  }
  const expected = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1) * 4, 0);
  if (bin.byteLength !== expected) {
    throw new CheckpointError(`${binFile} has ${bin.byteLength} bytes, ${specFile} describes ${expected}: the checkpoint is truncated or mismatched`);
  }
  const ab = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  return tf.io.decodeWeights(ab, specs);
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

/** Resolves a checkpoint folder, falling back to `<dir>.old` if a save was interrupted between the two renames. */
export function resolveCheckpointDir(dir: string): string | null {
  if (existsSync(path.join(dir, 'model.json'))) return dir;
  if (existsSync(path.join(`${dir}.old`, 'model.json'))) return `${dir}.old`;
  return null;
}

export interface LoadedCheckpoint {
  model: DeepEmotion;
  state: TrainState | null;
  optimizerState: tf.NamedTensorMap | null;
  dir: string;
}

/** Loads a checkpoint folder into a DeepEmotion ready for predict() (input NHWC [N,48,48,1], normalised). */
export async function loadCheckpoint(dirIn: string): Promise<LoadedCheckpoint> {
  const dir = resolveCheckpointDir(dirIn);
  if (!dir) throw new CheckpointError(`no checkpoint at ${dirIn} (model.json missing)`);
  let config: ModelConfig;
  try {
    config = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as ModelConfig;
  } catch (err) {
    throw new CheckpointError(`cannot read ${path.join(dir, 'model.json')}: ${(err as Error).message}`);
  }
  if (config.arch !== 'deep_emotion') throw new CheckpointError(`${dir}/model.json: arch "${String(config.arch)}" is not deep_emotion`);
  const weights = await readWeights(dir, 'weights');
  const model = new DeepEmotion(config, 0);
  for (const s of paramSpecs(config)) {
    const t = weights[s.name];
    if (!t) throw new CheckpointError(`${dir}/weights.json has no ${s.name}`);
    if (t.shape.join(',') !== s.shape.join(',')) {
      throw new CheckpointError(`${dir}: ${s.name} has shape [${t.shape}] but model.json implies [${s.shape}]`);
    }
    model.p(s.name).assign(t);
  }
  tf.dispose(Object.values(weights));
  let state: TrainState | null = null;
  if (existsSync(path.join(dir, 'state.json'))) state = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as TrainState;
  const optimizerState = existsSync(path.join(dir, 'optimizer.bin')) ? await readWeights(dir, 'optimizer') : null;
  return { model, state, optimizerState, dir };
}
