/**
 * The outbox holds in memory only what is still to be sent: an acknowledged record (its payload, a kilobyte or two of
 * JSON) must not stay reachable. Observed with WeakRefs and a full garbage collection, not with a memory figure.
 */
import { rmSync } from 'node:fs';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Outbox } from '../../src/mqtt/outbox.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from './helpers/mosquitto.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function appendAll(box: Outbox, n: number): Promise<WeakRef<object>[]> {
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < n; i++) refs.push(new WeakRef(await box.append('t/events', (seq) => JSON.stringify({ seq, pad: 'x'.repeat(1500) }))));
  return refs;
}

const alive = (refs: WeakRef<object>[]) => refs.filter((r) => r.deref() !== undefined).length;

test('acknowledged records are not kept in memory (all acknowledged, and most of a backlog)', async () => {
  const d = tempDir('outbox-mem');
  dirs.push(d);
  const box = await Outbox.open({ dir: d, maxEvents: 10_000, maxAgeMs: 3_600_000, logger: silentLogger });
  try {
    // The steady state on a device: every event acknowledged shortly after it was stored.
    const first = await appendAll(box, 50);
    for (let s = 0; s < 50; s++) box.ack(s);
    assert.equal(box.size, 0);
    // A backlog after an outage, mostly sent: the acknowledged part is released (all but a few), the rest kept.
    const backlog = await appendAll(box, 600);
    for (let s = 50; s < 550; s++) box.ack(s);
    assert.equal(box.size, 100);
    await new Promise((r) => setImmediate(r));
    gc();
    assert.equal(alive(first), 0, 'acknowledged records still reachable from the outbox');
    // at most 63 acknowledged ones wait for the next compaction while records are pending (src/mqtt/outbox.ts compact)
    assert.ok(alive(backlog.slice(0, 500)) < 64, `${alive(backlog.slice(0, 500))} acknowledged records of a backlog still reachable from the outbox`);
    assert.equal(alive(backlog.slice(500)), 100);
    assert.deepEqual(box.from(0, 1000).map((r) => r.seq), Array.from({ length: 100 }, (_, i) => 550 + i));
  } finally {
    await box.close();
  }
});
