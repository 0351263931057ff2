/**
 * Issue 11, the media clock: a recorded clip gives the same events however fast the machine decodes it. Two runs of
 * Megamind.avi through the real pipeline (OpenCV file source, Haar detector, the shipped model, the tracker): one as
 * fast as it goes, one with every frame slowed by a test hook (a stand-in for a loaded Pi). Their (type, faceId,
 * emotion, frameIndex) sequences must be identical. Before the media clock the tracker's dwell and missing rules ran
 * on the wall clock, and the slowed run gave other events.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { createFrameSource } from '../../src/capture/create-source.js';
import { observedSource } from '../../src/capture/observed-source.js';
import type { FrameSource } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import { HaarFaceDetector } from '../../src/detection/haar-detector.js';
import type { EventSink, FaceEvent } from '../../src/events/types.js';
import { EmotionClassifier } from '../../src/model/emotion-classifier.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { KioskPipeline } from '../../src/pipeline/kiosk-pipeline.js';
import { silentLogger } from '../../src/util/logger.js';
import { defaultCascadePath, defaultModelPath } from '../../src/util/paths.js';
import { megamindVideo } from '../helpers/fixtures.js';

const config = configSchema.parse({});

/** The test hook: each read waits `delayMs` more (a slow machine), the frames themselves are untouched. */
const slowSource = (inner: FrameSource, delayMs: (index: number) => number): FrameSource =>
  observedSource(inner, async (read) => {
    const f = await read();
    if (f) await new Promise((r) => setTimeout(r, delayMs(f.index)));
    return f;
  });

async function runClip(classifier: EmotionClassifier, slow: boolean): Promise<{ seq: string[]; wallS: number }> {
  const events: FaceEvent[] = [];
  const sink: EventSink = { name: 'collect', onEvent: (e) => void events.push(e) };
  const file = createFrameSource(megamindVideo, config.camera, silentLogger);
  // Slowed: 15-45 ms more per frame, varying (a busy core), so the run takes longer than the clip's own 11.3 s.
  const source = slow ? slowSource(file, (i) => 15 + ((i * 7) % 31)) : file;
  await source.open();
  const tracker = new FaceTracker(config.tracking, { name: 'm', version: '1' }, randomUUID);
  const detector = HaarFaceDetector.load(defaultCascadePath, config.detection);
  const summary = await new KioskPipeline({ source, detector, classifier, tracker, sinks: [sink], logger: silentLogger }).run();
  await source.close();
  return { seq: events.map((e) => `${e.type} ${e.faceId} ${e.emotion} ${e.frameIndex}`), wallS: summary.wallSeconds };
}

test('Megamind.avi: a run slowed by a test hook gives the same (type, faceId, emotion, frameIndex) sequence', async () => {
  const classifier = await EmotionClassifier.load(defaultModelPath, { intraOpThreads: 1 });
  try {
    const fast = await runClip(classifier, false);
    const slowed = await runClip(classifier, true);
    console.log(`# fast run ${fast.wallS} s, slowed run ${slowed.wallS} s; ${fast.seq.length} events`);
    assert.ok(fast.seq.some((s) => s.startsWith('emotion_changed')) || fast.seq.length >= 4, `a clip with time-dependent events: ${fast.seq.join('; ')}`);
    assert.deepEqual(slowed.seq, fast.seq);
  } finally {
    await classifier.close();
  }
});
