// Frame-level trace of the kiosk's vision path, for comparing machines bit by bit:
//   node scripts/arm64/frames.mjs <app root> <video | dir/%04d.png> [max frames]  > frames.jsonl
// One JSON line per frame: index, the decoder's position (ms; null for images), the decoded BGR frame's sha256, the
// Haar boxes (detector with the default config, as `run` uses it), each crop's sha256 (grey + INTER_AREA resize), the
// int8 classifier's probabilities as float32 bits (p) and as numbers (probs). Plain JavaScript, so it runs under the
// arm64 node in qemu (scripts/arm64/node.sh) and this host's node alike; it imports the app's own dist/ modules.
// A video is decoded by OpenCV's FFmpeg backend (the kiosk's path for files); a printf pattern is read with OpenCV's
// image-sequence capture (imread): scripts/arm64/decode.mjs writes one machine's decoded frames as PNGs, so that the
// same pixels go through OpenCV's image code and the model on every machine.
import { createHash } from 'node:crypto';
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

const images = video.includes('%');
const cap = new cv.VideoCapture(video, images ? cv.CAP_IMAGES : cv.CAP_FFMPEG);
for (let index = 0; index < max; index++) {
  const mat = cap.read();
  if (mat.empty) break;
  const positionMs = images ? null : cap.get(cv.CAP_PROP_POS_MSEC);
  const faces = detector.detectAndCrop(mat, classifier.inputSize);
  const probs = await classifier.classifyRaw(faces.map((f) => f.crop));
  process.stdout.write(JSON.stringify({
    index,
    positionMs,
    frame: sha(mat.getData()),
    faces: faces.map((f, i) => ({ box: f.box, crop: sha(f.crop), p: bits(probs[i]), probs: Array.from(probs[i]) })),
  }) + '\n');
  mat.release();
}
cap.release();
await classifier.close();
