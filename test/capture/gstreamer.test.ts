import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkGstElements, gstreamerMissingMessage, jetsonCsiPipeline, missingElementsMessage, parseVideoBackends, pipelineElements } from '../../src/capture/gstreamer.js';
import { parseSourceSpec } from '../../src/capture/source-spec.js';
import { cv } from '../../src/vision/opencv.js';
import { createFrameSource } from '../../src/capture/create-source.js';
import { SourceError, type Frame } from '../../src/capture/types.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/util/logger.js';

const camera = configSchema.parse({}).camera;

const isSourceError = (re: RegExp, retryable?: boolean) => (e: unknown) => {
  assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`);
  assert.match(e.message, re);
  if (retryable !== undefined) assert.equal(e.retryable, retryable, `retryable for: ${e.message}`);
  return true;
};

test('jetsonCsiPipeline builds the nvarguscamerasrc pipeline OpenCV opens with CAP_GSTREAMER', () => {
  assert.equal(
    jetsonCsiPipeline({ sensorId: 1, width: 960, height: 540, fps: 30, flipMethod: 2, captureWidth: 1920, captureHeight: 1080 }),
    'nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM), width=1920, height=1080, framerate=30/1 ! nvvidconv flip-method=2 ! ' +
      'video/x-raw, width=960, height=540, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1',
  );
  const p = jetsonCsiPipeline({ width: 640, height: 480, fps: 15 });
  assert.match(p, /^nvarguscamerasrc sensor-id=0 ! video\/x-raw\(memory:NVMM\), width=640, height=480, framerate=15\/1 ! nvvidconv flip-method=0 !/);
  assert.equal(parseSourceSpec(p, () => 'missing').kind, 'gstreamer', 'the kiosk accepts it as --source');
});

test('jetsonCsiPipeline rejects impossible values', () => {
  assert.throws(() => jetsonCsiPipeline({ width: 0, height: 480, fps: 15 }), RangeError);
  assert.throws(() => jetsonCsiPipeline({ width: 640, height: 480, fps: 15, flipMethod: 8 }), RangeError);
  assert.throws(() => jetsonCsiPipeline({ width: 640.5, height: 480, fps: 15 }), RangeError);
});

test('build information with and without GStreamer', () => {
  const withGst = '  Video I/O:\n    FFMPEG:                      YES\n    GStreamer:                   YES (1.22.0)\n    v4l/v4l2:                    YES (linux/videodev2.h)\n';
  assert.deepEqual(parseVideoBackends(withGst), { gstreamer: true, gstreamerDetail: 'YES (1.22.0)', ffmpeg: true, v4l: true });
  const without = '  Video I/O:\n    FFMPEG:                      YES\n    GStreamer:                   NO\n';
  assert.equal(parseVideoBackends(without).gstreamer, false);
  assert.equal(parseVideoBackends('nothing here').gstreamerDetail, undefined);
  const msg = gstreamerMissingMessage('nvarguscamerasrc ! appsink', 'NO');
  assert.match(msg, /built without GStreamer/);
  assert.match(msg, /"GStreamer: NO"/);
  assert.match(msg, /JetPack/);
});

test("this machine's OpenCV reports its video backends", () => {
  const b = parseVideoBackends(cv.getBuildInformation());
  assert.equal(b.ffmpeg, true, 'the project needs the FFmpeg backend for files and streams');
  assert.equal(typeof b.gstreamer, 'boolean');
});

// Real GStreamer pipelines (videotestsrc from gstreamer1.0-plugins-base) through OpenCV's GStreamer backend.

test('a GStreamer pipeline is opened with the GStreamer backend', async () => {
  const pipeline = 'videotestsrc pattern=smpte ! videoconvert ! video/x-raw, format=BGR, width=320, height=240 ! appsink';
  const src = createFrameSource(pipeline, camera, silentLogger);
  await src.open();
  const frames: Frame[] = [];
  for (let i = 0; i < 12; i++) frames.push((await src.read())!);
  assert.deepEqual(frames.map((f) => f.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual([frames[0]!.mat.cols, frames[0]!.mat.rows, frames[0]!.mat.type], [320, 240, cv.CV_8UC3]);
  // GStreamer's SMPTE colour bars: the left bar is white, the second yellow (B low, G and R high).
  const [b0, g0, r0] = frames[0]!.mat.atRaw(120, 10) as unknown as number[];
  const [b1, g1, r1] = frames[0]!.mat.atRaw(120, 60) as unknown as number[];
  assert.ok(b0! > 235 && g0! > 235 && r0! > 235, `white bar ${b0},${g0},${r0}`);
  assert.ok(b1! < 30 && g1! > 160 && r1! > 160, `yellow bar ${b1},${g1},${r1}`);
  await src.close();
});


test('pipeline element names, skipping caps and tee references', () => {
  assert.deepEqual(pipelineElements(jetsonCsiPipeline({ width: 640, height: 480, fps: 15 })), ['nvarguscamerasrc', 'nvvidconv', 'videoconvert', 'appsink']);
  assert.deepEqual(pipelineElements('v4l2src device=/dev/video0 ! tee name=t ! queue ! videoconvert ! appsink t. ! queue ! fakesink'), [
    'v4l2src',
    'tee',
    'queue',
    'videoconvert',
    'appsink',
    'fakesink',
  ]);
});

test('element check: missing elements are listed; no gst-inspect-1.0 means "not checked"', () => {
  const installed = new Set(['videoconvert', 'appsink']);
  const p = jetsonCsiPipeline({ width: 640, height: 480, fps: 15 });
  assert.deepEqual(checkGstElements(p, (e) => installed.has(e)), { checked: true, missing: ['nvarguscamerasrc', 'nvvidconv'] });
  assert.deepEqual(checkGstElements(p, () => undefined), { checked: false });
  assert.match(missingElementsMessage(p, ['nvarguscamerasrc', 'nvvidconv']), /elements nvarguscamerasrc, nvvidconv not installed.*only on NVIDIA Jetson/);
});

test('the Jetson CSI pipeline on a machine without nvarguscamerasrc fails fast with what is missing (OpenCV would hang)', () => {
  const p = jetsonCsiPipeline({ width: 640, height: 480, fps: 15 });
  assert.throws(
    () => createFrameSource(p, camera, silentLogger),
    isSourceError(/cannot open GStreamer pipeline "nvarguscamerasrc.*": elements nvarguscamerasrc, nvvidconv not installed/, false),
  );
  assert.throws(() => createFrameSource('nosuchcamerasrc ! videoconvert ! video/x-raw, format=BGR ! appsink', camera, silentLogger), isSourceError(/element nosuchcamerasrc not installed/, false));
});
