import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceTopics, parseTopic, subscriptionFilters } from '../../src/contract/topics.js';
import { sanitizeDeviceId } from '../../src/system/index.js';

test('topic tree under prefix and device', () => {
  assert.deepEqual(deviceTopics('emotion-kiosk/', 'pi5'), {
    availability: 'emotion-kiosk/pi5/availability',
    events: 'emotion-kiosk/pi5/events',
    state: 'emotion-kiosk/pi5/state',
    counts: 'emotion-kiosk/pi5/counts',
    stats: 'emotion-kiosk/pi5/stats',
  });
  assert.equal(deviceTopics('site/a/kiosks', 'x').events, 'site/a/kiosks/x/events');
});

test('subscription filters for one device or all', () => {
  assert.deepEqual(subscriptionFilters('ek', 'all'), ['ek/+/availability', 'ek/+/events', 'ek/+/state', 'ek/+/counts', 'ek/+/stats']);
  assert.equal(subscriptionFilters('ek', 'pi')[1], 'ek/pi/events');
});

test('parseTopic inverts deviceTopics and rejects foreign topics', () => {
  assert.deepEqual(parseTopic('site/a', 'site/a/pi5/stats'), { deviceId: 'pi5', kind: 'stats' });
  assert.equal(parseTopic('site/a', 'site/b/pi5/stats'), null);
  assert.equal(parseTopic('ek', 'ek/pi5/other'), null);
  assert.equal(parseTopic('ek', 'ek/pi5/stats/x'), null);
});

test('host names become valid device ids', () => {
  assert.equal(sanitizeDeviceId('kiosk.local'), 'kiosk_local');
  assert.equal(sanitizeDeviceId('Pi 5 #2'), 'Pi_5__2');
  assert.equal(sanitizeDeviceId('...'), 'kiosk');
  assert.match(sanitizeDeviceId('raspberrypi'), /^[A-Za-z0-9_-]+$/);
});
