/**
 * Where the soak's RSS growth comes from (a tool for the soak benchmark, figures only): one component of the kiosk
 * loop at a time, on a looped clip decoded as fast as the CPU allows, RSS and V8 heap (after a full GC) every
 * --every frames. Run with --expose-gc:
 *   node --expose-gc --import tsx scripts/bench/soak-components.ts <stage> [--frames 6000] [--every 1000]
 * stages (each includes the ones before it): capture (VideoCapture.readAsync + release), detect (+ Haar
 * detectAndCrop), classify (+ onnxruntime session.run on the crops), pipeline (the whole KioskPipeline with its
 * tracker and no sinks). Prints MB per 1,000 frames after the first --every frames (warm-up).
 */
import { cv, type Mat } from '../../src/vision/opencv.js';
import { HaarFaceDetector } from '../../src/detection/haar-detector.js';
import { EmotionClassifier } from '../../src/model/emotion-classifier.js';
import { defaultCascadePath, defaultModelPath } from '../../src/util/paths.js';
import { slope } from './soak.js';

const argv = process.argv.slice(2);
const stage = argv[0] ?? 'capture';
const num = (name: string, d: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const frames = num('--frames', 6000);
const every = num('--every', 1000);
const clip = argv.includes('--clip') ? argv[argv.indexOf('--clip') + 1]! : '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const points: Array<[number, number]> = [];
function sample(n: number): void {
  gc!();
  const m = process.memoryUsage();
  points.push([n, m.rss / 1e6]);
  console.log(`${stage} frame ${n}: rss ${(m.rss / 1e6).toFixed(1)} MB heap ${(m.heapUsed / 1e6).toFixed(1)} MB external ${(m.external / 1e6).toFixed(1)} MB`);
}

async function main(): Promise<void> {
  const detector = stage !== 'capture' ? HaarFaceDetector.load(defaultCascadePath, { scaleFactor: 1.15, minNeighbors: 3, minSize: 48, downscaleWidth: 256 }) : undefined;
  const classifier = stage === 'classify' || stage === 'pipeline' ? await EmotionClassifier.load(defaultModelPath) : undefined;
  if (stage === 'pipeline') {
    const { KioskPipeline } = await import('../../src/pipeline/kiosk-pipeline.js');
    const { FaceTracker } = await import('../../src/pipeline/face-tracker.js');
    const { OpenCvFrameSource } = await import('../../src/capture/opencv-source.js');
    const { createLogger } = await import('../../src/util/logger.js');
    const { randomUUID } = await import('node:crypto');
    const logger = createLogger('warn', 'probe');
    const source = new OpenCvFrameSource({ target: { kind: 'file', path: clip }, camera: { width: 640, height: 480, fps: 25, realtime: false, loop: true }, hint: () => '', logger });
    await source.open();
    const tracker = new FaceTracker({ iouThreshold: 0.3, confirmFrames: 2, maxMissingMs: 1000, smoothingAlpha: 0.35, minDwellMs: 500, minConfidence: 0.4, changeMargin: 0.1 }, { name: 'm', version: '1' }, randomUUID);
    const sink = { name: 'sampler', onEvent: () => undefined, onFrame: (r: { frameIndex: number }) => {
      if (r.frameIndex > 0 && r.frameIndex % every === 0) sample(r.frameIndex);
    } };
    await new KioskPipeline({ source, detector: detector!, classifier: classifier!, tracker, sinks: [sink], logger }).run({ maxFrames: frames + 1 });
    await source.close();
  } else {
    const cap = new cv.VideoCapture(clip, cv.CAP_FFMPEG);
    for (let n = 1; n <= frames; n++) {
      let mat: Mat = await cap.readAsync();
      if (mat.empty) {
        cap.reset();
        mat = await cap.readAsync();
      }
      if (detector) {
        const faces = detector.detectAndCrop(mat, classifier?.inputSize ?? 48);
        if (classifier) await classifier.classify(faces.map((f) => f.crop));
      }
      mat.release();
      if (n % every === 0) sample(n);
    }
    cap.release();
  }
  const after = points.slice(1);
  const perK = slope(after) * 1000;
  console.log(`${stage}: ${perK.toFixed(3)} MB per 1,000 frames after frame ${points[0]?.[0]} (${after.length} samples), rss ${points[0]?.[1].toFixed(1)} -> ${points.at(-1)?.[1].toFixed(1)} MB`);
}

await main();
