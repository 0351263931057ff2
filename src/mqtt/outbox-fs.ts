/**
 * The outbox's file-system seam: every call the outbox (and its lock) makes to the disk goes through this interface, so
 * a test can replace it with an in-memory model that fails, shortens or "loses power" at any call
 * (src/mqtt/outbox-memfs.ts, test/mqtt/outbox.crash.test.ts). `nodeFs` is the real one.
 *
 * Handles are plain numbers. `write` returns the bytes written, which may be fewer than asked (a full disk, a file-size
 * limit): the caller must treat that as a failure.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import fs from 'node:fs';

/** append: O_APPEND|O_CREAT; write: O_TRUNC|O_CREAT; create-exclusive: O_APPEND|O_CREAT|O_EXCL (every write lands at
 * the end, also after an ftruncate: a positional fd would leave a hole of zeros there); read: O_RDONLY. */
export type OpenMode = 'append' | 'write' | 'create-exclusive' | 'read';

export interface OutboxFs {
  mkdirp(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  /** The whole file; throws ENOENT (code) when it does not exist. */
  readFile(file: string): Promise<Buffer>;
  open(file: string, mode: OpenMode): Promise<number>;
  /** Writes `data` at the end (append mode) or at the current position; returns the bytes written. */
  write(fd: number, data: Buffer): Promise<number>;
  datasync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** A symbolic link: created atomically with its target text, fails with EEXIST (the lock; see outbox-lock.ts). */
  symlink(target: string, file: string): Promise<void>;
  readlink(file: string): Promise<string>;
  unlink(file: string): Promise<void>;
  /** fsync of a directory: makes creations, renames and deletions in it durable. */
  fsyncDir(dir: string): Promise<void>;
}

const FLAGS: Record<OpenMode, number> = {
  append: fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND,
  write: fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC,
  'create-exclusive': fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_APPEND,
  read: fsc.O_RDONLY,
};

function promisify<T>(f: (cb: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));
}

/** The real file system (node:fs, fd-based: one `write(2)` per call, so a short write is seen as one). */
export const nodeFs: OutboxFs = {
  async mkdirp(dir) {
    await fsp.mkdir(dir, { recursive: true });
  },
  readdir: (dir) => fsp.readdir(dir),
  readFile: (file) => fsp.readFile(file),
  open: (file, mode) => promisify<number>((cb) => fs.open(file, FLAGS[mode], 0o644, cb)),
  write: (fd, data) => promisify<number>((cb) => fs.write(fd, data, 0, data.length, null, cb)),
  datasync: (fd) => promisify<void>((cb) => fs.fdatasync(fd, cb)),
  ftruncate: (fd, length) => promisify<void>((cb) => fs.ftruncate(fd, length, cb)),
  close: (fd) => promisify<void>((cb) => fs.close(fd, cb)),
  rename: (from, to) => fsp.rename(from, to),
  symlink: (target, file) => fsp.symlink(target, file),
  readlink: (file) => fsp.readlink(file),
  unlink: (file) => fsp.unlink(file),
  async fsyncDir(dir) {
    let fd: number;
    try {
      fd = await promisify<number>((cb) => fs.open(dir, fsc.O_RDONLY, cb));
    } catch {
      return; // not every platform opens directories; the files themselves are fsync'd
    }
    try {
      await promisify<void>((cb) => fs.fsync(fd, cb));
    } catch (err) {
      // EINVAL/ENOTSUP: a file system without directory fsync; anything else (EIO) is a real failure
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw err;
    } finally {
      await promisify<void>((cb) => fs.close(fd, cb)).catch(() => {});
    }
  },
};

/** An Error with an errno-style code, as node:fs throws them. */
export function fsError(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${message}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}
