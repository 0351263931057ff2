/**
 * Messages from the broker are untrusted: a retained payload that breaks the contract must not kill the dashboards
 * that connect. Real mosquitto, the dashboard command in tmux (80x24), a real kiosk sink publishing.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { kioskConfig, MODEL } from '../mqtt/helpers/fixtures.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';
import { Tmux } from './helpers/tmux.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmux = new Tmux();
let broker: Mosquitto;
const dataDir = tempDir('dash-untrusted');
before(async () => {
  broker = await Mosquitto.start();
});
after(async () => {
  tmux.kill();
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a retained {"version":1} on <prefix>/x/state does not kill the dashboard; it is counted as malformed', { timeout: 60_000 }, async () => {
  const pub = await mqtt.connectAsync(broker.url);
  await pub.publishAsync('ek/x/state', '{"version":1}', { qos: 1, retain: true });
  await pub.endAsync();
  const sink = (await createMqttSink(kioskConfig({ broker: broker.url, deviceId: 'goodkiosk', topicPrefix: 'ek', homeAssistant: { enabled: false } }, dataDir), { logger: silentLogger, model: MODEL })) as MqttSink;
  await sink.start!();
  const s = 'retained';
  try {
    tmux.start(s, `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker ${broker.url} --device all --topic-prefix ek`);
    await waitFor(() => /goodkiosk ONLINE/.test(tmux.screen(s)) || !tmux.alive(s), 40_000, `the valid kiosk is shown; screen:\n${tmux.screen(s)}`);
    // d: the next device (on the old code, device x: drawing its state threw), then p: PAUSED proves d was handled
    tmux.keys(s, 'd');
    tmux.keys(s, 'p');
    const shown = await waitFor(() => (/PAUSED/.test(tmux.screen(s)) || !tmux.alive(s) ? { screen: tmux.screen(s) } : null), 20_000, `PAUSED; screen:\n${tmux.screen(s)}`);
    assert.ok(tmux.alive(s), `the dashboard died:\n${shown.screen}`);
    assert.match(shown.screen, /^ goodkiosk ONLINE {2}\[1 device\]/, 'the malformed message made no device');
    assert.match(shown.screen, /ignored 1 malformed message\b/);
    tmux.keys(s, 'q');
    await waitFor(() => !tmux.alive(s), 10_000, 'q quits');
  } finally {
    await sink.stop!();
  }
});
