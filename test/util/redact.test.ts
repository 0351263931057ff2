import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskConfig, redactSecrets, redactUrl } from '../../src/util/redact.js';
import { NASTY_PASSWORDS } from '../helpers/secrets.js';


test('clean URLs keep the user and lose the password', () => {
  assert.equal(redactUrl('mqtt://kiosk:s3cr3t@broker:1883'), 'mqtt://kiosk:***@broker:1883');
  assert.equal(redactUrl('rtsp://admin:s3cr3t@192.168.1.10:554/h264'), 'rtsp://admin:***@192.168.1.10:554/h264');
  assert.equal(redactUrl('rtsp://192.168.1.10:554/h264'), 'rtsp://192.168.1.10:554/h264');
  assert.equal(redactUrl('http://user@cam/x'), 'http://user@cam/x');
  assert.equal(redactUrl('embedded'), 'embedded');
});

test('the reproduced leaks: # in the password, @ in the password', () => {
  assert.equal(redactUrl('mqtt://kiosk:s3cr#t@broker:1883'), 'mqtt://***@broker:1883');
  assert.equal(redactUrl('rtsp://admin:p@ss@cam/stream'), 'rtsp://admin:***@cam/stream');
});

test('fails closed: no password with # @ / : % or spaces survives in a URL', () => {
  for (const pw of NASTY_PASSWORDS) {
    for (const scheme of ['mqtt', 'mqtts', 'rtsp', 'http']) {
      const raw = `${scheme}://kiosk:${pw}@broker.local:1883/path`;
      const r = redactUrl(raw);
      assert.ok(!r.includes(pw), `${raw} -> ${r}`);
      assert.ok([`${scheme}://kiosk:***@broker.local:1883/path`, `${scheme}://***@broker.local:1883/path`].includes(r), `${raw} -> ${r}`);
    }
  }
});

test('GStreamer pipelines: location= URLs (quoted or not) and password properties are masked', () => {
  for (const pw of NASTY_PASSWORDS) {
    const p = `rtspsrc location=rtsp://admin:${pw}@cam/h264 latency=0 ! rtph264depay ! avdec_h264 ! videoconvert ! appsink`;
    const r = redactSecrets(p);
    assert.ok(!r.includes(pw), `${p} -> ${r}`);
    assert.match(r, /@cam\/h264 latency=0 ! rtph264depay ! avdec_h264 ! videoconvert ! appsink$/);
    const q = redactSecrets(`rtspsrc location="rtsp://admin:${pw}@cam/h264" ! appsink`);
    assert.ok(!q.includes(pw), q);
    assert.match(q, /@cam\/h264" ! appsink$/);
  }
  assert.equal(redactSecrets('rtspsrc location=rtsp://cam/x user-id=admin user-pw=hunter2 ! appsink'), 'rtspsrc location=rtsp://cam/x user-id=admin user-pw=*** ! appsink');
  assert.equal(redactSecrets('v4l2src device=/dev/video0 ! videoconvert ! appsink'), 'v4l2src device=/dev/video0 ! videoconvert ! appsink');
});

test('config trees: passwords masked, URLs inside redacted, other values kept', () => {
  const m = maskConfig({ source: 'rtsp://a:p@ss@cam/x', mqtt: { broker: 'mqtt://k:s3cr#t@b:1883', password: 'p w', username: 'k', key: '/etc/k.pem', keepaliveS: 30, password2: undefined } });
  assert.deepEqual(m, { source: 'rtsp://a:***@cam/x', mqtt: { broker: 'mqtt://***@b:1883', password: '***', username: 'k', key: '/etc/k.pem', keepaliveS: 30, password2: undefined } });
});
