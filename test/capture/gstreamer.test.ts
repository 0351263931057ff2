import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gstreamerMissingMessage, jetsonCsiPipeline, parseVideoBackends } from '../../src/capture/gstreamer.js';
import { parseSourceSpec } from '../../src/capture/source-spec.js';
import { cv } from '../../src/vision/opencv.js';

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
