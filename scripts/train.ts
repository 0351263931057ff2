/**
 * Trains Deep_Emotion on FER2013 (training-host step 1).
 *
 *   node --import tsx scripts/train.ts --data ../shared/fer2013 --run runs/<name> [--epochs 30] [--width 16] ...
 *   node --import tsx scripts/train.ts --data ../shared/fer2013 --run runs/<name> --resume    # after a kill
 *
 * Writes <run>/last (every epoch, resumable), <run>/best (best validation accuracy with test-time flip),
 * <run>/history.jsonl and <run>/report/ at the end. Validation is the held-out part of FER2013 Training named by
 * --val-split (default models/splits/fer2013-val.txt; src/training/split.ts); PublicTest is not loaded at all (the
 * final measurement is `emotion-kiosk evaluate`).
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_KINDS, initBackend, type BackendKind } from '../src/training/backend.js';
import { defaultWorkerCount } from '../src/training/gradient-pool.js';
import { fileURLToPath } from 'node:url';
import { loadFer2013, type FerDataset } from '../src/training/fer2013.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION, DEFAULT_VAL_SPLIT_FILE, splitTraining } from '../src/training/split.js';
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
  .option('--val-split <file>', `validation list (held out of Training; created stratified + seeded when absent); default ${DEFAULT_VAL_SPLIT_FILE} for image folders, models/splits/fer2013-csv-val.txt for a csv`)
  .option('--val-fraction <x>', 'fraction of each class held out when the list is created', num('--val-fraction', 0), DEFAULT_VAL_FRACTION)
  .option('--split-seed <n>', 'seed of the validation draw when the list is created', num('--split-seed', 0, true), DEFAULT_SPLIT_SEED)
  .option('--epochs <n>', 'total epochs (the learning-rate schedule spans them)', num('--epochs', 1, true), DEFAULT_TRAIN.epochs)
  .option('--batch-size <n>', 'batch size', num('--batch-size', 1, true), DEFAULT_TRAIN.batchSize)
  .option('--max-lr <x>', 'peak learning rate of the schedule', num('--max-lr', 0), DEFAULT_TRAIN.maxLr)
  .option('--weight-decay <x>', 'weight decay on kernels (AdamW: decoupled; SGD: L2 added to the gradient)', num('--weight-decay', 0), DEFAULT_TRAIN.weightDecay)
  .addOption(new Option('--optimizer <kind>', 'adamw, or sgd (momentum, Nesterov by default)').choices(['adamw', 'sgd']).default('adamw'))
  .option('--momentum <x>', 'SGD momentum', num('--momentum', 0), 0.9)
  .option('--no-nesterov', 'SGD: classical momentum instead of Nesterov')
  .addOption(new Option('--schedule <kind>', 'onecycle (15% warm-up, cosine) or cosine (--warmup-epochs, then cosine to --min-lr)').choices(['onecycle', 'cosine']).default('onecycle'))
  .option('--warmup-epochs <n>', 'cosine schedule: linear warm-up epochs from max-lr/10', num('--warmup-epochs', 0), 3)
  .option('--min-lr <x>', 'cosine schedule: final learning rate (default max-lr/1000)', num('--min-lr', 0))
  .option('--pad-crop <px>', 'augmentation: pad-and-crop, random whole-pixel shift in [-px, px] with black fill (0 = off)', num('--pad-crop', 0, true), 0)
  .option('--random-erasing <p>', 'augmentation: probability of erasing one rectangle (2-33% of the image) to the mean grey (0 = off)', num('--random-erasing', 0), 0)
  .option('--mixup <alpha>', 'mixup with lam ~ Beta(alpha, alpha) (0 = off)', num('--mixup', 0), 0)
  .option('--rotate <deg>', 'augmentation: max rotation in degrees', num('--rotate', 0), 15)
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
  const dataPath = String(opts['data']);
  const isCsv = !(await stat(dataPath)).isDirectory();
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const splitFile = path.resolve(opts['valSplit'] !== undefined ? String(opts['valSplit']) : path.join(repoRoot, isCsv ? 'models/splits/fer2013-csv-val.txt' : DEFAULT_VAL_SPLIT_FILE));
  const training = await loadFer2013(dataPath, 'train', { limitPerClass: limit });
  for (const s of training.skipped) log(`skipped ${s}`);
  const split = await splitTraining(training, {
    dataPath,
    isCsv,
    file: splitFile,
    fraction: opts['valFraction'] as number,
    seed: opts['splitSeed'] as number,
    partial: limit !== undefined,
    log,
  });
  const trainData = split.train;
  let valData = split.validation;
  const valLimit = opts['valLimitPerClass'] as number | undefined;
  if (valLimit) valData = limitPerClass(valData, valLimit);
  log(
    `loaded ${training.labels.length} Training images in ${((Date.now() - t0) / 1000).toFixed(1)} s (${training.skipped.length} skipped); ` +
      `validation split ${path.relative(process.cwd(), splitFile)}: train on ${trainData.labels.length}, validate on ${valData.labels.length} (PublicTest not loaded)`,
  );
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
      augmentParams: {
        rotateDeg: (opts['rotate'] as number | undefined) ?? 15,
        padCrop: (opts['padCrop'] as number | undefined) ?? 0,
        erasingProb: (opts['randomErasing'] as number | undefined) ?? 0,
        mixupAlpha: (opts['mixup'] as number | undefined) ?? 0,
      },
      optimizer: (opts['optimizer'] as 'adamw' | 'sgd' | undefined) ?? 'adamw',
      momentum: (opts['momentum'] as number | undefined) ?? 0.9,
      nesterov: opts['nesterov'] !== false,
      schedule: (opts['schedule'] as 'onecycle' | 'cosine' | undefined) ?? 'onecycle',
      warmupEpochs: (opts['warmupEpochs'] as number | undefined) ?? 3,
      ...(opts['minLr'] !== undefined ? { minLr: opts['minLr'] as number } : {}),
      valSplit: { file: path.relative(repoRoot, splitFile), train: trainData.labels.length, validation: valData.labels.length },
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
  log(`done: ${result.state.epoch} epochs, best validation accuracy (test-time flip) ${(result.state.bestValAcc * 100).toFixed(2)}% at epoch ${result.state.bestEpoch}${result.stoppedEarly ? ' (early stop)' : ''}`);
  if (opts['report'] !== false) {
    const { writeRunReport } = await import('../src/training/report.js');
    const dir = await writeRunReport(run, log);
    log(`report written to ${dir}`);
  }
}

function limitPerClass(d: FerDataset, n: number): FerDataset {
  const seen = new Array<number>(7).fill(0);
  const keep: number[] = [];
  d.labels.forEach((l, i) => {
    if ((seen[l] = (seen[l] ?? 0) + 1) <= n) keep.push(i);
  });
  const px = 48 * 48;
  const images = new Uint8Array(keep.length * px);
  keep.forEach((i, j) => images.set(d.images.subarray(i * px, (i + 1) * px), j * px));
  return { ...d, images, labels: Uint8Array.from(keep, (i) => d.labels[i]!), sources: keep.map((i) => d.sources[i]!) };
}

main().catch((err: unknown) => {
  log(`error: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env['DEBUG'] && err instanceof Error) log(err.stack ?? '');
  process.exit(1);
});
