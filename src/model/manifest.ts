/**
 * The model manifest: the one contract between training and the runtime. It sits next to each .onnx file as
 * `<file>.json` (e.g. models/deep_emotion.int8.onnx -> models/deep_emotion.int8.json) and is the only place the
 * runtime learns labels, input shape, normalisation and quantisation.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EMOTIONS } from './labels.js';

export const manifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    name: z.string().min(1),
    /** Shown in events as `model.version`; change it whenever the weights change. */
    version: z.string().min(1),
    /** The .onnx file, relative to the manifest. */
    file: z.string().min(1),
    description: z.string().optional(),
    labels: z.array(z.enum(EMOTIONS)).length(7).refine((l) => new Set(l).size === 7, 'labels must be distinct'),
    input: z.object({
      name: z.string().min(1),
      /** NCHW; -1 (or a string) for the dynamic batch dimension. */
      shape: z.tuple([z.union([z.number().int(), z.string()]), z.literal(1), z.number().int().positive(), z.number().int().positive()]),
      colorSpace: z.literal('gray'),
      dtype: z.literal('float32'),
    }),
    output: z.object({
      name: z.string().min(1),
      /** `logits`: the runtime applies softmax; `probabilities`: used as they are. */
      kind: z.enum(['logits', 'probabilities']),
    }),
    /** value = (pixel / 255 - mean) / std, pixel in 0..255 after resizing the grey face crop. */
    normalization: z.object({ mean: z.number(), std: z.number().positive() }),
    /** Test-time augmentation the runtime applies: average the scores of each view (cropZooms) and its mirror image. */
    testTimeFlip: z.boolean().default(false),
    /**
     * The runtime classifies each face crop at each of these zooms (enlarged around its centre, bilinear, the outer
     * border cut away; 1 = as cropped), mirrored too with testTimeFlip, and averages the views' probabilities. A
     * network trained with random scale changes is most accurate near the middle of their range.
     */
    cropZooms: z.array(z.number().min(1).max(2)).min(1).max(4).default([1]),
    /**
     * Softmax temperature fitted on the validation split (scripts/calibrate-temperature.ts: minimum NLL of the
     * views' averaged probabilities), so a face's confidence means what it says: each view's probabilities are
     * softmax(logits / temperature). Absent: 1 (the network's own confidences).
     */
    temperature: z.number().positive().finite().optional(),
    quantization: z
      .object({
        format: z.enum(['QDQ', 'QOperator']),
        weights: z.string(),
        activations: z.string(),
        calibration: z.string(),
        floatModel: z.string().optional(),
      })
      .nullable(),
    source: z.object({
      architecture: z.string(),
      trainingData: z.string(),
      trainedBy: z.string(),
      run: z.string().optional(),
    }),
    /** True for networks with random weights (tests before a trained model exists). Never ship one as the default. */
    untrained: z.boolean().default(false),
    metrics: z
      .object({
        dataset: z.string(),
        n: z.number().int().nonnegative(),
        accuracy: z.number().min(0).max(1),
        macroF1: z.number().min(0).max(1).optional(),
        measuredBy: z.string(),
        measuredAt: z.string().optional(),
      })
      .nullable()
      .default(null),
    /**
     * Reference faces that ship with the model (src/model/reference-faces.ts, scripts/make-reference-faces.ts): the file
     * beside it, relative to the manifest, and its sha256 (so the model's signature, over the manifest, covers it).
     * A device checks a model update on them before switching; updates without them are refused.
     */
    reference: z
      .object({ file: z.string().min(1).max(200), sha256: z.string().regex(/^[0-9a-f]{64}$/), faces: z.number().int().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export type ModelManifest = z.infer<typeof manifestSchema>;
export type ModelManifestInput = z.input<typeof manifestSchema>;

/** models/foo.onnx -> models/foo.json */
export function manifestPathFor(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/i, '') + '.json';
}

export class ManifestError extends Error {}

export async function loadManifest(onnxPath: string): Promise<ModelManifest> {
  const file = manifestPathFor(onnxPath);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ManifestError(
      `model manifest ${file} not found next to ${onnxPath} (${(err as NodeJS.ErrnoException).code ?? err}); ` +
        'every .onnx needs its manifest: labels, input shape, normalisation',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`model manifest ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ManifestError(`model manifest ${file} is invalid: ${issues}`);
  }
  const declared = path.resolve(path.dirname(file), parsed.data.file);
  if (path.resolve(onnxPath) !== declared) {
    throw new ManifestError(`model manifest ${file} describes ${parsed.data.file}, not ${path.basename(onnxPath)}`);
  }
  return parsed.data;
}
