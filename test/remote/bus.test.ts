/** The command bus without MQTT: every request, however broken, gets exactly one response (fake kiosk host). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CommandBus } from '../../src/remote/bus.js';
import { RemoteStore, applyStoredOptions } from '../../src/remote/store.js';
import { responseSchema } from '../../src/contract/remote.js';
import { tempDir } from '../mqtt/helpers/mosquitto.js';
import { FakeHost, remoteConfig } from './helpers.js';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function setup(over = {}) {
  const dir = tempDir('remote');
  const cfg = remoteConfig(over, dir);
  const host = new FakeHost(cfg);
  const store = new RemoteStore(dir);
  const bus = new CommandBus({ deviceId: 'k1', host, store, now: () => 1_780_000_000_000 });
  return { dir, host, store, bus };
}

async function ask(bus: CommandBus, command: string, body: unknown) {
  const h = await bus.handle(command, enc(body));
  assert.ok(responseSchema.safeParse(h.response).success, JSON.stringify(h.response));
  return h;
}

test('nothing unsafe by default: remote control, snapshots and model updates are off, faces blurred', async () => {
  const { configSchema } = await import('../../src/config/schema.js');
  const d = configSchema.parse({}).remote;
  assert.equal(d.enabled, false);
  assert.equal(d.snapshot.enabled, false);
  assert.equal(d.snapshot.blurFaces, true);
  assert.equal(d.modelKey, undefined);
});

test('health_check answers with the host health, the detection state and the echoed transaction', async () => {
  const { bus } = setup();
  const { response: r } = await ask(bus, 'health_check', { transaction: 'abc' });
  assert.equal(r.status, 'ok');
  assert.equal(r.transaction, 'abc');
  assert.equal(r.deviceId, 'k1');
  assert.equal(r.command, 'health_check');
  if (r.status !== 'ok') return;
  assert.equal(r.data.healthy, true);
  assert.equal(r.data.detectionEnabled, true);
  assert.deepEqual(r.data.outbox, { pending: 0, dropped: 0 });
  const empty = await bus.handle('health_check', Buffer.alloc(0));
  assert.equal(empty.response.status, 'ok', 'an empty payload is {}');
  assert.equal(empty.response.transaction, undefined);
});

test('malformed JSON, non-objects, bad transactions, unknown commands and invalid parameters: one error each, naming the problem', async () => {
  const { bus } = setup();
  const cases: [string, unknown, RegExp][] = [
    ['health_check', '{not json', /not JSON/],
    ['health_check', '[1,2]', /JSON object/],
    ['health_check', { transaction: { a: 1 } }, /transaction must be/],
    ['self_destruct', { transaction: 7 }, /unknown command "self_destruct"/],
    ['detection', { transaction: 8 }, /invalid parameters for detection: enabled/],
    ['detection', { enabled: 'no' }, /enabled/],
    ['health_check', { verbose: true }, /invalid parameters for health_check/],
    ['options', { get: [] }, /invalid parameters for options/],
    ['options', { get: ['a b'] }, /invalid parameters/],
    ['options', { get: ['tracking.nope'] }, /unknown key\(s\): tracking.nope/],
    ['options', { get: ['mqtt.password'] }, /not readable remotely/],
  ];
  for (const [command, body, want] of cases) {
    const { response: r } = await ask(bus, command, body);
    assert.equal(r.status, 'error', `${command} ${JSON.stringify(body)}`);
    if (r.status === 'error') assert.match(r.error, want);
  }
  const unknown = await ask(bus, 'self_destruct', { transaction: 7 });
  assert.equal(unknown.response.transaction, 7, 'the transaction is echoed on errors too');
  const big = await bus.handle('health_check', Buffer.alloc(70 * 1024, 0x20));
  assert.equal(big.response.status, 'error');
});

test('detection pauses and resumes, is persisted in the data dir and read back by the next bus (a restart)', async () => {
  const { bus, host, dir, store } = setup();
  const h = await ask(bus, 'detection', { enabled: false, transaction: 1 });
  assert.equal(h.response.status, 'ok');
  assert.deepEqual(host.detection, [false]);
  assert.equal(h.detection?.enabled, false);
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'remote', 'detection.json'), 'utf8')).enabled, false);
  const again = new CommandBus({ deviceId: 'k1', host, store, now: () => 2 });
  assert.equal(again.detectionEnabled, false);
  assert.equal(again.detectionState().since, 1_780_000_000_000);
  await ask(again, 'detection', { enabled: true });
  assert.equal(new CommandBus({ deviceId: 'k1', host, store }).detectionEnabled, true);
});

test('options get reads the effective config; set validates with the config schema, names the key, persists and says restartRequired', async () => {
  const { bus, host, store, dir } = setup();
  const g = await ask(bus, 'options', { get: ['tracking.minDwellMs', 'detection.minSize'] });
  assert.deepEqual(g.response.status === 'ok' && g.response.data.values, { 'tracking.minDwellMs': 500, 'detection.minSize': 48 });

  const bad = await ask(bus, 'options', { set: { 'tracking.minDwellMs': -5 } });
  assert.equal(bad.response.status, 'error');
  if (bad.response.status === 'error') assert.match(bad.response.error, /^tracking\.minDwellMs: /);
  const typo = await ask(bus, 'options', { set: { 'tracking.minDwel': 5 } });
  assert.match(typo.response.status === 'error' ? typo.response.error : '', /tracking\.minDwel: unknown key/);
  const notSection = await ask(bus, 'options', { set: { 'logLevel.x': 5 } });
  assert.match(notSection.response.status === 'error' ? notSection.response.error : '', /logLevel.x: unknown key/);
  assert.equal(host.applied.length, 0, 'nothing applied when any key fails');

  const ok = await ask(bus, 'options', { set: { 'tracking.minDwellMs': 700, 'detection.minSize': 60 } });
  assert.equal(ok.response.status, 'ok', JSON.stringify(ok.response));
  if (ok.response.status !== 'ok') return;
  assert.deepEqual(ok.response.data.restartRequired, ['detection.minSize']);
  assert.deepEqual(ok.response.data.applied, ['tracking.minDwellMs']);
  assert.equal(host.cfg.tracking.minDwellMs, 700);
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'remote', 'options.json'), 'utf8')).set, { 'tracking.minDwellMs': 700, 'detection.minSize': 60 });
  // the next start layers them over the config file
  const { config, notes } = applyStoredOptions(remoteConfig({}, dir), store);
  assert.equal(config.tracking.minDwellMs, 700);
  assert.equal(config.detection.minSize, 60);
  assert.equal(notes.length, 2);
});

test('keys that must never change remotely are refused, whatever else the request sets', async () => {
  const { bus, host } = setup();
  for (const key of ['mqtt.broker', 'mqtt.password', 'mqtt', 'dataDir', 'remote.enabled', 'remote.snapshot.enabled', 'model.path', 'source', 'detection.cascade', 'version']) {
    const r = await ask(bus, 'options', { set: { [key]: 'x', 'tracking.minDwellMs': 600 } });
    assert.equal(r.response.status, 'error', key);
    if (r.response.status === 'error') assert.match(r.response.error, new RegExp(`${key.replace('.', '\\.')} cannot be changed remotely`));
  }
  assert.equal(host.applied.length, 0);
  assert.equal(host.cfg.tracking.minDwellMs, 500);
});

test('a stored option this release refuses or rejects is skipped with a note at start, never fatal', async () => {
  const { store, dir } = setup();
  store.addOptions({ 'mqtt.broker': 'mqtt://evil:1883', 'tracking.minDwellMs': 'soon', 'tracking.changeMargin': 0.2 });
  const { config, notes } = applyStoredOptions(remoteConfig({}, dir), store);
  assert.equal(config.mqtt.broker, 'none');
  assert.equal(config.tracking.minDwellMs, 500);
  assert.equal(config.tracking.changeMargin, 0.2);
  assert.equal(notes.filter((n) => /skipped/.test(n)).length, 2);
});

test('commands the config does not allow get an error that says which setting: options set, restart, snapshot, model/update', async () => {
  const { bus } = setup({ remote: { enabled: true, allowOptions: false, allowRestart: false } });
  const cases: [string, unknown, RegExp][] = [
    ['options', { set: { 'tracking.minDwellMs': 600 } }, /remote\.allowOptions: false/],
    ['restart', {}, /remote\.allowRestart: false/],
    ['snapshot', {}, /remote\.snapshot\.enabled: false/],
    ['model/update', { manifest: 'e30=', signature: 'x', model: 'x', sha256: 'a'.repeat(64), size: 1 }, /no trusted model key.*fleet keygen.*remote\.modelKey/],
  ];
  for (const [c, body, want] of cases) {
    const { response: r, after } = await ask(bus, c, body);
    assert.equal(r.status, 'error', c);
    if (r.status === 'error') assert.match(r.error, want);
    assert.equal(after, undefined);
  }
  const g = await ask(bus, 'options', { get: ['tracking.minDwellMs'] });
  assert.equal(g.response.status, 'ok', 'get stays allowed');
});

test('restart answers first and stops after (the after hook); snapshot when enabled returns the JPEG', async () => {
  const { bus, host } = setup({ remote: { enabled: true, snapshot: { enabled: true } } });
  const r = await ask(bus, 'restart', { transaction: 'r1' });
  assert.equal(r.response.status, 'ok');
  assert.equal(host.restarts, 0);
  r.after?.();
  assert.equal(host.restarts, 1);
  const s = await ask(bus, 'snapshot', {});
  assert.equal(s.response.status, 'ok');
  assert.deepEqual([...(s.snapshot ?? [])], [0xff, 0xd8, 0xff, 0xd9]);
});

test('a host that throws becomes an error response, not an exception', async () => {
  const { bus, host } = setup();
  host.health = () => {
    throw new Error('sensor gone');
  };
  const { response: r } = await ask(bus, 'health_check', { transaction: 3 });
  assert.equal(r.status, 'error');
  if (r.status === 'error') assert.match(r.error, /health_check failed: sensor gone/);
  assert.equal(r.transaction, 3);
});
