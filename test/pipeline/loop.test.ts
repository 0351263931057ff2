/**
 * The kiosk loop with fake ports (no camera, OpenCV or model): detection on every Nth frame, sinks that throw on
 * events and on frames (the loop and the other sinks go on), the quit key, the abort signal, the tracker's flush
 * at the end, and every frame's native buffer released.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frame, FrameSource } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import type { EventSink, FaceEvent, FrameReport } from '../../src/events/types.js';
import { EMOTIONS, type EmotionScores } from '../../src/model/labels.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { KioskPipeline, type DisplayPort } from '../../src/pipeline/kiosk-pipeline.js';
import { createLogger } from '../../src/util/logger.js';

const FRAME_MS = 100;

function fakeSource(frames: number) {
  let i = 0;
  let released = 0;
  const source: FrameSource = {
    description: `fake ${frames} frames`,
    fps: 10,
    open: async () => {},
    close: async () => {},
    read: async (): Promise<Frame | null> => {
      if (i >= frames) return null;
      const index = i++;
      const mat = { release: () => void released++ } as unknown as Frame['mat'];
      return { mat, timestamp: 1_000_000 + index * FRAME_MS, index };
    },
  };
  return { source, released: () => released };
}

const happy: EmotionScores = Object.fromEntries(EMOTIONS.map((e) => [e, e === 'happy' ? 0.9 : 0.1 / 6])) as EmotionScores;

function setup(opts: { frames: number; every?: number; sinks?: EventSink[]; display?: DisplayPort }) {
  const cfg = configSchema.parse({});
  const detectedOn: number[] = [];
  const { source, released } = fakeSource(opts.frames);
  const logLines: string[] = [];
  let n = 0;
  const pipeline = new KioskPipeline({
    source,
    detector: {
      detectAndCrop: () => {
        detectedOn.push(n++);
        return [{ box: { x: 100, y: 100, width: 80, height: 80 }, crop: new Uint8Array(48 * 48) }];
      },
    },
    classifier: { inputSize: 48, classify: async (crops) => crops.map(() => happy) },
    tracker: new FaceTracker(cfg.tracking, { name: 'fake', version: '0' }, (() => { let k = 0; return () => `ev-${k++}`; })()),
    sinks: opts.sinks ?? [],
    ...(opts.display ? { display: opts.display } : {}),
    logger: createLogger('debug', 'test', (l) => logLines.push(l)),
    detectEveryNthFrame: opts.every ?? 1,
  });
  return { pipeline, detectedOn, released, logLines };
}

function collector(name: string) {
  const events: FaceEvent[] = [];
  const frames: FrameReport[] = [];
  const sink: EventSink = { name, onEvent: (e) => void events.push(e), onFrame: (f) => void frames.push(f) };
  return { sink, events, frames };
}

test('detection runs on every Nth frame; frames between still reach the sinks; the face appears and leaves at the flush', async () => {
  const c = collector('c');
  const { pipeline, detectedOn, released } = setup({ frames: 20, every: 3, sinks: [c.sink] });
  const r = await pipeline.run();
  assert.equal(r.frames, 20);
  assert.equal(r.framesDetected, 7, 'frames 0, 3, ..., 18');
  assert.equal(detectedOn.length, 7);
  assert.equal(c.frames.length, 20);
  assert.deepEqual(c.frames.map((f) => f.detections), Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 1 : 0)));
  assert.deepEqual(c.events.map((e) => e.type), ['appeared', 'left'], 'left comes from the flush at the end of the source');
  assert.equal(c.events[0]!.emotion, 'happy');
  assert.equal(r.stoppedBy, 'end-of-source');
  assert.equal(released(), 20, 'every frame released');
});

test('a sink that throws on events and on frames (sync and async) is logged; the loop and the other sinks go on', async () => {
  const good = collector('good');
  const bad: EventSink = {
    name: 'bad',
    onEvent: (e) => {
      if (e.type === 'appeared') throw new Error('sync boom');
      return Promise.reject(new Error('async boom'));
    },
    onFrame: () => {
      throw new Error('frame boom');
    },
  };
  const { pipeline, logLines } = setup({ frames: 15, sinks: [bad, good.sink] });
  const r = await pipeline.run();
  await new Promise((res) => setImmediate(res));
  assert.equal(r.frames, 15);
  assert.equal(good.frames.length, 15, 'the sink after the throwing one saw every frame');
  assert.deepEqual(good.events.map((e) => e.type), ['appeared', 'left']);
  assert.ok(logLines.some((l) => /sink bad failed on event .*sync boom/.test(l)), logLines.join('\n'));
  assert.ok(logLines.some((l) => /sink bad failed on event .*async boom/.test(l)));
  assert.ok(logLines.some((l) => /sink bad failed on frame 0: frame boom/.test(l)));
  assert.equal(logLines.filter((l) => /failed on frame/.test(l)).length, 1, 'a sink failing on every frame is logged once, not 15 times');
});

test('the quit key stops the loop after that frame; the flush still delivers left', async () => {
  const c = collector('c');
  let shown = 0;
  const display: DisplayPort = { show: () => (++shown === 8 ? 'quit' : 'continue'), close: () => {} };
  const { pipeline, released } = setup({ frames: 100, sinks: [c.sink], display });
  const r = await pipeline.run();
  assert.equal(r.stoppedBy, 'quit-key');
  assert.equal(r.frames, 8);
  assert.equal(released(), 8);
  assert.deepEqual(c.events.map((e) => e.type), ['appeared', 'left']);
});

test('an abort signal stops the loop before the next frame; max-frames stops it too', async () => {
  const abort = new AbortController();
  const c = collector('c');
  const stopper: EventSink = { name: 'stopper', onEvent: () => {}, onFrame: (f) => { if (f.frameIndex === 4) abort.abort(); } };
  const { pipeline } = setup({ frames: 100, sinks: [c.sink, stopper] });
  const r = await pipeline.run({ signal: abort.signal });
  assert.equal(r.stoppedBy, 'signal');
  assert.equal(r.frames, 5);
  assert.equal(c.events.at(-1)?.type, 'left');
  const m = setup({ frames: 100 });
  const r2 = await m.pipeline.run({ maxFrames: 12 });
  assert.equal(r2.stoppedBy, 'max-frames');
  assert.equal(r2.frames, 12);
});
