import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cv } from '../../src/vision/opencv.js';
import { JpegStreamSplitter } from '../../src/capture/jpeg-splitter.js';
import { megamindJpegs, withEmbeddedThumbnail } from './fixtures.js';

const frames = megamindJpegs(6, 160, 120);

/** Feeds `stream` in chunks of the given sizes (cycled) and collects the frames. */
function splitInChunks(stream: Buffer, sizes: number[], splitter = new JpegStreamSplitter()): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = 0; pos < stream.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(...splitter.push(stream.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}

test('whole frames pass through unchanged and decode to the original size', () => {
  const out = splitInChunks(Buffer.concat(frames), [1 << 20]);
  assert.equal(out.length, frames.length);
  out.forEach((f, i) => assert.ok(f.equals(frames[i]!), `frame ${i} differs`));
  const mat = cv.imdecode(out[0]!);
  assert.deepEqual([mat.cols, mat.rows, mat.channels], [160, 120, 3]);
});

test('frames split across chunk boundaries, down to one byte at a time, come out whole', () => {
  const stream = Buffer.concat(frames);
  for (const sizes of [[1], [2, 3], [7, 1000, 13], [4096], [frames[0]!.length - 1]]) {
    const out = splitInChunks(stream, sizes);
    assert.equal(out.length, frames.length, `chunk sizes ${sizes}`);
    out.forEach((f, i) => assert.ok(f.equals(frames[i]!), `chunk sizes ${sizes}: frame ${i} differs`));
  }
});

test('garbage before, between and after frames is skipped and counted', () => {
  const junk = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => ((i + seed) * 151) & 0xff));
  // Includes bytes that look like markers: a lone FF D8 not followed by FF, FF D9, FF FF.
  const tricky = Buffer.from([0xff, 0xd8, 0x00, 0xff, 0xd9, 0xff, 0xff, 0x12]);
  const stream = Buffer.concat([junk(333, 1), tricky, frames[0]!, junk(57, 2), frames[1]!, tricky, frames[2]!, junk(10, 3)]);
  const splitter = new JpegStreamSplitter();
  const out = splitInChunks(stream, [100, 31], splitter);
  assert.equal(out.length, 3);
  out.forEach((f, i) => assert.ok(f.equals(frames[i]!)));
  assert.equal(splitter.stats.frames, 3);
  // Every byte outside a frame is either discarded or (at the very end) held while it could still start a frame.
  assert.equal(splitter.stats.discardedBytes + splitter.pendingBytes, 333 + 57 + 2 * tricky.length + 10);
  assert.ok(splitter.pendingBytes <= 2);
});

test('an embedded thumbnail (SOI/EOI inside APP1) does not end the frame', () => {
  const thumb = megamindJpegs(1, 32, 24)[0]!;
  const big = withEmbeddedThumbnail(frames[0]!, thumb);
  const out = splitInChunks(Buffer.concat([big, frames[1]!]), [500]);
  assert.equal(out.length, 2);
  assert.ok(out[0]!.equals(big));
  assert.equal(cv.imdecode(out[0]!).cols, 160, 'the whole frame, not the 32-pixel thumbnail');
});

test('restart markers and progressive JPEGs (several scans) are handled', () => {
  const rst = megamindJpegs(2, 160, 120, 50, [cv.IMWRITE_JPEG_RST_INTERVAL, 1]);
  const progressive = megamindJpegs(2, 160, 120, 60, [cv.IMWRITE_JPEG_PROGRESSIVE, 1]);
  for (const [name, set] of [['restart interval', rst], ['progressive', progressive]] as const) {
    const out = splitInChunks(Buffer.concat(set), [333]);
    assert.equal(out.length, 2, name);
    out.forEach((f, i) => assert.ok(f.equals(set[i]!), `${name} frame ${i}`));
  }
  assert.ok(rst[0]!.includes(Buffer.from([0xff, 0xd0])), 'fixture really has restart markers');
});

test('a frame truncated by a restart is dropped and the next frame is found', () => {
  const truncated = frames[0]!.subarray(0, Math.floor(frames[0]!.length / 2));
  const splitter = new JpegStreamSplitter();
  const out = splitInChunks(Buffer.concat([truncated, frames[1]!, frames[2]!]), [256], splitter);
  // The truncated frame's entropy data runs into the next SOI, which is a marker that cannot appear there.
  assert.deepEqual(out.map((f) => f.length), [frames[1]!.length, frames[2]!.length]);
  assert.equal(splitter.stats.droppedFrames, 1);
});

test('reset() forgets a partial frame', () => {
  const splitter = new JpegStreamSplitter();
  splitter.push(frames[0]!.subarray(0, 100));
  assert.ok(splitter.pendingBytes > 0);
  splitter.reset();
  assert.equal(splitter.pendingBytes, 0);
  assert.equal(splitter.push(frames[1]!).length, 1);
});

test('a frame larger than maxFrameBytes is dropped instead of buffering without bound', () => {
  const splitter = new JpegStreamSplitter(1000);
  const out = splitInChunks(Buffer.concat([frames[0]!, frames[1]!]), [400], splitter);
  assert.equal(out.length, 0);
  assert.ok(splitter.stats.droppedFrames >= 2);
  assert.ok(splitter.pendingBytes <= 1000);
});
