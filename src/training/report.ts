/**
 * The per-run report: <run>/report/ with README.md (summary), metrics.json, and PNG charts (training curves,
 * confusion matrix, per-class precision/recall/F1). Built from the run's checkpoints: last/state.json (history,
 * options) and best/eval.json (validation metrics of the best epoch). Optional ablation runs are summarised in a
 * table from their own state.json files.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { accuracyChart, confusionChart, lossChart, perClassChart } from './charts.js';
import { resolveCheckpointDir, type TrainState } from './checkpoint.js';
import { evaluationFiles, evaluationMarkdown, readEvaluation, type EvaluationInputs } from './evaluation-report.js';
import type { ClassificationReport } from './metrics.js';

export interface BestEval {
  epoch: number;
  split: string;
  n: number;
  flip: ClassificationReport;
  noFlip: ClassificationReport;
}

export interface AblationRow {
  run: string;
  description: string;
  epochsDone: number;
  plannedEpochs: number;
  bestValAcc: number;
  bestEpoch: number;
  options: Record<string, unknown>;
}

async function readJson<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`report: cannot read ${file}: ${(err as Error).message}`);
  }
}

async function runState(run: string): Promise<TrainState> {
  const dir = resolveCheckpointDir(path.join(run, 'last'));
  if (!dir) throw new Error(`report: ${run}/last has no checkpoint (has the run finished an epoch?)`);
  return readJson<TrainState>(path.join(dir, 'state.json'));
}

/** What the validation set was, in words (the report must say what the epoch was chosen on). */
export function validationLabel(best: Pick<BestEval, 'split' | 'n'>, state: Pick<TrainState, 'options'>): { short: string; long: string } {
  if (best.split === 'validation') {
    const vs = state.options['valSplit'] as { file?: string; train?: number } | undefined;
    const file = vs?.file ? `\`${vs.file}\`, ` : '';
    return {
      short: 'validation (held out of Training)',
      long:
        `the validation split held out of FER2013 Training (${file}${best.n} images, stratified ~10% per class, seeded; ` +
        `never trained on${vs?.train ? `; training used the other ${vs.train}` : ''}). The best epoch is chosen on it; PublicTest was not loaded ` +
        `by the trainer and is measured separately (\`emotion-kiosk evaluate\`)`,
    };
  }
  return {
    short: best.split,
    long: `${best.split} (${best.n} images): a test split, so a best epoch chosen on it gives an optimistic figure`,
  };
}

function pct(x: number, digits = 2): string {
  return `${(x * 100).toFixed(digits)}%`;
}

function describe(o: Record<string, unknown>): string {
  const cli = (o['cli'] as Record<string, unknown> | undefined) ?? o;
  const parts = [
    `width ${String(cli['width'] ?? '?')}${cli['width2'] !== undefined ? `/${String(cli['width2'])}` : ''}`,
    `hidden ${String(cli['hidden'] ?? '?')}`,
    `dropout ${String(cli['dropout'] ?? '?')}`,
    `BN ${String(cli['batchNorm'] ?? '?')}`,
    cli['attention'] === false ? 'no attention' : 'attention',
    cli['augment'] === false ? 'no augmentation' : 'augmentation',
    `class-weight power ${String(cli['classWeightPower'] ?? '?')}`,
    ...(cli['optimizer'] === 'sgd' ? ['SGD'] : []),
    ...(cli['schedule'] === 'cosine' ? ['cosine schedule'] : []),
    ...(Number(cli['padCrop'] ?? 0) > 0 ? [`pad-crop ${String(cli['padCrop'])}`] : []),
    ...(Number(cli['randomErasing'] ?? 0) > 0 ? [`erasing ${String(cli['randomErasing'])}`] : []),
    ...(Number(cli['mixup'] ?? 0) > 0 ? [`mixup ${String(cli['mixup'])}`] : []),
  ];
  return parts.join(', ');
}

export async function ablationRow(run: string): Promise<AblationRow> {
  const s = await runState(run);
  return {
    run,
    description: describe(s.options),
    epochsDone: s.epoch,
    plannedEpochs: s.plannedEpochs ?? s.epoch,
    bestValAcc: s.bestValAcc,
    bestEpoch: s.bestEpoch,
    options: (s.options['cli'] as Record<string, unknown> | undefined) ?? s.options,
  };
}

export interface ReportExtras {
  /** A folder of the evaluation tools' JSON files (src/training/evaluation-report.ts). */
  evaluation?: string;
  /** The run is still training: the report says so at the top. */
  interim?: boolean;
}

function markdown(name: string, state: TrainState, best: BestEval, ablations: AblationRow[], notes: string[], evaluation?: EvaluationInputs, interim = false): string {
  const cli = (state.options['cli'] as Record<string, unknown> | undefined) ?? state.options;
  const h = state.history;
  const last = h[h.length - 1];
  const totalMin = h.reduce((a, r) => a + r.seconds, 0) / 60;
  const ips = h.length ? h.reduce((a, r) => a + r.imagesPerSecond, 0) / h.length : 0;
  const f = best.flip;
  const val = validationLabel(best, state);
  const lines: string[] = [];
  lines.push(`# Training report: ${name}${interim ? ' (INTERIM)' : ''}`, '');
  if (interim) {
    lines.push(
      `> **Interim report**: the run is still training (epoch ${state.epoch} of ${state.plannedEpochs ?? state.epoch} planned). Every figure is of the best ` +
        `checkpoint so far (epoch ${best.epoch}) and will change; nothing here is the final model, and PublicTest has not been measured for it.`,
      '',
    );
  }
  lines.push(
    `Deep_Emotion (convolutional branch + spatial-transformer attention) trained in TensorFlow.js on FER2013 ` +
      `(backend \`${state.backend}\`). Validation = ${val.long}. All numbers below were measured ` +
      `by this run's own evaluation after each epoch (float32 TensorFlow.js model, before ONNX export/quantisation).`,
    '',
  );
  lines.push('## Result', '');
  lines.push(`| | value |`, `|---|---|`);
  lines.push(`| best epoch | ${best.epoch} of ${state.epoch} done (schedule planned ${state.plannedEpochs ?? state.epoch}) |`);
  lines.push(`| ${val.short} accuracy, test-time flip (crop + mirror averaged) | **${pct(f.accuracy)}** |`);
  lines.push(`| ${val.short} accuracy, single crop | ${pct(best.noFlip.accuracy)} |`);
  lines.push(`| macro F1 (flip) | ${f.macroF1.toFixed(3)} |`);
  if (last) lines.push(`| last epoch | train acc ${pct(last.trainAcc)} (augmented), val ${pct(last.valAccFlip)} (flip) |`);
  lines.push(`| training time | ${totalMin.toFixed(0)} min, mean ${ips.toFixed(0)} images/s (shared 2-core machine) |`, '');
  lines.push('## Per class (best epoch, test-time flip)', '');
  lines.push('| class | support | precision | recall | F1 |', '|---|---:|---:|---:|---:|');
  for (const p of f.perClass) lines.push(`| ${p.label} | ${p.support} | ${pct(p.precision, 1)} | ${pct(p.recall, 1)} | ${p.f1.toFixed(3)} |`);
  lines.push('', '## Confusion matrix (rows: true, columns: predicted)', '');
  const labels = f.perClass.map((p) => p.label);
  lines.push(`| true \\ predicted | ${labels.join(' | ')} |`, `|---|${labels.map(() => '---:').join('|')}|`);
  f.confusion.forEach((row, i) => lines.push(`| ${labels[i]} | ${row.join(' | ')} |`));
  lines.push('', '![accuracy](accuracy.png)', '', '![loss](loss.png)', '', '![confusion](confusion.png)', '', '![per class](per-class.png)', '');
  if (evaluation) lines.push(...evaluationMarkdown(evaluation, best.epoch));
  lines.push('## How it was trained', '');
  lines.push(
    `- Network: width ${String(cli['width'])}${cli['width2'] !== undefined ? ` (conv1-2), ${String(cli['width2'])} (conv3-4)` : ''} (reference 10), hidden ${String(cli['hidden'])}, batch norm "${String(cli['batchNorm'])}", ` +
      `dropout ${String(cli['dropout'])} before fc1 (training only), attention ${cli['attention'] === false ? 'off' : 'on'}; ` +
      `layout and weights in src/training/CHECKPOINT.md.`,
  );
  const sgd = cli['optimizer'] === 'sgd';
  const sched =
    cli['schedule'] === 'cosine'
      ? `warm-up + cosine schedule (peak ${String(cli['maxLr'])}, ${String(cli['warmupEpochs'] ?? 3)} linear warm-up epochs from a tenth of it, cosine to ${String(cli['minLr'] ?? `${String(cli['maxLr'])}/1000`)} at the last planned epoch)`
      : `one-cycle schedule (peak ${String(cli['maxLr'])}, 15% linear warm-up, cosine decay)`;
  lines.push(
    (sgd
      ? `- Optimiser: SGD, ${cli['nesterov'] === false ? 'classical' : 'Nesterov'} momentum ${String(cli['momentum'] ?? 0.9)}, L2 weight decay ${String(cli['weightDecay'])} on kernels, `
      : `- Optimiser: AdamW (weight decay ${String(cli['weightDecay'])} on kernels), `) +
      `batch ${String(cli['batchSize'])}, ${sched}; the attention network at ${String(cli['locLrScale'])}x the rate` +
      (sgd ? '.' : ` (at the full rate Adam pushes theta off the image and the network collapses to a constant output).`),
  );
  // what the trainer applied (state.options.augmentParams), else the command line's spelling
  const ap = (state.options['augmentParams'] as Record<string, unknown> | undefined) ?? {};
  const padCrop = Number(ap['padCrop'] ?? cli['padCrop'] ?? 0);
  const erasing = Number(ap['erasingProb'] ?? cli['randomErasing'] ?? 0);
  const mixup = Number(ap['mixupAlpha'] ?? cli['mixup'] ?? 0);
  const extra: string[] = [];
  if (padCrop > 0) extra.push(`pad-and-crop +-${padCrop} px (black fill)`);
  if (erasing > 0) extra.push(`random erasing p ${erasing} (2-33% of the area, to the mean grey)`);
  if (mixup > 0) extra.push(`mixup alpha ${mixup}`);
  if (Number(cli['labelSmoothing'] ?? 0) > 0) extra.push(`label smoothing ${String(cli['labelSmoothing'])}`);
  lines.push(
    `- Augmentation (${cli['augment'] === false ? 'OFF' : 'on'}, deterministic per seed/epoch/image): rotation +-${String(ap['rotateDeg'] ?? cli['rotate'] ?? 15)} deg, zoom 0.9-1.2 and ` +
      `translation +-10% (together a random crop re-scaled to 48x48), horizontal flip, brightness +-20%, contrast +-25%` +
      (extra.length ? `; ${extra.join('; ')}.` : '.'),
  );
  lines.push(
    `- Class imbalance (disgust: 436 of 28,709 training images): handled with class-weighted cross-entropy, ` +
      `weight = (class count)^-${String(cli['classWeightPower'])}, normalised to mean 1 per sample (a square-root inverse-frequency ` +
      `compromise between plain accuracy and minority-class recall). Sampling is uniform.`,
  );
  lines.push(`- Seed ${String(state.seed)}; checkpoints after every epoch (\`last/\`, resumable with \`--resume\`) and on a new best (\`best/\`).`);
  lines.push('');
  lines.push('## Ablations', '');
  if (ablations.length === 0) {
    lines.push('None were run for this report.');
  } else {
    lines.push(
      'Short runs on the same data and seed, each with its own complete (short) schedule unless the epochs column says ' +
        'otherwise: they compare the first epochs only, not converged models; read them as the direction of an effect, ' +
        'not its final size.',
      '',
    );
    lines.push('| run | configuration | epochs done / planned | best val acc (flip) | at epoch |', '|---|---|---:|---:|---:|');
    for (const a of ablations) lines.push(`| ${path.basename(a.run)} | ${a.description} | ${a.epochsDone} / ${a.plannedEpochs} | ${pct(a.bestValAcc)} | ${a.bestEpoch} |`);
  }
  if (notes.length) {
    lines.push('', '## Notes', '');
    for (const n of notes) lines.push(`- ${n}`);
  }
  lines.push('', '## Epochs', '');
  lines.push('| epoch | lr | train loss | train acc | val loss | val acc | val acc flip | img/s | s |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of h) {
    lines.push(
      `| ${r.epoch} | ${r.lr.toExponential(2)} | ${r.trainLoss.toFixed(4)} | ${pct(r.trainAcc)} | ${r.valLoss.toFixed(4)} | ${pct(r.valAcc)} | ${pct(r.valAccFlip)} | ${r.imagesPerSecond.toFixed(0)} | ${r.seconds.toFixed(0)} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** Writes <run>/report/ and returns its path. */
export async function writeRunReport(run: string, log: (l: string) => void, ablationRuns: string[] = [], notes: string[] = [], extras: ReportExtras = {}): Promise<string> {
  const name = path.basename(path.resolve(run));
  const state = await runState(run);
  const bestDir = resolveCheckpointDir(path.join(run, 'best'));
  if (!bestDir || !existsSync(path.join(bestDir, 'eval.json'))) throw new Error(`report: ${run}/best/eval.json missing (no best checkpoint yet)`);
  const best = await readJson<BestEval>(path.join(bestDir, 'eval.json'));
  const ablations: AblationRow[] = [];
  for (const a of ablationRuns) ablations.push(await ablationRow(a));
  const evaluation = extras.evaluation ? await readEvaluation(extras.evaluation) : undefined;
  const out = path.join(run, 'report');
  await mkdir(out, { recursive: true });
  if (extras.evaluation) {
    for (const f of evaluationFiles(extras.evaluation)) await copyFile(path.join(extras.evaluation, f), path.join(out, f));
  }
  await writeFile(path.join(out, 'accuracy.png'), accuracyChart(state.history, `${name}: accuracy per epoch`));
  await writeFile(path.join(out, 'loss.png'), lossChart(state.history, `${name}: loss and learning rate`));
  await writeFile(path.join(out, 'confusion.png'), confusionChart(best.flip, `${name}: ${validationLabel(best, state).short} confusion (epoch ${best.epoch}, flip), rows = true`));
  await writeFile(path.join(out, 'per-class.png'), perClassChart(best.flip, `${name}: ${validationLabel(best, state).short} per class (epoch ${best.epoch}, flip)`));
  const metrics = {
    run: name,
    split: best.split,
    n: best.n,
    bestEpoch: best.epoch,
    epochsDone: state.epoch,
    plannedEpochs: state.plannedEpochs ?? state.epoch,
    accuracy: best.noFlip.accuracy,
    accuracyFlip: best.flip.accuracy,
    macroF1Flip: best.flip.macroF1,
    perClass: best.flip.perClass,
    confusion: best.flip.confusion,
    options: (state.options['cli'] as Record<string, unknown> | undefined) ?? state.options,
    history: state.history,
    ablations,
    notes,
    interim: extras.interim ?? false,
    ...(evaluation ? { evaluation } : {}),
    backend: state.backend,
    generatedAt: new Date().toISOString(),
  };
  await writeFile(path.join(out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  await writeFile(path.join(out, 'README.md'), markdown(name, state, best, ablations, notes, evaluation, extras.interim ?? false));
  log(`report: ${out} (accuracy ${pct(best.flip.accuracy)} with flip at epoch ${best.epoch})`);
  return out;
}
