/**
 * The durable outbox: every event is written to disk (and fsync'd) before it is published, and leaves only when the
 * broker acknowledged it (PUBACK, QoS 1). After a reconnect or a restart the rest is sent again, in order.
 *
 * Storage: append-only segment files plus an ack pointer, no native dependency. It suits SD cards: writes are few,
 * sequential and batched (every append that arrives while an fsync runs joins the next one: group commit).
 *   <dir>/seg-<first seq>.log   one framed line per record, `<length> <crc32> {"s":seq,"t":epochMs,"topic":...,"p":...}`
 *                               (outbox-frame.ts; plain JSON lines from before framing are still read)
 *   <dir>/ack.json              {"acked": n}: every record with seq <= n was acknowledged (written lazily, temp file +
 *                               fsync + rename + directory fsync: losing an update only re-sends acknowledged events,
 *                               which subscribers de-duplicate by eventId)
 *   <dir>/lock                  the process that has the outbox open (outbox-lock.ts): a second one is refused
 * Invariants (checked at every I/O step by test/mqtt/outbox.crash.test.ts):
 *   - an append resolves only after its bytes were written in full and datasync'd in a segment whose directory entry
 *     was fsync'd; a failed or short write is truncated away before anything else is written to that file (when even
 *     that fails, the file is left and the next write goes to a new segment);
 *   - a restart never hands out a seq that may have been handed out before: nextSeq is above ack.json, above every
 *     readable record, above every segment's name, and above the most records that unreadable bytes could have held;
 *   - a new segment is created for the first write after every start and is never registered twice; a segment is
 *     deleted only when every record in it is acknowledged and the ack pointer saying so is durable, never the newest.
 * Reading: a record that fails its length/CRC check is skipped (WARN, counted) and the records after it are kept; an
 * unfinished last record (a write cut short) is ignored; a segment with nothing readable in it is set aside as
 * `<name>.corrupt-<time>` (kept for inspection, not sent).
 * Disk full or failing: the append rejects (the caller sends the event without the outbox), the outbox logs once and
 * counts those events (`unstored`), and the next append tries again: storing resumes by itself when space returns.
 * Bounds (maxEvents, maxAgeMs) drop the oldest records with a warning that says how many and from when.
 * mqtt.js' own `outgoingStore` (e.g. mqtt-level-store) only keeps packets it has been handed while the client lives;
 * it has no size/age bound and loses messages published before the first connect, so it is not used for this.
 */
import path from 'node:path';
import type { Logger } from '../util/index.js';
import { nodeFs, fsError, type OutboxFs } from './outbox-fs.js';
import { frameRecord, looksTorn, MIN_RECORD_BYTES, parseLine } from './outbox-frame.js';
import { LOCK_NAME, OutboxLock, systemLockEnv, type LockEnv } from './outbox-lock.js';

export { OutboxLockedError } from './outbox-lock.js';

export interface OutboxRecord {
  seq: number;
  /** Epoch ms when it was stored. */
  storedAt: number;
  topic: string;
  payload: string;
}

export interface OutboxOptions {
  dir: string;
  maxEvents: number;
  maxAgeMs: number;
  logger: Logger;
  /** Start a new segment file above this size (bytes). */
  segmentBytes?: number;
  /** Write the ack pointer at most this often (ms). */
  ackFlushMs?: number;
  /** false: keep records in memory only (benchmark baseline; nothing survives a restart). */
  durable?: boolean;
  now?: () => number;
  /** The file-system seam (tests: an in-memory disk with faults). */
  fs?: OutboxFs;
  /** Who this process is and whether another one runs, for the directory lock (tests: simulated processes). */
  lockEnv?: LockEnv;
}

export class OutboxError extends Error {}

const SEG_RE = /^seg-(\d{12})\.log$/;
const ASIDE_RE = /^seg-(\d{12})\.log\.corrupt-\d+$/;
const ACK = 'ack.json';
const ACK_TMP = 'ack.json.tmp';
const segName = (seq: number) => `seg-${String(seq).padStart(12, '0')}.log`;

interface Segment {
  name: string;
  firstSeq: number;
  lastSeq: number;
}

export class Outbox {
  private readonly opts: Required<Omit<OutboxOptions, 'logger' | 'now' | 'fs' | 'lockEnv'>> & { logger: Logger; now: () => number };
  /** Unacknowledged records, ascending seq; entries before `head` are consumed. */
  private pending: OutboxRecord[] = [];
  private head = 0;
  /** Acks that arrived ahead of the oldest pending record. */
  private readonly ackedAhead = new Set<number>();
  private acked = -1;
  private persistedAcked = -1;
  private nextSeqValue = 0;
  private segments: Segment[] = [];
  private active: { fd: number; seg: Segment; bytes: number } | null = null;
  private readonly fs: OutboxFs;
  private lock: OutboxLock | null = null;
  private unstoredTotal = 0;
  /** Events not stored since the last successful write (null: writing works). */
  private failing: { count: number } | null = null;
  private ackFailing = false;
  private batch: { rec: OutboxRecord; resolve: (r: OutboxRecord) => void; reject: (e: Error) => void }[] = [];
  private writing: Promise<void> | null = null;
  private ackTimer: NodeJS.Timeout | null = null;
  private ackWrite: Promise<void> = Promise.resolve();
  private closed = false;
  private droppedTotal = 0;
  private readonly listeners = new Set<() => void>();

  private constructor(opts: OutboxOptions) {
    this.opts = {
      segmentBytes: 4 * 1024 * 1024,
      ackFlushMs: 250,
      durable: true,
      now: Date.now,
      ...opts,
    };
    this.fs = opts.fs ?? nodeFs;
  }

  /** Opens (creating if needed) the outbox in `dir` and loads what was not acknowledged before. */
  static async open(opts: OutboxOptions): Promise<Outbox> {
    const box = new Outbox(opts);
    if (box.opts.durable) {
      const dir = box.opts.dir;
      try {
        await box.fs.mkdirp(dir);
      } catch (err) {
        throw new OutboxError(`outbox: cannot create ${dir}: ${(err as Error).message} (set mqtt.outbox.dir to a writable folder)`);
      }
      box.lock = await OutboxLock.acquire(box.fs, dir, opts.lockEnv ?? systemLockEnv(), box.opts.logger);
      try {
        await box.load();
      } catch (err) {
        await box.lock.release().catch(() => {});
        throw err;
      }
    }
    box.enforceBounds();
    return box;
  }

  /** Throws OutboxLockedError when another running process has the outbox in `dir` open. */
  static async assertNotInUse(dir: string, fs: OutboxFs = nodeFs, env: LockEnv = systemLockEnv()): Promise<void> {
    await OutboxLock.check(fs, dir, env);
  }

  get dir(): string {
    return this.opts.dir;
  }
  get durable(): boolean {
    return this.opts.durable;
  }
  /** Records stored and not acknowledged yet. */
  get size(): number {
    return this.pending.length - this.head;
  }
  /** Records dropped by the bounds since open. */
  get dropped(): number {
    return this.droppedTotal;
  }
  /** Appends that could not be stored since open (disk full or failing): their promise rejected. */
  get unstored(): number {
    return this.unstoredTotal;
  }
  /** The seq the next append gets. */
  get nextSeq(): number {
    return this.nextSeqValue;
  }
  get ackedSeq(): number {
    return this.acked;
  }

  /** Called whenever new records become durable (the publisher's cue to send). */
  onAppend(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Stores one record; resolves once it is on disk (fsync'd). `build` gets the record's seq (so the payload can carry
   * it). Records become visible to `from()` only when durable, in seq order.
   */
  append(topic: string, build: (seq: number) => string): Promise<OutboxRecord> {
    if (this.closed) return Promise.reject(new OutboxError('outbox is closed'));
    const seq = this.nextSeqValue++;
    const rec: OutboxRecord = { seq, storedAt: this.opts.now(), topic, payload: build(seq) };
    return new Promise<OutboxRecord>((resolve, reject) => {
      this.batch.push({ rec, resolve, reject });
      this.kick();
    });
  }

  /** Up to `limit` pending records with seq >= `seq`, in order. */
  from(seq: number, limit: number): OutboxRecord[] {
    let lo = this.head;
    let hi = this.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pending[mid]!.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return this.pending.slice(lo, lo + limit);
  }

  /** The oldest pending record's seq, or nextSeq when none is pending. */
  firstPendingSeq(): number {
    return this.pending[this.head]?.seq ?? this.nextSeqValue;
  }

  /** Marks a record acknowledged by the broker. Unknown or already-acked seqs are ignored. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.ackedAhead.add(seq);
    let moved = false;
    while (this.head < this.pending.length && this.ackedAhead.has(this.pending[this.head]!.seq)) {
      const s = this.pending[this.head]!.seq;
      this.ackedAhead.delete(s);
      this.acked = s;
      this.head += 1;
      moved = true;
    }
    if (this.head === this.pending.length && this.ackedAhead.size > 0) this.ackedAhead.clear();
    if (moved) {
      this.compact();
      this.scheduleAckFlush();
    }
  }

  /** Waits for the writes under way and writes the ack pointer now (it is otherwise written at most every ackFlushMs). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    await this.flushAck();
  }

  /** Waits for pending writes, writes the ack pointer, closes the files, releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing) await this.writing;
    this.closed = true;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    try {
      await this.flushAck();
    } catch {
      // logged by flushAck; the acknowledged events are sent again after the next start (subscribers de-duplicate)
    } finally {
      if (this.failing) {
        this.opts.logger.warn(`outbox: ${this.unstoredTotal} event(s) could not be stored in ${this.opts.dir} since start`);
      }
      if (this.active) await this.fs.close(this.active.fd).catch(() => {});
      this.active = null;
      await this.lock?.release().catch(() => {});
      this.lock = null;
    }
  }

  // ---- internals ----

  /** Starts the write loop unless it runs; appends that arrive while it finishes start it again. */
  private kick(): void {
    if (this.writing || this.batch.length === 0) return;
    this.writing = this.writeLoop().finally(() => {
      this.writing = null;
      this.kick();
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.batch.length > 0) {
      const batch = this.batch;
      this.batch = [];
      try {
        if (this.opts.durable) await this.writeBatch(batch.map((b) => b.rec));
      } catch (err) {
        this.storeFailed(batch.length, err as Error);
        const e = new OutboxError(`outbox: cannot write to ${this.opts.dir}: ${(err as Error).message}`);
        for (const b of batch) b.reject(e);
        continue;
      }
      if (this.failing) {
        this.opts.logger.info(
          `outbox: storing events again in ${this.opts.dir} (${this.failing.count} event(s) could not be stored meanwhile; ${this.unstoredTotal} since start)`,
        );
        this.failing = null;
      }
      for (const b of batch) this.pending.push(b.rec);
      this.enforceBounds();
      for (const b of batch) b.resolve(b.rec);
      for (const fn of this.listeners) fn();
    }
  }

  /** Counts events that could not be stored; says so once per episode (the next success says it is over). */
  private storeFailed(n: number, err: Error): void {
    this.unstoredTotal += n;
    if (this.failing) {
      this.failing.count += n;
      this.opts.logger.debug(`outbox: ${n} more event(s) not stored (${err.message})`);
      return;
    }
    this.failing = { count: n };
    this.opts.logger.error(
      `outbox: cannot store events in ${this.opts.dir}: ${err.message}. The kiosk keeps running and sends new events ` +
        `without the outbox (they are not kept while the broker is away or across a restart) until the disk takes writes again; ` +
        `the stats topic counts them (outbox.unstored)`,
    );
  }

  private async writeBatch(recs: OutboxRecord[]): Promise<void> {
    const data = recs.length === 1 ? frameRecord(recs[0]!) : Buffer.concat(recs.map(frameRecord));
    if (!this.active || (this.active.bytes > 0 && this.active.bytes + data.length > this.opts.segmentBytes)) await this.rotate(recs[0]!.seq);
    const a = this.active!;
    let written: number;
    try {
      written = await this.fs.write(a.fd, data);
    } catch (err) {
      await this.undo(a);
      throw err;
    }
    if (written !== data.length) {
      await this.undo(a);
      throw fsError('ENOSPC', `short write: ${written} of ${data.length} bytes (disk full or file-size limit)`);
    }
    try {
      await this.fs.datasync(a.fd);
    } catch (err) {
      // After a failed fsync the kernel may have dropped the pages: nothing about this file can be trusted any more.
      await this.fs.ftruncate(a.fd, a.bytes).catch(() => {});
      await this.abandon(a);
      throw err;
    }
    a.bytes += data.length;
    a.seg.lastSeq = recs[recs.length - 1]!.seq;
  }

  /** A write failed: cut the file back to its last good size, or, if that fails too, write to a new segment next. */
  private async undo(a: { fd: number; bytes: number }): Promise<void> {
    try {
      await this.fs.ftruncate(a.fd, a.bytes);
    } catch {
      await this.abandon(a);
    }
  }

  private async abandon(a: { fd: number }): Promise<void> {
    if (this.active?.fd === a.fd) this.active = null;
    await this.fs.close(a.fd).catch(() => {});
  }

  private async rotate(firstSeq: number): Promise<void> {
    if (this.active) {
      const old = this.active;
      this.active = null;
      await this.fs.close(old.fd).catch(() => {});
    }
    const name = segName(firstSeq);
    if (this.segments.some((s) => s.name === name)) throw new OutboxError(`outbox: segment ${name} exists already (a bug)`);
    const fd = await this.fs.open(path.join(this.opts.dir, name), 'create-exclusive');
    try {
      await this.fs.fsyncDir(this.opts.dir); // the new file's name must be durable before any record in it counts as stored
    } catch (err) {
      await this.fs.close(fd).catch(() => {});
      throw err;
    }
    const seg: Segment = { name, firstSeq, lastSeq: firstSeq - 1 };
    this.segments.push(seg);
    this.active = { fd, seg, bytes: 0 };
  }

  private async load(): Promise<void> {
    const dir = this.opts.dir;
    const log = this.opts.logger;
    this.acked = await readAck(this.fs, dir, log);
    this.persistedAcked = this.acked;
    let next = this.acked + 1;
    const names = (await this.fs.readdir(dir)).sort();
    for (const n of names) {
      // left by a crash: the ack pointer's temp file, a stale lock moved aside before it was removed
      if (n === ACK_TMP || n.startsWith(`${LOCK_NAME}.stale-`)) await this.fs.unlink(path.join(dir, n)).catch(() => {});
    }
    let setAside = false;
    for (const name of names) {
      const aside = ASIDE_RE.exec(name);
      if (aside) {
        // set aside at an earlier start: its seqs stay taken
        const size = (await this.fs.readFile(path.join(dir, name))).length;
        next = Math.max(next, Number(aside[1]) + 1 + Math.ceil(size / MIN_RECORD_BYTES));
        continue;
      }
      const m = SEG_RE.exec(name);
      if (!m) continue;
      const file = path.join(dir, name);
      const firstSeq = Number(m[1]);
      const seg: Segment = { name, firstSeq, lastSeq: firstSeq - 1 };
      const buf = await this.fs.readFile(file);
      let good = 0;
      let corrupt = 0;
      let torn = 0;
      /** Damaged bytes after the last good record: records the next seqs may have gone to. */
      let badAfterLast = 0;
      for (let pos = 0; pos < buf.length; ) {
        const nl = buf.indexOf(0x0a, pos);
        const end = nl < 0 ? buf.length : nl;
        const line = buf.subarray(pos, end);
        pos = end + 1;
        if (line.length === 0) continue;
        const rec = parseLine(line);
        if (!rec) {
          if (nl < 0 && looksTorn(line)) torn = line.length;
          else {
            corrupt += 1;
            badAfterLast += line.length + 1;
          }
          continue;
        }
        good += 1;
        badAfterLast = 0;
        if (rec.seq > seg.lastSeq) seg.lastSeq = rec.seq;
        if (rec.seq > this.acked && (this.pending.length === 0 || rec.seq > this.pending[this.pending.length - 1]!.seq)) {
          this.pending.push({ seq: rec.seq, storedAt: rec.storedAt, topic: rec.topic, payload: rec.payload });
        }
      }
      next = Math.max(next, firstSeq + 1, seg.lastSeq + 1 + Math.ceil(badAfterLast / MIN_RECORD_BYTES));
      if (torn > 0) {
        log.warn(`outbox: ${file} ends with an unfinished record (${torn} bytes: a write cut short by a crash or power loss, never reported stored); ignored`);
      }
      if (good === 0 && corrupt > 0) {
        const asideName = `${name}.corrupt-${this.opts.now()}`;
        await this.fs.rename(file, path.join(dir, asideName));
        setAside = true;
        log.warn(
          `outbox: ${file} holds no readable record (${buf.length} bytes failed their length/CRC check); set aside as ${asideName} ` +
            `(kept for inspection, not sent; seqs continue above what it could hold)`,
        );
        continue;
      }
      if (corrupt > 0) {
        log.warn(`outbox: ${file}: skipped ${corrupt} corrupt record(s) (failed the length/CRC check: a damaged disk block); kept the ${good} readable one(s)`);
      }
      this.segments.push(seg);
    }
    if (setAside) await this.fs.fsyncDir(dir);
    this.nextSeqValue = next;
    if (this.pending.length > 0) {
      log.info(`outbox: ${this.pending.length} unsent event(s) from before the restart will be sent first (${dir})`);
    }
    await this.deleteAckedSegments();
  }

  /** Drops the oldest records beyond maxEvents or older than maxAgeMs, with one warning per drop. */
  enforceBounds(): void {
    const now = this.opts.now();
    let ageDrops = 0;
    let countDrops = 0;
    let oldest = Infinity;
    while (this.size > 0) {
      const r = this.pending[this.head]!;
      if (now - r.storedAt > this.opts.maxAgeMs) ageDrops += 1;
      else if (this.size > this.opts.maxEvents) countDrops += 1;
      else break;
      oldest = Math.min(oldest, r.storedAt);
      this.acked = r.seq;
      this.ackedAhead.delete(r.seq);
      this.head += 1;
    }
    const n = ageDrops + countDrops;
    if (n > 0) {
      this.droppedTotal += n;
      const why = [
        ageDrops > 0 ? `${ageDrops} older than ${Math.round(this.opts.maxAgeMs / 3_600_000)} h (mqtt.outbox.maxAgeHours)` : '',
        countDrops > 0 ? `${countDrops} over the limit of ${this.opts.maxEvents} (mqtt.outbox.maxEvents)` : '',
      ]
        .filter(Boolean)
        .join(', ');
      this.opts.logger.warn(
        `outbox: DROPPED ${n} unsent event(s), oldest stored ${new Date(oldest).toISOString()}: ${why}; ` +
          `${this.droppedTotal} dropped since start. The broker has been unreachable too long; raise the bound or fix the connection.`,
      );
      this.compact();
      this.scheduleAckFlush();
    }
  }

  /**
   * Lets go of acknowledged records (their payloads are the outbox's memory): all of them once nothing is pending (the
   * steady state), else once they are at least 64 and as many as the records still pending (amortised O(1) per ack).
   * Waiting for 1,024 of them, as before, kept a device's last 1,023 events in memory for hours (the soak's V8 heap
   * growth with MQTT on).
   */
  private compact(): void {
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  private scheduleAckFlush(): void {
    if (!this.opts.durable || this.ackTimer || this.closed) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.flushAck().catch(() => {}); // flushAck logs (once per episode)
    }, this.opts.ackFlushMs);
    this.ackTimer.unref();
  }

  private flushAck(): Promise<void> {
    const run = this.ackWrite.catch(() => {}).then(async () => {
      if (!this.opts.durable || this.acked === this.persistedAcked) return;
      const value = this.acked;
      const file = path.join(this.opts.dir, ACK);
      const tmp = path.join(this.opts.dir, ACK_TMP);
      try {
        // a temp file left by someone else (another user) must not block us: remove it, create ours exclusively
        await this.fs.unlink(tmp).catch(() => {});
        const fd = await this.fs.open(tmp, 'create-exclusive');
        try {
          const data = Buffer.from(JSON.stringify({ acked: value }) + '\n');
          const n = await this.fs.write(fd, data);
          if (n !== data.length) throw fsError('ENOSPC', `short write: ${n} of ${data.length} bytes`);
          await this.fs.datasync(fd);
        } finally {
          await this.fs.close(fd);
        }
        await this.fs.rename(tmp, file);
        await this.fs.fsyncDir(this.opts.dir);
      } catch (err) {
        if (!this.ackFailing) this.opts.logger.warn(`outbox: cannot write the ack pointer ${file}: ${(err as Error).message} (acknowledged events may be sent again after a restart)`);
        this.ackFailing = true;
        if (!this.closed) this.scheduleAckFlush();
        throw err;
      }
      if (this.ackFailing) this.opts.logger.info(`outbox: the ack pointer ${file} is written again`);
      this.ackFailing = false;
      this.persistedAcked = value;
      await this.deleteAckedSegments();
    });
    this.ackWrite = run;
    return run;
  }

  /** Deletes segments whose records are all acknowledged, except the newest one. */
  private async deleteAckedSegments(): Promise<void> {
    while (this.segments.length > 1 && this.segments[0]!.lastSeq <= this.persistedAcked && this.segments[0] !== this.active?.seg) {
      const seg = this.segments.shift()!;
      try {
        await this.fs.unlink(path.join(this.opts.dir, seg.name));
      } catch (err) {
        this.opts.logger.warn(`outbox: cannot delete ${seg.name}: ${(err as Error).message}`);
      }
    }
  }
}

async function readAck(fs: OutboxFs, dir: string, logger: Logger): Promise<number> {
  const file = path.join(dir, 'ack.json');
  let text: string;
  try {
    text = (await fs.readFile(file)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    logger.warn(`outbox: cannot read ${file}: ${(err as Error).message}; re-sending everything kept in the outbox (subscribers de-duplicate by eventId)`);
    return -1;
  }
  try {
    const j = JSON.parse(text) as { acked?: unknown };
    if (typeof j.acked === 'number' && Number.isInteger(j.acked)) return j.acked;
  } catch {
    /* fall through */
  }
  logger.warn(`outbox: ${file} is unreadable; re-sending everything kept in the outbox (subscribers de-duplicate by eventId)`);
  return -1;
}
