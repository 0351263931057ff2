/** The dashboard in a real terminal (tmux 80x24, real mosquitto): a device's retained model state and its last command response. */
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Collector } from '../mqtt/helpers/collector.js';
import { Mosquitto, waitFor } from '../mqtt/helpers/mosquitto.js';
import { Tmux } from './helpers/tmux.js';

const SESSION = 'dashr';
const root = path.resolve(import.meta.dirname, '../..');
const tmux = new Tmux();
const screen = () => tmux.screen(SESSION);

let broker: Mosquitto;
before(async () => {
  broker = await Mosquitto.start();
});
after(async () => {
  tmux.kill();
  await broker.stop();
});

test('dashboard: the model (version, status, previous) in the header and the last command response in the panel and the log', { timeout: 120_000 }, async () => {
  const op = await Collector.connect(broker.url, ['ek/#']);
  try {
    const state = { version: 1, deviceId: 'fk1', model: { version: 'v2-rollout', previous: 'v1', status: 'verifying', since: Date.now(), until: Date.now() + 600_000 } };
    await op.client.publishAsync('ek/fk1/model', JSON.stringify(state), { qos: 1, retain: true });
    tmux.start(SESSION, `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker ${broker.url} --device all --topic-prefix ek`);
    const s1 = await waitFor(() => (/fk1 UNKNOWN {2}model v2-rollout verifying \(previous v1\)/.test(screen()) ? screen() : null), 60_000, `the model in the header; screen:\n${screen()}`);
    assert.match(s1, /\[1 device\]/);
    const response = { version: 1, deviceId: 'fk1', command: 'model/update', transaction: 't', status: 'error', error: 'refused: fails the reference faces: top-1 agreement 14.5% (7/48)' };
    await op.client.publishAsync('ek/fk1/response/model/update', JSON.stringify(response), { qos: 1 });
    const s2 = await waitFor(() => (/last command: model\/update error: refused:/.test(screen()) ? screen() : null), 60_000, `the last response; screen:\n${screen()}`);
    assert.match(s2, /fk1 model\/update: error: refused: fails the reference faces/, 'in the events log');
    await op.client.publishAsync('ek/fk1/model', JSON.stringify({ ...state, model: { ...state.model, status: 'active', until: undefined } }), { qos: 1, retain: true });
    await waitFor(() => /model v2-rollout active \(previous v1\)/.test(screen()), 20_000, `active; screen:\n${screen()}`);
    await op.client.publishAsync('ek/fk1/response/x', '{"version":1,"deviceId":"someone-else","command":"x","status":"ok","data":{}}', { qos: 1 });
    await waitFor(() => /ignored 1 malformed message/.test(screen()), 20_000, `the forged response counted, not shown; screen:\n${screen()}`);
    tmux.keys(SESSION, 'q');
  } finally {
    await op.close();
  }
});
