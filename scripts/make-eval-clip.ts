/**
 * Makes an evaluation clip for `emotion-kiosk evaluate --clip`: labelled faces (FER2013 48x48 crops, upscaled to
 * --face-size) pasted into a 960x540 scene at known places, with the ground truth beside it.
 *
 *   node --import tsx scripts/make-eval-clip.ts --data ../shared/fer2013/test --prefix PublicTest_ --out runs/clip \
 *     [--pairs 100] [--statics 30] [--seed 1] [--fps 15]
 *   node --import tsx scripts/make-eval-clip.ts --data ../shared/fer2013 --list models/splits/fer2013-val.txt --out runs/val-clip
 *
 * Writes <out>/clip.avi (MJPG, read back to check its frame count) and <out>/clip.json (src/evaluation/clip-plan.ts:
 * per item its box and, per segment, the frame range, label and source image). Pairs: face A for --hold-ms, face B
 * (another label) for --hold-ms at the same place, then --gap-ms empty (longer than tracking.maxMissingMs, so the
 * face leaves); statics: one face for --static-ms, then the gap. Each frame a face moves by up to --jitter px and
 * gets grey noise of --noise sigma. Deterministic under --seed. The clip holds the dataset's pixels: write it outside
 * the repository or under runs/ (not committed).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CLIP_FORMAT, planClip, type ClipTruth, type LabelledFace } from '../src/evaluation/clip-plan.js';
import { seededRandom } from '../src/util/rng.js';
import { isEmotion } from '../src/model/labels.js';
import { listLabelledImages } from '../src/model/labelled-folder.js';
import { cv, type Mat } from '../src/vision/opencv.js';
import { sceneBackground } from './lib/scene-background.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string' },
    prefix: { type: 'string' },
    list: { type: 'string' },
    out: { type: 'string' },
    pairs: { type: 'string', default: '100' },
    statics: { type: 'string', default: '30' },
    seed: { type: 'string', default: '1' },
    fps: { type: 'string', default: '15' },
    'face-size': { type: 'string', default: '180' },
    'hold-ms': { type: 'string', default: '1500' },
    'static-ms': { type: 'string', default: '3000' },
    'gap-ms': { type: 'string', default: '1500' },
    jitter: { type: 'string', default: '1' },
    noise: { type: 'string', default: '2' },
  },
});

function num(name: keyof typeof a, min: number): number {
  const v = Number(a[name]);
  if (!Number.isFinite(v) || v < min) fail(`--${name} must be a number >= ${min}, got ${JSON.stringify(a[name])}`);
  return v;
}

function fail(msg: string): never {
  process.stderr.write(`make-eval-clip: ${msg}\n`);
  process.exit(2);
}

/** --list: one path a line (relative to --data), # comments; the label is the parent folder's name. */
function readList(file: string, data: string): LabelledFace[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((rel) => {
      const label = path.basename(path.dirname(rel));
      if (!isEmotion(label)) fail(`${file}: ${rel} is not in a <class>/ folder`);
      return { file: path.resolve(data, rel), label };
    });
}

function main(): void {
  if (!a.data || !a.out) fail('--data <folder> and --out <dir> are required');
  const data = path.resolve(a.data);
  const out = path.resolve(a.out);
  const faces = a.list ? readList(a.list, data) : listLabelledImages(data, a.prefix).map((f) => ({ file: f.file, label: f.label }));
  const truth = planClip(faces, {
    pairs: Math.floor(num('pairs', 0)),
    statics: Math.floor(num('statics', 0)),
    seed: Math.floor(num('seed', 0)),
    fps: num('fps', 1),
    faceSize: Math.floor(num('face-size', 24)),
    holdMs: num('hold-ms', 1),
    staticMs: num('static-ms', 1),
    gapMs: num('gap-ms', 1),
    jitterPx: Math.floor(num('jitter', 0)),
    noiseSigma: num('noise', 0),
    video: 'clip.avi',
    data: a.list ? `${data} (list ${path.resolve(a.list)})` : `${data}${a.prefix ? ` (${a.prefix}*)` : ''}`,
  });
  if (truth.items.length === 0) fail('nothing to show: --pairs and --statics are both 0');
  mkdirSync(out, { recursive: true });
  const video = path.join(out, truth.video);
  const t0 = performance.now();
  writeClip(truth, video);
  const frames = countFrames(video);
  if (frames !== truth.frames) {
    rmSync(video, { force: true });
    fail(`${video} reads back with ${frames} frames, ${truth.frames} written (is FFmpeg's MJPG encoder in this OpenCV build?)`);
  }
  writeFileSync(path.join(out, 'clip.json'), JSON.stringify(truth, null, 1) + '\n');
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(
    `${video}: ${truth.frames} frames (${(truth.frames / truth.fps).toFixed(1)} s at ${truth.fps} fps, read back), ` +
      `${truth.items.filter((i) => i.kind === 'pair').length} pairs + ${truth.items.filter((i) => i.kind === 'static').length} statics in ${truth.slots.length} slots; ` +
      `truth in ${path.join(out, 'clip.json')} (${CLIP_FORMAT}); ${secs} s\n`,
  );
}

function writeClip(truth: ClipTruth, file: string): void {
  const { width: w, height: h, faceSize: size } = truth;
  const writer = new cv.VideoWriter(file, cv.VideoWriter.fourcc('MJPG'), truth.fps, new cv.Size(w, h), true);
  const bg = sceneBackground(w, h);
  const rand = seededRandom((truth.seed ^ 0x5bd1e995) >>> 0);
  // Noise: a fixed table of N(0, sigma) values read from a random offset per face and frame (Box-Muller, once).
  const tableSize = 1 << 18;
  const noise = new Float32Array(tableSize);
  for (let i = 0; i < tableSize; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const t = 2 * Math.PI * rand();
    noise[i] = truth.noiseSigma * r * Math.cos(t);
    noise[i + 1] = truth.noiseSigma * r * Math.sin(t);
  }
  const cache = new Map<string, Buffer>();
  const face = (image: string): Buffer => {
    let px = cache.get(image);
    if (!px) {
      const img: Mat = cv.imread(image, cv.IMREAD_GRAYSCALE);
      if (img.empty) fail(`cannot read ${image}`);
      const big = img.resize(size, size, 0, 0, cv.INTER_CUBIC);
      px = Buffer.from(big.getData());
      big.release();
      img.release();
      cache.set(image, px);
    }
    return px;
  };
  // Segments by start frame, so each frame looks only at what is on screen.
  const segments = truth.items.flatMap((item) => item.segments.map((s) => ({ item, s }))).sort((x, y) => x.s.startFrame - y.s.startFrame);
  let next = 0;
  let active: typeof segments = [];
  const frame = Buffer.alloc(w * h * 3);
  for (let f = 0; f < truth.frames; f++) {
    while (next < segments.length && segments[next]!.s.startFrame <= f) active.push(segments[next++]!);
    active = active.filter(({ s }) => s.endFrame > f);
    bg.copy(frame);
    for (const { item, s } of active) {
      const px = face(s.image);
      const j = truth.jitterPx;
      const dx = j > 0 ? Math.floor(rand() * (2 * j + 1)) - j : 0;
      const dy = j > 0 ? Math.floor(rand() * (2 * j + 1)) - j : 0;
      const x0 = Math.min(Math.max(0, item.box.x + dx), w - size);
      const y0 = Math.min(Math.max(0, item.box.y + dy), h - size);
      let n = Math.floor(rand() * tableSize);
      for (let y = 0; y < size; y++) {
        let o = ((y0 + y) * w + x0) * 3;
        for (let x = 0; x < size; x++, o += 3) {
          const v = px[y * size + x]! + (truth.noiseSigma > 0 ? noise[n++ & (tableSize - 1)]! : 0);
          const g = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
          frame[o] = g;
          frame[o + 1] = g;
          frame[o + 2] = g;
        }
      }
    }
    const mat = new cv.Mat(frame, h, w, cv.CV_8UC3);
    writer.write(mat);
    mat.release();
  }
  writer.release();
}

function countFrames(file: string): number {
  const cap = new cv.VideoCapture(file, cv.CAP_FFMPEG);
  let n = 0;
  for (;;) {
    const m = cap.read();
    if (m.empty) break;
    n++;
    m.release();
  }
  cap.release();
  return n;
}

main();
