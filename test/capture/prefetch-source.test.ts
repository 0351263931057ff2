/**
 * Reading the next frame while the kiosk works on this one (PrefetchingFrameSource), on real media: Megamind.avi
 * through OpenCV, the same clip as a live HTTP stream, and the real pipeline (Haar, the shipped model, the tracker).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFrameSource } from '../../src/capture/create-source.js';
import { observedSource } from '../../src/capture/observed-source.js';
import { PrefetchingFrameSource } from '../../src/capture/prefetch-source.js';
import { SourceError, type Frame, type FrameSource } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import { HaarFaceDetector } from '../../src/detection/haar-detector.js';
import type { EventSink, FaceEvent } from '../../src/events/types.js';
import { EmotionClassifier } from '../../src/model/emotion-classifier.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { KioskPipeline } from '../../src/pipeline/kiosk-pipeline.js';
import { silentLogger } from '../../src/util/logger.js';
import { defaultCascadePath, defaultModelPath } from '../../src/util/paths.js';
import { MEGAMIND, serveFile } from './fixtures.js';

const config = configSchema.parse({});
const camera = config.camera;

/** The real source, passed through, keeping every frame it produced: what the prefetcher did with them. */
function observe(inner: FrameSource) {
  const o = { produced: [] as Frame[], reads: 0 };
  const source = observedSource(inner, async (read) => {
    o.reads++;
    const f = await read();
    if (f) o.produced.push(f);
    return f;
  });
  return Object.assign(o, { source });
}

const digest = (f: Frame) => `${f.index} ${f.mediaMs} ${createHash('sha256').update(f.mat.getData()).digest('hex')}`;

test('a file: every frame in order with its media clock time, none dropped, never more than one frame read ahead', async () => {
  const plain = createFrameSource(MEGAMIND, camera, silentLogger);
  await plain.open();
  const expected: string[] = [];
  for (let f = await plain.read(); f; f = await plain.read()) {
    expected.push(digest(f));
    f.mat.release();
  }
  await plain.close();

  const observed = observe(createFrameSource(MEGAMIND, camera, silentLogger));
  const src = new PrefetchingFrameSource(observed.source, { live: false });
  await src.open();
  const got: string[] = [];
  let maxAhead = 0;
  for (let f = await src.read(); f; f = await src.read()) {
    got.push(digest(f));
    f.mat.release();
    // a consumer that is sometimes slower than the decoder: the read ahead must stay bounded
    if (got.length % 3 === 0) await sleep(15);
    maxAhead = Math.max(maxAhead, observed.reads - got.length);
  }
  assert.equal(await src.read(), null, 'stays at the end');
  await src.close();
  assert.equal(got.length, 270);
  assert.deepEqual(got, expected, 'the same frames, indexes and mediaMs as without prefetching');
  assert.ok(maxAhead <= 2, `reads ahead of the consumer: ${maxAhead} (one frame waiting + one read in flight at most)`);
  assert.equal(src.droppedFrames, 0);
});

test('stop with a read in flight: close() resolves, later reads are null, every frame not handed out is released', async () => {
  const observed = observe(createFrameSource(MEGAMIND, camera, silentLogger));
  const src = new PrefetchingFrameSource(observed.source, { live: false });
  await src.open();
  const first = await src.read(); // hands out the first frame and starts reading the second
  assert.ok(first);
  assert.equal(observed.reads, 2, 'the next read started as soon as the first frame was handed out');
  await src.close(); // while that read is in flight
  assert.equal(await src.read(), null);
  const handedOut = new Set([first]);
  const leaked = observed.produced.filter((f) => !handedOut.has(f) && !f.mat.empty);
  assert.deepEqual(leaked.map((f) => f.index), [], 'frames read ahead were released');
  assert.ok(!first.mat.empty, 'the frame the consumer holds is its own until it releases it');
  first.mat.release();
});

test('a pending read() resolves null when the source is closed under it', async () => {
  const src = new PrefetchingFrameSource(createFrameSource(MEGAMIND, camera, silentLogger), { live: false });
  await src.open();
  (await src.read())!.mat.release();
  await sleep(50); // the second frame is ready now
  (await src.read())!.mat.release();
  const pending = src.read(); // the third is being read
  await src.close();
  const f = await pending;
  if (f) f.mat.release(); // it may have arrived before the close; if not, null
  assert.equal(await src.read(), null);
});

test('a live stream: the consumer gets the newest frame; older ones are dropped and counted, and the failure comes after them', async (t) => {
  const url = await serveFile(t, MEGAMIND);
  const src = new PrefetchingFrameSource(createFrameSource(url, camera, silentLogger), { live: true });
  await src.open();
  const indexes: number[] = [];
  const error = await (async () => {
    try {
      for (;;) {
        const f = await src.read();
        if (!f) return undefined;
        indexes.push(f.index);
        f.mat.release();
        if (indexes.length <= 3) await sleep(300); // a slow consumer: the stream goes on meanwhile
      }
    } catch (err) {
      return err;
    }
  })();
  assert.ok(error instanceof SourceError && error.retryable && /stopped delivering frames after 270/.test(error.message), String(error));
  assert.ok(indexes.every((n, i) => i === 0 || n > indexes[i - 1]!), `in order: ${indexes.join(',')}`);
  assert.ok(src.droppedFrames > 0, 'frames that waited while the consumer was busy were dropped');
  assert.equal(indexes.length + src.droppedFrames, 270, 'every frame was either delivered or counted as dropped');
  await src.close();
});

async function events(prefetch: boolean, classifier: EmotionClassifier): Promise<string[]> {
  const out: FaceEvent[] = [];
  const sink: EventSink = { name: 'collect', onEvent: (e) => void out.push(e) };
  const file = createFrameSource(MEGAMIND, camera, silentLogger);
  const source = prefetch ? new PrefetchingFrameSource(file, { live: false }) : file;
  await source.open();
  const tracker = new FaceTracker(config.tracking, { name: 'm', version: '1' }, randomUUID);
  const detector = HaarFaceDetector.load(defaultCascadePath, config.detection);
  await new KioskPipeline({ source, detector, classifier, tracker, sinks: [sink], logger: silentLogger }).run();
  await source.close();
  return out.map((e) => JSON.stringify([e.type, e.faceId, e.emotion, e.frameIndex, e.box, e.confidence, e.scores]));
}

test('the real pipeline on Megamind gives the same events, boxes and scores with and without prefetching', async () => {
  const classifier = await EmotionClassifier.load(defaultModelPath, { intraOpThreads: 1 });
  try {
    const without = await events(false, classifier);
    const withPrefetch = await events(true, classifier);
    assert.ok(without.length >= 4, `a clip with events: ${without.length}`);
    assert.deepEqual(withPrefetch, without);
  } finally {
    await classifier.close();
  }
});
