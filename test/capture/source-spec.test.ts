import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSourceSpec, type PathKind } from '../../src/capture/source-spec.js';
import { SourceError } from '../../src/capture/types.js';

const fs = (files: Record<string, PathKind>) => (p: string): PathKind => files[p] ?? 'missing';
const none = fs({});

test('integers are V4L2 camera indexes', () => {
  assert.deepEqual(parseSourceSpec('0', none), { kind: 'camera', index: 0, device: '/dev/video0' });
  assert.deepEqual(parseSourceSpec(' 12 ', none), { kind: 'camera', index: 12, device: '/dev/video12' });
});

test('/dev/videoN is that camera index, /dev/v4l paths are opened by path', () => {
  assert.deepEqual(parseSourceSpec('/dev/video2', none), { kind: 'camera', index: 2, device: '/dev/video2' });
  const byId = '/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920-video-index0';
  assert.deepEqual(parseSourceSpec(byId, none), { kind: 'camera', index: undefined, device: byId });
});

test('network URLs go to the FFmpeg backend; file:// is a file', () => {
  assert.deepEqual(parseSourceSpec('rtsp://user:pw@10.0.0.5:554/stream1', none), { kind: 'url', url: 'rtsp://user:pw@10.0.0.5:554/stream1', protocol: 'rtsp' });
  assert.equal((parseSourceSpec('HTTP://cam.local/video.mjpg', none) as { protocol: string }).protocol, 'http');
  assert.equal(parseSourceSpec('udp://@:1234', none).kind, 'url');
  assert.deepEqual(parseSourceSpec('file:///tmp/a%20b.avi', fs({ '/tmp/a b.avi': 'file' })), { kind: 'file', path: '/tmp/a b.avi' });
});

test('unknown protocols are rejected with the list of supported ones', () => {
  assert.throws(() => parseSourceSpec('ftp://x/y.avi', none), (e: unknown) => e instanceof SourceError && /ftp:\/\//.test(e.message) && /rtsp:\/\//.test(e.message) && !e.retryable);
});

test('GStreamer pipelines must end in appsink', () => {
  const p = 'videotestsrc ! videoconvert ! video/x-raw, format=BGR ! appsink drop=true';
  assert.deepEqual(parseSourceSpec(p, none), { kind: 'gstreamer', pipeline: p });
  assert.throws(() => parseSourceSpec('videotestsrc ! autovideosink', none), /must end in appsink/);
  assert.throws(() => parseSourceSpec('videotestsrc !  ! appsink', none), /empty element/);
});

test('Raspberry Pi camera names and aliases', () => {
  assert.deepEqual(parseSourceSpec('rpicam', none), { kind: 'rpicam', binaries: ['rpicam-vid', 'libcamera-vid'] });
  assert.deepEqual(parseSourceSpec('rpicam-vid', none), { kind: 'rpicam', binaries: ['rpicam-vid', 'libcamera-vid'] });
  assert.deepEqual(parseSourceSpec('libcamera-vid', none), { kind: 'rpicam', binaries: ['libcamera-vid', 'rpicam-vid'] });
  assert.deepEqual(parseSourceSpec('raspistill', none), { kind: 'raspistill' });
});

test('existing files are video files; missing ones and directories are clear errors', () => {
  assert.deepEqual(parseSourceSpec('demo.avi', fs({ 'demo.avi': 'file' })), { kind: 'file', path: 'demo.avi' });
  assert.deepEqual(parseSourceSpec('/run/cam.fifo', fs({ '/run/cam.fifo': 'other' })), { kind: 'file', path: '/run/cam.fifo' });
  assert.throws(() => parseSourceSpec('/videos/missing.mp4', none), (e: unknown) => e instanceof SourceError && /video file not found: \/videos\/missing\.mp4/.test(e.message) && !e.retryable);
  assert.throws(() => parseSourceSpec('/videos', fs({ '/videos': 'directory' })), /is a directory/);
  assert.throws(() => parseSourceSpec('   ', none), /empty source/);
});

test('a file named like a camera keyword is still the keyword (files need a path: ./rpicam)', () => {
  assert.equal(parseSourceSpec('rpicam', fs({ rpicam: 'file' })).kind, 'rpicam');
  assert.equal(parseSourceSpec('./rpicam', fs({ './rpicam': 'file' })).kind, 'file');
});

test('a printf pattern is a recorded image sequence (OpenCV numbers them from 0 or 1); a missing first image is a clear error', () => {
  assert.deepEqual(parseSourceSpec('/rec/%04d.png', fs({ '/rec/0000.png': 'file' })), { kind: 'images', pattern: '/rec/%04d.png', first: '/rec/0000.png' });
  assert.deepEqual(parseSourceSpec('shot-%d.jpg', fs({ 'shot-1.jpg': 'file' })), { kind: 'images', pattern: 'shot-%d.jpg', first: 'shot-1.jpg' });
  assert.deepEqual(parseSourceSpec('file:///rec/%2504d.png', fs({ '/rec/0001.png': 'file' })), { kind: 'images', pattern: '/rec/%04d.png', first: '/rec/0001.png' });
  assert.throws(
    () => parseSourceSpec('/rec/%04d.png', fs({ '/rec/0002.png': 'file' })),
    (e: unknown) => e instanceof SourceError && /image sequence \/rec\/%04d\.png: no first image \(\/rec\/0000\.png or \/rec\/0001\.png\)/.test(e.message) && !e.retryable,
  );
  assert.throws(() => parseSourceSpec('/rec/%02d/%04d.png', none), /one number placeholder/);
  // an existing file whose name has a % in it is that file
  assert.deepEqual(parseSourceSpec('/v/100%d.avi', fs({ '/v/100%d.avi': 'file' })), { kind: 'file', path: '/v/100%d.avi' });
});

test('a directory is not a source, and the error says how to replay the images in it', () => {
  assert.throws(() => parseSourceSpec('/rec', fs({ '/rec': 'directory' })), /is a directory.*\/rec\/%04d\.png/);
});
