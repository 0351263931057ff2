import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDeviceNode } from '../../src/capture/hints.js';
import { redactUrl } from '../../src/util/index.js';

test('passwords in stream URLs are redacted', () => {
  assert.equal(redactUrl('rtsp://admin:s3cr3t@192.168.1.10:554/h264'), 'rtsp://admin:***@192.168.1.10:554/h264');
  assert.equal(redactUrl('rtsp://192.168.1.10:554/h264'), 'rtsp://192.168.1.10:554/h264');
  assert.equal(redactUrl('http://user@cam/x'), 'http://user@cam/x');
});

test('device nodes: missing, present, not accessible', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hints-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(describeDeviceNode(join(dir, 'video9')), `${join(dir, 'video9')} does not exist`);
  const node = join(dir, 'video0');
  writeFileSync(node, '');
  assert.match(describeDeviceNode(node), /exists and is accessible/);
  chmodSync(node, 0o000);
  if (process.getuid?.() !== 0) assert.match(describeDeviceNode(node), /permission denied/); // root may open anything
});

test('GStreamer pipelines with credentials are redacted in every message that shows them', async () => {
  const { gstreamerMissingMessage, missingElementsMessage } = await import('../../src/capture/gstreamer.js');
  const { describeTarget } = await import('../../src/capture/opencv-source.js');
  const pipeline = 'rtspsrc location=rtsp://admin:p@ss w#rd@cam/h264 user-pw=hunter2 latency=0 ! rtph264depay ! avdec_h264 ! videoconvert ! appsink';
  for (const msg of [gstreamerMissingMessage(pipeline, 'NO'), missingElementsMessage(pipeline, ['rtspsrc']), describeTarget({ kind: 'gstreamer', pipeline })]) {
    for (const secret of ['p@ss', 'w#rd', 'hunter2']) assert.ok(!msg.includes(secret), `${secret} in: ${msg}`);
    assert.match(msg, /@cam\/h264 user-pw=\*\*\* latency=0 ! rtph264depay/);
  }
});
