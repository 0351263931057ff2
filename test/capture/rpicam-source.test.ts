/** rpicam-vid / libcamera-vid through a fake program on PATH that streams real MJPEG (Megamind frames). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFrameSource } from '../../src/capture/create-source.js';
import { RpicamFrameSource, rpicamArgs } from '../../src/capture/rpicam-source.js';
import { SourceError, type Frame } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/util/logger.js';
import { cv } from '../../src/vision/opencv.js';
import { installFakeCamera, withPath } from './fake-camera.js';
import { megamindJpegs } from './fixtures.js';

const camera = { ...configSchema.parse({}).camera, width: 320, height: 240, fps: 15 };
const jpegs = megamindJpegs(8, 320, 240);
const decoded = jpegs.map((j) => cv.imdecode(j));
const EXPECTED_ARGS = ['-t', '0', '-n', '--codec', 'mjpeg', '--width', '320', '--height', '240', '--framerate', '15', '-o', '-'];

/** Index of the source JPEG this frame decodes to exactly, or -1. */
function whichJpeg(frame: Frame): number {
  return decoded.findIndex((d) => {
    const s = frame.mat.absdiff(d).sum() as unknown as { x: number; y: number; z: number };
    return s.x + s.y + s.z === 0;
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const isSourceError = (re: RegExp, retryable?: boolean) => (e: unknown) => {
  assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`);
  assert.match(e.message, re);
  if (retryable !== undefined) assert.equal(e.retryable, retryable, `retryable for: ${e.message}`);
  return true;
};

test('the documented command line', () => {
  assert.deepEqual(rpicamArgs({ width: 320, height: 240, fps: 15 }), EXPECTED_ARGS);
  assert.deepEqual(rpicamArgs({ width: 640, height: 480, fps: 30, extraArgs: ['--hflip'] }).slice(-3), ['--hflip', '-o', '-']);
});

test('rpicam: MJPEG on stdout, split across chunks and junk, decodes to the camera frames; close kills the child', async (t) => {
  const fake = installFakeCamera(['rpicam-vid'], jpegs, [{ frames: Infinity }], { 'rpicam-vid': EXPECTED_ARGS });
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('rpicam', camera, silentLogger);
    await src.open();
    assert.equal(src.description, 'rpicam-vid MJPEG 320x240@15');
    const frames: Frame[] = [];
    for (let i = 0; i < 20; i++) frames.push((await src.read())!);
    assert.deepEqual(frames.map((f) => f.index), [...Array(20).keys()]);
    for (const f of frames) {
      assert.deepEqual([f.mat.cols, f.mat.rows, f.mat.type], [320, 240, cv.CV_8UC3]);
      assert.notEqual(whichJpeg(f), -1, 'every frame is one of the camera JPEGs, byte-exact after decoding');
    }
    assert.ok(frames.every((f, i) => i === 0 || f.timestamp >= frames[i - 1]!.timestamp));
    const pid = fake.pid(0);
    assert.ok(alive(pid));
    await src.close();
    assert.equal(alive(pid), false, 'the camera process is gone after close()');
    assert.equal(await src.read(), null);
  });
  assert.deepEqual(fake.invocations(), [EXPECTED_ARGS]);
});

test('Bullseye: libcamera-vid is used when rpicam-vid is not on PATH', async (t) => {
  const fake = installFakeCamera(['libcamera-vid'], jpegs, [{ frames: Infinity }], { 'libcamera-vid': EXPECTED_ARGS });
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('rpicam-vid', camera, silentLogger);
    await src.open();
    assert.match(src.description, /^libcamera-vid MJPEG/);
    assert.notEqual(whichJpeg((await src.read())!), -1);
    await src.close();
  });
});

test('no camera program on PATH: a clear, non-retryable error naming both programs', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'empty-path-'));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  await withPath(empty, async () => {
    const src = createFrameSource('rpicam', camera, silentLogger);
    await assert.rejects(src.open(), isSourceError(/none of rpicam-vid, libcamera-vid is on PATH .*rpicam-apps/, false));
  });
});

test('the camera program fails at start: its stderr ("no cameras available") is in the error', async (t) => {
  const fake = installFakeCamera(['rpicam-vid'], jpegs, [{ frames: 0, exitCode: 255, stderr: '[0:01:02.3] INFO Camera camera_manager.cpp:297 libcamera v0.1.0\nERROR: *** no cameras available ***' }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('rpicam', camera, silentLogger);
    await assert.rejects(
      src.open(),
      isSourceError(/cannot start the Raspberry Pi camera with ".*rpicam-vid -t 0 -n --codec mjpeg --width 320 --height 240 --framerate 15 -o -": rpicam-vid exited with code 255: ERROR: \*\*\* no cameras available \*\*\*.*rpicam-hello --list-cameras/),
    );
  });
});

test('the camera program dies mid-run: queued frames are delivered, then a retryable error with its stderr', async (t) => {
  const fake = installFakeCamera(['rpicam-vid'], jpegs, [{ frames: 5, exitCode: 1, stderr: 'ERROR: *** camera frontend has timed out! ***' }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = createFrameSource('rpicam', camera, silentLogger);
    await src.open();
    let n = 0;
    await assert.rejects(async () => {
      for (;;) {
        await src.read();
        n++;
      }
    }, isSourceError(/rpicam-vid exited with code 1: ERROR: \*\*\* camera frontend has timed out! \*\*\*/, true));
    assert.ok(n >= 1 && n <= 5, `${n} frames before the failure`);
    await src.close();
  });
});

test('a camera that stops sending is declared stalled and its process is killed', async (t) => {
  const fake = installFakeCamera(['rpicam-vid'], jpegs, [{ frames: 3, then: 'stall' }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = new RpicamFrameSource({ binaries: ['rpicam-vid'], width: 320, height: 240, fps: 15, logger: silentLogger, stallTimeoutMs: 500 });
    await src.open();
    await assert.rejects(async () => {
      for (;;) await src.read();
    }, isSourceError(/rpicam-vid delivered no frame for 0\.5 s while running/, true));
    assert.equal(alive(fake.pid(0)), false, 'the stalled process was killed');
    await src.close();
  });
});

test('undecodable JPEGs are skipped; too many in a row fail the source', async (t) => {
  // Valid marker structure, garbage entropy data: the splitter passes them, libjpeg cannot decode them.
  const broken = jpegs.map((j) => {
    const b = Buffer.from(j);
    const sos = b.indexOf(Buffer.from([0xff, 0xda]));
    for (let i = sos + 20; i < b.length - 2; i++) if (b[i] !== 0xff && b[i - 1] !== 0xff) b[i] = 0x00;
    return b.subarray(0, sos + 4); // cut inside the scan header
  }).map((b) => Buffer.concat([b, Buffer.from([0xff, 0xd9])]));
  const fake = installFakeCamera(['rpicam-vid'], [jpegs[0]!, ...broken, ...broken], [{ frames: Infinity }]);
  t.after(() => fake.cleanup());
  await withPath(fake.path, async () => {
    const src = new RpicamFrameSource({ binaries: ['rpicam-vid'], width: 320, height: 240, fps: 15, logger: silentLogger, maxBadFrames: 5 });
    await src.open(); // the first (good) frame
    await assert.rejects(async () => {
      for (;;) await src.read();
    }, isSourceError(/5 undecodable frames in a row/, true));
    await src.close();
  });
});
