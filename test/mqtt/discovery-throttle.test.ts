/** homeassistant/status floods: one discovery burst per DISCOVERY_MIN_INTERVAL_MS, against a real mosquitto, on a test clock. */
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { DISCOVERY_MIN_INTERVAL_MS, discoveryMessages } from '../../src/mqtt/discovery.js';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { deviceTopics } from '../../src/contract/index.js';
import { createLogger } from '../../src/util/logger.js';
import { Collector } from './helpers/collector.js';
import { faceEvent, kioskConfig, MODEL } from './helpers/fixtures.js';
import { Mosquitto, tempDir, waitFor } from './helpers/mosquitto.js';

let broker: Mosquitto;
const dataDir = tempDir('ha-throttle');
before(async () => {
  broker = await Mosquitto.start();
});
after(async () => {
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('51 homeassistant/status "online" messages: one discovery burst, and one more after the interval', { timeout: 60_000 }, async () => {
  let clock = 1_780_000_000_000;
  const lines: string[] = [];
  const logger = createLogger('debug', 'kiosk', (l) => lines.push(l));
  const burst = discoveryMessages({ discoveryPrefix: 'homeassistant', deviceId: 'hak', topics: deviceTopics('ek', 'hak'), swVersion: '0', modelName: MODEL.name }).length;
  const seen = await Collector.connect(broker.url, ['homeassistant/+/+/+/config', 'ek/hak/events']);
  const sink = (await createMqttSink(kioskConfig({ broker: broker.url, deviceId: 'hak', topicPrefix: 'ek' }, dataDir), { logger, model: MODEL, now: () => clock })) as MqttSink;
  await sink.start!();
  const configs = () => seen.messages.filter((m) => m.topic.endsWith('/config')).length;
  const handled = () => lines.filter((l) => /homeassistant\/status/.test(l)).length;
  try {
    await waitFor(() => configs() >= burst, 20_000, `the connect burst (${burst} configs); got ${configs()}`);
    const ha = await mqtt.connectAsync(broker.url);
    for (let i = 0; i < 50; i++) await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await waitFor(() => handled() >= 50 || configs() > 2 * burst, 20_000, `the kiosk handling 50 homeassistant/status messages; handled ${handled()}`);
    clock += DISCOVERY_MIN_INTERVAL_MS + 1;
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await ha.endAsync();
    await waitFor(() => handled() >= 51 || configs() > 3 * burst, 20_000, 'the 51st');
    // a barrier: the kiosk publishes an event after all of that; when it arrives, every burst before it has too
    await sink.onEvent(faceEvent(0, 'appeared'));
    await waitFor(() => seen.on('ek/hak/events').length > 0, 20_000, 'the barrier event');
    process.stdout.write(`# ${configs()} discovery configs received for 51 requests (${burst} per burst)\n`);
    assert.equal(configs(), 3 * burst, 'connect burst + one for the first request + one after the interval');
    assert.equal(lines.filter((l) => /homeassistant\/status.*not re-sent/.test(l)).length, 49);
  } finally {
    await sink.stop!();
    await seen.close();
  }
});
