/** Writes the model manifest (src/model/manifest.ts, the training/runtime contract) next to an exported .onnx. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EMOTIONS, type Emotion, manifestPathFor, manifestSchema, type ModelManifest, type ModelManifestInput } from '../model/index.js';
import { BATCH_DIM, INPUT_NAME, OUTPUT_NAME } from './export.js';

export interface ManifestFields {
  name: string;
  version: string;
  description?: string;
  labels?: readonly Emotion[];
  inputSize: number;
  normalization: { mean: number; std: number };
  testTimeFlip?: boolean;
  cropZooms?: number[];
  quantization?: ModelManifest['quantization'];
  source: ModelManifest['source'];
  untrained?: boolean;
  metrics?: ModelManifest['metrics'];
}

/** The manifest for the .onnx at `onnxPath`, validated against the shared schema. */
export function buildManifest(onnxPath: string, f: ManifestFields): ModelManifest {
  const input: ModelManifestInput = {
    schemaVersion: 1,
    name: f.name,
    version: f.version,
    file: path.basename(onnxPath),
    ...(f.description ? { description: f.description } : {}),
    labels: [...(f.labels ?? EMOTIONS)],
    input: { name: INPUT_NAME, shape: [BATCH_DIM, 1, f.inputSize, f.inputSize], colorSpace: 'gray', dtype: 'float32' },
    output: { name: OUTPUT_NAME, kind: 'logits' },
    normalization: f.normalization,
    testTimeFlip: f.testTimeFlip ?? false,
    cropZooms: f.cropZooms ?? [1],
    quantization: f.quantization ?? null,
    source: f.source,
    untrained: f.untrained ?? false,
    metrics: f.metrics ?? null,
  };
  const parsed = manifestSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(`manifest for ${onnxPath} would be invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Writes `<name>.json` next to `<name>.onnx`; returns its path. */
export async function writeManifest(onnxPath: string, manifest: ModelManifest): Promise<string> {
  const file = manifestPathFor(onnxPath);
  await writeFile(file, JSON.stringify(manifest, null, 2) + '\n');
  return file;
}
