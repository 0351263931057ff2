/**
 * The outbox defects of issue 10, one test each (each failed on the code before the fix), on the real file system
 * where it can show them, else on the in-memory disk model behind the seam (src/mqtt/outbox-memfs.ts).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox, type OutboxOptions } from '../../src/mqtt/outbox.js';
import { FaultFs, MemFs } from '../../src/mqtt/outbox-memfs.js';
import type { LockEnv } from '../../src/mqtt/outbox-lock.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';
import { tempDir } from './helpers/mosquitto.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = tempDir('outbox-defect');
  dirs.push(d);
  return d;
}
let lives = 0;
/** On the in-memory disk, every open is a new process after a power cut (another boot): the old lock is stale. */
const newLife = (): LockEnv => ({ self: { pid: 1000 + ++lives, boot: `boot${lives}`, start: '1' }, probe: () => null });
const open = (d: string, extra: Partial<OutboxOptions> = {}) =>
  Outbox.open({ dir: d, maxEvents: 1000, maxAgeMs: 3_600_000, logger: silentLogger, ackFlushMs: 1, ...(extra.fs ? { lockEnv: newLife() } : {}), ...extra });
const seg = (n: number) => `seg-${String(n).padStart(12, '0')}.log`;
const legacyLine = (s: number, p = `p${s}`) => JSON.stringify({ s, t: Date.now(), topic: 't', p }) + '\n';
function capture(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', '', (l) => lines.push(l)), lines };
}

test('defect 1: an empty newest segment (power cut after rotate) is not registered twice, deleted while live, or its seqs reused', async () => {
  const d = dir();
  writeFileSync(path.join(d, seg(0)), [0, 1, 2, 3, 4].map((s) => legacyLine(s)).join(''));
  writeFileSync(path.join(d, seg(5)), '');
  writeFileSync(path.join(d, 'ack.json'), JSON.stringify({ acked: 4 }) + '\n');

  const box = await open(d);
  const first = await Promise.all([0, 1, 2].map(() => box.append('t', (s) => `a${s}`)));
  box.ack(first[0]!.seq);
  await box.flush(); // the ack pointer is written: acknowledged segments are deleted
  const second = await Promise.all([0, 1, 2].map(() => box.append('t', (s) => `b${s}`)));
  await box.close();

  const handedOut = [...first, ...second].map((r) => r.seq);
  assert.equal(new Set(handedOut).size, 6);
  assert.ok(readdirSync(d).some((n) => n.startsWith('seg-')), `a segment with unacknowledged events is left: ${readdirSync(d).join(' ')}`);
  const again = await open(d);
  assert.deepEqual(again.from(0, 100).map((r) => r.seq), handedOut.slice(1), 'every unacknowledged event is still pending');
  assert.ok(again.nextSeq > Math.max(...handedOut), `nextSeq ${again.nextSeq} is above every seq handed out (${handedOut.join(',')})`);
  await again.close();
});

test('defect 2: a short write is a failure, and the partial bytes are cut before the next write', async () => {
  const mem = new MemFs();
  const fs = new FaultFs(mem);
  const d = '/ob';
  const box = await open(d, { fs });
  await box.append('t', () => 'first');
  // the next write writes half of its bytes (a full disk, a file-size limit)
  fs.fault = { at: fs.calls, kind: 'short' };
  await assert.rejects(box.append('t', () => 'second'), /cannot write/);
  const third = await box.append('t', () => 'third');
  await box.close();
  mem.powerLoss('none');
  const again = await open(d, { fs: mem });
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['first', 'third'], 'the resolved appends are all there, nothing torn between them');
  assert.ok(again.nextSeq > third.seq);
  await again.close();
});

test('defect 2 on the real file system: under ulimit -f (SIGXFSZ ignored) every resolved append survives', { skip: process.platform !== 'linux' }, async () => {
  const d = dir();
  const child = `
    import { Outbox } from ${JSON.stringify(path.resolve('src/mqtt/outbox.ts'))};
    import { silentLogger } from ${JSON.stringify(path.resolve('src/util/logger.ts'))};
    const box = await Outbox.open({ dir: process.argv[1], maxEvents: 1e6, maxAgeMs: 1e12, logger: silentLogger });
    const ok = [];
    let failed = 0;
    for (let i = 0; i < 400; i++) {
      try { ok.push((await box.append('t', (s) => 'x'.repeat(50 + (i % 7) * 13) + s)).seq); } catch { failed++; }
    }
    process.stdout.write(JSON.stringify({ ok, failed }));
    process.exit(0);
  `;
  const out = await new Promise<string>((resolve, reject) => {
    // 8 KiB per file at most: the first segment fills up after ~100 records
    const p = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f 8; exec "$0" --import tsx --input-type=module -e "$1" "$2"`, process.execPath, child, d], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSX_DISABLE_CACHE: '1' } });
    let s = '';
    p.stdout.on('data', (b: Buffer) => (s += b.toString()));
    p.on('error', reject);
    p.on('close', () => resolve(s));
  });
  const { ok, failed } = JSON.parse(out) as { ok: number[]; failed: number };
  assert.ok(failed > 0, 'the file-size limit was hit');
  assert.ok(ok.length > 50);
  const again = await open(d);
  const pending = again.from(0, 1000).map((r) => r.seq);
  assert.deepEqual(pending.filter((s) => ok.includes(s)), ok, 'every resolved append is pending, in order');
  assert.ok(again.nextSeq > Math.max(...ok));
  await again.close();
});

test('defect 3: a corrupt record in the middle is skipped with a counted WARN; the fsync\'d records after it are kept', async () => {
  const d = dir();
  const box = await open(d);
  for (let i = 0; i < 6; i++) await box.append('t', () => `payload-${i}`);
  await box.close();
  const file = path.join(d, readdirSync(d).find((n) => n.startsWith('seg-'))!);
  const bytes = readFileSync(file);
  const lines = bytes.toString().split('\n');
  // a bad sector: record 2 has garbage in the middle, same length, newline intact
  const bad = lines[2]!.replace('payload-2', 'p\u0000yl\u0007d-2');
  lines[2] = bad;
  writeFileSync(file, lines.join('\n'));
  const log = capture();
  const again = await open(d, { logger: log.logger });
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['payload-0', 'payload-1', 'payload-3', 'payload-4', 'payload-5']);
  assert.ok(log.lines.some((l) => /WARN/.test(l) && /1 corrupt record/.test(l)), log.lines.join('\n'));
  await again.close();
});

test('defect 3: a damaged last record (fsync\'d, maybe published) keeps its seq: the next start hands out seqs above it', async () => {
  const d = dir();
  const box = await open(d);
  for (let i = 0; i < 4; i++) await box.append('t', () => `payload-${i}`);
  await box.close();
  const file = path.join(d, readdirSync(d).find((n) => n.startsWith('seg-'))!);
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[3] = lines[3]!.replace('payload-3', 'pXyloXd-3');
  writeFileSync(file, lines.join('\n'));
  const again = await open(d);
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['payload-0', 'payload-1', 'payload-2']);
  assert.ok(again.nextSeq > 3, `nextSeq ${again.nextSeq}: seq 3 may have been published already`);
  await again.close();
});

test('defect 3: a segment with nothing readable is set aside (renamed, not deleted) with a clear log line; seqs stay above it', async () => {
  const d = dir();
  const box = await open(d);
  for (let i = 0; i < 3; i++) await box.append('t', () => `p${i}`);
  await box.close();
  writeFileSync(path.join(d, seg(3)), Buffer.alloc(300, 0xff));
  const log = capture();
  const again = await open(d, { logger: log.logger });
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['p0', 'p1', 'p2']);
  assert.ok(again.nextSeq > 3, 'seqs the unreadable file may have held are not handed out again');
  const names = readdirSync(d);
  assert.ok(names.some((n) => n.startsWith(seg(3)) && n.includes('corrupt')), names.join(' '));
  assert.ok(!names.includes(seg(3)));
  assert.ok(log.lines.some((l) => /WARN/.test(l) && l.includes(seg(3)) && /set aside/.test(l)), log.lines.join('\n'));
  const next = await again.append('t', () => 'p-next');
  await again.close();
  const third = await open(d);
  assert.ok(third.nextSeq > next.seq);
  assert.deepEqual(third.from(0, 10).map((r) => r.payload), ['p0', 'p1', 'p2', 'p-next']);
  await third.close();
});

test('defect 4: a second process on the same outbox is refused with the pid of the first', async () => {
  const d = dir();
  const child = `
    import { Outbox } from ${JSON.stringify(path.resolve('src/mqtt/outbox.ts'))};
    import { silentLogger } from ${JSON.stringify(path.resolve('src/util/logger.ts'))};
    const box = await Outbox.open({ dir: process.argv[1], maxEvents: 1e6, maxAgeMs: 1e12, logger: silentLogger });
    await box.append('t', () => 'x');
    process.stdout.write('ready\\n');
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => box.close().then(() => process.exit(0)));
  `;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child, d], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      p.on('exit', (c) => reject(new Error(`child exited ${c}`)));
    });
    await assert.rejects(open(d), (err: Error) => {
      assert.equal(err.message, `outbox ${d} is in use by pid ${p.pid} (is the emotion-kiosk service running? stop it first or use another mqtt.outbox.dir)`);
      return true;
    });
    const seen = readdirSync(d).filter((n) => n.startsWith('seg-'));
    assert.equal(seen.length, 1, 'the refused process wrote nothing');
  } finally {
    p.stdin!.end();
    await new Promise((r) => p.on('close', r));
  }
  // released by close: a new process can open it
  const again = await open(d);
  assert.equal(again.size, 1);
  await again.close();
});

test('defect 4: a lock left by a process that died (kill -9, power cut) is taken over', async () => {
  const d = dir();
  const child = `
    import { Outbox } from ${JSON.stringify(path.resolve('src/mqtt/outbox.ts'))};
    import { silentLogger } from ${JSON.stringify(path.resolve('src/util/logger.ts'))};
    const box = await Outbox.open({ dir: process.argv[1], maxEvents: 1e6, maxAgeMs: 1e12, logger: silentLogger });
    await box.append('t', () => 'x');
    process.kill(process.pid, 'SIGKILL');
  `;
  await new Promise((r) => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child, d], { stdio: 'inherit' }).on('close', r));
  const log = capture();
  const again = await open(d, { logger: log.logger });
  assert.equal(again.size, 1);
  assert.ok(log.lines.some((l) => /stale lock/.test(l)), log.lines.join('\n'));
  await again.close();
});

test('defect 5: the ack pointer is durable once close() returns (temp + fsync + rename + directory fsync)', async () => {
  const mem = new MemFs();
  const box = await open('/ob', { fs: mem });
  const recs = await Promise.all([0, 1, 2, 3].map(() => box.append('t', (s) => `p${s}`)));
  for (const r of recs.slice(0, 3)) box.ack(r.seq);
  await box.close();
  mem.powerLoss('none');
  const again = await open('/ob', { fs: mem });
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['p3'], 'acknowledged events are not sent again after a power cut');
  await again.close();
});

test('defect 6: a full disk: appends fail, one log line, counted as unstored; storing resumes when space returns', async () => {
  const mem = new MemFs();
  const fs = new FaultFs(mem);
  const log = capture();
  const box = await open('/ob', { fs, logger: log.logger });
  await box.append('t', () => 'before');
  fs.diskFull = true;
  for (let i = 0; i < 5; i++) await assert.rejects(box.append('t', () => `lost${i}`), /no space left on device/i);
  assert.equal(box.unstored, 5);
  const complaints = log.lines.filter((l) => /cannot store/.test(l));
  assert.equal(complaints.length, 1, log.lines.join('\n'));
  assert.match(complaints[0]!, /ERROR|WARN/);
  fs.diskFull = false;
  await box.append('t', () => 'after');
  assert.ok(log.lines.some((l) => /storing events again/.test(l) && /5 event\(s\)/.test(l)), log.lines.join('\n'));
  assert.equal(box.unstored, 5);
  await box.close();
  mem.powerLoss('none');
  const again = await open('/ob', { fs: mem });
  assert.deepEqual(again.from(0, 10).map((r) => r.payload), ['before', 'after']);
  await again.close();
});
