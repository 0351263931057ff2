import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseSourceSpec } from '../../src/capture/source-spec.js';
import { checkCameraLive, checkCameraStatic, gatherCameraFacts, groupId } from '../../src/doctor/camera.js';
import { megamindVideo } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-doctor-camera-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const spec = (s: string) => parseSourceSpec(s, () => 'missing');

test('V4L2: missing device, no permission (with the video-group fix), accessible', () => {
  const cam = spec('/dev/video0');
  const missing = checkCameraStatic({ spec: cam, user: 'emotion-kiosk', deviceExists: false });
  assert.equal(missing.status, 'fail');
  assert.match(missing.fix!, /ls \/dev\/video\*/);
  assert.equal(checkCameraStatic({ spec: cam, user: 'u', deviceExists: false }, true).status, 'warn', 'preflight: an unplugged camera may come back');
  const denied = checkCameraStatic({ spec: cam, user: 'emotion-kiosk', deviceExists: true, deviceAccessible: false, inVideoGroup: false });
  assert.equal(denied.status, 'fail');
  assert.match(denied.fix!, /usermod -aG video emotion-kiosk/);
  assert.equal(checkCameraStatic({ spec: cam, user: 'u', deviceExists: true, deviceAccessible: true, inVideoGroup: true }).status, 'ok');
});

test('rpicam needs rpicam-vid (or libcamera-vid) and the video group', () => {
  const none = checkCameraStatic({ spec: spec('rpicam'), user: 'u' });
  assert.equal(none.status, 'fail');
  assert.match(none.fix!, /apt install rpicam-apps-lite/);
  assert.equal(checkCameraStatic({ spec: spec('rpicam'), user: 'u', binary: '/usr/bin/rpicam-vid', inVideoGroup: false }).status, 'fail');
  assert.equal(checkCameraStatic({ spec: spec('rpicam'), user: 'u', binary: '/usr/bin/rpicam-vid', inVideoGroup: true }).status, 'ok');
  assert.equal(checkCameraStatic({ spec: spec('raspistill'), user: 'u' }).status, 'fail');
});

test('facts from this machine: a real video file, a device that is not there', () => {
  const file = parseSourceSpec(megamindVideo, () => 'file');
  assert.equal(checkCameraStatic(gatherCameraFacts(file, undefined, 'me'), false).status, 'ok');
  const nothing = gatherCameraFacts(spec('/dev/video99'), undefined, 'me');
  assert.equal(nothing.deviceExists, false);
});

test('the video group is read from the group file', () => {
  const groups = path.join(tmp, 'group');
  writeFileSync(groups, 'root:x:0:\nvideo:x:44:emotion-kiosk\n');
  assert.equal(groupId('video', groups), 44);
  assert.equal(groupId('render', groups), undefined);
});

test('a live read reports the frame size, or the error, or that the service holds the camera', () => {
  assert.match(checkCameraLive({ width: 720, height: 528, description: 'file x.avi' }).summary, /720x528 frame from file x\.avi/);
  assert.equal(checkCameraLive({ error: 'VIDIOC_STREAMON: busy' }).status, 'fail');
  assert.equal(checkCameraLive('skipped-running').status, 'skip');
});
