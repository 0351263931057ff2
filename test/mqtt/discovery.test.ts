import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discoveryMessages } from '../../src/mqtt/discovery.js';
import { deviceTopics } from '../../src/contract/topics.js';
import { EMOTIONS } from '../../src/model/labels.js';

const msgs = discoveryMessages({ discoveryPrefix: 'homeassistant', deviceId: 'pi5', topics: deviceTopics('ek', 'pi5'), swVersion: '0.1.0', modelName: 'deep_emotion' });
const configs = msgs.map((m) => ({ topic: m.topic, cfg: JSON.parse(m.payload) as Record<string, unknown> }));

test('one sensor per emotion, plus faces, presence, the event entity and diagnostics', () => {
  for (const e of EMOTIONS) assert.ok(configs.some((c) => c.topic === `homeassistant/sensor/emotion_kiosk_pi5/faces_${e}/config`), e);
  assert.ok(configs.some((c) => c.topic === 'homeassistant/binary_sensor/emotion_kiosk_pi5/face_present/config'));
  const ev = configs.find((c) => c.topic === 'homeassistant/event/emotion_kiosk_pi5/face_event/config')!;
  assert.deepEqual(ev.cfg.event_types, ['appeared', 'emotion_changed', 'left']);
  assert.equal(ev.cfg.state_topic, 'ek/pi5/events');
});

test('every config has a unique id, the device block and availability on our availability topic', () => {
  const ids = configs.map((c) => c.cfg.unique_id as string);
  assert.equal(new Set(ids).size, ids.length);
  for (const { topic, cfg } of configs) {
    assert.match(topic, /^homeassistant\/(sensor|binary_sensor|event)\/emotion_kiosk_pi5\/[a-z_]+\/config$/);
    assert.match(cfg.unique_id as string, /^[a-zA-Z0-9_-]+$/);
    assert.deepEqual((cfg.device as { identifiers: string[] }).identifiers, ['emotion_kiosk_pi5']);
    assert.deepEqual(cfg.availability, [{ topic: 'ek/pi5/availability', value_template: '{{ value_json.state }}' }]);
  }
});

test('an image entity for snapshots only when the config allows them (no image leaves the device otherwise)', () => {
  assert.ok(!configs.some((c) => c.topic.includes('/image/')), 'none by default');
  const withSnap = discoveryMessages({ discoveryPrefix: 'homeassistant', deviceId: 'pi5', topics: deviceTopics('ek', 'pi5'), swVersion: '0.1.0', modelName: 'deep_emotion', snapshotTopic: 'ek/pi5/snapshot' });
  const img = withSnap.find((m) => m.topic === 'homeassistant/image/emotion_kiosk_pi5/snapshot/config');
  assert.ok(img, 'image entity');
  const cfg = JSON.parse(img.payload) as Record<string, unknown>;
  assert.equal(cfg.image_topic, 'ek/pi5/snapshot');
  assert.equal(cfg.content_type, 'image/jpeg');
  assert.equal(cfg.unique_id, 'emotion_kiosk_pi5_snapshot');
  assert.equal(withSnap.length, msgs.length + 1);
});
