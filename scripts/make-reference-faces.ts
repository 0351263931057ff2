/**
 * Usage: node --import tsx scripts/make-reference-faces.ts --model models/deep_emotion.int8.onnx [--write]
 *
 * Makes the reference faces that ship with a model (src/model/reference-faces.ts): Haar face crops from OpenCV's sample
 * clips and images (Debian's opencv-doc; never FER2013), cut exactly as the kiosk cuts them (default detection
 * settings, grey, INTER_AREA to the model's input size), plus deterministic variants (mirror, small shifts of the
 * box); the model itself gives the expected top-1 emotion of each. Only crops whose top-1 leads the second emotion
 * by --min-margin or more are kept (a near-tie could flip between CPUs: int8 scores differ by up to ~0.002 across
 * them, scripts/arm64/README.md), at most --max-faces, taken evenly over the sources.
 * Writes <model>.reference.json; with --write also the manifest's `reference` field (file, sha256, faces).
 * Sign the model again afterwards (emotion-kiosk fleet sign): the signature covers the manifest.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { configSchema } from '../src/config/schema.js';
import { HaarFaceDetector, cropGray } from '../src/detection/haar-detector.js';
import type { Box } from '../src/detection/geometry.js';
import { REFERENCE_FORMAT, referencePathFor, referenceSetSchema, type ReferenceSet } from '../src/model/reference-faces.js';
import { sha256Hex } from '../src/util/sha256.js';
import { EMOTIONS, topEmotion } from '../src/model/labels.js';
import { EmotionClassifier } from '../src/model/emotion-classifier.js';
import { manifestPathFor, manifestSchema } from '../src/model/manifest.js';
import { defaultCascadePath } from '../src/util/paths.js';
import { cv, type Mat } from '../src/vision/opencv.js';

const DATA = '/usr/share/doc/opencv-doc/examples/data';
/** The sample clips with faces the kiosk's default detection finds (vtest.avi's pedestrians and messi5.jpg's players are too small for it). */
const DEFAULT_SOURCES = [`${DATA}/Megamind.avi`, `${DATA}/Megamind_bugy.avi`];

interface Candidate {
  id: string;
  source: string;
  crop: Uint8Array;
  group: string;
}

const shifted = (b: Box, dx: number, dy: number, w: number, h: number): Box => {
  const x = Math.min(Math.max(0, b.x + Math.round(dx * b.width)), w - b.width);
  const y = Math.min(Math.max(0, b.y + Math.round(dy * b.height)), h - b.height);
  return { ...b, x, y };
};

function mirror(crop: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(crop.length);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out[y * size + x] = crop[y * size + size - 1 - x]!;
  return out;
}

/** The crops of one frame: each detected face as cut, mirrored, and with its box moved by 5% left/right/up. */
function cropsOf(detector: HaarFaceDetector, frame: Mat, size: number, tag: string, label: string, group: string): Candidate[] {
  const faces = detector.detectAndCrop(frame, size);
  const gray = frame.bgrToGray();
  try {
    const out: Candidate[] = [];
    faces.forEach((f, i) => {
      const base = `${tag}-f${i}`;
      const where = `${label}, face ${i} at ${f.box.x},${f.box.y} ${f.box.width}x${f.box.height}`;
      out.push({ id: base, source: where, crop: f.crop, group });
      out.push({ id: `${base}-mirror`, source: `${where}, mirrored`, crop: mirror(f.crop, size), group });
      for (const [name, dx, dy] of [['left', -0.05, 0], ['right', 0.05, 0], ['up', 0, -0.05]] as const) {
        out.push({ id: `${base}-${name}`, source: `${where}, box moved 5% ${name}`, crop: cropGray(gray, shifted(f.box, dx, dy, gray.cols, gray.rows), size), group });
      }
    });
    return out;
  } finally {
    gray.release();
  }
}

function candidatesFrom(file: string, detector: HaarFaceDetector, size: number, everyNth: number): Candidate[] {
  const name = path.basename(file);
  const stem = name.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9]/g, '');
  if (/\.(avi|mp4|mkv|mov)$/i.test(file)) {
    const cap = new cv.VideoCapture(file);
    const out: Candidate[] = [];
    try {
      for (let i = 0; ; i++) {
        const frame = cap.read();
        if (frame.empty) break;
        if (i % everyNth === 0) out.push(...cropsOf(detector, frame, size, `${stem}-${i}`, `${name} frame ${i}`, `${name}#${i}`));
        frame.release();
      }
    } finally {
      cap.release();
    }
    return out;
  }
  const img = cv.imread(file);
  if (img.empty) throw new Error(`${file}: not a decodable image`);
  try {
    return cropsOf(detector, img, size, stem, name, name);
  } finally {
    img.release();
  }
}

/** Up to `max` items, taken evenly over the list (deterministic). */
function spread<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  return Array.from({ length: max }, (_, k) => items[Math.floor((k * items.length) / max)]!);
}

const num = (flag: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} ${v}: expected a number from ${min} to ${max}`);
  return n;
};

const program = new Command('make-reference-faces')
  .description('write <model>.reference.json: face crops from OpenCV samples with the model\'s own predictions (and, with --write, the manifest field)')
  .requiredOption('--model <file.onnx>', 'the model (its manifest beside it)')
  .option('--source <file...>', 'clips and images with faces (never FER2013)', DEFAULT_SOURCES)
  .option('--min-size <px>', 'smallest face detected in the sources (the kiosk default: detection.minSize)', num('--min-size', 8, 1000))
  .option('--every <n>', 'every n-th frame of a clip', num('--every', 1, 10_000), 10)
  .option('--max-faces <n>', 'most crops kept', num('--max-faces', 10, 500), 48)
  .option('--min-margin <p>', 'least lead of the top-1 probability over the second', num('--min-margin', 0, 1), 0.1)
  .option('--write', 'also set the manifest\'s reference field (then sign the model again)')
  .action(async (o: { model: string; source: string[]; minSize?: number; every: number; maxFaces: number; minMargin: number; write?: boolean }) => {
    const classifier = await EmotionClassifier.load(o.model);
    const size = classifier.inputSize;
    if (classifier.geometry.width !== size) throw new Error(`the model takes ${classifier.geometry.width}x${size} crops; reference faces are square`);
    const d = configSchema.parse({}).detection;
    const detector = HaarFaceDetector.load(d.cascade ?? defaultCascadePath, { ...d, minSize: o.minSize ?? d.minSize, downscaleWidth: o.minSize !== undefined ? 0 : d.downscaleWidth });
    const all: Candidate[] = [];
    for (const s of o.source) {
      const c = candidatesFrom(s, detector, size, o.every);
      process.stderr.write(`${s}: ${c.length} crops\n`);
      all.push(...c);
    }
    const scored: (Candidate & { top: { emotion: string; confidence: number }; margin: number })[] = [];
    for (let i = 0; i < all.length; i += 64) {
      const batch = all.slice(i, i + 64);
      const scores = await classifier.classify(batch.map((c) => c.crop));
      batch.forEach((c, k) => {
        const s = scores[k]!;
        const sorted = EMOTIONS.map((e) => s[e]).sort((a, b) => b - a);
        scored.push({ ...c, top: topEmotion(s), margin: sorted[0]! - sorted[1]! });
      });
    }
    await classifier.close();
    const confident = scored.filter((c) => c.margin >= o.minMargin);
    // evenly over the sources: each source's share of the set is at most an even split (the rest fill up)
    const bySource = new Map<string, typeof confident>();
    for (const c of confident) bySource.set(c.source.split(',')[0]!.split(' frame')[0]!, [...(bySource.get(c.source.split(',')[0]!.split(' frame')[0]!) ?? []), c]);
    const share = Math.ceil(o.maxFaces / Math.max(1, bySource.size));
    let chosen = [...bySource.values()].flatMap((list) => spread(list, share));
    chosen = spread(chosen, o.maxFaces);
    if (chosen.length < 10) throw new Error(`only ${chosen.length} crops with a margin of ${o.minMargin} or more (of ${scored.length}); add sources or lower --min-margin`);

    const manifestFile = manifestPathFor(o.model);
    const manifestText = readFileSync(manifestFile, 'utf8');
    const manifest = manifestSchema.parse(JSON.parse(manifestText));
    const set: ReferenceSet = referenceSetSchema.parse({
      format: REFERENCE_FORMAT,
      model: { name: manifest.name, version: manifest.version, sha256: sha256Hex(readFileSync(o.model)) },
      inputSize: size,
      made: { by: 'scripts/make-reference-faces.ts', at: new Date().toISOString(), minMargin: o.minMargin, sources: o.source.map((s) => path.basename(s)) },
      faces: chosen.map((c) => ({
        id: c.id,
        source: c.source,
        crop: Buffer.from(c.crop).toString('base64'),
        expected: c.top.emotion,
        confidence: Math.round(c.top.confidence * 1e4) / 1e4,
        margin: Math.round(c.margin * 1e4) / 1e4,
      })),
    });
    const out = referencePathFor(o.model);
    const text = JSON.stringify(set, null, 1) + '\n';
    writeFileSync(out, text);
    const counts: Record<string, number> = {};
    for (const f of set.faces) counts[f.expected] = (counts[f.expected] ?? 0) + 1;
    process.stdout.write(`${out}: ${set.faces.length} faces (of ${scored.length} crops, ${confident.length} with margin >= ${o.minMargin}) from ${bySource.size} sources; expected ${JSON.stringify(counts)}\n`);
    if (o.write) {
      const json = JSON.parse(manifestText) as Record<string, unknown>;
      json.reference = { file: path.basename(out), sha256: sha256Hex(Buffer.from(text, 'utf8')), faces: set.faces.length };
      writeFileSync(manifestFile, JSON.stringify(json, null, 2) + (manifestText.endsWith('\n') ? '\n' : ''));
      process.stdout.write(`${manifestFile}: reference ${JSON.stringify(json.reference)} (sign the model again)\n`);
    }
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`make-reference-faces: ${(err as Error).message}\n`);
  process.exit(1);
});
