/** Training checkpoint folder -> float ONNX model + manifest (the `scripts/export-onnx.ts` step). */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ModelManifest } from '../model/index.js';
import { networkFromCheckpoint, readCheckpoint } from './checkpoint.js';
import { exportNetwork } from './export.js';
import { buildManifest, writeManifest } from './manifest-writer.js';
import { parameterCount } from './network.js';
import { writeModel } from './onnx-file.js';

export interface ExportOptions {
  /** Manifest name (default deep_emotion). */
  name?: string;
  /** Manifest version; default `<date>-<run>-e<epoch>` from the checkpoint path and state.json. */
  version?: string;
  /** Run name for the manifest's source (default: the folder above the checkpoint, as in runs/<run>/best). */
  run?: string;
  trainingData?: string;
  /** Declare test-time flip averaging in the manifest (the runtime then averages each crop with its mirror). */
  testTimeFlip?: boolean;
  /** The manifest's cropZooms (the runtime classifies each face crop enlarged this much around its centre, averaging the views). Default [1]. */
  cropZooms?: number[];
  /** A checkpoint that was never trained (marks the manifest untrained). */
  untrained?: boolean;
}

export interface ExportResult {
  file: string;
  manifest: ModelManifest;
  bytes: number;
  parameters: number;
  epoch: number | null;
}

function epochOf(state: Record<string, unknown> | null): number | null {
  if (!state) return null;
  const e = typeof state.bestEpoch === 'number' && state.bestEpoch > 0 ? state.bestEpoch : state.epoch;
  return typeof e === 'number' ? e : null;
}

export async function exportCheckpoint(checkpointDir: string, outFile: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const ck = await readCheckpoint(checkpointDir);
  const net = networkFromCheckpoint(ck);
  const epoch = epochOf(ck.state);
  const abs = path.resolve(ck.dir);
  const run = opts.run ?? (/^(best|last|latest|checkpoint)(\.old)?$/.test(path.basename(abs)) ? path.basename(path.dirname(abs)) : path.basename(abs));
  const date = new Date().toISOString().slice(0, 10).replace(/-/g, '.');
  const version = opts.version ?? `${date}-${run}-e${epoch ?? 0}`;
  const cfg = ck.config;
  const architecture =
    `Deep_Emotion (Minaee et al. 2019)${cfg.attention ? ' with spatial-transformer attention (localisation net -> theta -> AffineGrid + GridSample)' : ' WITHOUT the attention branch'}; ` +
    `4 conv 3x3 x${cfg.width === (cfg.width2 ?? cfg.width) ? cfg.width : `${cfg.width},${cfg.width},${cfg.width2},${cfg.width2}`}, batch norm ${cfg.batchNorm === 'all' ? 'after every conv' : 'after conv4 only'} (folded into the convs), dense ${cfg.hidden}, ${net.classes} classes`;
  await mkdir(path.dirname(outFile), { recursive: true });
  const graph = exportNetwork(net, { checkpoint: abs, run, epoch: String(epoch ?? ''), version });
  const bytes = await writeModel(outFile, graph);
  const manifest = buildManifest(outFile, {
    name: opts.name ?? 'deep_emotion',
    version,
    description: opts.untrained
      ? 'Deep_Emotion with untrained weights: for tests only'
      : `Deep_Emotion facial-emotion classifier, float32, exported from ${run} epoch ${epoch ?? '?'}`,
    labels: cfg.labels,
    inputSize: cfg.inputSize,
    normalization: cfg.normalization,
    testTimeFlip: opts.testTimeFlip ?? false,
    cropZooms: opts.cropZooms ?? [1],
    source: {
      architecture,
      trainingData: opts.trainingData ?? 'FER2013 train split (28,709 images, 48x48 grey), augmented',
      trainedBy: 'scripts/train.ts (TensorFlow.js), exported by scripts/export-onnx.ts',
      run,
    },
    untrained: opts.untrained ?? false,
    metrics: null,
  });
  await writeManifest(outFile, manifest);
  return { file: outFile, manifest, bytes, parameters: parameterCount(net), epoch };
}
