/** KioskPipeline.run hands every event to the sinks before it returns (the caller stops the sinks right after). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frame, FrameSource } from '../../src/capture/types.js';
import type { FaceEvent } from '../../src/events/types.js';
import { EMOTIONS, type EmotionScores } from '../../src/model/labels.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { KioskPipeline } from '../../src/pipeline/kiosk-pipeline.js';
import { silentLogger } from '../../src/util/logger.js';

const SCORES = Object.fromEntries(EMOTIONS.map((e, i) => [e, i === 0 ? 0.9 : 0.1 / 6])) as EmotionScores;

test('the last events (the flush at the end of the source) are stored by an async sink before run() returns', async () => {
  let i = 0;
  const source: FrameSource = {
    description: 'five frames',
    fps: 30,
    open: async () => {},
    close: async () => {},
    read: async (): Promise<Frame | null> => (i < 5 ? { mat: { release() {} } as unknown as Frame['mat'], timestamp: i * 33, index: i++ } : null),
  };
  const stored: FaceEvent[] = [];
  // Like the MQTT sink: onEvent resolves once the event is in the (disk) outbox, a little later.
  const sink = { name: 'slow-outbox', onEvent: (e: FaceEvent) => new Promise<void>((r) => setTimeout(() => (stored.push(e), r()), 30)) };
  const tracker = new FaceTracker({ iouThreshold: 0.3, confirmFrames: 2, maxMissingMs: 1000, smoothingAlpha: 0.35, minDwellMs: 800, minConfidence: 0.4 }, { name: 'm', version: '1' }, () => 'id');
  const summary = await new KioskPipeline({
    source,
    detector: { detectAndCrop: () => [{ box: { x: 0, y: 0, width: 40, height: 40 }, crop: new Uint8Array(1) }] },
    classifier: { inputSize: 48, classify: async (crops) => crops.map(() => SCORES) },
    tracker,
    sinks: [sink],
    logger: silentLogger,
  }).run();
  assert.equal(summary.events, 2);
  assert.deepEqual(stored.map((e) => e.type), ['appeared', 'left'], 'both stored when run() returned');
});
