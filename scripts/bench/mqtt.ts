/**
 * MQTT benchmarks (figures, not tests):
 *  1. events/s delivered end to end (publish -> local mosquitto -> subscriber) at QoS 1, with the durable outbox
 *     (fsync'd segment files) vs an in-memory outbox (the baseline, same publisher), alternating runs, median.
 *  2. the dashboard command's CPU use while idle and while a kiosk publishes 100 events/s (plus 10 frames/s of state),
 *     in a real 80x24 terminal (tmux), from /proc/<pid>/stat.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { configSchema } from '../../src/config/schema.js';
import { EMOTIONS, type EmotionScores } from '../../src/model/labels.js';
import type { FaceEvent } from '../../src/events/types.js';
import { createMqttSink } from '../../src/mqtt/index.js';
import { Outbox } from '../../src/mqtt/outbox.js';
import { eventPayload } from '../../src/telemetry/payloads.js';
import { Publisher } from '../../src/mqtt/publisher.js';
import { silentLogger } from '../../src/util/logger.js';
import { quantile } from '../../src/util/stats.js';

const EVENTS = 5_000;
const ROUNDS = 4;

export async function benchMqtt(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ek-bench-mqtt-'));
  const broker = await startMosquitto(dir);
  try {
    await throughput(broker.url, dir);
    await dashboardCpu(broker.url, dir);
  } finally {
    broker.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(url: string, dir: string): Promise<void> {
  const rates: Record<'durable' | 'memory', number[]> = { durable: [], memory: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // alternate which mode goes first, so warm-up and background load do not favour one
    const order = r % 2 === 0 ? (['memory', 'durable'] as const) : (['durable', 'memory'] as const);
    for (const mode of order) rates[mode].push(await onePass(url, path.join(dir, `ob-${mode}-${r}`), mode === 'durable'));
  }
  const med = (xs: number[]) => quantile(xs, 0.5);
  const d = med(rates.durable);
  const m = med(rates.memory);
  console.log(`mqtt: ${EVENTS} events, QoS 1, end to end to a local mosquitto, median of ${ROUNDS} (outbox in ${dir})`);
  console.log(`  in-memory outbox (baseline): ${m.toFixed(0)} events/s   [${rates.memory.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`  durable outbox (fsync'd):    ${d.toFixed(0)} events/s   [${rates.durable.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`  ratio durable / in-memory:   ${(d / m).toFixed(2)}  (a kiosk makes a few events/s; 15 fps x 5 faces changing every frame is 75/s)`);
}

async function onePass(url: string, obDir: string, durable: boolean): Promise<number> {
  const topic = `bench/${randomUUID()}/events`;
  const sub = await mqtt.connectAsync(url, { clean: true });
  let got = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  sub.on('message', () => {
    if (++got === EVENTS) done();
  });
  await sub.subscribeAsync(topic, { qos: 1 });
  const outbox = await Outbox.open({ dir: obDir, maxEvents: 1_000_000, maxAgeMs: 3_600_000, logger: silentLogger, durable });
  const pub = new Publisher({ settings: { url, rejectUnauthorized: true, keepaliveS: 30, clientId: `bench-${randomUUID()}` }, outbox, logger: silentLogger, reconnectMaxDelayMs: 1000 });
  pub.start();
  while (!pub.connected) await new Promise((r) => setTimeout(r, 10));
  const t0 = performance.now();
  const appends: Promise<unknown>[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const e = event(i);
    appends.push(outbox.append(topic, (seq) => JSON.stringify(eventPayload('bench', seq, e))));
    if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // a producer that yields, like a pipeline
  }
  await Promise.all(appends);
  await all;
  const rate = EVENTS / ((performance.now() - t0) / 1000);
  await pub.stop();
  await outbox.close();
  await sub.endAsync(true);
  return rate;
}

async function dashboardCpu(url: string, dir: string): Promise<void> {
  const socket = `ek-bench-${process.pid}`;
  const tmux = (...a: string[]) => execFileSync('tmux', ['-L', socket, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const root = path.resolve(import.meta.dirname, '../..');
  const port = new URL(url).port;
  const config = configSchema.parse({ mqtt: { broker: url, deviceId: 'benchkiosk', topicPrefix: 'bench', statsIntervalS: 5, homeAssistant: { enabled: false } }, dataDir: path.join(dir, 'kiosk') });
  const sink = (await createMqttSink(config, { logger: silentLogger, model: { name: 'bench', version: '0' } }))!;
  await sink.start!();
  try {
    tmux('new-session', '-d', '-s', 'd', '-x', '80', '-y', '24', `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker mqtt://127.0.0.1:${port} --device all --topic-prefix bench`);
    const pid = Number(tmux('display-message', '-p', '-t', 'd', '#{pane_pid}').trim());
    // wait until it shows the kiosk (startup compiles TypeScript; not measured)
    for (let i = 0; i < 300 && !tmux('capture-pane', '-p', '-t', 'd').includes('benchkiosk ONLINE'); i++) await sleep(100);
    await sleep(2000);
    const idle = await cpuPct(pid, 10_000);
    let n = 0;
    const frames = setInterval(() => sink.onFrame!({ frameIndex: n, frameTimestamp: Date.now(), faces: [{ faceId: n % 3, box: { x: 0, y: 0, width: 9, height: 9 }, emotion: EMOTIONS[n % 7]!, confidence: 0.6, scores: scores(), firstSeen: Date.now() }], detections: 1, captureMs: 1, detectMs: 10, classifyMs: 3, fps: 10 }), 100);
    const events = setInterval(() => {
      for (let i = 0; i < 10; i++) void sink.onEvent(event(n++));
    }, 100);
    await sleep(2000);
    const loaded = await cpuPct(pid, 10_000);
    clearInterval(frames);
    clearInterval(events);
    console.log(`dashboard (emotion-kiosk dashboard in tmux 80x24), % of one core over 10 s:`);
    console.log(`  idle (kiosk online, no events):        ${idle.toFixed(1)} %`);
    console.log(`  100 events/s + 10 state updates/s:     ${loaded.toFixed(1)} %   (ratio to idle ${(loaded / Math.max(idle, 0.1)).toFixed(1)}x)`);
  } finally {
    try {
      tmux('kill-server');
    } catch {
      /* gone */
    }
    await sink.stop!();
  }
}

/** CPU use of a process (user+sys, % of one core) over `ms`. */
async function cpuPct(pid: number, ms: number): Promise<number> {
  const ticks = () => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  };
  const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const a = ticks();
  const t0 = performance.now();
  await sleep(ms);
  return (((ticks() - a) / hz) * 100_000) / (performance.now() - t0) * 1;
}

function scores(): EmotionScores {
  const s = {} as EmotionScores;
  for (const e of EMOTIONS) s[e] = 1 / 7;
  return s;
}

function event(i: number): FaceEvent {
  const t = Date.now();
  return { type: 'emotion_changed', eventId: randomUUID(), faceId: i % 5, timestamp: t, firstSeen: t - 1000, emotion: EMOTIONS[i % 7]!, confidence: 0.6, scores: scores(), previousEmotion: 'neutral', box: { x: 1, y: 2, width: 50, height: 50 }, frameIndex: i, frameTimestamp: t - 20, model: { name: 'bench', version: '0' } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startMosquitto(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `user root\nlistener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n`);
  const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = createConnection({ port, host: '127.0.0.1' }, () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return { url: `mqtt://127.0.0.1:${port}`, proc };
    await sleep(50);
  }
  throw new Error('mosquitto did not start');
}
