/**
 * Crop calibration (issue 13): how the kiosk's Haar boxes sit relative to FER2013's registration. Each face of a
 * list (the validation split by default) is upscaled (INTER_CUBIC, as scripts/make-eval-clip.ts does) to a random
 * size and pasted at a random place into a 960x540 scene like the evaluation clip's; the kiosk's own detector
 * (src/detection/haar-detector.ts, the detection settings of the kiosk config) runs on it, and the detected box
 * that overlaps the pasted square most is compared with it. The fit is the median scale and offset
 * (src/onnx/crop-calibration.ts), with the interquartile spread.
 *
 *   nice -n 5 node --import tsx scripts/calibrate-crop.ts [--list models/splits/fer2013-val.txt] [--data ../shared/fer2013] \
 *     [--limit 2873] [--min-size 120] [--max-size 240] [--seed 13] [--config kiosk.yaml] [--model m.int8.onnx] \
 *     --out models/reports/<run>/crop-calibration.json
 *
 * With --model, each detected face is also cut (the runtime's cropGray) at the fitted geometry and at a few scales
 * of the box, and classified by the runtime classifier (its manifest's views): accuracy per crop on the same
 * detected faces, beside the same images as native 48x48 crops. Paired, so small differences show.
 * --noise <sigma> adds grey noise to the pasted face and --jpeg <quality> round-trips the frame through JPEG (the
 * evaluation clip's MJPG), to tell what the detector's box costs from what the clip's pixels cost.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fer2013Dir } from './lib/fer2013-dir.js';
import { sceneBackground } from './lib/scene-background.js';
import { loadConfig } from '../src/config/load.js';
import { iou, type Box } from '../src/detection/geometry.js';
import { cropGray, HaarFaceDetector, loadGrayImage } from '../src/detection/haar-detector.js';
import { cropRegion, fitCropGeometry, IDENTITY_CROP, relativeGeometry, type CropGeometry } from '../src/onnx/crop-calibration.js';
import { EmotionClassifier } from '../src/model/emotion-classifier.js';
import { argmax } from '../src/model/metrics.js';
import { parseSplitFile } from '../src/training/split.js';
import { evenlySpaced } from '../src/onnx/fer-images.js';
import { defaultCascadePath } from '../src/util/paths.js';
import { Rng } from '../src/util/rng.js';
import { cv } from '../src/vision/opencv.js';

const { values: a } = parseArgs({
  options: {
    list: { type: 'string', default: 'models/splits/fer2013-val.txt' },
    data: { type: 'string', default: fer2013Dir },
    limit: { type: 'string' },
    'min-size': { type: 'string', default: '120' },
    'max-size': { type: 'string', default: '240' },
    seed: { type: 'string', default: '13' },
    config: { type: 'string' },
    model: { type: 'string' },
    noise: { type: 'string', default: '0' },
    jpeg: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`calibrate-crop: ${msg}\n`);
  process.exit(2);
}

function int(name: 'limit' | 'min-size' | 'max-size' | 'seed', min: number): number {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got ${JSON.stringify(a[name])}`);
  return v;
}

const W = 960;
const H = 540;

/** The square the runtime would cut for `g`, in whole pixels, clipped to the frame. */
function pixelRegion(box: Box, g: CropGeometry): Box {
  const r = cropRegion(box, g);
  const x = Math.max(0, Math.round(r.x));
  const y = Math.max(0, Math.round(r.y));
  return { x, y, width: Math.min(W, Math.round(r.x + r.width)) - x, height: Math.min(H, Math.round(r.y + r.height)) - y };
}

const SCALES = [0.9, 0.95, 1.05, 1.1, 1.15, 1.2];

interface Placed {
  file: string;
  size: number;
  truth: Box;
}

interface Detected extends Placed {
  label: string;
  box: Box;
  /** The face cut from the frame (the runtime's cropGray) at each crop geometry compared. */
  crops: Uint8Array[];
}

/** The scene with one face: `file` upscaled to size x size (INTER_CUBIC) at `truth`, with --noise and --jpeg; BGR. */
function render(bg: Buffer, frame: Buffer, p: Placed) {
  const sigma = Number(a.noise);
  const quality = Number(a.jpeg);
  const rng = new Rng(p.truth.x * 7919 + p.truth.y * 104729 + p.size);
  const img = cv.imread(p.file, cv.IMREAD_GRAYSCALE);
  if (img.empty) fail(`cannot read ${p.file}`);
  const big = img.resize(p.size, p.size, 0, 0, cv.INTER_CUBIC);
  const px = big.getData();
  big.release();
  img.release();
  bg.copy(frame);
  for (let y = 0; y < p.size; y++) {
    for (let x = 0; x < p.size; x++) {
      const o = ((p.truth.y + y) * W + p.truth.x + x) * 3;
      let v = px[y * p.size + x]!;
      if (sigma > 0) v = Math.min(255, Math.max(0, Math.round(v + sigma * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next()))));
      frame[o] = frame[o + 1] = frame[o + 2] = v;
    }
  }
  const mat = new cv.Mat(frame, H, W, cv.CV_8UC3);
  if (!(quality > 0)) return mat;
  const decoded = cv.imdecode(cv.imencode('.jpg', mat, [cv.IMWRITE_JPEG_QUALITY, quality]));
  mat.release();
  return decoded;
}

async function main(): Promise<void> {
  if (!a.out) fail('--out <file.json> is required');
  const minSize = int('min-size', 24);
  const maxSize = int('max-size', minSize);
  if (maxSize > H) fail(`--max-size must be <= ${H}`);
  let files = parseSplitFile(readFileSync(a.list!, 'utf8')).map((rel) => path.resolve(a.data!, rel));
  if (a.limit !== undefined) files = evenlySpaced(files, int('limit', 1));
  const { config } = loadConfig({ file: a.config });
  const detector = HaarFaceDetector.load(config.detection.cascade ?? defaultCascadePath, config.detection);
  const rng = new Rng(int('seed', 0));
  const bg = sceneBackground(W, H);
  const frame = Buffer.alloc(bg.length);
  const samples: CropGeometry[] = [];
  const faces: Detected[] = [];
  const perSize: Record<string, { faces: number; detected: number }> = {};
  let extra = 0;
  const t0 = performance.now();
  for (const file of files) {
    const size = Math.round(rng.uniform(minSize, maxSize + 1 - 1e-9));
    const truth: Box = { x: Math.floor(rng.uniform(0, W - size)), y: Math.floor(rng.uniform(0, H - size)), width: size, height: size };
    const mat = render(bg, frame, { file, size, truth });
    const boxes = detector.detectAndCrop(mat, 48).map((f) => f.box);
    mat.release();
    const bucket = `${Math.floor(size / 40) * 40}-${Math.floor(size / 40) * 40 + 39}`;
    const s = (perSize[bucket] ??= { faces: 0, detected: 0 });
    s.faces++;
    let best: Box | undefined;
    let bestIou = 0.3;
    for (const b of boxes) {
      const v = iou(b, truth);
      if (v >= bestIou) [best, bestIou] = [b, v];
    }
    extra += boxes.length - (best ? 1 : 0);
    if (!best) continue;
    s.detected++;
    samples.push(relativeGeometry(best, truth));
    faces.push({ file, size, truth, label: path.basename(path.dirname(file)), box: best, crops: [] });
  }
  const detected = faces.length;
  const fit = fitCropGeometry(samples);
  let accuracy: Awaited<ReturnType<typeof classifyCrops>> | undefined;
  if (a.model) {
    // Second pass: the same frames again (deterministic), each detected face cut at every geometry compared.
    const geometries = [IDENTITY_CROP, ...SCALES.map((scale) => ({ scale, offsetX: 0, offsetY: 0 })), fit.geometry];
    for (const f of faces) {
      const mat = render(bg, frame, f);
      const gray = mat.bgrToGray();
      mat.release();
      // Last: the pasted square itself (a perfect detector): what resampling alone costs.
      f.crops = [...geometries.map((g) => cropGray(gray, pixelRegion(f.box, g), 48)), cropGray(gray, f.truth, 48)];
      gray.release();
    }
    accuracy = await classifyCrops(a.model, faces, fit.geometry);
  }
  const r = (x: number) => Math.round(x * 10000) / 10000;
  const result = {
    what: 'crop calibration: the FER2013 frame (the pasted square) relative to the kiosk Haar box that matches it (IoU >= 0.3)',
    list: a.list,
    faces: files.length,
    detected,
    detectionRate: r(detected / files.length),
    falseDetections: extra,
    faceSizes: [minSize, maxSize],
    noiseSigma: Number(a.noise),
    jpegQuality: Number(a.jpeg),
    perSize,
    detection: config.detection,
    geometry: { scale: r(fit.geometry.scale), offsetX: r(fit.geometry.offsetX), offsetY: r(fit.geometry.offsetY) },
    iqr: Object.fromEntries(Object.entries(fit.iqr).map(([k, [lo, hi]]) => [k, [r(lo), r(hi)]])),
    ...(accuracy ? { accuracy } : {}),
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  mkdirSync(path.dirname(path.resolve(a.out)), { recursive: true });
  writeFileSync(a.out, JSON.stringify(result, null, 1) + '\n');
  process.stdout.write(
    `${detected}/${files.length} faces detected (${(result.detectionRate * 100).toFixed(1)}%), ${extra} other boxes; ` +
      `FER frame = ${result.geometry.scale} x the Haar box's width, centre offset (${result.geometry.offsetX}, ${result.geometry.offsetY}) box sizes; ` +
      `IQR scale ${result.iqr['scale']!.join('..')}, x ${result.iqr['offsetX']!.join('..')}, y ${result.iqr['offsetY']!.join('..')}; ${result.seconds} s -> ${a.out}\n`,
  );
  if (accuracy) {
    for (const c of accuracy.crops) process.stdout.write(`  ${c.crop.padEnd(34)} ${(c.accuracy * 100).toFixed(2)}%  (${c.deltaPoints >= 0 ? '+' : ''}${c.deltaPoints} points vs native)\n`);
    process.stdout.write(`  native 48x48 crops of the same ${accuracy.n} images: ${(accuracy.native * 100).toFixed(2)}%\n`);
  }
}

async function classifyCrops(model: string, faces: Detected[], fitted: CropGeometry) {
  const classifier = await EmotionClassifier.load(model);
  try {
    const labels = classifier.manifest.labels as readonly string[];
    const correct = async (crops: Uint8Array[], truth: string[]): Promise<number> => {
      let ok = 0;
      for (let i = 0; i < crops.length; i += 64) {
        const rows = await classifier.classifyRaw(crops.slice(i, i + 64));
        rows.forEach((row, j) => (ok += labels[argmax(row)] === truth[i + j] ? 1 : 0));
      }
      return ok;
    };
    const truth = faces.map((f) => f.label);
    const n = faces.length;
    const native = (await correct(faces.map((f) => loadGrayImage(f.file, 48)), truth)) / n;
    const names = ['Haar box (current)', ...SCALES.map((s) => `box x ${s}`), `fitted (${fitted.scale.toFixed(3)}, ${fitted.offsetX.toFixed(3)}, ${fitted.offsetY.toFixed(3)})`, 'the pasted square (perfect box)'];
    const crops = [];
    for (let k = 0; k < names.length; k++) {
      const acc = (await correct(faces.map((f) => f.crops[k]!), truth)) / n;
      crops.push({ crop: names[k]!, accuracy: Math.round(acc * 1e6) / 1e6, deltaPoints: Math.round((acc - native) * 10000) / 100 });
    }
    return { model, modelVersion: classifier.manifest.version, views: { cropZooms: classifier.manifest.cropZooms, testTimeFlip: classifier.manifest.testTimeFlip }, n, native: Math.round(native * 1e6) / 1e6, crops };
  } finally {
    await classifier.close();
  }
}

main().catch((err: unknown) => fail((err as Error).message));
