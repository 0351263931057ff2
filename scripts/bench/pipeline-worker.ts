/**
 * One pipeline measurement, run by scripts/bench/pipeline.ts in a child process pinned to one core.
 * argv: <mode: detect|pipeline> <video> <model.onnx> <detection JSON> [prefetch]; prints one JSON line.
 * prefetch: the source reads the next frame while this one is detected and classified (the kiosk's default).
 */
import { randomUUID } from 'node:crypto';
import { createFrameSource } from '../../src/capture/create-source.js';
import { configSchema } from '../../src/config/schema.js';
import { HaarFaceDetector } from '../../src/detection/haar-detector.js';
import type { EventSink } from '../../src/events/types.js';
import { EmotionClassifier } from '../../src/model/emotion-classifier.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { KioskPipeline } from '../../src/pipeline/kiosk-pipeline.js';
import { observedSource } from '../../src/capture/observed-source.js';
import { silentLogger } from '../../src/util/logger.js';
import { defaultCascadePath } from '../../src/util/paths.js';

const [mode, video, modelPath, detectionJson, prefetch] = process.argv.slice(2);
if (!mode || !video || !modelPath || !detectionJson) throw new Error('usage: pipeline-worker <detect|pipeline> <video> <model> <detection-json>');
const config = configSchema.parse({ source: video, detection: JSON.parse(detectionJson), display: { enabled: false } });
const detector = HaarFaceDetector.load(defaultCascadePath, config.detection);
const inner = createFrameSource(video, config.camera, silentLogger, { prefetch: prefetch === 'prefetch' });
/** How long the pipeline waited in read() for its frames: the decode it could not overlap with its own work. */
let readWaitMs = 0;
const source = observedSource(inner, async (read) => {
  const t0 = performance.now();
  try {
    return await read();
  } finally {
    readWaitMs += performance.now() - t0;
  }
});
await source.open();
/** CPU seconds of this process (user + system): with the process pinned to one core, less noisy than wall time. */
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

if (mode === 'detect') {
  let frames = 0;
  let framesWithFaces = 0;
  let faces = 0;
  const t0 = performance.now();
  const c0 = cpuSeconds();
  for (;;) {
    const frame = await source.read();
    if (!frame) break;
    frames++;
    const found = detector.detectAndCrop(frame.mat, 48);
    faces += found.length;
    if (found.length) framesWithFaces++;
    frame.mat.release(); // as the pipeline does, so both pay the same for memory
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ frames, framesWithFaces, faces, fps: frames / seconds, cpuFps: frames / (cpuSeconds() - c0), readWaitMsPerFrame: readWaitMs / frames }));
} else {
  const classifier = await EmotionClassifier.load(modelPath, { intraOpThreads: 1 });
  const nullSink: EventSink = { name: 'null', onEvent() {} };
  const tracker = new FaceTracker(config.tracking, { name: classifier.manifest.name, version: classifier.manifest.version }, randomUUID);
  const c0 = cpuSeconds();
  const summary = await new KioskPipeline({ source, detector, classifier, tracker, sinks: [nullSink], logger: silentLogger }).run();
  console.log(JSON.stringify({ ...summary, cpuFps: summary.frames / (cpuSeconds() - c0), readWaitMsPerFrame: readWaitMs / summary.frames }));
  await classifier.close();
}
await source.close();
