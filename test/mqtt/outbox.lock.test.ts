/** The outbox directory lock's staleness rules, with simulated processes on the in-memory disk. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemFs } from '../../src/mqtt/outbox-memfs.js';
import { OutboxLock, OutboxLockedError, type LockEnv, type LockHolder } from '../../src/mqtt/outbox-lock.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';

const DIR = '/var/lib/emotion-kiosk/outbox';
/** A world of running processes (pid -> start time) on one boot; `me` is the one asking. */
function env(me: LockHolder, running: Record<number, string>): LockEnv {
  return { self: me, probe: (pid) => (running[pid] !== undefined ? { pid, boot: me.boot, start: running[pid]! } : null) };
}

async function held(fs: MemFs, holder: LockHolder): Promise<OutboxLock> {
  await fs.mkdirp(DIR);
  return OutboxLock.acquire(fs, DIR, env(holder, { [holder.pid]: holder.start! }), silentLogger);
}

test('lock: a live holder (same boot, same pid, same start time) refuses the second process with its pid', async () => {
  const fs = new MemFs();
  await held(fs, { pid: 812, boot: 'b1', start: '5000' });
  await assert.rejects(OutboxLock.acquire(fs, DIR, env({ pid: 900, boot: 'b1', start: '9000' }, { 812: '5000', 900: '9000' }), silentLogger), (e: Error) => {
    assert.ok(e instanceof OutboxLockedError);
    assert.equal(e.message, `outbox ${DIR} is in use by pid 812 (is the emotion-kiosk service running? stop it first or use another mqtt.outbox.dir)`);
    return true;
  });
  await assert.rejects(OutboxLock.check(fs, DIR, env({ pid: 900, boot: 'b1', start: '9000' }, { 812: '5000' })), OutboxLockedError);
});

test('lock: stale when the holder is gone, when its pid was reused by a later process, or when it is from an earlier boot', async () => {
  const cases: Array<[string, LockEnv]> = [
    ['no such process', env({ pid: 900, boot: 'b1', start: '9000' }, {})],
    ['pid reused (another start time)', env({ pid: 900, boot: 'b1', start: '9000' }, { 812: '7777' })],
    // after a power cut the service often gets the same pid again: another boot id says the lock is not its own
    ['earlier boot, same pid now running', env({ pid: 812, boot: 'b2', start: '5000' }, { 812: '5000' })],
  ];
  for (const [what, e] of cases) {
    const fs = new MemFs();
    await held(fs, { pid: 812, boot: 'b1', start: '5000' });
    fs.powerLoss('all');
    const lines: string[] = [];
    const lock = await OutboxLock.acquire(fs, DIR, e, createLogger('warn', '', (l) => lines.push(l)));
    assert.ok(lines.some((l) => /removed the stale lock of pid 812/.test(l)), `${what}: ${lines.join('\n')}`);
    assert.deepEqual(fs.list(DIR), ['lock'], `${what}: nothing left beside the new lock`);
    assert.equal(await fs.readlink(`${DIR}/lock`), `${e.self.pid}:${e.self.boot}:${e.self.start}`);
    await lock.release();
    assert.deepEqual(fs.list(DIR), []);
  }
});

test('lock: release leaves a lock that is no longer ours alone', async () => {
  const fs = new MemFs();
  const mine = await held(fs, { pid: 812, boot: 'b1', start: '5000' });
  await fs.unlink(`${DIR}/lock`);
  await fs.symlink('900:b1:9000', `${DIR}/lock`);
  await mine.release();
  assert.equal(await fs.readlink(`${DIR}/lock`), '900:b1:9000');
});
