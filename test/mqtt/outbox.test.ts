import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../src/mqtt/outbox.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';
import { tempDir } from './helpers/mosquitto.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = tempDir('outbox');
  dirs.push(d);
  return d;
}
const open = (d: string, extra: Partial<Parameters<typeof Outbox.open>[0]> = {}) =>
  Outbox.open({ dir: d, maxEvents: 1000, maxAgeMs: 3_600_000, logger: silentLogger, ...extra });

test('append is durable before it resolves; records survive a reopen in order; acked ones do not', async () => {
  const d = dir();
  const box = await open(d);
  const recs = await Promise.all(Array.from({ length: 10 }, (_, i) => box.append('t/events', (seq) => JSON.stringify({ seq, i }))));
  assert.deepEqual(recs.map((r) => r.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // on disk already, before close
  const seg = readdirSync(d).find((n) => n.startsWith('seg-'))!;
  assert.equal(readFileSync(path.join(d, seg), 'utf8').trim().split('\n').length, 10);
  for (const s of [0, 1, 2]) box.ack(s);
  box.ack(5); // out of order: held until 3 and 4 are acked
  assert.equal(box.size, 7);
  await box.close();

  const again = await open(d);
  assert.equal(again.size, 7);
  assert.deepEqual(again.from(0, 100).map((r) => r.seq), [3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(JSON.parse(again.from(3, 1)[0]!.payload), { seq: 3, i: 3 });
  assert.equal(again.nextSeq, 10);
  const next = await again.append('t/events', (seq) => String(seq));
  assert.equal(next.seq, 10);
  await again.close();
});

test('sequence numbers continue after everything was acknowledged and old segments are deleted', async () => {
  const d = dir();
  const box = await open(d, { segmentBytes: 200 });
  for (let i = 0; i < 30; i++) await box.append('t', () => 'x'.repeat(50));
  assert.ok(readdirSync(d).filter((n) => n.startsWith('seg-')).length > 5);
  for (let i = 0; i < 30; i++) box.ack(i);
  await box.close();
  assert.equal(readdirSync(d).filter((n) => n.startsWith('seg-')).length, 1, 'only the newest segment stays');
  const again = await open(d);
  assert.equal(again.size, 0);
  assert.equal(again.nextSeq, 30);
  await again.close();
});

test('a torn last line (power cut mid-write) is ignored with a warning; the records before it are kept', async () => {
  const d = dir();
  const box = await open(d);
  for (let i = 0; i < 3; i++) await box.append('t', () => `p${i}`);
  await box.close();
  const seg = path.join(d, readdirSync(d).find((n) => n.startsWith('seg-'))!);
  appendFileSync(seg, '{"s":3,"t":1,"topic":"t","p":"half');
  const lines: string[] = [];
  const again = await open(d, { logger: createLogger('warn', '', (l) => lines.push(l)) });
  assert.equal(again.size, 3);
  assert.equal(again.nextSeq, 3);
  assert.ok(lines.some((l) => l.includes('ends with an unfinished record') && l.includes('ignored')), lines.join('\n'));
  await again.append('t', () => 'p3');
  await again.close();
  const third = await open(d);
  assert.deepEqual(third.from(0, 10).map((r) => r.payload), ['p0', 'p1', 'p2', 'p3']);
  await third.close();
});

test('the size bound drops the oldest events with a clear log line', async () => {
  const lines: string[] = [];
  const box = await open(dir(), { maxEvents: 5, logger: createLogger('warn', '', (l) => lines.push(l)) });
  for (let i = 0; i < 8; i++) await box.append('t', () => `p${i}`);
  assert.equal(box.size, 5);
  assert.equal(box.dropped, 3);
  assert.deepEqual(box.from(0, 10).map((r) => r.seq), [3, 4, 5, 6, 7]);
  assert.ok(lines.some((l) => /DROPPED 1 unsent event\(s\).*over the limit of 5 \(mqtt\.outbox\.maxEvents\)/.test(l)), lines.join('\n'));
  await box.close();
});

test('the age bound drops events older than maxAge at open', async () => {
  const d = dir();
  let now = 1_000_000;
  const box = await open(d, { now: () => now });
  for (let i = 0; i < 4; i++) {
    await box.append('t', () => `p${i}`);
    now += 1000;
  }
  await box.close();
  const lines: string[] = [];
  now = 1_000_000 + 3_600_000 + 1500; // p0 and p1 are now older than an hour
  const again = await open(d, { now: () => now, logger: createLogger('warn', '', (l) => lines.push(l)) });
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['p2', 'p3']);
  assert.ok(lines.some((l) => l.includes('DROPPED 2') && l.includes('mqtt.outbox.maxAgeHours')), lines.join('\n'));
  await again.close();
});

test('an unwritable outbox folder is reported with the config key to change', async () => {
  const d = dir();
  writeFileSync(path.join(d, 'file'), '');
  await assert.rejects(open(path.join(d, 'file', 'outbox')), /outbox: cannot create .* \(set mqtt\.outbox\.dir to a writable folder\)/);
});

test('in-memory mode (durable: false) writes nothing', async () => {
  const d = dir();
  const box = await open(path.join(d, 'never'), { durable: false });
  await box.append('t', () => 'x');
  assert.equal(box.size, 1);
  await box.close();
  assert.deepEqual(readdirSync(d), []);
});

test('an outbox written before framing (plain JSON lines) is read after an upgrade in place; new records are framed', async () => {
  const d = dir();
  const line = (s: number) => JSON.stringify({ s, t: Date.now(), topic: 'ek/x/events', p: `old${s}` }) + '\n';
  writeFileSync(path.join(d, 'seg-000000000000.log'), [0, 1, 2].map(line).join(''));
  writeFileSync(path.join(d, 'seg-000000000003.log'), [3, 4].map(line).join(''));
  writeFileSync(path.join(d, 'ack.json'), JSON.stringify({ acked: 1 }) + '\n');
  const box = await open(d);
  assert.deepEqual(box.from(0, 10).map((r) => r.payload), ['old2', 'old3', 'old4']);
  const rec = await box.append('ek/x/events', (s) => `new${s}`);
  assert.equal(rec.seq, 5);
  await box.close();
  const newest = readFileSync(path.join(d, 'seg-000000000005.log'), 'utf8');
  assert.match(newest, /^\d+ [0-9a-f]{8} \{"s":5,/, 'a framed line: <length> <crc32> <json>');
  const again = await open(d);
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['old2', 'old3', 'old4', 'new5']);
  for (const r of again.from(0, 10)) again.ack(r.seq);
  await again.close();
  assert.deepEqual(readdirSync(d).filter((n) => n.startsWith('seg-')), ['seg-000000000005.log'], 'the old segments go once acknowledged');
});
