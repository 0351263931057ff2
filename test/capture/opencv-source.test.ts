/** OpenCV-backed sources through createFrameSource, on real media: Megamind.avi, a real HTTP stream, real GStreamer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFrameSource } from '../../src/capture/create-source.js';
import { OpenCvFrameSource } from '../../src/capture/opencv-source.js';
import { SourceError, type Frame, type FrameSource } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';
import { cv } from '../../src/vision/opencv.js';
import { MEGAMIND, serveFile } from './fixtures.js';

const camera = configSchema.parse({}).camera;

async function readAll(src: FrameSource, limit = 10_000): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let f = await src.read(); f !== null && frames.length < limit; f = frames.length < limit ? await src.read() : null) frames.push(f);
  return frames;
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'capture-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const isSourceError = (re: RegExp, retryable?: boolean) => (e: unknown) => {
  assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`);
  assert.match(e.message, re);
  if (retryable !== undefined) assert.equal(e.retryable, retryable, `retryable for: ${e.message}`);
  return true;
};

test('a video file delivers every frame as BGR with counting indexes, then null', async () => {
  const lines: string[] = [];
  const src = createFrameSource(MEGAMIND, camera, createLogger('info', '', (l) => lines.push(l)));
  await src.open();
  assert.match(src.description, /^video file .*Megamind\.avi \(FFmpeg backend\)$/);
  assert.ok(Math.abs(src.fps! - 23.976) < 0.01, `fps ${src.fps}`);
  const before = Date.now();
  const seen: { index: number; timestamp: number }[] = [];
  for (let f = await src.read(); f !== null; f = await src.read()) {
    assert.deepEqual([f.mat.cols, f.mat.rows, f.mat.type], [720, 528, cv.CV_8UC3], `frame ${f.index}`);
    seen.push({ index: f.index, timestamp: f.timestamp });
  }
  assert.equal(seen.length, 270);
  seen.forEach((f, i) => assert.equal(f.index, i));
  assert.ok(seen.every((f, i) => f.timestamp >= before && (i === 0 || f.timestamp >= seen[i - 1]!.timestamp)));
  assert.equal(await src.read(), null, 'stays at the end');
  await src.close();
  assert.ok(lines.some((l) => /opened video file .* 720x528 @ 23\.98 fps/.test(l)), lines.join('\n'));
});

test('media clock: file frames carry their time in the clip (mediaMs), one frame interval apart, increasing across loops', async () => {
  const src = createFrameSource(MEGAMIND, { ...camera, loop: true }, silentLogger);
  await src.open();
  const times: number[] = [];
  for (let n = 0; n < 545; n++) times.push((await src.read())!.mediaMs!);
  await src.close();
  const interval = 1000 / 23.976;
  for (let i = 1; i < times.length; i++) assert.ok(Math.abs(times[i]! - times[i - 1]! - interval) < 0.5, `frame ${i}: ${times[i - 1]} -> ${times[i]}`);
  assert.ok(Math.abs(times[270]! - times[0]! - 270 * interval) < 1, 'the second pass goes on where the first ended');
});

test('loop: the file starts over at the end and the frame after the last is the first again', async () => {
  const src = createFrameSource(MEGAMIND, { ...camera, loop: true }, silentLogger);
  await src.open();
  let first: Frame | undefined;
  let again: Frame | undefined;
  let n = 0;
  for (; n < 275; n++) {
    const f = (await src.read())!;
    assert.equal(f.index, n);
    if (n === 0) first = f;
    if (n === 270) again = f;
  }
  const diff = again!.mat.absdiff(first!.mat).sum() as unknown as { x: number; y: number; z: number };
  assert.deepEqual([diff.x, diff.y, diff.z], [0, 0, 0], 'frame 270 is frame 0 again');
  await src.close();
});

test('realtime: a file is paced and still delivers every frame', async () => {
  const lines: string[] = [];
  const src = createFrameSource(MEGAMIND, { ...camera, realtime: true }, createLogger('info', '', (l) => lines.push(l)));
  await src.open();
  const frames = await readAll(src, 5);
  assert.deepEqual(frames.map((f) => f.index), [0, 1, 2, 3, 4]);
  assert.ok(lines.some((l) => /paced in real time/.test(l)));
  await src.close();
});

/** The first `count` frames of Megamind.avi as decoded here, written as a lossless PNG sequence <dir>/%04d.png. */
function megamindPngs(dir: string, count: number): Buffer[] {
  const cap = new cv.VideoCapture(MEGAMIND, cv.CAP_FFMPEG);
  const pixels: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const mat = cap.read();
    cv.imwrite(join(dir, `${String(i).padStart(4, '0')}.png`), mat);
    pixels.push(mat.getData());
  }
  cap.release();
  return pixels;
}

test('a recorded image sequence (dir/%04d.png) replays the exact pixels in order on the media clock at camera.fps, and loops', async (t) => {
  const dir = tempDir(t);
  const pixels = megamindPngs(dir, 12);
  const lines: string[] = [];
  const pattern = join(dir, '%04d.png');
  const src = createFrameSource(pattern, { ...camera, fps: 24 }, createLogger('info', '', (l) => lines.push(l)));
  await src.open();
  assert.equal(src.description, `image sequence ${pattern}`);
  assert.equal(src.fps, undefined, 'images have no rate of their own (OpenCV reports 1 fps)');
  const frames = await readAll(src);
  assert.equal(frames.length, 12);
  frames.forEach((f, i) => {
    assert.equal(f.index, i);
    assert.ok(f.mat.getData().equals(pixels[i]!), `frame ${i}: the decoded pixels, bit for bit`);
    assert.ok(Math.abs(f.mediaMs! - (i * 1000) / 24) < 1e-6, `frame ${i}: mediaMs ${f.mediaMs}`);
  });
  assert.equal(await src.read(), null);
  await src.close();
  assert.ok(lines.some((l) => /opened image sequence .*: 720x528 \(12 images, 24 fps from camera\.fps\)/.test(l)), lines.join('\n'));

  const looping = createFrameSource(pattern, { ...camera, fps: 24, loop: true }, silentLogger);
  await looping.open();
  const again = await readAll(looping, 14);
  await looping.close();
  assert.ok(again[12]!.mat.getData().equals(pixels[0]!) && again[13]!.mat.getData().equals(pixels[1]!), 'after the last image the first again');
  assert.ok(again.every((f, i) => i === 0 || f.mediaMs! > again[i - 1]!.mediaMs!), 'the clock goes on across the loop');
});

test('an image sequence with an image OpenCV cannot read fails at open, naming the first image', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '0000.png'), 'not a png');
  writeFileSync(join(dir, '0001.png'), 'not a png');
  await assert.rejects(createFrameSource(join(dir, '%04d.png'), camera, silentLogger).open(), isSourceError(/image sequence .*%04d\.png.*0000\.png/, false));
});

test('a missing file is a clear, non-retryable error before anything opens', () => {
  assert.throws(() => createFrameSource('/no/such/dir/video.avi', camera, silentLogger), isSourceError(/video file not found: \/no\/such\/dir\/video\.avi/, false));
});

test('a file that is not a video: cannot open, names the file and the backend', async (t) => {
  const path = join(tempDir(t), 'garbage.avi');
  writeFileSync(path, Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919) % 251)));
  const src = createFrameSource(path, camera, silentLogger);
  await assert.rejects(src.open(), isSourceError(new RegExp(`cannot open video file ${path} \\(FFmpeg backend\\).*ffprobe ${path}`), false));
});

test('a corrupt video (real AVI header, garbage data): the first frame cannot be decoded', async (t) => {
  const path = join(tempDir(t), 'corrupt.avi');
  const bytes = readFileSync(MEGAMIND);
  for (let i = 8192; i < bytes.length; i++) bytes[i] = (i * 131) & 0xff;
  writeFileSync(path, bytes);
  const src = createFrameSource(path, camera, silentLogger);
  await assert.rejects(src.open(), isSourceError(/opened but its first frame cannot be decoded \(corrupt or unsupported video\)/, false));
});

test('an unknown camera index names the index, the device and what to check', async () => {
  const src = createFrameSource('57', camera, silentLogger);
  assert.equal(src.description, 'V4L2 camera index 57 (/dev/video57)');
  await assert.rejects(
    src.open(),
    isSourceError(/cannot open V4L2 camera index 57 \(\/dev\/video57\).*\/dev\/video57 does not exist.*ls \/dev\/video\*.*video group/, true),
  );
  const byPath = createFrameSource('/dev/video57', camera, silentLogger);
  await assert.rejects(byPath.open(), isSourceError(/\/dev\/video57/, true));
});

test('an HTTP stream is read through FFmpeg; when it ends the failure is retryable (a live stream dropped)', async (t) => {
  const url = await serveFile(t, MEGAMIND);
  const src = createFrameSource(url, camera, silentLogger);
  await src.open();
  assert.equal(src.description, `network stream ${url} (FFmpeg backend)`);
  let n = 0;
  await assert.rejects(async () => {
    for (;;) {
      const f = await src.read();
      assert.equal(f?.mediaMs, undefined, 'a live source keeps the wall clock');
      n++;
    }
  }, isSourceError(/network stream .* stopped delivering frames after 270/, true));
  assert.equal(n, 270);
  await src.close();
});

test('a stream that stops sending fails with a retryable "no frame" error instead of hanging the kiosk', async (t) => {
  const url = await serveFile(t, MEGAMIND, 300_000); // about a quarter of the file, then silence
  const lines: string[] = [];
  const src = new OpenCvFrameSource({
    target: { kind: 'url', url, redacted: url },
    camera,
    hint: () => '',
    logger: createLogger('debug', '', (l) => lines.push(l)),
    stallTimeoutMs: 1500,
  });
  await src.open();
  let n = 0;
  await assert.rejects(async () => {
    for (;;) {
      await src.read();
      n++;
    }
  }, isSourceError(/network stream .*: no frame for 1\.5 s \(device stalled or stream stopped sending\)/, true));
  assert.ok(n > 10 && n < 270, `${n} frames before the stall`);
  assert.ok(lines.some((l) => /releasing the capture when it returns/.test(l)), 'the blocked capture is released later, not under the read');
  await assert.rejects(src.read(), isSourceError(/is not open/), 'after a failure the source must be reopened');
  await src.close();
});

test('an unreachable stream fails at open, naming the URL without its password', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const src = createFrameSource(`http://kiosk:hunter2@127.0.0.1:${port}/live.mjpg`, camera, silentLogger);
  await assert.rejects(src.open(), (e: unknown) => {
    isSourceError(new RegExp(`cannot open network stream http://kiosk:\\*\\*\\*@127\\.0\\.0\\.1:${port}/live\\.mjpg.*ffprobe`), true)(e);
    assert.doesNotMatch((e as Error).message, /hunter2/);
    return true;
  });
});

test('an unresponsive stream server does not freeze the process for OpenCV\'s 30 s: the open fails after the network timeout', { timeout: 25_000 }, async (t) => {
  // A server that accepts connections and never answers (a camera whose RTSP/HTTP service hung).
  const script = "const s = require('node:net').createServer(() => {}); s.listen(0, '127.0.0.1', () => console.log(s.address().port));";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(async () => {
    child.kill();
    await once(child, 'exit').catch(() => undefined);
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const url = `http://127.0.0.1:${line.toString().trim()}/live.mjpg`;
  const src = new OpenCvFrameSource({ target: { kind: 'url', url, redacted: url }, camera, hint: () => 'check the camera', logger: silentLogger, networkTimeoutMs: 2000 });
  await assert.rejects(src.open(), isSourceError(/cannot open network stream .*live\.mjpg \(FFmpeg backend\): OpenCV could not open it within 2 s/, true));
  assert.equal(process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS, undefined, 'the FFmpeg option is set for that open only');
});
