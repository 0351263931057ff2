/**
 * A kiosk publishing process for tests that kill it: the real MQTT sink (outbox + publisher) fed with synthetic face
 * events. EK_CHILD (JSON): { mqtt, dataDir, deviceId, total, perTick, tickMs }. It continues from the outbox's next
 * seq, so event i is always frameIndex i even across a SIGKILL and restart. Prints `appended <n>` and `connected`.
 * SIGTERM: clean stop (offline state, flush).
 */
import { createMqttSink } from '../../../src/mqtt/index.js';
import { Outbox } from '../../../src/mqtt/outbox.js';
import { createLogger } from '../../../src/util/logger.js';
import { faceEvent, kioskConfig, MODEL } from './fixtures.js';
import path from 'node:path';

interface ChildSpec {
  mqtt: Record<string, unknown>;
  dataDir: string;
  total: number;
  perTick: number;
  tickMs: number;
}

const spec = JSON.parse(process.env.EK_CHILD ?? '{}') as ChildSpec;
const config = kioskConfig(spec.mqtt, spec.dataDir);
const logger = createLogger('info', 'child');
const dir = config.mqtt.outbox.dir ?? path.join(config.dataDir, 'outbox');
const peek = await Outbox.open({ dir, maxEvents: config.mqtt.outbox.maxEvents, maxAgeMs: 1e12, logger });
let next = peek.nextSeq;
await peek.close();

const sink = (await createMqttSink(config, { logger, model: MODEL }))!;
await sink.start!();
const out = (s: string) => process.stdout.write(s + '\n');
out(`start ${next}`);
const connectedTimer = setInterval(() => {
  if (sink.status().connected) {
    out('connected');
    clearInterval(connectedTimer);
  }
}, 20);

let stopping = false;
const tick = setInterval(() => {
  if (stopping) return;
  const end = Math.min(spec.total, next + spec.perTick);
  const writes: Promise<void>[] = [];
  for (; next < end; next++) writes.push(sink.onEvent(faceEvent(next)) as Promise<void>);
  void Promise.all(writes).then(() => out(`appended ${end}`));
  if (next >= spec.total) clearInterval(tick);
}, spec.tickMs);

process.on('SIGTERM', () => {
  stopping = true;
  clearInterval(tick);
  clearInterval(connectedTimer);
  void sink.stop!().then(() => process.exit(0));
});
