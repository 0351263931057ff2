/** `emotion-kiosk evaluate`: accuracy of a model on labelled face crops, through the runtime's own preprocessing. */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { SUMMARIES } from './summaries.js';
import { parsePositiveInt } from './flag-values.js';
import { createFrameSource, observedSource, type Frame } from '../capture/index.js';
import { loadConfig, type KioskConfig } from '../config/index.js';
import { HaarFaceDetector, loadGrayImage, type Box } from '../detection/index.js';
import { clipReport, toClipEvent, type ClipEvent, type ClipReport, type RecordedFrame, parseClipTruth, type ClipTruth } from '../evaluation/index.js';
import { EmotionClassifier, type Emotion, listLabelledImages, argmax, confusionMatrix, reportFromConfusion, type ClassificationReport } from '../model/index.js';
import { FaceTracker, KioskPipeline, type ClassifierPort, type FaceDetectorPort } from '../pipeline/index.js';
import { createLogger, defaultCascadePath, defaultModelPath, round } from '../util/index.js';

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
    .description(SUMMARIES.evaluate)
    .option('--model <file.onnx>', 'ONNX model with its manifest next to it (default: model.path of the config, else the shipped model)')
    .option('--data <folder>', 'folder of <class>/<image> face crops')
    .option('--clip <clip.avi>', 'an evaluation clip (scripts/make-eval-clip.ts) with its clip.json beside it: runs the kiosk pipeline on it')
    .option('--config <file>', '--clip: the kiosk config whose detection and tracking settings to use (default: $EMOTION_KIOSK_CONFIG, else defaults)')
    .option('--save-frames <file.json>', '--clip: write what the detector and classifier saw on each frame (to replay the tracker with other settings)')
    .option('--prefix <name>', 'only files whose name starts with this (PublicTest_ / PrivateTest_)')
    .option('--limit <n>', 'only the first n images', (v) => parsePositiveInt(v, '--limit'))
    .option('--batch <n>', 'faces per session run', (v) => parsePositiveInt(v, '--batch'), 64)
    .option('--threads <n>', 'onnxruntime intra-op threads', (v) => parsePositiveInt(v, '--threads'), 1)
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: { model?: string; data?: string; clip?: string; config?: string; saveFrames?: string; prefix?: string; limit?: number; batch: number; threads: number; json?: boolean }) => {
        if ((opts.data === undefined) === (opts.clip === undefined)) throw new InvalidArgumentError('give either --data <folder> or --clip <clip.avi>');
        if (opts.clip !== undefined) {
          const result = await evaluateClip({ clip: opts.clip, model: opts.model, config: opts.config, threads: opts.threads, saveFrames: opts.saveFrames });
          process.stdout.write((opts.json ? JSON.stringify(result, null, 2) : formatClipEvaluation(result)) + '\n');
          return;
        }
        const result = await evaluateModel({ ...opts, data: opts.data!, model: opts.model ?? defaultModel() });
        process.stdout.write((opts.json ? JSON.stringify(result, null, 2) : formatEvaluation(result)) + '\n');
      },
    );
}

function defaultModel(config?: KioskConfig): string {
  return config?.model.path ?? loadConfig({}).config.model.path ?? defaultModelPath;
}

export interface ClipEvaluationResult extends Omit<ClipReport, 'perPair'> {
  model: string;
  modelName: string;
  modelVersion: string;
  clip: string;
  /** The settings the run used (the kiosk's configuration). */
  detectionSettings: KioskConfig['detection'];
  tracking: KioskConfig['tracking'];
  warnings: string[];
  wallSeconds: number;
  perPair: ClipReport['perPair'];
}

/** The truth file of a clip: clip.json beside it. */
export function clipTruthPath(clip: string): string {
  return path.join(path.dirname(path.resolve(clip)), 'clip.json');
}

/**
 * `evaluate --clip`: the kiosk's own pipeline (file source on the clip's clock, Haar detector and tracker with the
 * configured settings, the classifier) over an evaluation clip, scored against its clip.json; the same images are
 * classified as native crops (as `evaluate --data` does) for comparison.
 */
export async function evaluateClip(opts: { clip: string; model?: string; config?: string; threads?: number; saveFrames?: string }): Promise<ClipEvaluationResult> {
  const truthFile = clipTruthPath(opts.clip);
  if (!existsSync(opts.clip)) throw new Error(`clip ${opts.clip} not found`);
  if (!existsSync(truthFile)) throw new Error(`${truthFile} not found: --clip needs the clip.json that scripts/make-eval-clip.ts writes beside the clip`);
  let truth: ClipTruth;
  try {
    truth = parseClipTruth(JSON.parse(readFileSync(truthFile, 'utf8')), truthFile);
  } catch (err) {
    throw new Error(err instanceof SyntaxError ? `${truthFile}: not JSON (${err.message})` : (err as Error).message);
  }
  const { config } = loadConfig({ file: opts.config });
  const warnings: string[] = [];
  if (truth.gapMs <= config.tracking.maxMissingMs) {
    warnings.push(`the clip's gaps (${truth.gapMs} ms) are not longer than tracking.maxMissingMs (${config.tracking.maxMissingMs} ms): faces of one slot may share a track`);
  }
  const modelPath = opts.model ?? defaultModel(config);
  const logger = createLogger('warn', 'evaluate');
  const classifier = await EmotionClassifier.load(modelPath, { intraOpThreads: opts.threads ?? 1 });
  try {
    const labels = classifier.manifest.labels;
    // Native crops: each image once, through the same classifier.
    const images = [...new Set(truth.items.flatMap((it) => it.segments.map((s) => s.image)))];
    const native = new Map<string, Emotion>();
    for (let i = 0; i < images.length; i += 64) {
      const chunk = images.slice(i, i + 64);
      const rows = await classifier.classifyRaw(chunk.map((f) => loadGrayImage(f, classifier.inputSize)));
      rows.forEach((row, j) => native.set(chunk[j]!, labels[argmax(row)]!));
    }

    const detector = HaarFaceDetector.load(config.detection.cascade ?? defaultCascadePath, config.detection);
    const inner = createFrameSource(path.resolve(opts.clip), { ...config.camera, realtime: false, loop: false }, logger);
    const recorded: RecordedFrame[] = [];
    let current: Frame | undefined;
    let pendingBoxes: Box[] = [];
    const source = observedSource(inner, async (read) => (current = (await read()) ?? undefined) ?? null);
    const recordingDetector: FaceDetectorPort = {
      detectAndCrop(mat, cropSize) {
        const faces = detector.detectAndCrop(mat, cropSize);
        pendingBoxes = faces.map((f) => f.box);
        return faces;
      },
    };
    const recordingClassifier: ClassifierPort = {
      inputSize: classifier.inputSize,
      async classify(crops) {
        const scores = await classifier.classify(crops);
        const f = current!;
        recorded.push({ index: f.index, timestamp: f.timestamp, clockMs: f.mediaMs ?? f.timestamp, detections: pendingBoxes.map((box, i) => ({ box, scores: scores[i]! })) });
        return scores;
      },
    };
    const events: ClipEvent[] = [];
    const modelRef = { name: classifier.manifest.name, version: classifier.manifest.version };
    const tracker = new FaceTracker(config.tracking, modelRef, randomUUID);
    await source.open();
    let summary;
    try {
      summary = await new KioskPipeline({
        source,
        detector: recordingDetector,
        classifier: recordingClassifier,
        tracker,
        sinks: [{ name: 'clip-evaluation', onEvent: (ev) => void events.push(toClipEvent(ev)) }],
        logger,
        detectEveryNthFrame: config.detection.everyNthFrame,
      }).run();
    } finally {
      await source.close();
    }
    if (summary.frames !== truth.frames) warnings.push(`the clip has ${summary.frames} frames, clip.json says ${truth.frames}`);
    if (opts.saveFrames) writeFileSync(opts.saveFrames, JSON.stringify({ clip: path.resolve(opts.clip), tracking: config.tracking, frames: recorded, native: Object.fromEntries(native) }) + '\n');
    const report = clipReport({ truth, frames: recorded, events, native, framesRead: summary.frames });
    return {
      model: modelPath,
      modelName: classifier.manifest.name,
      modelVersion: classifier.manifest.version,
      clip: path.resolve(opts.clip),
      detectionSettings: config.detection,
      tracking: config.tracking,
      ...report,
      warnings,
      wallSeconds: summary.wallSeconds,
    };
  } finally {
    await classifier.close();
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function formatClipEvaluation(r: ClipEvaluationResult): string {
  const p = r.pairs;
  const lines = [
    `model ${r.model} (${r.modelName} ${r.modelVersion})`,
    `clip  ${r.clip}: ${r.frames} frames, ${r.framesScanned} scanned by the detector, ${p.n} pairs + ${r.statics.n} statics`,
    `detection   ${pct(r.detection.rate)} of ${r.detection.truthFaces} face-frames (IoU >= 0.3); ${r.detection.falseDetections} false detections`,
    `accuracy    detected faces ${pct(r.accuracy.detected)} vs the same faces as native crops ${pct(r.accuracy.nativeSameFrames)} (${r.accuracy.deltaPoints >= 0 ? '+' : ''}${r.accuracy.deltaPoints} points, ${r.accuracy.n} face-frames); ` +
      `top class = native ${pct(r.accuracy.agreementWithNative)}; native on all ${r.accuracy.nativeImages.n} images ${pct(r.accuracy.nativeImages.accuracy)}`,
    `pairs       followed ${p.followed}/${p.followable} (${pct(p.followRate)}) with the native predictions differing; ` +
      `on pairs the classifier gets right ${p.followedCorrect}/${p.correct} (${pct(p.followRateCorrect)})`,
    `            appeared as A's prediction ${p.appearedAsNative}/${p.n}, changed to B's ${p.changedToNative}/${p.n}, changes before the switch ${p.changesBeforeSwitch}, ` +
      `untracked ${p.untracked}, split ${p.split}` + (p.followMsP50 !== null ? `, follow time p50 ${Math.round(p.followMsP50)} ms (max ${Math.round(p.followMsMax!)})` : ''),
    `            the tracker alone (predictions through the detector, pairs detected on half their frames): followed ${p.trackerFollowed}/${p.trackerFollowable} (${pct(p.trackerFollowRate)})`,
    `            not followed (of the pairs the classifier gets right), by reason: ${
      Object.entries(p.failuresCorrect).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'
    }`,
    `statics     ${r.statics.changes} emotion_changed on ${r.statics.n} static faces (${r.statics.facesWithChanges} faces changed; ${r.statics.tracked} tracked)`,
    `events      appeared ${r.events.appeared}, emotion_changed ${r.events.emotion_changed}, left ${r.events.left}; ${r.tracks.total} tracks, ${r.tracks.unattributed} on no truth face`,
    `tracking    ${Object.entries(r.tracking).map(([k, v]) => `${k}=${v}`).join(' ')}`,
  ];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
