/**
 * Writes a measured accuracy into a model's manifest: the `metrics` block, from the JSON that
 * `emotion-kiosk evaluate --model <file> --data <folder> --json` prints. Numbers in manifests are measured, never typed.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { loadManifest, type ModelManifest } from '../model/index.js';
import { writeManifest } from './manifest-writer.js';

/** The part of `emotion-kiosk evaluate --json` output that goes into the manifest. */
export const evaluationSchema = z.object({
  model: z.string(),
  modelVersion: z.string(),
  data: z.string(),
  n: z.number().int().positive(),
  accuracy: z.number().min(0).max(1),
  macroF1: z.number().min(0).max(1),
  skipped: z.array(z.unknown()),
});
export type EvaluationSummary = z.infer<typeof evaluationSchema>;

export function parseEvaluation(json: string, source: string): EvaluationSummary {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`${source} is not JSON (expected the output of emotion-kiosk evaluate --json): ${(err as Error).message}`);
  }
  const parsed = evaluationSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${source} is not emotion-kiosk evaluate --json output: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * Puts the evaluation into the manifest of `onnxPath` after checking that it measured this very model (same file
 * and version). `dataset` names the data in words, e.g. "FER2013 PublicTest (3,589 images)".
 */
export async function recordMetrics(onnxPath: string, evaluation: EvaluationSummary, dataset: string, measuredBy = 'emotion-kiosk evaluate'): Promise<ModelManifest> {
  const manifest = await loadManifest(onnxPath);
  if (path.resolve(evaluation.model) !== path.resolve(onnxPath)) throw new Error(`the evaluation measured ${evaluation.model}, not ${onnxPath}`);
  if (evaluation.modelVersion !== manifest.version) throw new Error(`the evaluation measured version ${evaluation.modelVersion}, the manifest is ${manifest.version}: re-run evaluate`);
  if (evaluation.skipped.length > 0) throw new Error(`the evaluation skipped ${evaluation.skipped.length} unreadable images; fix the data before recording its accuracy`);
  const updated: ModelManifest = {
    ...manifest,
    metrics: {
      dataset,
      n: evaluation.n,
      accuracy: Math.round(evaluation.accuracy * 1e6) / 1e6,
      macroF1: Math.round(evaluation.macroF1 * 1e6) / 1e6,
      measuredBy,
      measuredAt: new Date().toISOString(),
    },
  };
  await writeManifest(onnxPath, updated);
  return loadManifest(onnxPath);
}

export async function recordMetricsFromFile(onnxPath: string, evaluationFile: string, dataset: string): Promise<ModelManifest> {
  return recordMetrics(onnxPath, parseEvaluation(await readFile(evaluationFile, 'utf8'), evaluationFile), dataset);
}
