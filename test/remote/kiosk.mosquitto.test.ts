/**
 * The command bus on a real kiosk (the CLI, Megamind.avi looping, real mosquitto): health, pause/resume with the state
 * kept across a restart, options live and persisted, a malformed request answered while the kiosk keeps running,
 * restart (exit 75 for systemd's Restart=on-failure).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Collector } from '../mqtt/helpers/collector.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const VIDEO = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const P = 'emotion-kiosk/realk';

let broker: Mosquitto;
let op: Collector;
const dir = tempDir('remote-kiosk');
const configFile = path.join(dir, 'config.json');

before(async () => {
  broker = await Mosquitto.start();
  writeFileSync(
    configFile,
    JSON.stringify({
      version: 2,
      source: VIDEO,
      camera: { loop: true },
      display: { enabled: false },
      mqtt: { broker: broker.url, deviceId: 'realk', homeAssistant: { enabled: false }, statsIntervalS: 1 },
      remote: { enabled: true, stallMs: 5000, snapshot: { enabled: true } },
      dataDir: path.join(dir, 'data'),
    }),
  );
  op = await Collector.connect(broker.url, [`${P}/#`]);
});
after(async () => {
  await op.close();
  await broker.stop();
});

function startKiosk(): { proc: ChildProcess; exited: Promise<number | null>; log: () => string } {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'run', '--config', configFile, '--events', 'none', '--headless'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, log: () => log };
}

let seq = 0;
async function ask(command: string, body: Record<string, unknown> | string = {}): Promise<Record<string, unknown>> {
  const transaction = `t${++seq}`;
  const payload = typeof body === 'string' ? body : JSON.stringify({ ...body, transaction });
  await op.client.publishAsync(`${P}/request/${command}`, payload, { qos: 1 });
  const match = (m: { topic: string; json: unknown }) =>
    m.topic === `${P}/response/${command}` && (typeof body === 'string' ? (m.json as { transaction?: unknown }).transaction === undefined : (m.json as { transaction?: unknown }).transaction === transaction);
  const r = await waitFor(() => op.messages.find(match), 60_000, `the response to ${command}`);
  op.messages.splice(op.messages.indexOf(r), 1);
  return r.json as Record<string, unknown>;
}

test('a real kiosk: health, malformed request, pause (faces go to 0, frames go on), options, restart with state kept', async () => {
  let k = startKiosk();
  try {
    await waitFor(() => op.last(`${P}/detection`), 120_000, 'the kiosk\'s retained detection state');
    // healthy once frames flow
    const healthy = await waitFor(async () => {
      const h = await ask('health_check');
      return h.status === 'ok' && (h.data as { healthy: boolean }).healthy ? h : null;
    }, 120_000, 'a healthy health_check');
    const hd = healthy.data as { fps: number; model: { name: string }; detectionEnabled: boolean; broker: { connected: boolean } };
    assert.ok(hd.fps > 0);
    assert.equal(hd.detectionEnabled, true);
    assert.equal(hd.broker.connected, true);
    assert.equal(hd.model.name, 'deep_emotion');

    const bad = await ask('health_check', '{"transaction": ');
    assert.equal(bad.status, 'error');
    assert.match(String(bad.error), /not JSON/);
    const unknown = await ask('format_disk', {});
    assert.match(String(unknown.error), /unknown command/);
    assert.equal((await ask('health_check')).status, 'ok', 'still running after malformed requests');

    // faces are in view on Megamind; paused, they leave and none come back while frames go on
    await waitFor(async () => ((await ask('health_check')).data as { faces: number }).faces > 0, 60_000, 'a face in view');

    // a snapshot: one JPEG (not retained) on <prefix>/<device>/snapshot, at most 640 px wide
    const snaps: { payload: Buffer; retain: boolean }[] = [];
    op.client.on('message', (topic, payload, packet) => {
      if (topic === `${P}/snapshot`) snaps.push({ payload, retain: packet.retain });
    });
    const snap = await ask('snapshot', {});
    assert.equal(snap.status, 'ok', JSON.stringify(snap));
    assert.equal((snap.data as { facesBlurred: boolean }).facesBlurred, true);
    await waitFor(() => snaps.length > 0, 10_000, 'the snapshot image');
    const jpeg = snaps[0]!.payload;
    assert.equal(snaps[0]!.retain, false);
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
    assert.equal(jpeg.length, (snap.data as { bytes: number }).bytes);
    const width = jpegWidth(jpeg);
    assert.ok(width > 0 && width <= 640, `width ${width}`);
    assert.equal((await ask('detection', { enabled: false })).status, 'ok');
    await waitFor(() => (op.last(`${P}/detection`)?.json as { enabled?: boolean }).enabled === false, 10_000, 'retained detection off');
    const paused = await waitFor(async () => {
      const d = (await ask('health_check')).data as { faces: number; fps: number; healthy: boolean; detectionEnabled: boolean };
      return d.faces === 0 ? d : null;
    }, 60_000, 'no faces while paused');
    assert.equal(paused.detectionEnabled, false);
    assert.equal(paused.healthy, true, 'capture goes on while paused');

    const set = await ask('options', { set: { 'tracking.minDwellMs': 650, 'detection.everyNthFrame': 2 } });
    assert.equal(set.status, 'ok', JSON.stringify(set));
    assert.deepEqual((set.data as { applied: string[] }).applied, ['tracking.minDwellMs']);
    assert.deepEqual((set.data as { restartRequired: string[] }).restartRequired, ['detection.everyNthFrame']);
    const refused = await ask('options', { set: { 'mqtt.broker': 'mqtt://10.0.0.1:1883' } });
    assert.match(String(refused.error), /mqtt\.broker cannot be changed remotely/);

    const r = await ask('restart', {});
    assert.equal(r.status, 'ok');
    assert.equal(await k.exited, 75, k.log());
  } finally {
    if (k.proc.exitCode === null) k.proc.kill('SIGKILL');
  }
  // what systemd does: start it again; detection is still paused, the options are still set
  op.messages.length = 0;
  k = startKiosk();
  try {
    await waitFor(() => op.last(`${P}/detection`), 120_000, 'the restarted kiosk\'s detection state');
    const h = await ask('health_check');
    assert.equal((h.data as { detectionEnabled: boolean }).detectionEnabled, false, 'still paused after the restart');
    const g = await ask('options', { get: ['tracking.minDwellMs', 'detection.everyNthFrame'] });
    assert.deepEqual((g.data as { values: unknown }).values, { 'tracking.minDwellMs': 650, 'detection.everyNthFrame': 2 });
    assert.equal((await ask('detection', { enabled: true })).status, 'ok');
    await waitFor(async () => ((await ask('health_check')).data as { faces: number }).faces > 0, 60_000, 'faces again after resuming');
    k.proc.kill('SIGTERM');
    assert.equal(await k.exited, 0, k.log());
  } finally {
    if (k.proc.exitCode === null) k.proc.kill('SIGKILL');
  }
});

/** The width in a JPEG's SOF0/SOF2 header. */
function jpegWidth(b: Buffer): number {
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) return -1;
    const marker = b[i + 1]!;
    const len = b.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) return b.readUInt16BE(i + 7);
    i += 2 + len;
  }
  return -1;
}
