/**
 * Usage: node --import tsx scripts/export-onnx.ts --checkpoint runs/<run>/best --out models/deep_emotion.onnx
 * Exports a training checkpoint to a float ONNX model (opset 20) and writes its manifest next to it.
 */
import { Command, InvalidArgumentError } from 'commander';
import { exportCheckpoint } from '../src/onnx/export-checkpoint.js';

function parseZooms(v: string): number[] {
  const zs = v.split(',').map(Number);
  if (zs.length > 4 || zs.some((z) => !Number.isFinite(z) || z < 1 || z > 2)) throw new InvalidArgumentError('one to four numbers from 1 to 2, comma-separated, e.g. 1.1 or 1,1.1');
  return zs;
}

const program = new Command('export-onnx')
  .description('export a training checkpoint (model.json + weights.bin) to ONNX + manifest')
  .requiredOption('--checkpoint <dir>', 'checkpoint folder, e.g. runs/<run>/best')
  .requiredOption('--out <file.onnx>', 'output model; the manifest is written next to it as <name>.json')
  .option('--name <name>', 'model name in the manifest', 'deep_emotion')
  .option('--version <v>', 'manifest version (default <date>-<run>-e<epoch>)')
  .option('--run <name>', 'run name for the manifest (default: taken from the checkpoint path)')
  .option('--training-data <text>', 'training data description for the manifest')
  .option('--test-time-flip', 'declare test-time flip averaging in the manifest')
  .option('--crop-zooms <list>', 'the manifest\'s cropZooms: the runtime classifies each face crop enlarged this much around its centre (1-2; several: averaged)', parseZooms, [1])
  .action(async (opts: { checkpoint: string; out: string; name: string; version?: string; run?: string; trainingData?: string; testTimeFlip?: boolean; cropZooms: number[] }) => {
    const r = await exportCheckpoint(opts.checkpoint, opts.out, {
      name: opts.name,
      ...(opts.version ? { version: opts.version } : {}),
      ...(opts.run ? { run: opts.run } : {}),
      ...(opts.trainingData ? { trainingData: opts.trainingData } : {}),
      testTimeFlip: opts.testTimeFlip ?? false,
      cropZooms: opts.cropZooms,
    });
    process.stdout.write(`${r.file}: ${r.bytes} bytes, ${r.parameters} parameters, epoch ${r.epoch ?? '?'}, version ${r.manifest.version}\n`);
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`export-onnx: ${(err as Error).message}\n`);
  process.exit(1);
});
