/**
 * Usage: node --import tsx scripts/quantize.ts --model models/deep_emotion.onnx --data ../shared/fer2013/train
 *          [--out models/deep_emotion.int8.onnx] [--images 500] [--percentile 99.99] [--attention-weights auto|int8|float]
 *          [--check ../shared/fer2013/test]
 * INT8 static QDQ quantization (S8S8, per-channel weights) calibrated on training images; writes the int8 model and
 * its manifest; with --check, reports top-1 agreement with the float model on a labelled folder.
 */
import { Command } from 'commander';
import { compareModels } from '../src/onnx/agreement.js';
import { evenlySpaced, listFaceImages } from '../src/onnx/fer-images.js';
import { int8PathFor, quantizeModelFile } from '../src/onnx/quantize-model.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${v}"`);
  return n;
}

function parseAttention(v: string): 'auto' | 'int8' | 'float' {
  if (v === 'auto' || v === 'int8' || v === 'float') return v;
  throw new Error(`--attention-weights must be auto, int8 or float, got "${v}"`);
}

const program = new Command('quantize')
  .description('INT8 QDQ quantization of a float model, calibrated on training images')
  .requiredOption('--model <file.onnx>', 'float model (with its manifest)')
  .requiredOption('--data <folder>', 'calibration images: <class>/*.jpg (FER2013 train/)')
  .option('--out <file.onnx>', 'int8 model (default <model>.int8.onnx)')
  .option('--images <n>', 'calibration images', positiveInt, 500)
  .option('--percentile <p>', 'percentile calibration instead of min/max (e.g. 99.99)', (v) => Number(v))
  .option('--attention-weights <mode>', 'attention-branch weights: auto (float if the file stays <= 1/3 of float, else int8 weight-only), int8, float', 'auto')
  .option('--bias-correction', 'empirical bias correction of the int8 layers (opt-in: it helped some checkpoints, hurt others)')
  .option('--check <folder>', 'report float/int8 top-1 agreement and accuracy on this labelled folder')
  .option('--check-limit <n>', 'only n images of the check folder, evenly spaced', positiveInt)
  .action(async (opts: { model: string; data: string; out?: string; images: number; percentile?: number; attentionWeights: string; check?: string; checkLimit?: number; biasCorrection?: boolean }) => {
    const out = opts.out ?? int8PathFor(opts.model);
    const r = await quantizeModelFile(opts.model, out, {
      calibrationData: opts.data,
      calibrationImages: opts.images,
      method: opts.percentile ? { kind: 'percentile', percentile: opts.percentile } : { kind: 'minmax' },
      attentionWeights: parseAttention(opts.attentionWeights),
      biasCorrection: opts.biasCorrection ?? false,
    });
    process.stdout.write(
      `${r.file}: ${r.int8Bytes} bytes (float ${r.floatBytes}, ratio ${(r.int8Bytes / r.floatBytes).toFixed(3)}); ` +
        `attention weights ${r.attentionWeights}; ${r.summary.activations.length} quantized activations, ${r.summary.int8Weights.length} int8 weights, ${r.summary.fusedRelus.length} relus folded; ` +
        `float weights: ${r.summary.floatWeights.join(', ') || 'none'}\n`,
    );
    if (opts.check) {
      const all = listFaceImages(opts.check);
      const a = await compareModels(opts.model, out, opts.checkLimit ? evenlySpaced(all, opts.checkLimit) : all);
      process.stdout.write(
        `check on ${opts.check}: ${a.n} images, top-1 agreement ${(a.top1Agreement * 100).toFixed(2)}%, max |dp| ${a.maxAbsProbDiff.toFixed(4)}, ` +
          `accuracy float ${(a.accuracyA * 100).toFixed(2)}% int8 ${(a.accuracyB * 100).toFixed(2)}%\n`,
      );
    }
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`quantize: ${(err as Error).message}\n`);
  process.exit(1);
});
