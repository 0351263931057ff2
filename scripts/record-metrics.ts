/**
 * Usage:
 *   node dist/cli/main.js evaluate --model models/deep_emotion.int8.onnx --data ../shared/fer2013/test --json > eval.json
 *   node --import tsx scripts/record-metrics.ts --model models/deep_emotion.int8.onnx --evaluation eval.json \
 *     --dataset "FER2013 PublicTest (3,589 images)"
 * Writes the measured accuracy into the model's manifest (metrics block).
 */
import { Command } from 'commander';
import { recordMetricsFromFile } from '../src/onnx/record-metrics.js';

const program = new Command('record-metrics')
  .description('write the accuracy measured by `emotion-kiosk evaluate --json` into a model manifest')
  .requiredOption('--model <file.onnx>', 'the model that was evaluated')
  .requiredOption('--evaluation <file.json>', 'output of emotion-kiosk evaluate --json')
  .requiredOption('--dataset <text>', 'what the data was, in words')
  .action(async (opts: { model: string; evaluation: string; dataset: string }) => {
    const m = await recordMetricsFromFile(opts.model, opts.evaluation, opts.dataset);
    process.stdout.write(`${opts.model}: accuracy ${(m.metrics!.accuracy * 100).toFixed(2)}% on ${m.metrics!.n} images (${m.metrics!.dataset})\n`);
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`record-metrics: ${(err as Error).message}\n`);
  process.exit(1);
});
