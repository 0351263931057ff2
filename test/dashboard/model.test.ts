import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMessage, createDashboardState, facesText, headerText, healthText, logLines, sampleMix, selectNext, setSource, togglePause } from '../../src/dashboard/model.js';
import { availabilityPayload, eventPayload } from '../../src/telemetry/payloads.js';
import { deriveState } from '../../src/telemetry/reducers.js';
import { faceEvent, frame, MODEL } from '../mqtt/helpers/fixtures.js';

test('events count per emotion once per event id (QoS 1 duplicates ignored); left does not count', () => {
  const s = createDashboardState('all', 'broker');
  const e1 = eventPayload('a', 0, faceEvent(0, 'appeared', 'happy'));
  applyMessage(s, 'a', 'events', e1, 1);
  applyMessage(s, 'a', 'events', e1, 2);
  applyMessage(s, 'a', 'events', eventPayload('a', 1, faceEvent(1, 'emotion_changed', 'sad')), 3);
  applyMessage(s, 'a', 'events', eventPayload('a', 2, faceEvent(2, 'left', 'sad')), 4);
  const d = s.devices.get('a')!;
  assert.equal(d.eventTotal, 3);
  assert.equal(d.emotionTotals.happy, 1);
  assert.equal(d.emotionTotals.sad, 1);
  assert.equal(s.selected, 'a');
  assert.equal(logLines(s, 10).length, 3);
  assert.match(logLines(s, 10)[1]!, /face 1 emotion changed neutral -> sad 70%/);
});

test('availability, offline clears faces, header says so', () => {
  const s = createDashboardState('all', 'mqtt://b');
  setSource(s, true, null, 0);
  applyMessage(s, 'k', 'availability', availabilityPayload('k', 'online', { timestamp: 1 }), 1);
  applyMessage(s, 'k', 'state', deriveState('k', MODEL, frame(1, [{ id: 1, emotion: 'fear' }]), 2), 2);
  assert.match(headerText(s), /^ k ONLINE {2}\[1 device\] {2}mqtt:\/\/b$/);
  assert.match(facesText(s.devices.get('k')), /1 face\(s\) in view\n#1 fear/);
  applyMessage(s, 'k', 'availability', availabilityPayload('k', 'offline', { reason: 'connection_lost' }), 3);
  assert.match(headerText(s), /k OFFLINE \(connection_lost\)/);
  assert.match(facesText(s.devices.get('k')), /^0 face\(s\)/);
  togglePause(s);
  assert.match(headerText(s), /PAUSED$/);
});

test('device filter, switching devices, malformed payloads ignored', () => {
  const s = createDashboardState('b', 'x');
  applyMessage(s, 'a', 'events', eventPayload('a', 0, faceEvent(0)), 0);
  assert.equal(s.devices.size, 0);
  const all = createDashboardState('all', 'x');
  for (const id of ['c', 'a', 'b']) applyMessage(all, id, 'availability', availabilityPayload(id, 'online'), 0);
  applyMessage(all, 'z', 'stats', { version: 99 }, 0);
  applyMessage(all, 'z', 'stats', 'garbage', 0);
  assert.deepEqual([...all.devices.keys()], ['c', 'a', 'b']);
  assert.equal(all.selected, 'c');
  selectNext(all);
  assert.equal(all.selected, 'a');
  selectNext(all);
  selectNext(all);
  assert.equal(all.selected, 'c');
});

test('emotion mix samples the faces per emotion; health text shows missing sensors as -', () => {
  const s = createDashboardState('all', 'x');
  applyMessage(s, 'k', 'state', deriveState('k', MODEL, frame(1, [{ id: 1, emotion: 'happy' }, { id: 2, emotion: 'happy' }]), 0), 0);
  sampleMix(s);
  sampleMix(s);
  const d = s.devices.get('k')!;
  assert.equal(d.mix.length, 2);
  assert.equal(d.mix[1]!.happy, 2);
  assert.equal(healthText(d), 'no stats yet');
  applyMessage(s, 'k', 'stats', {
    version: 1, deviceId: 'k', timestamp: 0, uptimeS: 3725, systemUptimeS: 1, fps: 14.5, frames: 10,
    latencyMs: { capture: 1, detect: 20.25, classify: 3 }, cpu: { loadPct: 40, temperatureC: null },
    memory: { usedPct: 50, processRssMb: 120 }, outbox: { pending: 3, dropped: 2, durable: true }, broker: { connected: false }, model: MODEL,
  }, 0);
  const h = healthText(d);
  assert.match(h, /fps 14\.5 {2}detect 20\.3ms/);
  assert.match(h, /temp -/);
  assert.match(h, /up 1h02m {2}broker DISCONNECTED/);
  assert.match(h, /outbox 3 waiting, 2 DROPPED/);
  // a kiosk run without MQTT (--broker none): no broker to be disconnected from, no outbox
  const off = healthText(d, true);
  assert.match(off, /broker none \(MQTT off\)/);
  assert.doesNotMatch(off, /DISCONNECTED|outbox/);
});

test('a broker problem shows in the header and, in full, in the log', () => {
  const s = createDashboardState('all', 'mqtt://h:1 ek/+');
  setSource(s, false, 'broker mqtt://h:1 is not accepting connections (is it running? right host and port?); retrying', 5);
  assert.match(headerText(s), /waiting for a kiosk .*mqtt:\/\/h:1 ek\/\+ \(NOT CONNECTED, see log\)/);
  assert.match(logLines(s, 5)[0]!, /is not accepting connections .*; retrying$/);
  setSource(s, true, null, 6);
  assert.match(logLines(s, 5)[1]!, /connected to mqtt:\/\/h:1 ek\/\+/);
});
