/**
 * Reads a training checkpoint folder (src/training/CHECKPOINT.md: model.json + weights.json + weights.bin written by
 * tf.io.encodeWeights) into a NetworkDescription, without TensorFlow.js: the exporter only needs the numbers.
 * The layer sequence mirrors DeepEmotion.forward() in src/training/model.ts; every parameter in the checkpoint must be
 * used and have the shape the config implies, so an architecture change fails loudly here instead of exporting a
 * silently different network.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EMOTIONS } from '../model/index.js';
import type { BatchNormLayer, Conv2dLayer, DenseLayer, Layer, NetworkDescription } from './network.js';

export class CheckpointReadError extends Error {}

export const checkpointConfigSchema = z.object({
  arch: z.literal('deep_emotion'),
  width: z.number().int().positive(),
  /** conv3-conv4 channels (absent in older checkpoints: same as width) */
  width2: z.number().int().positive().optional(),
  hidden: z.number().int().positive(),
  batchNorm: z.enum(['all', 'original']),
  attention: z.boolean(),
  inputSize: z.literal(48),
  labels: z.array(z.enum(EMOTIONS)).length(7),
  normalization: z.object({ mean: z.number(), std: z.number().positive() }),
  bnEpsilon: z.number().positive(),
  /** training-only settings (the exporter does not need them; the trainer's loader does) */
  dropout: z.number().min(0).max(1).optional(),
  bnMomentum: z.number().gt(0).max(1).optional(),
});
export type CheckpointConfig = z.infer<typeof checkpointConfigSchema>;

const weightSpecSchema = z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()), dtype: z.string() }));

export interface CheckpointContents {
  dir: string;
  config: CheckpointConfig;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  /** state.json, when present (epoch, bestValAcc, history...). */
  state: Record<string, unknown> | null;
}

/** The checkpoint folder, or `<dir>.old` when a save was interrupted between its two renames (as training does). */
export function resolveCheckpoint(dir: string): string {
  if (existsSync(path.join(dir, 'model.json'))) return dir;
  if (existsSync(path.join(`${dir}.old`, 'model.json'))) return `${dir}.old`;
  throw new CheckpointReadError(`no checkpoint at ${dir}: model.json missing (expected a folder written by scripts/train.ts, e.g. runs/<name>/best)`);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CheckpointReadError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointReadError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * One tf.io weights pair of a checkpoint (`<base>.json` manifest + `<base>.bin`): every entry float32, the bytes exactly
 * what the manifest describes (a truncated or mismatched pair is an error naming the file).
 */
export async function readWeightFiles(dir: string, base: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const specsParsed = weightSpecSchema.safeParse(await readJson(path.join(dir, `${base}.json`)));
  if (!specsParsed.success) throw new CheckpointReadError(`${dir}/${base}.json is not a tf.io weights manifest: ${specsParsed.error.issues[0]?.message}`);
  const binFile = path.join(dir, `${base}.bin`);
  let bin: Buffer;
  try {
    bin = await readFile(binFile);
  } catch (err) {
    throw new CheckpointReadError(`cannot read ${binFile}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  let offset = 0;
  for (const s of specsParsed.data) {
    if (s.dtype !== 'float32') throw new CheckpointReadError(`${dir}/${base}.json: ${s.name} is ${s.dtype}; only float32 weights are read`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (offset + n * 4 > bin.byteLength) throw new CheckpointReadError(`${binFile} is truncated: ${s.name} needs bytes ${offset}..${offset + n * 4}, the file has ${bin.byteLength}`);
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bin.subarray(offset, offset + n * 4));
    offset += n * 4;
    weights.set(s.name, { shape: s.shape, data });
  }
  if (offset !== bin.byteLength) throw new CheckpointReadError(`${binFile} has ${bin.byteLength} bytes, ${base}.json describes ${offset}: mismatched files`);
  return weights;
}

/** The one reader of the checkpoint format (CHECKPOINT.md): validated config, weights, state; no TensorFlow.js. */
export async function readCheckpoint(dirIn: string): Promise<CheckpointContents> {
  const dir = resolveCheckpoint(dirIn);
  const cfgParsed = checkpointConfigSchema.safeParse(await readJson(path.join(dir, 'model.json')));
  if (!cfgParsed.success) {
    throw new CheckpointReadError(`${dir}/model.json: ${cfgParsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const weights = await readWeightFiles(dir, 'weights');
  const statePath = path.join(dir, 'state.json');
  const state = existsSync(statePath) ? ((await readJson(statePath)) as Record<string, unknown>) : null;
  return { dir, config: cfgParsed.data, weights, state };
}

/** Builds the network, consuming every checkpoint weight (leftovers or wrong shapes are errors). */
export function networkFromCheckpoint(ck: CheckpointContents): NetworkDescription {
  const { config: cfg, dir } = ck;
  const left = new Map(ck.weights);
  const take = (name: string, shape: number[]): Float32Array => {
    const t = left.get(name);
    if (!t) throw new CheckpointReadError(`${dir}: weight ${name} missing (model.json implies it: width ${cfg.width}, batchNorm ${cfg.batchNorm}, attention ${cfg.attention})`);
    if (t.shape.join(',') !== shape.join(',')) throw new CheckpointReadError(`${dir}: weight ${name} has shape [${t.shape}], expected [${shape}]`);
    left.delete(name);
    return t.data;
  };
  const hasBn = (bnName: string) => cfg.batchNorm === 'all' || bnName === 'bn4';
  // Training gives a conv no bias when a batch norm follows it (beta does that job); the others have one.
  const conv = (name: string, k: number, cin: number, cout: number, biasOptional = false): Conv2dLayer => ({
    type: 'conv2d',
    name,
    kernel: take(`${name}.kernel`, [k, k, cin, cout]),
    kernelShape: [k, k, cin, cout],
    bias: biasOptional && !left.has(`${name}.bias`) ? null : take(`${name}.bias`, [cout]),
    strides: [1, 1],
    padding: 'valid',
  });
  const dense = (name: string, nin: number, nout: number): DenseLayer => ({
    type: 'dense',
    name,
    kernel: take(`${name}.kernel`, [nin, nout]),
    kernelShape: [nin, nout],
    bias: take(`${name}.bias`, [nout]),
  });
  const pool = (name: string): Layer => ({ type: 'maxpool', name, size: [2, 2], strides: [2, 2], padding: 'valid' });
  const relu = (name: string): Layer => ({ type: 'relu', name });
  const w = cfg.width;
  const w2 = cfg.width2 ?? cfg.width;
  const bn = (name: string, c: number): BatchNormLayer[] => {
    if (!hasBn(name)) return [];
    return [
      {
        type: 'batchnorm',
        name,
        gamma: take(`${name}.gamma`, [c]),
        beta: take(`${name}.beta`, [c]),
        movingMean: take(`${name}.movingMean`, [c]),
        movingVariance: take(`${name}.movingVariance`, [c]),
        epsilon: cfg.bnEpsilon,
      },
    ];
  };
  const localisation: Layer[] | null = cfg.attention
    ? [
        conv('loc.conv1', 7, 1, 8), pool('loc.pool1'), relu('loc.relu1'),
        conv('loc.conv2', 5, 8, 10), pool('loc.pool2'), relu('loc.relu2'),
        { type: 'flatten', name: 'loc.flatten' },
        dense('loc.fc1', 640, 32), relu('loc.fc1.relu'),
        dense('loc.fc2', 32, 6),
      ]
    : null;
  const trunk: Layer[] = [
    conv('conv1', 3, 1, w, hasBn('bn1')), ...bn('bn1', w), relu('relu1'),
    conv('conv2', 3, w, w, hasBn('bn2')), ...bn('bn2', w), relu('relu2'), pool('pool2'),
    conv('conv3', 3, w, w2, hasBn('bn3')), ...bn('bn3', w2), relu('relu3'),
    conv('conv4', 3, w2, w2, hasBn('bn4')), ...bn('bn4', w2), relu('relu4'), pool('pool4'),
    { type: 'dropout', name: 'dropout' },
    { type: 'flatten', name: 'flatten' },
    dense('fc1', 81 * w2, cfg.hidden), relu('fc1.relu'),
    dense('fc2', cfg.hidden, cfg.labels.length),
  ];
  if (left.size > 0) {
    throw new CheckpointReadError(`${dir}: weights [${[...left.keys()].join(', ')}] are not used by the Deep_Emotion exporter: the training architecture changed; update src/onnx/checkpoint.ts`);
  }
  return { arch: cfg.arch, inputSize: cfg.inputSize, attention: localisation ? { localisation } : null, trunk, classes: cfg.labels.length };
}
