/** `emotion-kiosk evaluate`: accuracy of a model on labelled face crops, through the runtime's own preprocessing. */
import { InvalidArgumentError, type Command } from 'commander';
import { COMMANDS } from './commands.js';
import { loadGrayImage } from '../detection/haar-detector.js';
import { EmotionClassifier } from '../model/emotion-classifier.js';
import { listLabelledImages } from '../model/labelled-folder.js';
import { argmax, confusionMatrix, reportFromConfusion, type ClassificationReport } from '../model/metrics.js';
import { round } from '../util/stats.js';

export interface EvaluationResult extends ClassificationReport {
  model: string;
  modelName: string;
  modelVersion: string;
  data: string;
  skipped: Array<{ file: string; reason: string }>;
  msPerImage: number;
}

export async function evaluateModel(opts: { model: string; data: string; prefix?: string; batch?: number; limit?: number; threads?: number }): Promise<EvaluationResult> {
  const classifier = await EmotionClassifier.load(opts.model, { intraOpThreads: opts.threads ?? 1 });
  try {
    const labels = classifier.manifest.labels;
    let images = listLabelledImages(opts.data, opts.prefix);
    if (opts.limit !== undefined) images = images.slice(0, opts.limit);
    if (images.length === 0) throw new Error(`no images found in ${opts.data}${opts.prefix ? ` starting with ${opts.prefix}` : ''}`);
    const batch = opts.batch ?? 64;
    const truth: number[] = [];
    const predicted: number[] = [];
    const skipped: EvaluationResult['skipped'] = [];
    const size = classifier.inputSize;
    const t0 = performance.now();
    for (let i = 0; i < images.length; i += batch) {
      const crops: Uint8Array[] = [];
      const wanted: number[] = [];
      for (const img of images.slice(i, i + batch)) {
        try {
          crops.push(loadGrayImage(img.file, size));
          wanted.push(labels.indexOf(img.label));
        } catch (err) {
          skipped.push({ file: img.file, reason: (err as Error).message });
        }
      }
      const rows = await classifier.classifyRaw(crops);
      rows.forEach((row, j) => {
        truth.push(wanted[j]!);
        predicted.push(argmax(row));
      });
    }
    const elapsed = performance.now() - t0;
    const report = reportFromConfusion(confusionMatrix(truth, predicted, labels.length), labels);
    return {
      model: opts.model,
      modelName: classifier.manifest.name,
      modelVersion: classifier.manifest.version,
      data: opts.data,
      ...report,
      skipped,
      msPerImage: round(elapsed / Math.max(1, truth.length), 3),
    };
  } finally {
    await classifier.close();
  }
}

export function formatEvaluation(r: EvaluationResult): string {
  const lines = [
    `model ${r.model} (${r.modelName} ${r.modelVersion})`,
    `data  ${r.data}: ${r.n} images${r.skipped.length ? `, ${r.skipped.length} unreadable (skipped)` : ''}`,
    `accuracy ${(r.accuracy * 100).toFixed(2)}%   macro-F1 ${(r.macroF1 * 100).toFixed(2)}%   ${r.msPerImage} ms/image`,
    '',
    'class      precision  recall     f1  support',
    ...r.labels.map((l) => {
      const m = r.perClass[l]!;
      return `${l.padEnd(10)} ${(m.precision * 100).toFixed(1).padStart(9)} ${(m.recall * 100).toFixed(1).padStart(7)} ${(m.f1 * 100).toFixed(1).padStart(6)} ${String(m.support).padStart(8)}`;
    }),
    '',
    `confusion (rows: true, columns: predicted)`,
    `${''.padEnd(10)} ${r.labels.map((l) => l.slice(0, 7).padStart(8)).join('')}`,
    ...r.confusionMatrix.map((row, i) => `${r.labels[i]!.padEnd(10)} ${row.map((v) => String(v).padStart(8)).join('')}`),
  ];
  for (const s of r.skipped) lines.push(`skipped ${s.file}: ${s.reason}`);
  return lines.join('\n');
}

export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description(COMMANDS.evaluate.summary)
    .requiredOption('--model <file.onnx>', 'ONNX model with its manifest next to it')
    .requiredOption('--data <folder>', 'folder of <class>/<image> face crops')
    .option('--prefix <name>', 'only files whose name starts with this (PublicTest_ / PrivateTest_)')
    .option('--limit <n>', 'only the first n images', (v) => parsePositiveInt(v, '--limit'))
    .option('--batch <n>', 'faces per session run', (v) => parsePositiveInt(v, '--batch'), 64)
    .option('--threads <n>', 'onnxruntime intra-op threads', (v) => parsePositiveInt(v, '--threads'), 1)
    .option('--json', 'print the result as JSON')
    .action(async (opts: { model: string; data: string; prefix?: string; limit?: number; batch: number; threads: number; json?: boolean }) => {
      const result = await evaluateModel(opts);
      process.stdout.write((opts.json ? JSON.stringify(result, null, 2) : formatEvaluation(result)) + '\n');
    });
}

export function parsePositiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}
