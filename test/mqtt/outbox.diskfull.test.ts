/**
 * A full disk under the real kiosk sink (a 64 KiB tmpfs, so root only; skipped elsewhere): the sink keeps taking
 * events and still delivers them (without the outbox), logs once, counts them as outbox.unstored in stats, and stores
 * again once space returns.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createMqttSink } from '../../src/mqtt/index.js';
import { createLogger } from '../../src/util/logger.js';
import { Collector } from './helpers/collector.js';
import { faceEvent, kioskConfig, MODEL } from './helpers/fixtures.js';
import { Mosquitto, tempDir, waitFor } from './helpers/mosquitto.js';

function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const root = tempDir('outbox-full');
const mounted = process.platform === 'linux' && process.getuid?.() === 0 && mountTmpfs(root);

test('disk full: the kiosk keeps running and delivering, logs once, counts outbox.unstored, resumes storing when space returns', { skip: !mounted && 'needs root to mount a small tmpfs' }, async () => {
  const broker = await Mosquitto.start();
  const lines: string[] = [];
  const logger = createLogger('debug', '', (l) => lines.push(l));
  const sink = (await createMqttSink(kioskConfig({ broker: broker.url, deviceId: 'full', topicPrefix: 'ek', statsIntervalS: 1, homeAssistant: { enabled: false } }, root), { logger, model: MODEL }))!;
  const col = await Collector.connect(broker.url, ['ek/full/events', 'ek/full/stats']);
  const filler = path.join(root, 'filler');
  try {
    await sink.start!();
    await waitFor(() => sink.status().connected, 10_000, 'connected');
    await sink.onEvent(faceEvent(0));
    // fill the file system
    mkdirSync(path.join(root, 'x'), { recursive: true });
    try {
      writeFileSync(filler, Buffer.alloc(1 << 20));
    } catch {
      /* ENOSPC: as much as fits was written */
    }
    // the segment's last allocated page still takes a few records; then every write fails
    let sent = 1;
    while (sink.status().unstored < 20 && sent < 300) await sink.onEvent(faceEvent(sent++)); // never throws
    const unstored = sink.status().unstored;
    assert.equal(unstored, 20);
    assert.equal(lines.filter((l) => /cannot store events/.test(l)).length, 1, lines.join('\n'));
    await waitFor(() => col.on('ek/full/events').length >= sent, 10_000, 'every event delivered, stored or not');
    const stats = await waitFor(() => col.on('ek/full/stats').find((m) => (m.json as { outbox: { unstored: number } }).outbox.unstored === 20), 10_000, 'stats with outbox.unstored 20');
    assert.ok(stats);

    unlinkSync(filler); // space returns
    for (let i = 0; i < 5; i++) await sink.onEvent(faceEvent(sent++));
    assert.equal(sink.status().unstored, 20);
    assert.ok(lines.some((l) => /storing events again/.test(l) && /20 event\(s\) could not be stored/.test(l)), lines.join('\n'));
    await waitFor(() => col.on('ek/full/events').length >= sent, 10_000, 'all events delivered');
    const seqs = col.on('ek/full/events').map((m) => (m.json as { seq: number }).seq);
    assert.equal(seqs.filter((s) => s === -1).length, 20, 'the unstored ones were sent directly (seq -1)');
    assert.equal(seqs.filter((s) => s >= 0).length, sent - 20, 'the stored ones with their outbox seq');
    assert.deepEqual(seqs.slice(-5).map((s) => s >= 0), [true, true, true, true, true], 'stored again after space returned');
  } finally {
    rmSync(filler, { force: true });
    await sink.stop!().catch(() => {});
    await col.close();
    await broker.stop();
    execFileSync('umount', [root]);
    rmSync(root, { recursive: true, force: true });
  }
});

if (!mounted) rmSync(root, { recursive: true, force: true });
