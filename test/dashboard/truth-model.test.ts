/** The pure parts of "the dashboard shows the truth" (issue 12): uncertain labels, stats age, stale figures, bar geometry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ago, applyMessage, createDashboardState, faceLine, facesText, healthText, healthTitle, isUncertain, setSource, staleReason, UNCERTAIN_BELOW } from '../../src/dashboard/model.js';
import { barGeometry } from '../../src/dashboard/view.js';
import { EMOTIONS } from '../../src/model/labels.js';
import { MODEL, scores } from '../mqtt/helpers/fixtures.js';

const stats = (timestamp: number) => ({
  version: 1, deviceId: 'k', timestamp, uptimeS: 60, systemUptimeS: 100, fps: 15, frames: 30,
  latencyMs: { capture: 1, detect: 12, classify: 4 }, cpu: { loadPct: 10, temperatureC: 50 }, memory: { usedPct: 40, processRssMb: 100 },
  outbox: { pending: 0, dropped: 0, durable: true, unstored: 0 }, broker: { connected: true }, model: MODEL,
});

test('a face is uncertain below the threshold, or when another emotion scores higher; its line says so', () => {
  assert.equal(UNCERTAIN_BELOW, 0.4);
  assert.equal(isUncertain({ emotion: 'happy', confidence: 0.81 }), false);
  assert.equal(isUncertain({ emotion: 'happy', confidence: 0.4 }), false);
  assert.equal(isUncertain({ emotion: 'surprise', confidence: 0.02 }), true);
  assert.equal(isUncertain({ emotion: 'happy', confidence: 0.3 }, 0.25), false, 'a threshold from the payload wins');
  // the tracker holds `sad` while `fear` leads (not yet by its margin): uncertain though 0.45 is above the floor
  assert.equal(isUncertain({ emotion: 'sad', confidence: 0.45, scores: { ...scores('fear', 0.5), sad: 0.45 } }), true);
  assert.equal(isUncertain({ emotion: 'fear', confidence: 0.5, scores: scores('fear', 0.5) }), false);
  assert.equal(faceLine({ faceId: 1, emotion: 'happy', confidence: 0.81 }), '#1 happy     81%');
  assert.equal(faceLine({ faceId: 2, emotion: 'surprise', confidence: 0.02 }), '#2 surprise?  2% unsure');
  assert.equal(faceLine({ faceId: 123, emotion: 'disgust', confidence: 0.22 }), '#123 disgust?  22% unsure');
  // the longest line fits the faces panel at 80x24 (26 columns inside its border)
  assert.ok(faceLine({ faceId: 999, emotion: 'surprise', confidence: 0.05 }).length <= 26);

  const s = createDashboardState('all', 'b');
  const emotions = Object.fromEntries(EMOTIONS.map((e) => [e, e === 'surprise' ? 1 : 0]));
  applyMessage(s, 'k', 'state', { version: 1, deviceId: 'k', timestamp: 1, faces: 1, emotions, model: MODEL, facesInView: [{ faceId: 4, emotion: 'surprise', confidence: 0.02, firstSeen: 0 }] }, 1);
  assert.equal(facesText(s.devices.get('k')), '1 face(s) in view\n#4 surprise?  2% unsure');
});

test('stats age: from the stats timestamp, or arrival when the device clock is ahead; in words', () => {
  assert.equal(ago(0), '0 s ago');
  assert.equal(ago(12_400), '12 s ago');
  assert.equal(ago(-5_000), '0 s ago');
  assert.equal(ago(5 * 60_000), '5 min ago');
  assert.equal(ago(3 * 3_600_000), '3 h ago');
  assert.equal(ago(72 * 3_600_000), '3 d ago');
  const s = createDashboardState('all', 'b');
  applyMessage(s, 'k', 'stats', stats(88_000), 100_000);
  assert.match(healthText(s.devices.get('k'), false, 100_000), /up 1m00s {2}broker connected {2}stats 12 s ago/);
  applyMessage(s, 'k', 'stats', stats(500_000), 100_000); // the device's clock is ahead of ours
  assert.match(healthText(s.devices.get('k'), false, 103_000), /stats 3 s ago/);
  assert.doesNotMatch(healthText(s.devices.get('k')), /ago/, 'no clock, no age');
});

test('offline device or lost connection: figures marked STALE, broker unknown, never "connected"', () => {
  const s = createDashboardState('all', 'b');
  setSource(s, true, null, 0);
  applyMessage(s, 'k', 'availability', { version: 1, deviceId: 'k', state: 'online', timestamp: 1 }, 1);
  applyMessage(s, 'k', 'stats', stats(1), 1);
  const d = () => s.devices.get('k');
  assert.equal(staleReason(d()), null);
  assert.equal(healthTitle(d()), ' Kiosk ');
  assert.match(healthText(d(), false, 2), /^fps 15\.0/);
  assert.equal(healthTitle(d(), false), ' Kiosk: STALE (dashboard not connected) ');
  assert.match(healthText(d(), false, 2, false), /broker unknown/);
  applyMessage(s, 'k', 'availability', { version: 1, deviceId: 'k', state: 'offline', reason: 'connection_lost' }, 3);
  assert.equal(staleReason(d()), 'device offline');
  assert.equal(healthTitle(d()), ' Kiosk: STALE (device offline) ');
  const h = healthText(d(), false, 13_000);
  assert.match(h, /^last fps 15\.0 {2}detect 12\.0ms/);
  assert.match(h, /broker unknown {2}stats 12 s ago/);
  assert.doesNotMatch(h, /broker connected/);
  // MQTT off (in-process, no broker): says so either way
  assert.match(healthText(d(), true, 13_000), /broker none \(MQTT off\)/);
  // no stats: nothing to mark
  assert.equal(healthTitle(undefined), ' Kiosk ');
});

test('bar geometry: seven bars with their labels fit the canvas (38 columns at 80x24)', () => {
  for (let width = 29; width <= 200; width++) {
    const g = barGeometry(width);
    assert.ok(1 + 6 * g.barSpacing + 4 <= width, `last label inside a ${width}-column canvas`);
    assert.ok(g.barWidth >= 1 && g.barWidth <= g.barSpacing - 2, `bars do not touch at ${width}`);
  }
  assert.deepEqual(barGeometry(38), { barSpacing: 5, barWidth: 3 });
});
