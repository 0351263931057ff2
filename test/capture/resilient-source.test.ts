/** Reconnect with backoff, on a fake rpicam-vid that dies (camera unplugged) and comes back, and on real files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFrameSource } from '../../src/capture/create-source.js';
import { ResilientFrameSource, type SourceStateChange } from '../../src/capture/resilient-source.js';
import { SourceError, type Frame, type FrameSource } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';
import { installFakeCamera, withPath } from './fake-camera.js';
import { MEGAMIND, megamindJpegs } from './fixtures.js';

const camera = { ...configSchema.parse({}).camera, width: 320, height: 240, fps: 15 };
const jpegs = megamindJpegs(6, 320, 240);
const fastRetry = { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 0 };

const summary = (c: SourceStateChange) => `${c.state}#${c.attempt}${c.state === 'reconnecting' ? `+${c.delayMs}` : ''}`;

test('unplugged and plugged back: the source reconnects with backoff and frames continue with counting indexes', async (t) => {
  const fake = installFakeCamera(['rpicam-vid'], jpegs, [
    { frames: 6, exitCode: 1, stderr: 'ERROR: *** camera frontend has timed out! ***' }, // unplugged mid-run
    { frames: 0, exitCode: 255, stderr: 'ERROR: *** no cameras available ***' }, // still unplugged
    { frames: 0, exitCode: 255, stderr: 'ERROR: *** no cameras available ***' },
    { frames: Infinity }, // back
  ]);
  t.after(() => fake.cleanup());
  const states: SourceStateChange[] = [];
  const logs: string[] = [];
  await withPath(fake.path, async () => {
    const src = new ResilientFrameSource(() => createFrameSource('rpicam', camera, silentLogger), fastRetry, createLogger('info', '', (l) => logs.push(l)), (c) =>
      states.push(c),
    );
    await src.open();
    const frames: Frame[] = [];
    for (let i = 0; i < 20; i++) frames.push((await src.read())!);
    assert.deepEqual(frames.map((f) => f.index), [...Array(20).keys()], 'indexes keep counting across the reconnect');
    assert.ok(frames.every((f) => f.mat.cols === 320 && f.mat.rows === 240));
    await src.close();
    assert.equal(src.reconnects, 1);
  });
  assert.deepEqual(states.map(summary), ['connected#0', 'reconnecting#1+50', 'reconnecting#2+100', 'reconnecting#3+200', 'connected#3']);
  assert.match(states[1]!.error!.message, /camera frontend has timed out/);
  assert.match(states[2]!.error!.message, /no cameras available/);
  assert.equal(fake.invocations().length, 4);
  assert.ok(logs.some((l) => /WARN .*reconnecting to rpicam-vid MJPEG 320x240@15 in 50 ms \(attempt 1\)/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /INFO .*reconnected to rpicam-vid MJPEG 320x240@15 after 3 attempts/.test(l)), logs.join('\n'));
});

test('maxAttempts: after that many failed reconnects read() fails with the last error and state "failed"', async (t) => {
  const fake = installFakeCamera(['rpicam-vid'], jpegs, [
    { frames: 2, exitCode: 1, stderr: 'ERROR: camera went away' },
    { frames: 0, exitCode: 255, stderr: 'ERROR: *** no cameras available ***' },
  ]);
  t.after(() => fake.cleanup());
  const states: SourceStateChange[] = [];
  await withPath(fake.path, async () => {
    const src = new ResilientFrameSource(() => createFrameSource('rpicam', camera, silentLogger), { ...fastRetry, maxAttempts: 2 }, silentLogger, (c) => states.push(c));
    await src.open();
    await assert.rejects(
      async () => {
        for (;;) await src.read();
      },
      (e: unknown) => e instanceof SourceError && !e.retryable && /gave up after 2 reconnect attempts \(camera\.retry\.maxAttempts = 2\); last error: .*no cameras available/.test(e.message),
    );
    await src.close();
  });
  assert.deepEqual(states.map(summary), ['connected#0', 'reconnecting#1+50', 'reconnecting#2+100', 'failed#2']);
});

test('a failure at start is fatal: open() rejects and nothing is retried', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'empty-path-'));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  const states: SourceStateChange[] = [];
  await withPath(empty, async () => {
    const src = new ResilientFrameSource(() => createFrameSource('rpicam', camera, silentLogger), fastRetry, silentLogger, (c) => states.push(c));
    await assert.rejects(src.open(), /none of rpicam-vid, libcamera-vid is on PATH/);
  });
  assert.deepEqual(states, []);
  const missing = new ResilientFrameSource(() => createFrameSource('57', camera, silentLogger), fastRetry, silentLogger);
  await assert.rejects(missing.open(), /cannot open V4L2 camera index 57/);
});

test('the end of a file passes through as null (no reconnect); one source instance is reused', async () => {
  const states: SourceStateChange[] = [];
  const src = new ResilientFrameSource(createFrameSource(MEGAMIND, camera, silentLogger), fastRetry, silentLogger, (c) => states.push(c));
  await src.open();
  let n = 0;
  while (await src.read()) n++;
  assert.equal(n, 270);
  await src.close();
  assert.deepEqual(states.map(summary), ['connected#0']);
});

/** An interface-level source for the wrapper's own rules (what to retry), where no device can produce the case. */
class ScriptedSource implements FrameSource {
  readonly description = 'scripted';
  readonly fps = undefined;
  opens = 0;
  constructor(private readonly onRead: () => Promise<Frame | null>) {}
  async open() {
    this.opens++;
  }
  read() {
    return this.onRead();
  }
  async close() {}
}

test('a non-retryable error mid-run is not retried', async () => {
  const states: SourceStateChange[] = [];
  const inner = new ScriptedSource(async () => {
    throw new SourceError('video file vanished', false);
  });
  const src = new ResilientFrameSource(inner, fastRetry, silentLogger, (c) => states.push(c));
  await src.open();
  await assert.rejects(src.read(), /video file vanished/);
  assert.equal(inner.opens, 1);
  assert.deepEqual(states.map(summary), ['connected#0', 'failed#0']);
});

test('close() during the backoff wait ends read() with null promptly', async () => {
  const inner = new ScriptedSource(async () => {
    throw new SourceError('stream dropped', true);
  });
  const src = new ResilientFrameSource(inner, { initialDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 0 }, silentLogger);
  await src.open();
  const reading = src.read();
  await new Promise((r) => setTimeout(r, 50));
  await src.close();
  assert.equal(await reading, null, 'no 60 s wait, no reconnect after close');
  assert.equal(inner.opens, 1);
});

test('a throwing state listener is logged, not fatal', async () => {
  const logs: string[] = [];
  const src = new ResilientFrameSource(createFrameSource(MEGAMIND, camera, silentLogger), fastRetry, createLogger('info', '', (l) => logs.push(l)), () => {
    throw new Error('listener bug');
  });
  await src.open();
  assert.ok(await src.read());
  await src.close();
  assert.ok(logs.some((l) => /source state listener threw: listener bug/.test(l)));
});

test('a factory that throws a non-retryable error while reconnecting ends with state "failed"', async () => {
  const states: SourceStateChange[] = [];
  let built = 0;
  const factory = (): FrameSource => {
    built++;
    if (built === 1) {
      return new ScriptedSource(async () => {
        throw new SourceError('stream dropped', true);
      });
    }
    return createFrameSource('/no/longer/there.avi', camera, silentLogger); // throws: file not found
  };
  const src = new ResilientFrameSource(factory, fastRetry, silentLogger, (c) => states.push(c));
  await src.open();
  await assert.rejects(src.read(), (e: unknown) => e instanceof SourceError && !e.retryable && /video file not found: \/no\/longer\/there\.avi/.test(e.message));
  assert.deepEqual(states.map(summary), ['connected#0', 'reconnecting#1+50', 'failed#1']);
  await src.close();
});
