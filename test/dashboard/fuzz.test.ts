/**
 * Fuzz: hostile and broken messages on every topic the dashboard reads, retained and not, from a real mosquitto
 * (loopback), to the dashboard command in tmux (80x24), while a real kiosk publishes valid ones. Bounded: a seeded
 * generator, 15,726 messages (about 20 s). Afterwards the dashboard is alive, shows the valid kiosk as it is, has drawn no
 * escape sequence, keeps at most MAX_DEVICES devices, and its memory stayed bounded. The barrier is the status
 * line's count of malformed messages: the test knows how many it sent (the contract is the oracle).
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { MAX_DEVICES } from '../../src/dashboard/model.js';
import { parseContractBytes } from '../../src/contract/contract.js';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { availabilityPayload, eventPayload } from '../../src/telemetry/payloads.js';
import { deriveState, WindowCounter } from '../../src/telemetry/reducers.js';
import { parseTopic, TOPIC_KINDS, type TopicKind } from '../../src/contract/topics.js';
import { silentLogger } from '../../src/util/logger.js';
import { faceEvent, frame, kioskConfig, MODEL } from '../mqtt/helpers/fixtures.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';
import { Tmux } from './helpers/tmux.js';

const root = path.resolve(import.meta.dirname, '../..');
const PREFIX = 'ek';
const tmux = new Tmux();
let broker: Mosquitto;
const dataDir = tempDir('dash-fuzz');
before(async () => {
  broker = await Mosquitto.start();
});
after(async () => {
  tmux.kill();
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** mulberry32: the same messages on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(0x5eed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** Terminal attacks: OSC title, clear screen, SGR, cursor moves, C1 CSI, BEL, NUL, DEL. */
const ESCAPES = '\u001b]0;PWNED\u0007\u001b[2J\u001b[31mEVILRED\u001b[0m\u001b[10;10H\u009b31mC1CSI\u0000\u0007\u007f\r\nXLINEX';
const HUGE = 'x'.repeat(200 * 1024);
const OVERSIZE = 'y'.repeat(300 * 1024);

function randomJson(depth = 0): unknown {
  const r = rand();
  if (depth > 3 || r < 0.3) return pick([0, -1, 1.5, 1e308, -1e308, 8.64e15 + 1, 2 ** 53, 'a', '', ESCAPES, 'online', 'offline', true, false, null]);
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(depth + 1));
  const keys = ['version', 'deviceId', 'state', 'type', 'emotion', 'faces', 'facesInView', 'latencyMs', 'timestamp', 'model', 'outbox', 'x', ESCAPES];
  return Object.fromEntries(Array.from({ length: Math.floor(rand() * 6) }, () => [pick(keys), randomJson(depth + 1)]));
}

function templates(deviceId: string): Record<TopicKind, unknown[]> {
  const now = 1_780_000_000_000;
  return {
    availability: [availabilityPayload(deviceId, 'online', { timestamp: now }), availabilityPayload(deviceId, 'offline', { reason: 'shutdown', timestamp: now })],
    events: [eventPayload(deviceId, 7, faceEvent(1, 'appeared', 'happy')), eventPayload(deviceId, 8, faceEvent(2, 'emotion_changed', 'sad'))],
    state: [deriveState(deviceId, MODEL, frame(1, [{ id: 1, emotion: 'fear' }, { id: 2, emotion: 'happy' }]), now)],
    counts: [new WindowCounter(deviceId, 60, now).close(now + 60_000)],
    stats: [
      {
        version: 1, deviceId, timestamp: now, uptimeS: 10, systemUptimeS: 100, fps: 15, frames: 30,
        latencyMs: { capture: 1, detect: 2, classify: 3 }, cpu: { loadPct: 10, temperatureC: 50 }, memory: { usedPct: 40, processRssMb: 100 },
        outbox: { pending: 0, dropped: 0, durable: true, unstored: 0 }, broker: { connected: true }, model: MODEL,
      },
    ],
  };
}

/** Every leaf path of a JSON value. */
function leaves(v: unknown, p: (string | number)[] = []): (string | number)[][] {
  if (v && typeof v === 'object') return Object.entries(v as object).flatMap(([k, x]) => leaves(x, [...p, Array.isArray(v) ? Number(k) : k]));
  return [p];
}
function setAt(v: unknown, p: (string | number)[], x: unknown): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let node = copy;
  for (const k of p.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  if (x === undefined) delete node[p[p.length - 1]!];
  else node[p[p.length - 1]!] = x;
  return copy;
}
const MUTATIONS: unknown[] = [undefined, 'str', 123, -1, 1.5, 1e300, -1e300, 8.64e15 + 1, 2 ** 60, null, true, [], {}, ESCAPES, HUGE.slice(0, 5000)];

interface Msg {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

function fuzzMessages(): Msg[] {
  const out: Msg[] = [];
  const add = (deviceId: string, kind: TopicKind, payload: unknown, raw?: Buffer) => {
    const bytes = raw ?? Buffer.from(JSON.stringify(payload));
    // on the valid kiosk's own topics only what breaks the contract (a valid message there would really change it)
    if (deviceId === 'goodkiosk' && parseContractBytes(deviceId, kind, bytes).ok) return;
    out.push({ topic: `${PREFIX}/${deviceId}/${kind}`, payload: bytes, retain: rand() < 0.5 });
  };
  for (const kind of TOPIC_KINDS) {
    // wrong types, out-of-range and NaN-producing numbers, escapes and long strings, missing fields: in every field,
    // against the valid kiosk's own topics and a stranger's
    for (const t of templates('goodkiosk')[kind]) for (const p of leaves(t)) for (const m of MUTATIONS) add('goodkiosk', kind, setAt(t, p, m));
    for (const t of templates('stranger')[kind]) for (const p of leaves(t)) for (const m of MUTATIONS) add('stranger', kind, setAt(t, p, m));
    // random JSON
    for (let i = 0; i < 400; i++) add(pick(['goodkiosk', 'stranger', `r${i}`]), kind, randomJson());
    // not JSON, truncated JSON, invalid UTF-8, huge and oversized strings
    for (const raw of [Buffer.from('not json'), Buffer.from('{"version":1'), Buffer.from([0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a]), Buffer.from('{"version":1}'), Buffer.from('null'), Buffer.from('[]')]) add('goodkiosk', kind, null, raw);
    for (const t of templates('goodkiosk')[kind]) {
      add('goodkiosk', kind, { ...(t as object), model: { name: HUGE, version: '1' } });
      add('goodkiosk', kind, { ...(t as object), padding: OVERSIZE });
    }
    // device ids that are not letters, digits, _ and - (escapes cannot travel in a topic: mosquitto refuses them)
    for (const id of ['évil', 'a.b', 'x'.repeat(300), 'semi;colon', 'sp ace']) add(id, kind, templates(id)[kind][0]);
  }
  // 10,000 distinct kiosks, valid messages: the device map must stay at MAX_DEVICES
  for (let i = 0; i < 10_000; i++) {
    const id = `fuzz${String(i).padStart(5, '0')}`;
    add(id, i % 3 === 0 ? 'state' : 'availability', i % 3 === 0 ? templates(id).state[0] : availabilityPayload(id, i % 2 ? 'online' : 'offline', { reason: 'connection_lost' }));
  }
  return out;
}

/** VmRSS of a process, in MiB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

test('fuzz: two dashboards (one watching, one connecting afterwards to the retained garbage) survive hostile messages on every topic, show the valid kiosk, draw no escapes, stay bounded', { timeout: 400_000 }, async () => {
  const sink = (await createMqttSink(kioskConfig({ broker: broker.url, deviceId: 'goodkiosk', topicPrefix: PREFIX, statsIntervalS: 1, homeAssistant: { enabled: false } }, dataDir), { logger: silentLogger, model: MODEL })) as MqttSink;
  await sink.start!();
  let n = 1;
  const camera = setInterval(() => sink.onFrame!(frame(n++, [{ id: 1, emotion: 'happy' }, { id: 2, emotion: 'happy' }], Date.now())), 100);
  const s = 'fuzz';
  try {
    tmux.start(s, `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker ${broker.url} --device all --topic-prefix ${PREFIX} --debug`);
    await waitFor(() => /goodkiosk ONLINE/.test(tmux.screen(s)), 60_000, 'the valid kiosk online').catch((e: Error) => {
      throw new Error(`${e.message}; screen:\n${tmux.screen(s)}`);
    });
    for (let i = 0; i < 3; i++) await sink.onEvent(faceEvent(i, 'appeared', 'happy'));
    const title = await waitFor(() => (/goodkiosk ONLINE/.test(tmux.screen(s)) && /Emotions entered \(3 events\)/.test(tmux.screen(s)) && /fps 15\.0/.test(tmux.screen(s)) ? tmux.title(s) : null), 60_000, 'the valid kiosk on the dashboard').catch((e: Error) => {
      throw new Error(`${e.message}; screen:\n${tmux.screen(s)}`);
    });
    const pid = tmux.pid(s);
    const before = rssMb(pid);

    const msgs = fuzzMessages();
    let malformed = 0;
    for (const m of msgs) {
      const t = parseTopic(PREFIX, m.topic);
      if (t && m.payload.length > 0 && !parseContractBytes(t.deviceId, t.kind, m.payload).ok) malformed += 1;
    }
    const fuzzer = await mqtt.connectAsync(broker.url, { clientId: 'fuzzer' });
    const started = Date.now();
    for (let i = 0; i < msgs.length; i += 500) await Promise.all(msgs.slice(i, i + 500).map((m) => fuzzer.publishAsync(m.topic, m.payload, { qos: 1, retain: m.retain })));
    await fuzzer.endAsync();
    const bytes = msgs.reduce((a, m) => a + m.payload.length, 0);

    const expect = new RegExp(`ignored ${malformed} malformed messages`);
    const shown = await waitFor(() => (expect.test(tmux.screen(s)) || !tmux.alive(s) ? { text: tmux.screen(s) } : null), 300_000, `the status line counting ${malformed} malformed messages`).catch((e: Error) => {
      throw new Error(`${e.message}; screen:\n${tmux.screen(s)}`);
    });
    assert.ok(tmux.alive(s), `the dashboard died:\n${shown.text}`);
    const afterMb = rssMb(pid);
    process.stdout.write(
      `# fuzz: ${msgs.length} messages (${(bytes / 1_048_576).toFixed(1)} MiB, ${malformed} malformed, ${msgs.filter((m) => m.retain).length} retained) ` +
        `published in ${((Date.now() - started) / 1000).toFixed(1)} s; dashboard alive; RSS ${before.toFixed(0)} MiB before, ${afterMb.toFixed(0)} MiB after\n`,
    );

    // the valid kiosk, as it is (its next stats and state redraw it)
    const screen = await waitFor(() => {
      const t = tmux.screen(s);
      return /^ goodkiosk ONLINE /.test(t) && /Emotions entered \(3 events\)/.test(t) && /2 face\(s\) in view/.test(t) && /#1 happy/.test(t) && /fps 15\.0 {2}detect 12\.0ms {2}classify 4\.0ms/.test(t) ? t : null;
    }, 30_000, 'the valid kiosk still shown correctly').catch((e: Error) => {
      throw new Error(`${e.message}; screen:\n${tmux.screen(s)}`);
    });
    assert.match(screen, new RegExp(`\\[${MAX_DEVICES} devices\\]`), 'the device map is capped');
    // nothing from a payload reached the terminal as an escape: the title, the layout and the text are intact
    assert.equal(tmux.title(s), title, 'no OSC title change');
    assert.doesNotMatch(screen, /PWNED|EVILRED|C1CSI|XLINEX/);
    const lines = screen.split('\n');
    assert.match(lines[0]!, /^ goodkiosk ONLINE/);
    assert.match(lines[23] ?? '', /^ q quit .*ignored \d+ malformed messages/);
    assert.ok(lines.every((l) => l.length <= 80), 'no line longer than the terminal');
    assert.ok(afterMb - before < 200, `RSS grew ${(afterMb - before).toFixed(0)} MiB`);

    // a second dashboard that connects now gets the retained garbage first (the broker keeps the last retained
    // message per topic: on the valid kiosk's topics that is a malformed one, except stats, which it re-publishes)
    const late = 'late';
    tmux.start(late, `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker ${broker.url} --device goodkiosk --topic-prefix ${PREFIX}`);
    await waitFor(() => /connected to mqtt/.test(tmux.screen(late)) || !tmux.alive(late), 60_000, 'the late dashboard connected').catch((e: Error) => {
      throw new Error(`${e.message}; screen:\n${tmux.screen(late)}`);
    });
    // barrier: an event published after it subscribed arrives after the retained messages
    await sink.onEvent(faceEvent(9, 'appeared', 'happy'));
    const lateScreen = await waitFor(() => {
      const t = tmux.screen(late);
      return (/Emotions entered \(1 events\)/.test(t) && /fps 15\.0/.test(t) && /ignored \d+ malformed message/.test(t)) || !tmux.alive(late) ? { text: t } : null;
    }, 60_000, 'the late dashboard showing the kiosk').catch((e: Error) => {
      throw new Error(`${e.message}; screen:\n${tmux.screen(late)}`);
    });
    assert.ok(tmux.alive(late), `the late dashboard died:\n${lateScreen.text}`);
    assert.match(lateScreen.text, /^ goodkiosk ONLINE {2}\[1 device\]/);
    assert.doesNotMatch(lateScreen.text, /PWNED|EVILRED|C1CSI|XLINEX/);
    const lateMalformed = Number(/ignored (\d+) malformed/.exec(lateScreen.text)![1]);
    assert.ok(lateMalformed >= 1 && lateMalformed <= 4, `${lateMalformed} retained malformed messages on 4 topics`);
    process.stdout.write(`# late dashboard: alive, ${lateMalformed} retained malformed message(s) ignored, the kiosk shown\n`);

    tmux.keys(s, 'q');
    tmux.keys(late, 'q');
    await waitFor(() => !tmux.alive(s) && !tmux.alive(late), 10_000, 'q quits');
  } finally {
    clearInterval(camera);
    await sink.stop!();
  }
});
