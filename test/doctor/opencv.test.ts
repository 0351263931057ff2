import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSourceSpec } from '../../src/capture/source-spec.js';
import { checkOpenCvBuild, openCvVersion } from '../../src/doctor/opencv.js';
import { cv } from '../../src/vision/opencv.js';

const real = cv.getBuildInformation();
const noGst = real.replace(/^(\s*GStreamer:\s*).*$/m, '$1NO');
const noV4l = real.replace(/^(\s*v4l\/v4l2:\s*).*$/m, '$1NO');
const pipeline = parseSourceSpec('nvarguscamerasrc sensor-id=0 ! nvvidconv ! videoconvert ! appsink', () => 'missing');
const camera = parseSourceSpec('0', () => 'missing');

test('reads the version and video back-ends of the real OpenCV build', () => {
  assert.match(openCvVersion(real)!, /^4\.\d+\.\d+/);
  const r = checkOpenCvBuild(real, camera);
  assert.equal(r.status, 'ok');
  assert.match(r.summary, /^OpenCV 4\./);
  assert.match(r.details![0]!, /V4L2 yes/);
});

test('a GStreamer pipeline on an OpenCV without GStreamer fails with how to get one', () => {
  const r = checkOpenCvBuild(noGst, pipeline);
  assert.equal(r.status, 'fail');
  assert.match(r.fix!, /JetPack's/);
  assert.match(r.fix!, /npm rebuild @u4\/opencv4nodejs/);
  assert.equal(checkOpenCvBuild(noGst, camera).status, 'ok', 'not needed for a V4L2 camera');
  assert.equal(checkOpenCvBuild(noV4l, camera).status, 'fail');
});
