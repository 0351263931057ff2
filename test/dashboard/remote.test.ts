/** The dashboard's view of the command bus: each device's model (version, status) and its last command response. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMessage, applyRemoteMessage, createDashboardState, headerText, healthText, logLines, selectNext } from '../../src/dashboard/model.js';
import { parseRemoteBytes } from '../../src/contract/remote.js';

const b = (o: unknown) => Buffer.from(JSON.stringify(o));
const model = (id: string, version: string, status: string, previous: string | null = null) => parseRemoteBytes('ek', `ek/${id}/model`, b({ version: 1, deviceId: id, model: { version, previous, status, since: 1000 } }));

test('each device\'s model version and status in the header, the previous one with it', () => {
  const s = createDashboardState('all', 'test');
  for (const [id, v, st, prev] of [['k1', 'v2', 'verifying', 'v1'], ['k2', 'v1', 'active', null]] as const) {
    const r = model(id, v, st, prev);
    assert.ok(r?.ok);
    applyRemoteMessage(s, r.message, 2000);
  }
  assert.match(headerText(s), /^ k1 UNKNOWN {2}model v2 verifying \(previous v1\) {2}\[2 devices\]/);
  selectNext(s);
  assert.match(headerText(s), /^ k2 UNKNOWN {2}model v1 active {2}\[2 devices\]/);
});

test('no model in the header of a device without remote control (no retained model state)', () => {
  const s = createDashboardState('all', 'test');
  applyMessage(s, 'k9', 'availability', { version: 1, deviceId: 'k9', state: 'online', timestamp: 1 }, 1);
  assert.match(headerText(s), /^ k9 ONLINE {2}\[1 device\]/);
});

test('the last command response in the health panel and the log; errors with their reason; a malformed one is refused', () => {
  const s = createDashboardState('all', 'test');
  const ok = parseRemoteBytes('ek', 'ek/k1/response/model/update', b({ version: 1, deviceId: 'k1', command: 'model/update', transaction: 't1', status: 'ok', data: { status: 'verifying', version: 'v2' } }));
  assert.ok(ok?.ok);
  applyRemoteMessage(s, ok.message, 10_000);
  const err = parseRemoteBytes('ek', 'ek/k1/response/model/update', b({ version: 1, deviceId: 'k1', command: 'model/update', status: 'error', error: 'refused: fails the reference faces: top-1 agreement 14.5% (7/48)' }));
  assert.ok(err?.ok);
  applyRemoteMessage(s, err.message, 20_000);
  const d = s.devices.get('k1')!;
  assert.deepEqual(d.lastResponse, { command: 'model/update', status: 'error', text: 'refused: fails the reference faces: top-1 agreement 14.5% (7/48)', at: 20_000 });
  assert.match(healthText(d, false, 32_000), /^no stats yet\nlast command: model\/update error: refused: fails the reference faces: top-1 agreement 14\.5% \(7\/48\) {2}12 s ago$/);
  assert.deepEqual(logLines(s, 10).map((l) => l.slice(9)), ['k1 model/update: ok verifying v2', 'k1 model/update: error: refused: fails the reference faces: top-1 agreement 14.5% (7/48)']);

  const bad = parseRemoteBytes('ek', 'ek/k1/response/x', b({ version: 1, deviceId: 'k2', command: 'x', status: 'ok', data: {} }));
  assert.deepEqual(bad, { ok: false, reason: 'deviceId differs from the topic' });
  assert.equal(parseRemoteBytes('ek', 'ek/k1/stats', b({})), null, 'not a command bus topic');
  assert.deepEqual(parseRemoteBytes('ek', 'ek/k1/model', Buffer.from('{')), { ok: false, reason: 'not JSON' });
});
