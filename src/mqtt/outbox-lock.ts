/**
 * One process per outbox directory: `<dir>/lock`, a symbolic link whose target names its holder,
 * `<pid>:<boot id>:<process start time>` (the way Emacs locks files).
 *
 * Why this and not flock or proper-lockfile: Node has no flock without a native addon, and proper-lockfile keeps a
 * lock alive by touching it every few seconds (a write to the SD card forever) and calls it stale after a timeout,
 * which a busy Pi can miss. A symlink is created atomically *with* its content and fails with EEXIST when it exists,
 * so there is never a lock without an owner in it; its short target lives in the inode (no data block), so it works on
 * a full disk too. It is left behind by kill -9 or a power cut, so a lock is stale when its holder is gone:
 *   - another boot id: the machine restarted (pids start over; after a power cut the service often gets the same pid);
 *   - no process with that pid;
 *   - a process with that pid but another start time (the pid was reused).
 * A stale lock is moved aside (rename: atomic) and checked to be the one judged stale before it is removed, so two
 * processes that both find it stale do not both win. On a file system without symlinks (FAT) the lock is a regular
 * file created with O_EXCL.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OutboxFs } from './outbox-fs.js';
import type { Logger } from '../util/index.js';

/** Who holds (or wants) the lock. `boot` and `start` are null where the OS does not tell. */
export interface LockHolder {
  pid: number;
  boot: string | null;
  start: string | null;
}

export interface LockEnv {
  self: LockHolder;
  /** The running process with this pid (its start time), or null when there is none. */
  probe(pid: number): LockHolder | null;
}

export class OutboxLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`outbox ${dir} is in use by pid ${pid} (is the emotion-kiosk service running? stop it first or use another mqtt.outbox.dir)`);
    this.name = 'OutboxLockedError';
  }
}

export const LOCK_NAME = 'lock';

const token = (h: LockHolder) => `${h.pid}:${h.boot ?? '-'}:${h.start ?? '-'}`;
function parseToken(t: string): LockHolder | null {
  const m = /^(\d+):([^:]*):([^:]*)$/.exec(t.trim());
  if (!m) return null;
  return { pid: Number(m[1]), boot: m[2] === '-' ? null : m[2]!, start: m[3] === '-' ? null : m[3]! };
}

function readProc(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot (the comm field may hold spaces: cut at ')'). */
function startTime(pid: number): string | null {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

/** This OS: boot id and start times from /proc (Linux); elsewhere only whether the pid runs. */
export function systemLockEnv(): LockEnv {
  const boot = readProc('/proc/sys/kernel/random/boot_id')?.trim().replace(/-/g, '').slice(0, 12) || null;
  return {
    self: { pid: process.pid, boot, start: startTime(process.pid) },
    probe(pid) {
      try {
        process.kill(pid, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null; // ESRCH: no such process
      }
      return { pid, boot, start: startTime(pid) };
    },
  };
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

export class OutboxLock {
  private constructor(
    private readonly fs: OutboxFs,
    private readonly file: string,
    private readonly mine: string,
  ) {}

  /** Takes the lock on `dir` or throws OutboxLockedError naming the live holder. */
  static async acquire(fs: OutboxFs, dir: string, env: LockEnv, logger: Logger): Promise<OutboxLock> {
    const file = path.join(dir, LOCK_NAME);
    const mine = token(env.self);
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await fs.symlink(mine, file);
      } catch (err) {
        if (code(err) === 'EEXIST') {
          await OutboxLock.judge(fs, dir, file, env, logger);
          continue;
        }
        if (code(err) === 'EPERM' || code(err) === 'ENOTSUP' || code(err) === 'EOPNOTSUPP' || code(err) === 'ENOSYS') {
          // no symlinks here (FAT): a regular file, created exclusively
          if (!(await OutboxLock.createFile(fs, file, mine))) {
            await OutboxLock.judge(fs, dir, file, env, logger);
            continue;
          }
        } else throw err;
      }
      try {
        await fs.fsyncDir(dir);
      } catch {
        /* the lock only has to outlive this process, not a power cut */
      }
      return new OutboxLock(fs, file, mine);
    }
    throw new Error(`outbox ${dir}: could not take the lock (${file} keeps changing)`);
  }

  /** Throws OutboxLockedError when a live process holds the lock on `dir` (takes nothing). */
  static async check(fs: OutboxFs, dir: string, env: LockEnv): Promise<void> {
    const seen = await readToken(fs, path.join(dir, LOCK_NAME)).catch(() => null);
    const holder = seen === null ? null : parseToken(seen);
    if (holder && !isStale(holder, env)) throw new OutboxLockedError(dir, holder.pid);
  }

  /** Releases the lock if it is still ours. */
  async release(): Promise<void> {
    if ((await readToken(this.fs, this.file)) !== this.mine) return;
    await this.fs.unlink(this.file).catch(() => {});
  }

  private static async createFile(fs: OutboxFs, file: string, mine: string): Promise<boolean> {
    let fd: number;
    try {
      fd = await fs.open(file, 'create-exclusive');
    } catch (err) {
      if (code(err) === 'EEXIST') return false;
      throw err;
    }
    try {
      await fs.write(fd, Buffer.from(mine + '\n'));
    } finally {
      await fs.close(fd);
    }
    return true;
  }

  /** The lock exists: throws if its holder lives, else removes it (if it is still the one judged). */
  private static async judge(fs: OutboxFs, dir: string, file: string, env: LockEnv, logger: Logger): Promise<void> {
    const seen = await readToken(fs, file);
    if (seen === null) return; // gone meanwhile: try again
    const holder = parseToken(seen);
    if (holder && !isStale(holder, env)) throw new OutboxLockedError(dir, holder.pid);
    const aside = path.join(dir, `${LOCK_NAME}.stale-${env.self.pid}`);
    try {
      await fs.rename(file, aside);
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      throw err;
    }
    const moved = await readToken(fs, aside);
    if (moved !== seen) {
      // another process took the stale lock between our look and our move: give it back
      if (moved !== null) await fs.symlink(moved, file).catch(() => {});
      await fs.unlink(aside).catch(() => {});
      return;
    }
    await fs.unlink(aside).catch(() => {});
    logger.warn(`outbox: removed the stale lock of ${holder ? `pid ${holder.pid}, which is not running any more (it was killed or the power went)` : `unreadable content ${JSON.stringify(seen)}`} in ${dir}`);
  }
}

function isStale(h: LockHolder, env: LockEnv): boolean {
  if (h.boot && env.self.boot && h.boot !== env.self.boot) return true;
  const now = env.probe(h.pid);
  if (!now) return true;
  return Boolean(h.start && now.start && h.start !== now.start);
}

async function readToken(fs: OutboxFs, file: string): Promise<string | null> {
  try {
    return await fs.readlink(file);
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    if (code(err) !== 'EINVAL') throw err;
  }
  try {
    return (await fs.readFile(file)).toString('utf8').trim(); // the regular-file lock
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    throw err;
  }
}
