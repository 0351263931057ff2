/**
 * The command bus over a real mosquitto (fake kiosk host): one response per request on the response topic, the
 * retained detection state, retained requests ignored; and the ACL from the README: kiosks publish only under their
 * own prefix, only the operator publishes requests, so a kiosk account cannot command another kiosk.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteService, mqttTransport, remoteConnectionSettings } from '../../src/remote/service.js';
import { RemoteStore } from '../../src/remote/store.js';
import { silentLogger } from '../../src/util/logger.js';
import { Collector } from '../mqtt/helpers/collector.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';
import { FakeHost, mosquittoWithAcl, remoteConfig } from './helpers.js';

function startKiosk(url: string, deviceId: string, creds: { username?: string; password?: string } = {}) {
  const dir = tempDir('remote-svc');
  const cfg = remoteConfig({ mqtt: { broker: url, deviceId, ...creds }, remote: { enabled: true } }, dir);
  const host = new FakeHost(cfg);
  const transport = mqttTransport(remoteConnectionSettings(cfg, deviceId), silentLogger);
  const svc = new RemoteService({ deviceId, prefix: 'emotion-kiosk', host, store: new RemoteStore(dir), transport, logger: silentLogger });
  svc.start();
  return { svc, host, dir };
}

let broker: Mosquitto;
before(async () => {
  broker = await Mosquitto.start();
});
after(async () => {
  await broker.stop();
});

test('every request gets exactly one response on response/<command>, malformed and unknown included; detection state is retained', async () => {
  const k = startKiosk(broker.url, 'k1');
  const op = await Collector.connect(broker.url, ['emotion-kiosk/k1/response/#', 'emotion-kiosk/k1/detection']);
  try {
    await waitFor(() => op.last('emotion-kiosk/k1/detection'), 10_000, 'the retained detection state');
    // the service may still be subscribing: repeat a health check until one answer arrives (bounded)
    await waitFor(async () => {
      await op.client.publishAsync('emotion-kiosk/k1/request/health_check', JSON.stringify({ transaction: 'warmup' }), { qos: 1 });
      return op.on('emotion-kiosk/k1/response/health_check').length > 0;
    }, 10_000, 'the first response');
    op.messages.length = 0;
    const requests: [string, string][] = [
      ['health_check', JSON.stringify({ transaction: 1 })],
      ['health_check', '{oops'],
      ['no_such_thing', JSON.stringify({ transaction: 2 })],
      ['detection', JSON.stringify({ transaction: 3, enabled: 'maybe' })],
      ['detection', JSON.stringify({ transaction: 4, enabled: false })],
      ['options', JSON.stringify({ transaction: 5, set: { 'mqtt.broker': 'mqtt://elsewhere' } })],
      ['options', JSON.stringify({ transaction: 6, set: { 'tracking.minDwellMs': 650 } })],
      ['model/update', JSON.stringify({ transaction: 7 })],
    ];
    for (const [c, body] of requests) await op.client.publishAsync(`emotion-kiosk/k1/request/${c}`, body, { qos: 1 });
    // late answers to warm-up requests are left out
    const isResponse = (m: { topic: string; json: unknown }) => m.topic.includes('/response/') && (m.json as { transaction?: unknown }).transaction !== 'warmup';
    await waitFor(() => op.messages.filter(isResponse).length >= requests.length, 10_000, 'all responses');
    await k.svc.idle();
    const responses = op.messages.filter(isResponse);
    assert.equal(responses.length, requests.length, 'exactly one response each');
    const byTopic = (c: string) => responses.filter((m) => m.topic === `emotion-kiosk/k1/response/${c}`).map((m) => m.json as Record<string, unknown>);
    assert.deepEqual(byTopic('health_check').map((r) => r.status), ['ok', 'error']);
    assert.match(String(byTopic('health_check')[1]!.error), /not JSON/);
    assert.equal(byTopic('no_such_thing')[0]!.transaction, 2);
    assert.deepEqual(byTopic('detection').map((r) => [r.transaction, r.status]), [[3, 'error'], [4, 'ok']]);
    assert.deepEqual(byTopic('options').map((r) => [r.transaction, r.status]), [[5, 'error'], [6, 'ok']]);
    assert.equal(byTopic('model/update')[0]!.status, 'error');
    for (const r of responses) assert.equal(r.retain, false);
    await waitFor(() => (op.last('emotion-kiosk/k1/detection')?.json as { enabled?: boolean } | undefined)?.enabled === false, 10_000, 'detection off, retained');
    assert.deepEqual(k.host.detection, [true, false]);
    assert.equal(k.host.cfg.tracking.minDwellMs, 650);
    // a new subscriber gets the retained detection state
    const late = await Collector.connect(broker.url, ['emotion-kiosk/k1/detection']);
    await waitFor(() => late.last('emotion-kiosk/k1/detection'), 10_000, 'retained detection for a late subscriber');
    assert.equal((late.last('emotion-kiosk/k1/detection')!.json as { enabled: boolean }).enabled, false);
    assert.equal(late.last('emotion-kiosk/k1/detection')!.retain, true);
    await late.close();
  } finally {
    await op.close();
    await k.svc.stop();
  }
  // restart: the same data dir comes back with detection off
  const dir = k.dir;
  const cfg = remoteConfig({ mqtt: { broker: broker.url, deviceId: 'k1' } }, dir);
  const host2 = new FakeHost(cfg);
  const svc2 = new RemoteService({ deviceId: 'k1', prefix: 'emotion-kiosk', host: host2, store: new RemoteStore(dir), transport: mqttTransport(remoteConnectionSettings(cfg, 'k1'), silentLogger), logger: silentLogger });
  svc2.start();
  assert.deepEqual(host2.detection, [false], 'detection stays paused across a restart');
  await svc2.stop();
});

test('ACL (the README example): a kiosk account cannot command another kiosk; the operator can', async () => {
  // README: "mosquitto ACL"
  const m = await mosquittoWithAcl(
    { operator: 'op-pw', kioskA: 'a-pw', kioskB: 'b-pw' },
    [
      '# operator: reads everything of the fleet, publishes requests',
      'user operator',
      'topic read emotion-kiosk/#',
      'topic write emotion-kiosk/+/request/#',
      'topic write emotion-kiosk/latest_model',
      '',
      '# every kiosk (user name = device id): publishes only under its own prefix, reads only its own requests',
      'pattern write emotion-kiosk/%u/availability',
      'pattern write emotion-kiosk/%u/events',
      'pattern write emotion-kiosk/%u/state',
      'pattern write emotion-kiosk/%u/counts',
      'pattern write emotion-kiosk/%u/stats',
      'pattern write emotion-kiosk/%u/detection',
      'pattern write emotion-kiosk/%u/model',
      'pattern write emotion-kiosk/%u/snapshot',
      'pattern write emotion-kiosk/%u/response/#',
      'pattern read emotion-kiosk/%u/request/#',
      'pattern write homeassistant/+/%u/#',
      'pattern read homeassistant/status',
      '',
    ].join('\n'),
  );
  const a = startKiosk(m.url, 'kioskA', { username: 'kioskA', password: 'a-pw' });
  const op = await Collector.connect(m.url, ['emotion-kiosk/#'], { username: 'operator', password: 'op-pw' });
  const b = await Collector.connect(m.url, ['emotion-kiosk/#'], { username: 'kioskB', password: 'b-pw' });
  try {
    await waitFor(() => op.last('emotion-kiosk/kioskA/detection'), 10_000, 'kioskA online (its retained detection state)');
    await waitFor(async () => {
      await op.client.publishAsync('emotion-kiosk/kioskA/request/health_check', JSON.stringify({ transaction: 'op-warmup' }), { qos: 1 });
      return op.on('emotion-kiosk/kioskA/response/health_check').length > 0;
    }, 10_000, 'an answer to the operator');
    // kioskB tries to pause kioskA, and to forge kioskA's state; the broker drops both (QoS 1 still acknowledged)
    await b.client.publishAsync('emotion-kiosk/kioskA/request/detection', JSON.stringify({ transaction: 'from-b', enabled: false }), { qos: 1 });
    await b.client.publishAsync('emotion-kiosk/kioskA/detection', JSON.stringify({ forged: true }), { qos: 1, retain: true });
    await b.client.publishAsync('emotion-kiosk/latest_model', JSON.stringify({ forged: true }), { qos: 1, retain: true });
    // barrier: the operator's request after B's was acknowledged; its response means the broker handled B's first
    await op.client.publishAsync('emotion-kiosk/kioskA/request/health_check', JSON.stringify({ transaction: 'op-after' }), { qos: 1 });
    await waitFor(() => op.on('emotion-kiosk/kioskA/response/health_check').some((r) => (r.json as { transaction?: string }).transaction === 'op-after'), 10_000, 'the operator\'s answer');
    await a.svc.idle();
    assert.deepEqual(a.host.detection, [true], 'kioskA never paused: kioskB\'s request did not reach it');
    assert.ok(!op.messages.some((r) => (r.json as { transaction?: string } | undefined)?.transaction === 'from-b'));
    assert.ok(!op.messages.some((r) => (r.json as { forged?: boolean } | undefined)?.forged), 'kioskB cannot publish under kioskA');
    // kioskB cannot read kioskA's traffic either
    assert.equal(b.messages.length, 0, `kioskB received ${b.messages.map((x) => x.topic).join(', ')}`);
    // the operator pauses kioskA
    await op.client.publishAsync('emotion-kiosk/kioskA/request/detection', JSON.stringify({ transaction: 'op-pause', enabled: false }), { qos: 1 });
    await waitFor(() => op.on('emotion-kiosk/kioskA/response/detection').some((r) => (r.json as { transaction?: string }).transaction === 'op-pause'), 10_000, 'the pause answer');
    assert.deepEqual(a.host.detection, [true, false]);
    // only the operator announces the fleet's latest model (fleet rollout; Home Assistant's update entity reads it)
    await op.client.publishAsync('emotion-kiosk/latest_model', JSON.stringify({ version: 1, model: { name: 'deep_emotion', version: 'v2', sha256: 'a'.repeat(64) }, since: 1 }), { qos: 1, retain: true });
    await waitFor(() => op.last('emotion-kiosk/latest_model'), 10_000, 'the operator\'s latest_model');
    assert.deepEqual(op.on('emotion-kiosk/latest_model').map((r) => (r.json as { model?: { version: string } }).model?.version), ['v2'], 'kioskB\'s forged latest_model was dropped');
  } finally {
    await op.close();
    await b.close();
    await a.svc.stop();
    await m.stop();
  }
});
