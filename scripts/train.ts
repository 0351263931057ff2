/**
 * Trains Deep_Emotion on FER2013 (training-host step 1).
 *
 *   node --import tsx scripts/train.ts --data ../shared/fer2013 --run runs/<name> [--epochs 30] [--width 16] ...
 *   node --import tsx scripts/train.ts --data ../shared/fer2013 --run runs/<name> --resume    # after a kill
 *
 * Writes <run>/last (every epoch, resumable), <run>/best (best PublicTest accuracy with test-time flip),
 * <run>/history.jsonl and <run>/report/ at the end. Validation is PublicTest (or the whole test folder).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_KINDS, initBackend, type BackendKind } from '../src/training/backend.js';
import { defaultWorkerCount } from '../src/training/gradient-pool.js';
import { loadFer2013, loadValidation } from '../src/training/fer2013.js';
import { resumeOptions } from '../src/training/resume-options.js';
import { DEFAULT_TRAIN, train } from '../src/training/trainer.js';

const num = (name: string, min: number, integer = false) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
  return n;
};

const program = new Command()
  .name('train')
  .description('Train Deep_Emotion (with spatial-transformer attention) on FER2013 in TensorFlow.js')
  .requiredOption('--data <path>', 'FER2013: folder with train/ and test/, or Kaggle fer2013.csv')
  .requiredOption('--run <dir>', 'run folder (checkpoints, log, report), e.g. runs/de-w16')
  .addOption(new Option('--backend <kind>', 'tfjs backend').choices(BACKEND_KINDS as string[]).default('auto'))
  .option('--workers <n>', 'threads sharing each batch (data-parallel; wasm and cpu backends): a number or "auto" (one per core)', (v: string) => {
    if (v === 'auto') return v;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--workers must be a positive integer or "auto"');
    return n;
  }, 'auto')
  .option('--epochs <n>', 'total epochs (the one-cycle schedule spans them)', num('--epochs', 1, true), DEFAULT_TRAIN.epochs)
  .option('--batch-size <n>', 'batch size', num('--batch-size', 1, true), DEFAULT_TRAIN.batchSize)
  .option('--max-lr <x>', 'peak learning rate of the one-cycle schedule', num('--max-lr', 0), DEFAULT_TRAIN.maxLr)
  .option('--weight-decay <x>', 'AdamW decoupled weight decay (kernels only)', num('--weight-decay', 0), DEFAULT_TRAIN.weightDecay)
  .option('--width <n>', 'channels of the main convolutions (reference 10)', num('--width', 1, true), 10)
  .option('--width2 <n>', 'channels of conv3-conv4 (default: --width)', num('--width2', 1, true))
  .option('--hidden <n>', 'units of the hidden dense layer (reference 50)', num('--hidden', 1, true), 50)
  .addOption(new Option('--batch-norm <mode>', 'all: BN after every main conv; original: conv4 only').choices(['all', 'original']).default('all'))
  .option('--no-attention', 'drop the spatial-transformer branch (ablation only; never ship)')
  .option('--dropout <p>', 'dropout before fc1 (training only)', num('--dropout', 0), 0.5)
  .option('--no-augment', 'no augmentation (ablation)')
  .option('--class-weight-power <p>', 'class-imbalance loss weights (count)^-p; 0 = none, 1 = fully balanced', num('--class-weight-power', 0), DEFAULT_TRAIN.classWeightPower)
  .option('--loc-lr-scale <x>', 'learning-rate multiplier of the attention (localisation) network', num('--loc-lr-scale', 0), DEFAULT_TRAIN.locLrScale)
  .option('--val-limit-per-class <n>', 'validate on at most n images per class (quick checks only)', num('--val-limit-per-class', 1, true))
  .option('--label-smoothing <x>', 'label smoothing', num('--label-smoothing', 0), DEFAULT_TRAIN.labelSmoothing)
  .option('--patience <n>', 'early stopping: epochs without a better validation accuracy', num('--patience', 1, true), DEFAULT_TRAIN.patience)
  .option('--seed <n>', 'seed of every random stream', num('--seed', 0, true), DEFAULT_TRAIN.seed)
  .option('--deadline <time>', 'ISO date-time (e.g. 2026-11-25T16:20Z): shorten the run and its schedule to finish by then', (v: string) => {
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new InvalidArgumentError('--deadline must be an ISO date-time such as 2026-11-25T16:20Z');
    return t;
  })
  .option('--stop-after <epoch>', 'end this session after this epoch (the schedule still spans --epochs; continue with --resume)', num('--stop-after', 1, true))
  .option('--resume', 'continue <run>/last (same options as the first start are taken from its state.json)')
  .option('--limit-per-class <n>', 'use at most n training images per class (quick checks)', num('--limit-per-class', 1, true))
  .option('--max-batches <n>', 'stop each epoch after n batches (quick checks)', num('--max-batches', 1, true))
  .option('--no-report', 'skip writing <run>/report at the end');

program.parse();
const o = program.opts();
const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

async function main(): Promise<void> {
  const run = path.resolve(String(o['run']));
  let opts: Record<string, unknown> = o;
  if (o['resume'] && existsSync(path.join(run, 'last', 'state.json'))) {
    // a resumed run keeps its architecture and schedule; only --epochs / --patience (and backend, workers) may change
    const prev = JSON.parse(await readFile(path.join(run, 'last', 'state.json'), 'utf8')) as { options: Record<string, unknown> };
    const cli = prev.options['cli'] as Record<string, unknown> | undefined;
    if (cli) opts = resumeOptions(cli, o, (name) => program.getOptionValueSource(name) === 'cli');
  }
  const backend = await initBackend(opts['backend'] as BackendKind);
  log(`backend ${backend}; node ${process.version}; pid ${process.pid}`);
  const t0 = Date.now();
  const limit = opts['limitPerClass'] as number | undefined;
  const trainData = await loadFer2013(String(opts['data']), 'train', { limitPerClass: limit });
  const valLimit = opts['valLimitPerClass'] as number | undefined;
  const valData = await loadValidation(String(opts['data']), valLimit ? { limitPerClass: valLimit } : {});
  for (const s of [...trainData.skipped, ...valData.skipped]) log(`skipped ${s}`);
  log(`loaded ${trainData.labels.length} train / ${valData.labels.length} ${valData.split} images in ${((Date.now() - t0) / 1000).toFixed(1)} s (${trainData.skipped.length + valData.skipped.length} skipped)`);
  const result = await train(
    {
      run,
      epochs: opts['epochs'] as number,
      batchSize: opts['batchSize'] as number,
      maxLr: opts['maxLr'] as number,
      weightDecay: opts['weightDecay'] as number,
      seed: opts['seed'] as number,
      patience: opts['patience'] as number,
      classWeightPower: opts['classWeightPower'] as number,
      labelSmoothing: opts['labelSmoothing'] as number,
      locLrScale: opts['locLrScale'] as number,
      augment: opts['augment'] as boolean,
      resume: Boolean(opts['resume']),
      model: {
        width: opts['width'] as number,
        ...(opts['width2'] !== undefined ? { width2: opts['width2'] as number } : {}),
        hidden: opts['hidden'] as number,
        batchNorm: opts['batchNorm'] as 'all' | 'original',
        attention: opts['attention'] as boolean,
        dropout: opts['dropout'] as number,
      },
      maxBatchesPerEpoch: opts['maxBatches'] as number | undefined,
      workers: backend === 'tensorflow' ? 1 : opts['workers'] === 'auto' ? defaultWorkerCount() : (opts['workers'] as number),
      deadline: o['deadline'] as number | undefined,
      stopAfterEpoch: o['stopAfter'] as number | undefined,
      progressBar: Boolean(process.stdout.isTTY),
      backend,
      log,
      cli: { ...opts, resume: false },
    } as Parameters<typeof train>[0],
    trainData,
    valData,
  );
  log(`done: ${result.state.epoch} epochs, best ${valData.split} accuracy (test-time flip) ${(result.state.bestValAcc * 100).toFixed(2)}% at epoch ${result.state.bestEpoch}${result.stoppedEarly ? ' (early stop)' : ''}`);
  if (opts['report'] !== false) {
    const { writeRunReport } = await import('../src/training/report.js');
    const dir = await writeRunReport(run, log);
    log(`report written to ${dir}`);
  }
}

main().catch((err: unknown) => {
  log(`error: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env['DEBUG'] && err instanceof Error) log(err.stack ?? '');
  process.exit(1);
});
