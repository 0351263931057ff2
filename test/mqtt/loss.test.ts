/**
 * The loss test: 10,000 events from a kiosk process while the broker is stopped and restarted twice and the kiosk is
 * killed (SIGKILL) and restarted once. Every event must arrive (each id at least once) in order per device.
 * The subscriber keeps a persistent session (clean: false, QoS 1) on a mosquitto with persistence, so what the
 * broker accepted while the subscriber was reconnecting is kept for it: the test measures the kiosk's side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Collector } from './helpers/collector.js';
import { Mosquitto, tempDir, waitFor } from './helpers/mosquitto.js';

const TOTAL = 10_000;

class Kiosk {
  proc: ChildProcess;
  appended = 0;
  out = '';
  constructor(spec: object) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'helpers/kiosk-child.ts')], {
      env: { ...process.env, EK_CHILD: JSON.stringify(spec) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
      for (const m of d.toString().matchAll(/appended (\d+)/g)) this.appended = Math.max(this.appended, Number(m[1]));
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
  }
  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.exited) return;
    const done = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill(signal);
    await done;
  }
}

test('loss test: 10,000 events survive two broker restarts and a SIGKILL of the kiosk', { timeout: 150_000 }, async () => {
  const broker = await Mosquitto.start({ persistence: true });
  const dataDir = tempDir('loss');
  const col = await Collector.connect(broker.url, ['loss/+/events'], { clean: false, clientId: 'loss-collector' });
  const spec = {
    mqtt: { broker: broker.url, deviceId: 'lossy', topicPrefix: 'loss', homeAssistant: { enabled: false }, reconnectMaxDelayMs: 500 },
    dataDir,
    total: TOTAL,
    perTick: 25,
    tickMs: 20,
  };
  let kiosk = new Kiosk(spec);
  const log: string[] = [];
  const step = (s: string) => log.push(`${s} (appended ${kiosk.appended}, received ${col.messages.length})`);
  const reached = (n: number) => waitFor(() => kiosk.appended >= n || (kiosk.exited && fail(kiosk)), 60_000, `${n} events appended`);
  try {
    await reached(1500);
    step('broker stop #1');
    await broker.down();
    await reached(3000);
    await broker.up();
    step('broker restarted #1');
    await reached(4500);
    step('kiosk SIGKILL');
    await kiosk.kill('SIGKILL');
    const before = kiosk.appended;
    kiosk = new Kiosk(spec);
    kiosk.appended = 0;
    await waitFor(() => /start (\d+)/.exec(kiosk.out), 20_000, 'restarted kiosk');
    step(`kiosk restarted, continues at seq ${/start (\d+)/.exec(kiosk.out)![1]} (had reported ${before})`);
    await reached(6500);
    step('broker stop #2');
    await broker.down();
    await reached(8000);
    await broker.up();
    step('broker restarted #2');
    await reached(TOTAL);
    step('all appended');

    const distinct = () => new Set(col.messages.map((m) => (m.json as { eventId: string }).eventId)).size;
    await waitFor(() => distinct() >= TOTAL, 60_000, `all ${TOTAL} events received (have ${distinct()})`);
    step('all received');

    const payloads = col.messages.map((m) => m.json as { eventId: string; seq: number; frameIndex: number; deviceId: string });
    const ids = new Set(payloads.map((p) => p.eventId));
    const frames = new Set(payloads.map((p) => p.frameIndex));
    // order per device: the first arrival of each seq comes in increasing seq order
    const seen = new Set<number>();
    let lastNew = -1;
    let outOfOrder = 0;
    for (const p of payloads) {
      if (seen.has(p.seq)) continue;
      seen.add(p.seq);
      if (p.seq < lastNew) outOfOrder += 1;
      lastNew = p.seq;
    }
    const duplicates = payloads.length - ids.size;
    process.stdout.write(
      `# loss test: events generated ${TOTAL}, messages received ${payloads.length}, distinct ids ${ids.size}, ` +
        `distinct frames ${frames.size}, duplicates ${duplicates}, out of order ${outOfOrder}, missing ${TOTAL - frames.size}\n` +
        log.map((l) => `#   ${l}\n`).join(''),
    );
    assert.equal(ids.size, TOTAL, 'each event id at least once, and no event twice under two ids');
    assert.equal(frames.size, TOTAL);
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: TOTAL }, (_, i) => i), 'seqs 0..9999, no gap');
    assert.equal(outOfOrder, 0, 'in order per device');
    assert.ok(payloads.every((p) => p.deviceId === 'lossy' && p.seq === p.frameIndex));
  } finally {
    await kiosk.kill('SIGTERM');
    await col.close();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

function fail(k: Kiosk): never {
  throw new Error(`kiosk process exited early: ${k.out.slice(-2000)}`);
}
