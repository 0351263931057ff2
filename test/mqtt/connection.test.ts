import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconnectDelayMs, clientOptions, describeConnectionError, MqttConfigError } from '../../src/mqtt/connection.js';
import { redactUrl } from '../../src/util/index.js';

const base = { url: 'mqtt://h:1883', rejectUnauthorized: true, keepaliveS: 30, clientId: 'c' };

test('backoff doubles from 1 s up to the maximum', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 10].map((n) => reconnectDelayMs(n, 30_000)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test('the last will is retained QoS 1', () => {
  const o = clientOptions({ ...base, will: { topic: 'a/b/availability', payload: '{"state":"offline"}' } });
  assert.equal(o.will!.retain, true);
  assert.equal(o.will!.qos, 1);
  assert.equal(o.will!.payload.toString(), '{"state":"offline"}');
});

test('TLS files on a plain mqtt:// URL, or a cert without its key, are configuration errors', () => {
  assert.throws(() => clientOptions({ ...base, ca: '/x' }), MqttConfigError);
  assert.throws(() => clientOptions({ ...base, url: 'mqtts://h:8883', cert: '/etc/hostname' }), /mqtt\.cert and mqtt\.key go together/);
});

test('errors are described in actionable words, without the password', () => {
  assert.match(describeConnectionError(Object.assign(new Error('Connection refused: Bad username or password'), { code: 4 }), 'mqtt://u:secret@h:1'), /bad username or password.*mqtt\.username/);
  assert.match(describeConnectionError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'mqtt://h:1'), /not accepting connections.*outbox/);
  assert.match(describeConnectionError(Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'mqtts://h:1'), /TLS .* mqtt\.ca/);
  assert.equal(redactUrl('mqtt://u:secret@h:1'), 'mqtt://u:***@h:1');
  assert.ok(!describeConnectionError(new Error('boom'), 'mqtt://u:secret@h:1').includes('secret'));
});
