// Frame-level trace of the kiosk's vision path on a video file, for comparing machines bit by bit:
//   node scripts/arm64/frames.mjs <app root> <video> [max frames]  > frames.jsonl
// One JSON line per frame: index, the decoder's position (ms), the decoded BGR frame's sha256 (FFmpeg decoding),
// the Haar boxes (detector with the default config, as `run` uses it), each crop's sha256 (grey + INTER_AREA resize)
// and the int8 classifier's probabilities as float32 bits. Plain JavaScript, so it runs under the arm64 node in qemu
// (scripts/arm64/node.sh) and this host's node alike; it imports the app's own dist/ modules.
// FRAMES_DUMP=<dir> FRAMES_DUMP_AT=0,99 (or all) also writes those frames' decoded BGR bytes (<dir>/<index>.bgr).
// FRAMES_INPUT=<dir> reads the frames from such a dump (all of it, <width>x<height> from FRAMES_SIZE, default the
// video's) instead of decoding: the same pixels on both machines, so only OpenCV's image code and the model differ.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [rootArg, video, maxArg] = process.argv.slice(2);
if (!rootArg || !video) throw new Error('usage: frames.mjs <app root> <video> [max frames]');
const root = path.resolve(rootArg);
const mod = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
const { cv } = await mod('vision/opencv.js');
const { HaarFaceDetector } = await mod('detection/haar-detector.js');
const { EmotionClassifier } = await mod('model/emotion-classifier.js');
const { loadConfig } = await mod('config/load.js');
const { defaultCascadePath, defaultModelPath } = await mod('util/paths.js');

const config = loadConfig({ env: {} }).config;
const detector = HaarFaceDetector.load(config.detection.cascade ?? defaultCascadePath, config.detection);
const classifier = await EmotionClassifier.load(defaultModelPath, { intraOpThreads: 1 });
const max = maxArg ? Number(maxArg) : Infinity;
const sha = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 16);
const bits = (f32) => Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength).toString('hex');

const dumpDir = process.env.FRAMES_DUMP;
const dumpAll = process.env.FRAMES_DUMP_AT === 'all';
const dumpAt = new Set((process.env.FRAMES_DUMP_AT ?? '').split(',').filter(Boolean).map(Number));
const input = process.env.FRAMES_INPUT;
if (dumpDir) mkdirSync(dumpDir, { recursive: true });
const cap = new cv.VideoCapture(video, cv.CAP_FFMPEG);
const width = cap.get(cv.CAP_PROP_FRAME_WIDTH);
const height = cap.get(cv.CAP_PROP_FRAME_HEIGHT);
for (let index = 0; index < max; index++) {
  let positionMs;
  let mat;
  if (input) {
    const file = path.join(input, `${index}.bgr`);
    if (!existsSync(file)) break;
    positionMs = null;
    mat = new cv.Mat(readFileSync(file), height, width, cv.CV_8UC3);
  } else {
    positionMs = cap.get(cv.CAP_PROP_POS_MSEC);
    mat = cap.read();
    if (mat.empty) break;
  }
  if (dumpDir && (dumpAll || dumpAt.has(index))) writeFileSync(path.join(dumpDir, `${index}.bgr`), mat.getData());
  const faces = detector.detectAndCrop(mat, classifier.inputSize);
  const probs = await classifier.classifyRaw(faces.map((f) => f.crop));
  process.stdout.write(JSON.stringify({
    index,
    positionMs,
    frame: sha(mat.getData()),
    faces: faces.map((f, i) => ({ box: f.box, crop: sha(f.crop), p: bits(probs[i]) })),
  }) + '\n');
  mat.release();
}
cap.release();
await classifier.close();
