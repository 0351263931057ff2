/** Usage: node --import tsx scripts/make-untrained-model.ts --out <dir> [--seed n]: writes an untrained Deep_Emotion ONNX model + manifest. */
import { Command } from 'commander';
import { makeUntrainedModel } from '../src/onnx/untrained.js';

const program = new Command('make-untrained-model')
  .description('write <dir>/deep_emotion.untrained.onnx and its manifest (random weights, for tests)')
  .requiredOption('--out <dir>', 'output folder (created if missing)')
  .option('--seed <n>', 'random seed', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`--seed must be an integer, got "${v}"`);
    return n;
  }, 1)
  .action(async (opts: { out: string; seed: number }) => {
    const file = await makeUntrainedModel(opts.out, { seed: opts.seed });
    process.stdout.write(`${file}\n`);
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`make-untrained-model: ${(err as Error).message}\n`);
  process.exit(1);
});
