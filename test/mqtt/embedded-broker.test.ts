import { rmSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { startEmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { silentLogger } from '../../src/util/logger.js';
import { Collector } from './helpers/collector.js';
import { contractErrors, faceEvent, kioskConfig, MODEL } from './helpers/fixtures.js';
import { freePort, tempDir, waitFor } from './helpers/mosquitto.js';

test('broker: embedded runs aedes on 127.0.0.1 for the kiosk and its subscribers, and stop() closes it', async () => {
  const port = await freePort();
  const dir = tempDir('embedded');
  const sink = (await createMqttSink(kioskConfig({ broker: 'embedded', embeddedPort: port, deviceId: 'emb', homeAssistant: { enabled: false } }, dir), { logger: silentLogger, model: MODEL })) as MqttSink;
  await sink.start!();
  try {
    assert.equal(sink.status().brokerUrl, `mqtt://127.0.0.1:${port}`);
    const col = await Collector.connect(`mqtt://127.0.0.1:${port}`, ['emotion-kiosk/emb/#']);
    const e = faceEvent(1);
    await sink.onEvent(e);
    const got = await waitFor(() => col.on('emotion-kiosk/emb/events')[0], 10_000, 'event through aedes');
    assert.equal((got.json as { eventId: string }).eventId, e.eventId);
    assert.equal(contractErrors('events', got.json), '');
    await col.close();
  } finally {
    await sink.stop!();
    rmSync(dir, { recursive: true, force: true });
  }
  // the port is free again
  const again = await startEmbeddedBroker(port);
  await again.close();
});

test('embedded broker on a port in use says what to do', async () => {
  const first = await startEmbeddedBroker(0);
  try {
    await assert.rejects(startEmbeddedBroker(first.port), /127\.0\.0\.1:\d+ is in use .* use --broker mqtt:\/\/127\.0\.0\.1:\d+, or set mqtt\.embeddedPort/);
  } finally {
    await first.close();
  }
});
