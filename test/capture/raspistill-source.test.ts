/** The legacy camera stack through node-raspistill, with a fake `raspistill` on PATH writing real JPEGs to stdout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFrameSource } from '../../src/capture/create-source.js';
import { SourceError, type Frame } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/util/logger.js';
import { cv } from '../../src/vision/opencv.js';
import { installFakeCamera, withPath } from './fake-camera.js';
import { megamindJpegs, withEmbeddedThumbnail } from './fixtures.js';

const camera = { ...configSchema.parse({}).camera, width: 320, height: 240, fps: 10 };
// raspistill embeds an EXIF thumbnail unless told otherwise: the frames carry one, as a real camera's might.
const thumb = megamindJpegs(1, 64, 48)[0]!;
const jpegs = megamindJpegs(5, 320, 240).map((j) => withEmbeddedThumbnail(j, thumb));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('raspistill timelapse: node-raspistill runs it with JPEG to stdout; frames decode at the asked size; close stops it', async (t) => {
  const fake = installFakeCamera(['raspistill'], jpegs, [{ frames: Infinity, intervalMs: 20 }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('raspistill', camera, silentLogger);
    await src.open();
    assert.equal(src.description, 'raspistill timelapse 320x240 every 100 ms');
    const frames: Frame[] = [];
    for (let i = 0; i < 10; i++) frames.push((await src.read())!);
    assert.deepEqual(frames.map((f) => f.index), [...Array(10).keys()]);
    for (const f of frames) assert.deepEqual([f.mat.cols, f.mat.rows, f.mat.type], [320, 240, cv.CV_8UC3], 'whole frames, not the 64x48 thumbnails');
    const pid = fake.pid(0);
    await src.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid), false, 'raspistill is stopped on close()');
  });
  const args = fake.invocations()[0]!;
  const opt = (flag: string) => args[args.indexOf(flag) + 1];
  assert.ok(args.includes('-n'), `no preview: ${args.join(' ')}`);
  assert.deepEqual([opt('-e'), opt('-w'), opt('-h'), opt('-t'), opt('-tl'), opt('-th'), opt('-o')], ['jpg', '320', '240', '0', '100', 'none', '-']);
});

test('frames glued across pipe reads (a busy kiosk, a frame written in pieces): every frame still arrives', async (t) => {
  // node-raspistill's own executor hands over data only when a chunk starts with a JPEG signature: on this stream it
  // never does after the first chunk, and the camera looked stalled. Our executor streams chunks to the splitter.
  const fake = installFakeCamera(['raspistill'], jpegs, [{ frames: Infinity, intervalMs: 20, glued: true }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('raspistill', camera, silentLogger);
    await src.open();
    const frames: Frame[] = [];
    for (let i = 0; i < 6; i++) frames.push((await src.read())!);
    assert.deepEqual(frames.map((f) => [f.index, f.mat.cols, f.mat.rows]), [...Array(6).keys()].map((i) => [i, 320, 240]));
    await src.close();
  });
});

test('raspistill missing (e.g. 64-bit Bookworm): a clear error that points to rpicam', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'empty-path-'));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  await withPath(empty, async () => {
    const src = createFrameSource('raspistill', camera, silentLogger);
    await assert.rejects(src.open(), (e: unknown) => e instanceof SourceError && !e.retryable && /raspistill is not on PATH .*--source rpicam/.test(e.message));
  });
});

test('raspistill fails at start: the error carries what raspistill said (from a single diagnostic still)', async (t) => {
  const fake = installFakeCamera(['raspistill'], jpegs, [{ frames: 0, exitCode: 70, stderr: 'mmal: Failed to enable camera: out of resources' }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('raspistill', camera, silentLogger);
    await assert.rejects(src.open(), (e: unknown) => {
      assert.ok(e instanceof SourceError);
      assert.match(e.message, /cannot start the Raspberry Pi camera with raspistill .*raspistill stopped \(the process exited\).*a single still says: .*mmal: Failed to enable camera: out of resources/);
      return true;
    });
  });
  const runs = fake.invocations();
  assert.equal(runs.length, 2, 'the timelapse run, then one diagnostic still');
  assert.ok(runs[1]!.includes('-t') && runs[1]![runs[1]!.indexOf('-t') + 1] === '1' && !runs[1]!.includes('-tl'));
});

test('raspistill dies mid-run: a retryable error (the resilient source reconnects it)', async (t) => {
  const fake = installFakeCamera(['raspistill'], jpegs, [{ frames: 4, intervalMs: 20, exitCode: 0 }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('raspistill', camera, silentLogger);
    await src.open();
    await assert.rejects(
      async () => {
        for (;;) await src.read();
      },
      (e: unknown) => e instanceof SourceError && e.retryable && /raspistill stopped \(the process exited\)/.test(e.message),
    );
    await src.close();
  });
});
