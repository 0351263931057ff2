/** Home Assistant discovery of the command bus: the model's update entity (installed vs latest) and the snapshot image, only with remote control on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discoveryMessages } from '../../src/mqtt/discovery.js';
import { deviceTopics } from '../../src/contract/topics.js';
import { latestModelTopic, remoteDiscoveryTopics } from '../../src/contract/remote.js';

const base = { discoveryPrefix: 'homeassistant', deviceId: 'pi5', topics: deviceTopics('ek', 'pi5'), swVersion: '0.1.0', modelName: 'deep_emotion' };

test('an update entity for the model with remote control on: installed from the retained model state, latest from <prefix>/latest_model', () => {
  const msgs = discoveryMessages({ ...base, ...remoteDiscoveryTopics({ enabled: true, snapshot: { enabled: false } }, 'ek', 'pi5') });
  const u = msgs.find((m) => m.topic === 'homeassistant/update/emotion_kiosk_pi5/model/config');
  assert.ok(u, 'update entity');
  const cfg = JSON.parse(u.payload) as Record<string, unknown>;
  assert.equal(cfg.state_topic, 'ek/pi5/model');
  assert.equal(cfg.value_template, '{{ value_json.model.version }}');
  assert.equal(cfg.latest_version_topic, 'ek/latest_model');
  assert.equal(cfg.latest_version_template, '{{ value_json.model.version }}');
  assert.equal(cfg.command_topic, undefined, 'no install button: rollouts are the operator\'s');
  assert.equal(cfg.unique_id, 'emotion_kiosk_pi5_model');
  assert.ok(!msgs.some((m) => m.topic.includes('/image/')), 'no snapshot entity unless snapshots are allowed');
});

test('none of it with remote control off; the image entity only with snapshots allowed; latest_model cannot be a device topic', () => {
  assert.deepEqual(remoteDiscoveryTopics({ enabled: false, snapshot: { enabled: true } }, 'ek', 'pi5'), {});
  const plain = discoveryMessages(base);
  assert.ok(!plain.some((m) => /\/(update|image)\//.test(m.topic)));
  const snap = discoveryMessages({ ...base, ...remoteDiscoveryTopics({ enabled: true, snapshot: { enabled: true } }, 'ek', 'pi5') });
  assert.equal(snap.length, plain.length + 2);
  assert.equal(latestModelTopic('/ek/'), 'ek/latest_model');
  assert.equal(latestModelTopic('ek').split('/').length, 2, 'device topics have three levels: <prefix>/<device>/<kind>');
});
