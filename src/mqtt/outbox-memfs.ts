/**
 * An in-memory model of a disk with a page cache, behind the outbox's file-system seam, and a fault layer over any
 * seam: for the crash-point harness (test/mqtt/outbox.crash.test.ts). Not used by the kiosk itself.
 *
 * The model: every file has the bytes a reader sees (the page cache) and the bytes on the medium (what `datasync`
 * last made durable). Every directory has its entries as seen and the entries on the medium (what its last
 * `fsyncDir` made durable); creations, renames and deletions in between are kept in order. `powerLoss` decides what
 * survives a power cut:
 *   'none'    nothing that was not synced: files go back to their synced bytes, directories to their synced entries;
 *   'prefix'  a prefix of what was not synced: half of each file's unsynced tail (a torn record), and the first half
 *             of each directory's unsynced operations (a journal commits them in order);
 *   'all'     everything written (the process was killed, the kernel wrote its page cache later).
 */
import path from 'node:path';
import { fsError, type OpenMode, type OutboxFs } from './outbox-fs.js';

export type Survival = 'none' | 'prefix' | 'all';

interface Inode {
  data: Buffer;
  synced: Buffer;
  /** A symbolic link's target (created with it, durable with its directory entry). */
  link?: string;
}
/** One journalled directory change (a rename is one: its new name and the removal of the old). */
type DirOp = { set?: { name: string; inode: Inode }; del?: string };
interface Dir {
  entries: Map<string, Inode>;
  durable: Map<string, Inode>;
  unsynced: DirOp[];
}
interface Handle {
  inode: Inode;
  mode: OpenMode;
  pos: number;
}

function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class MemFs implements OutboxFs {
  private readonly dirs = new Map<string, Dir>();
  private readonly handles = new Map<number, Handle>();
  private nextFd = 3;

  private dir(d: string, create = false): Dir {
    const key = path.resolve(d);
    let dir = this.dirs.get(key);
    if (!dir && create) {
      dir = { entries: new Map(), durable: new Map(), unsynced: [] };
      this.dirs.set(key, dir);
    }
    if (!dir) throw fsError('ENOENT', `no such directory ${d}`);
    return dir;
  }
  private split(file: string): { dir: Dir; name: string } {
    return { dir: this.dir(path.dirname(file)), name: path.basename(file) };
  }
  private setEntry(dir: Dir, name: string, inode: Inode | null): void {
    if (inode) dir.entries.set(name, inode);
    else dir.entries.delete(name);
    dir.unsynced.push(inode ? { set: { name, inode } } : { del: name });
  }
  private handle(fd: number): Handle {
    const h = this.handles.get(fd);
    if (!h) throw fsError('EBADF', `bad file descriptor ${fd}`);
    return h;
  }

  async mkdirp(d: string): Promise<void> {
    this.dir(d, true); // directories themselves are durable at once (the outbox's parent exists before the kiosk runs)
  }
  async readdir(d: string): Promise<string[]> {
    return [...this.dir(d).entries.keys()];
  }
  async readFile(file: string): Promise<Buffer> {
    const { dir, name } = this.split(file);
    const inode = dir.entries.get(name);
    if (!inode || inode.link !== undefined) throw fsError('ENOENT', `no such file ${file}`);
    return Buffer.from(inode.data);
  }
  async open(file: string, mode: OpenMode): Promise<number> {
    const { dir, name } = this.split(file);
    let inode = dir.entries.get(name);
    if (inode && mode === 'create-exclusive') throw fsError('EEXIST', `file exists ${file}`);
    if (!inode) {
      if (mode === 'read') throw fsError('ENOENT', `no such file ${file}`);
      inode = { data: Buffer.alloc(0), synced: Buffer.alloc(0) };
      this.setEntry(dir, name, inode);
    } else if (mode === 'write') inode.data = Buffer.alloc(0);
    const fd = this.nextFd++;
    this.handles.set(fd, { inode, mode, pos: 0 });
    return fd;
  }
  async write(fd: number, data: Buffer): Promise<number> {
    const h = this.handle(fd);
    if (h.mode === 'read') throw fsError('EBADF', 'not open for writing');
    const at = h.mode === 'append' || h.mode === 'create-exclusive' ? h.inode.data.length : h.pos;
    const before = h.inode.data.length >= at ? h.inode.data.subarray(0, at) : Buffer.concat([h.inode.data, Buffer.alloc(at - h.inode.data.length)]);
    const after = h.inode.data.subarray(Math.min(h.inode.data.length, at + data.length));
    h.inode.data = Buffer.concat([before, data, after]);
    h.pos = at + data.length;
    return data.length;
  }
  async datasync(fd: number): Promise<void> {
    const h = this.handle(fd);
    h.inode.synced = Buffer.from(h.inode.data);
  }
  async ftruncate(fd: number, length: number): Promise<void> {
    const h = this.handle(fd);
    const d = h.inode.data;
    h.inode.data = length <= d.length ? Buffer.from(d.subarray(0, length)) : Buffer.concat([d, Buffer.alloc(length - d.length)]);
  }
  async close(fd: number): Promise<void> {
    this.handle(fd);
    this.handles.delete(fd);
  }
  async rename(from: string, to: string): Promise<void> {
    const a = this.split(from);
    const b = this.split(to);
    const inode = a.dir.entries.get(a.name);
    if (!inode) throw fsError('ENOENT', `no such file ${from}`);
    if (a.dir !== b.dir) throw fsError('EXDEV', 'rename across directories is not modelled');
    // one atomic operation in the journal: the new name and the removal of the old one
    a.dir.entries.delete(a.name);
    a.dir.entries.set(b.name, inode);
    a.dir.unsynced.push({ set: { name: b.name, inode }, del: a.name });
  }
  async symlink(target: string, file: string): Promise<void> {
    const { dir, name } = this.split(file);
    if (dir.entries.has(name)) throw fsError('EEXIST', `file exists ${file}`);
    this.setEntry(dir, name, { data: Buffer.alloc(0), synced: Buffer.alloc(0), link: target });
  }
  async readlink(file: string): Promise<string> {
    const { dir, name } = this.split(file);
    const inode = dir.entries.get(name);
    if (!inode) throw fsError('ENOENT', `no such file ${file}`);
    if (inode.link === undefined) throw fsError('EINVAL', `not a symbolic link ${file}`);
    return inode.link;
  }
  async unlink(file: string): Promise<void> {
    const { dir, name } = this.split(file);
    if (!dir.entries.has(name)) throw fsError('ENOENT', `no such file ${file}`);
    this.setEntry(dir, name, null);
  }
  async fsyncDir(d: string): Promise<void> {
    const dir = this.dir(d);
    dir.durable = new Map(dir.entries);
    dir.unsynced = [];
  }

  /** The power goes: what survives is decided by `survival` (see the file comment); every handle is gone. */
  powerLoss(survival: Survival): void {
    this.handles.clear();
    const inodes = new Set<Inode>();
    for (const dir of this.dirs.values()) {
      if (survival === 'all') dir.durable = new Map(dir.entries);
      else if (survival === 'prefix') {
        for (const op of dir.unsynced.slice(0, Math.floor(dir.unsynced.length / 2))) {
          if (op.del !== undefined) dir.durable.delete(op.del);
          if (op.set) dir.durable.set(op.set.name, op.set.inode);
        }
      }
      dir.entries = new Map(dir.durable);
      dir.unsynced = [];
      for (const inode of dir.entries.values()) inodes.add(inode);
    }
    for (const inode of inodes) {
      if (survival === 'all') inode.synced = Buffer.from(inode.data);
      else if (survival === 'prefix') {
        const keep = commonPrefix(inode.synced, inode.data);
        const extra = Math.floor((inode.data.length - keep) / 2);
        inode.synced = Buffer.from(inode.data.subarray(0, keep + extra));
      }
      inode.data = Buffer.from(inode.synced);
    }
  }

  /** Test helpers: a file's bytes as seen, a directory's names. */
  peek(file: string): Buffer | undefined {
    const { dir, name } = this.split(file);
    return dir.entries.get(name)?.data;
  }
  poke(file: string, data: Buffer): void {
    const { dir, name } = this.split(file);
    const inode = dir.entries.get(name) ?? { data: Buffer.alloc(0), synced: Buffer.alloc(0) };
    inode.data = Buffer.from(data);
    inode.synced = Buffer.from(data);
    dir.entries.set(name, inode);
    dir.durable.set(name, inode);
  }
  list(d: string): string[] {
    return [...this.dir(d).entries.keys()].sort();
  }
}

export type FaultKind = 'eio' | 'enospc' | 'short' | 'power-none' | 'power-prefix' | 'kill';
export const FAULT_KINDS: readonly FaultKind[] = ['eio', 'enospc', 'short', 'power-none', 'power-prefix', 'kill'];

type Method = keyof OutboxFs;
const METHODS: Method[] = ['mkdirp', 'readdir', 'readFile', 'open', 'write', 'datasync', 'ftruncate', 'close', 'rename', 'symlink', 'readlink', 'unlink', 'fsyncDir'];

/**
 * Counts every call through `inner` and, at call number `at` (0-based), injects `kind`:
 *   eio / enospc   that call fails with the error (nothing happens), later calls work;
 *   short          that call, a write, writes only half its bytes (and says so);
 *   power-*, kill  the process dies before the call: `inner` (a MemFs) loses power with the matching survival, and
 *                  this call and every later one never settle (a dead process runs no more code). `died` resolves.
 * `calls` and `log` tell what was called, for choosing crash points.
 */
export class FaultFs implements OutboxFs {
  calls = 0;
  readonly log: string[] = [];
  dead = false;
  private onDeath: () => void = () => {};
  readonly died = new Promise<void>((r) => (this.onDeath = r));
  fault: { at: number; kind: FaultKind } | null = null;
  /** A fault that stays until cleared: every write fails with ENOSPC (a full disk). */
  diskFull = false;

  constructor(private readonly inner: MemFs) {
    for (const m of METHODS) {
      const orig = (inner[m] as (...a: unknown[]) => Promise<unknown>).bind(inner);
      (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => this.call(m, orig, args);
    }
  }

  private call(m: Method, orig: (...a: unknown[]) => Promise<unknown>, args: unknown[]): Promise<unknown> {
    if (this.dead) return new Promise(() => {});
    const k = this.calls++;
    this.log.push(`${k} ${m} ${typeof args[0] === 'string' ? path.basename(args[0]) : String(args[0])}`);
    if (this.diskFull && m === 'write') return Promise.reject(fsError('ENOSPC', 'no space left on device'));
    const f = this.fault;
    if (f && f.at === k) {
      switch (f.kind) {
        case 'eio':
          return Promise.reject(fsError('EIO', `i/o error (injected at call ${k}, ${m})`));
        case 'enospc':
          return Promise.reject(fsError('ENOSPC', `no space left on device (injected at call ${k}, ${m})`));
        case 'short':
          if (m === 'write') {
            const data = args[1] as Buffer;
            return orig(args[0], data.subarray(0, Math.floor(data.length / 2)));
          }
          break;
        default:
          this.dead = true;
          this.inner.powerLoss(f.kind === 'kill' ? 'all' : f.kind === 'power-prefix' ? 'prefix' : 'none');
          this.onDeath();
          return new Promise(() => {});
      }
    }
    return orig(...args);
  }
}
export interface FaultFs extends OutboxFs {}
