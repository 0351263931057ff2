/** The MQTT sink against a real mosquitto (Debian's), started on a free port by each test. */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { createLogger } from '../../src/util/logger.js';
import { EMOTIONS } from '../../src/model/labels.js';
import { Collector } from './helpers/collector.js';
import { contractErrors, faceEvent, frame, kioskConfig, MODEL } from './helpers/fixtures.js';
import { freePort, makeTestPki, Mosquitto, tempDir, waitFor } from './helpers/mosquitto.js';
import type { KioskConfigInput } from '../../src/config/schema.js';

type MqttInput = NonNullable<KioskConfigInput['mqtt']>;

function capturingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', '', (l) => lines.push(l)) };
}

async function startSink(mqtt: MqttInput, dataDir: string) {
  const log = capturingLogger();
  const sink = (await createMqttSink(kioskConfig(mqtt, dataDir), { logger: log.logger, model: MODEL })) as MqttSink;
  await sink.start!();
  return { sink, ...log };
}

describe('MQTT sink with a real mosquitto', () => {
  let broker: Mosquitto;
  const dirs: string[] = [];
  const tmp = (tag: string) => {
    const d = tempDir(tag);
    dirs.push(d);
    return d;
  };
  before(async () => {
    broker = await Mosquitto.start();
  });
  after(async () => {
    await broker.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('events, state, counts, stats, availability and HA discovery arrive as documented (schema-validated)', async () => {
    const col = await Collector.connect(broker.url, ['ek/#', 'homeassistant/#']);
    const { sink } = await startSink(
      { broker: broker.url, deviceId: 'kiosk_1', topicPrefix: 'ek', statsIntervalS: 1, countsWindowS: 1 },
      tmp('sink'),
    );
    try {
      const t = sink.topics;
      assert.equal(t.events, 'ek/kiosk_1/events');
      await waitFor(() => col.on(t.availability).some((m) => (m.json as { state?: string }).state === 'online'), 10_000, 'online');
      sink.onFrame!(frame(1, [{ id: 1, emotion: 'happy' }, { id: 2, emotion: 'sad' }]));
      const sent = [faceEvent(0, 'appeared', 'happy'), faceEvent(1, 'emotion_changed', 'sad'), faceEvent(2, 'left', 'sad')];
      for (const e of sent) await sink.onEvent(e);
      const events = await waitFor(() => (col.on(t.events).length >= 3 ? col.on(t.events) : null), 10_000, '3 events');
      assert.deepEqual(
        events.map((m) => (m.json as { eventId: string }).eventId),
        sent.map((e) => e.eventId),
      );
      assert.deepEqual(
        events.map((m) => (m.json as { seq: number }).seq),
        [0, 1, 2],
      );
      for (const m of events) assert.equal(contractErrors('events', m.json), '', m.text);
      assert.equal((events[1]!.json as { previousEmotion: string }).previousEmotion, sent[1]!.previousEmotion);

      const state = await waitFor(() => col.on(t.state).find((m) => (m.json as { faces: number }).faces === 2), 5_000, 'state with 2 faces');
      assert.equal(contractErrors('state', state.json), '');
      assert.deepEqual((state.json as { emotions: Record<string, number> }).emotions, { angry: 0, disgust: 0, fear: 0, happy: 1, sad: 1, surprise: 0, neutral: 0 });

      const counts = await waitFor(() => col.on(t.counts).find((m) => (m.json as { events: { appeared: number } }).events.appeared === 1), 5_000, 'counts window');
      assert.equal(contractErrors('counts', counts.json), '');
      assert.deepEqual((counts.json as { events: unknown }).events, { appeared: 1, emotion_changed: 1, left: 1 });

      const stats = await waitFor(() => col.on(t.stats).find((m) => (m.json as { frames: number }).frames >= 1), 5_000, 'stats');
      assert.equal(contractErrors('stats', stats.json), '', stats.text);
      assert.equal((stats.json as { fps: number }).fps, 15);

      const disco = col.messages.filter((m) => m.topic.startsWith('homeassistant/'));
      for (const e of EMOTIONS) {
        const d = disco.find((m) => m.topic === `homeassistant/sensor/emotion_kiosk_kiosk_1/faces_${e}/config`);
        assert.ok(d, `discovery for ${e}`);
        const cfg = d.json as { unique_id: string; state_topic: string; availability: { topic: string }[]; device: { identifiers: string[] } };
        assert.equal(cfg.unique_id, `emotion_kiosk_kiosk_1_faces_${e}`);
        assert.equal(cfg.state_topic, t.state);
        assert.equal(cfg.availability[0]!.topic, t.availability);
        assert.deepEqual(cfg.device.identifiers, ['emotion_kiosk_kiosk_1']);
      }
      const uniq = new Set(disco.map((m) => (m.json as { unique_id: string }).unique_id));
      assert.equal(uniq.size, disco.length, 'unique ids are unique');
      for (const m of col.on(t.availability)) assert.equal(contractErrors('availability', m.json), '');

      // Home Assistant restarts: it announces `online` and the kiosk re-sends its discovery configs and state
      const happyTopic = 'homeassistant/sensor/emotion_kiosk_kiosk_1/faces_happy/config';
      const before = col.on(happyTopic).length;
      const statesBefore = col.on(t.state).length;
      await col.client.publishAsync('homeassistant/status', 'online');
      await waitFor(() => col.on(happyTopic).length > before && col.on(t.state).length > statesBefore, 5_000, 'discovery re-sent after homeassistant/status online');
    } finally {
      await sink.stop!();
    }
    const off = await waitFor(() => col.on('ek/kiosk_1/availability').find((m) => (m.json as { state: string }).state === 'offline'), 5_000, 'offline');
    assert.deepEqual({ ...(off.json as object), timestamp: 0 }, { version: 1, state: 'offline', reason: 'shutdown', deviceId: 'kiosk_1', timestamp: 0 });
    await col.close();
  });

  test('a late subscriber gets the retained state, availability and stats', async () => {
    const { sink } = await startSink({ broker: broker.url, deviceId: 'late', topicPrefix: 'ek', homeAssistant: { enabled: false } }, tmp('late'));
    try {
      sink.onFrame!(frame(1, [{ id: 7, emotion: 'surprise' }]));
      await waitFor(() => sink.status().connected, 10_000, 'connected');
      // another publisher's view: wait until the broker holds the state, then subscribe afresh
      const probe = await waitFor(async () => {
        const c = await Collector.connect(broker.url, ['ek/late/state', 'ek/late/availability', 'ek/late/stats']);
        // the first retained state may still be the empty one from connect: the face's state follows within 250 ms
        const hasFace = () => c.on('ek/late/state').some((m) => m.retain && (m.json as { faces?: number }).faces === 1);
        const ok = await waitFor(() => hasFace() && ['availability', 'stats'].every((k) => c.on(`ek/late/${k}`).some((m) => m.retain)), 2_000, 'retained').catch(() => false);
        if (ok) return c;
        await c.close();
        return null;
      }, 10_000, 'retained messages for a late subscriber');
      try {
        const state = probe.on('ek/late/state').find((m) => m.retain && (m.json as { faces?: number }).faces === 1)!;
      assert.ok(state, 'a retained state');
      assert.equal(contractErrors('state', state.json), '');
      assert.deepEqual((state.json as { facesInView: unknown[] }).facesInView, [{ faceId: 7, emotion: 'surprise', confidence: 0.8, firstSeen: frame(1, []).frameTimestamp - 1000 }]);
      assert.equal((probe.last('ek/late/availability')!.json as { state: string }).state, 'online');
      assert.ok(probe.on('ek/late/stats').some((m) => m.retain));
      } finally {
        await probe.close();
      }
    } finally {
      await sink.stop!();
    }
  });

  test('availability goes offline through the last will when the kiosk process is killed (SIGKILL)', async () => {
    const col = await Collector.connect(broker.url, ['ek/victim/availability']);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'helpers/kiosk-child.ts')], {
      env: { ...process.env, EK_CHILD: JSON.stringify({ mqtt: { broker: broker.url, deviceId: 'victim', topicPrefix: 'ek', homeAssistant: { enabled: false } }, dataDir: tmp('victim'), total: 0, perTick: 1, tickMs: 1000 }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('connected'), 20_000, 'child connected');
      await waitFor(() => (col.last('ek/victim/availability')?.json as { state?: string } | undefined)?.state === 'online', 5_000, 'online');
      child.kill('SIGKILL');
      const will = await waitFor(
        () => col.on('ek/victim/availability').find((m) => (m.json as { state: string }).state === 'offline'),
        10_000,
        'last will offline',
      );
      assert.deepEqual(will.json, { version: 1, state: 'offline', reason: 'connection_lost', deviceId: 'victim' });
      assert.equal(contractErrors('availability', will.json), '');
    } finally {
      child.kill('SIGKILL');
      await col.close();
    }
  });

  test('broker down at start: the sink starts at once, keeps events in the outbox, and delivers them when the broker comes', async () => {
    const port = await freePort();
    const { sink, lines } = await startSink({ broker: `mqtt://127.0.0.1:${port}`, deviceId: 'early', topicPrefix: 'ek', homeAssistant: { enabled: false } }, tmp('early'));
    let late: Mosquitto | null = null;
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const e = faceEvent(i);
        ids.push(e.eventId);
        await sink.onEvent(e);
      }
      assert.equal(sink.status().connected, false);
      assert.equal(sink.status().pending, 20);
      await waitFor(() => lines.some((l) => l.includes('is not accepting connections')), 10_000, 'a clear log line');
      // the broker appears on that port
      late = await startMosquittoOn(port);
      const col = await Collector.connect(late.url, ['ek/early/events']);
      await waitFor(() => sink.status().pending === 0, 20_000, 'outbox drained');
      await waitFor(() => col.messages.length >= 20, 5_000, 'events delivered');
      await col.close();
    } finally {
      await sink.stop!();
      await late?.stop();
    }
  });

  test('wrong password is reported clearly; the right one connects', async () => {
    const secured = await Mosquitto.start({ users: { kiosk: 'right-pass' } });
    try {
      const bad = await startSink({ broker: secured.url, deviceId: 'pw', topicPrefix: 'ek', username: 'kiosk', password: 'wrong', homeAssistant: { enabled: false } }, tmp('pw'));
      await waitFor(() => bad.sink.status().lastError, 10_000, 'an error');
      assert.match(bad.sink.status().lastError!, /refused the (login: bad username or password|connection: not authorized)/);
      assert.ok(bad.lines.some((l) => /ERROR|WARN/.test(l) && l.includes('mqtt.username / mqtt.password') || l.includes('not authorized')), bad.lines.join('\n'));
      await bad.sink.onEvent(faceEvent(1)); // the kiosk keeps running; the event waits
      assert.equal(bad.sink.status().pending, 1);
      await bad.sink.stop!();

      const good = await startSink({ broker: secured.url, deviceId: 'pw2', topicPrefix: 'ek', username: 'kiosk', password: 'right-pass', homeAssistant: { enabled: false } }, tmp('pw2'));
      await good.sink.onEvent(faceEvent(2));
      await waitFor(() => good.sink.status().connected && good.sink.status().pending === 0, 10_000, 'connected and delivered');
      await good.sink.stop!();
    } finally {
      await secured.stop();
    }
  });

  test('TLS (mqtts://) with a test CA; a broker certificate from another CA is refused with a clear error', async () => {
    const pkiDir = tmp('pki');
    const pki = makeTestPki(pkiDir);
    const tls = await Mosquitto.start({ tls: { ca: pki.ca, cert: pki.cert, key: pki.key } });
    try {
      const col = await Collector.connect(`mqtts://localhost:${tls.port}`, ['ek/tls/events'], { ca: [await readText(pki.ca)] });
      const ok = await startSink({ broker: `mqtts://localhost:${tls.port}`, ca: pki.ca, deviceId: 'tls', topicPrefix: 'ek', homeAssistant: { enabled: false } }, tmp('tls'));
      const e = faceEvent(3);
      await ok.sink.onEvent(e);
      const got = await waitFor(() => col.messages[0], 10_000, 'event over TLS');
      assert.equal((got.json as { eventId: string }).eventId, e.eventId);
      assert.equal(contractErrors('events', got.json), '');
      await ok.sink.stop!();
      await col.close();

      const wrong = await startSink({ broker: `mqtts://localhost:${tls.port}`, ca: pki.otherCa, deviceId: 'tls2', topicPrefix: 'ek', homeAssistant: { enabled: false } }, tmp('tls2'));
      await waitFor(() => wrong.sink.status().lastError, 10_000, 'a TLS error');
      assert.match(wrong.sink.status().lastError!, /TLS to mqtts:\/\/localhost:\d+ failed: .*check mqtt\.ca/);
      assert.equal(wrong.sink.status().connected, false);
      await wrong.sink.stop!();
    } finally {
      await tls.stop();
    }
  });

  test('a missing CA file is a configuration error naming the key', async () => {
    const log = capturingLogger();
    const sink = (await createMqttSink(kioskConfig({ broker: 'mqtts://localhost:8883', ca: '/nonexistent/ca.crt' }, tmp('ca')), { logger: log.logger, model: MODEL }))!;
    await assert.rejects(sink.start!(), /mqtt\.ca: cannot read \/nonexistent\/ca\.crt \(ENOENT\)/);
    await sink.stop?.();
  });

  test('broker none gives no sink', async () => {
    assert.equal(await createMqttSink(kioskConfig({ broker: 'none' }, tmp('none')), { logger: capturingLogger().logger, model: MODEL }), null);
  });
});

async function readText(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(file, 'utf8');
}

/** A mosquitto on a given (free) port: reuses the helper with that port. */
async function startMosquittoOn(port: number): Promise<Mosquitto> {
  return Mosquitto.start({ port });
}
