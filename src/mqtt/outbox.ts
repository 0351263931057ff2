/**
 * The durable outbox: every event is written to disk (and fsync'd) before it is published, and leaves only when the
 * broker acknowledged it (PUBACK, QoS 1). After a reconnect or a restart the rest is sent again, in order.
 *
 * Storage: append-only segment files plus an ack pointer, no native dependency. It suits SD cards: writes are few,
 * sequential and batched (every append that arrives while an fsync runs joins the next one: group commit).
 *   <dir>/seg-<first seq>.log   one JSON line per record {"s":seq,"t":epochMs,"topic":...,"p":payload}
 *   <dir>/ack.json              {"acked": n}: every record with seq <= n was acknowledged (written lazily: losing
 *                               it only re-sends acknowledged events, which subscribers de-duplicate by eventId)
 * A segment is deleted once every record in it is acknowledged (the newest segment stays: it holds the next seq).
 * Bounds (maxEvents, maxAgeMs) drop the oldest records with a warning that says how many and from when.
 * mqtt.js' own `outgoingStore` (e.g. mqtt-level-store) only keeps packets it has been handed while the client lives;
 * it has no size/age bound and loses messages published before the first connect, so it is not used for this.
 */
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { nodeFs, type OutboxFs } from './outbox-fs.js';

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
}

export class OutboxError extends Error {}

const SEG_RE = /^seg-(\d{12})\.log$/;
const segName = (seq: number) => `seg-${String(seq).padStart(12, '0')}.log`;

interface Segment {
  name: string;
  firstSeq: number;
  lastSeq: number;
}

export class Outbox {
  private readonly opts: Required<Omit<OutboxOptions, 'logger' | 'now' | 'fs'>> & { logger: Logger; now: () => number };
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
    if (box.opts.durable) await box.load();
    box.enforceBounds();
    return box;
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

  /** Waits for pending writes, writes the ack pointer, closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing) await this.writing;
    this.closed = true;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    await this.flushAck();
    if (this.active) await this.fs.close(this.active.fd);
    this.active = null;
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
        const e = new OutboxError(`outbox: cannot write to ${this.opts.dir}: ${(err as Error).message}`);
        for (const b of batch) b.reject(e);
        continue;
      }
      for (const b of batch) this.pending.push(b.rec);
      this.enforceBounds();
      for (const b of batch) b.resolve(b.rec);
      for (const fn of this.listeners) fn();
    }
  }

  private async writeBatch(recs: OutboxRecord[]): Promise<void> {
    const text = recs.map((r) => JSON.stringify({ s: r.seq, t: r.storedAt, topic: r.topic, p: r.payload }) + '\n').join('');
    const bytes = Buffer.byteLength(text);
    if (!this.active || this.active.bytes + bytes > this.opts.segmentBytes) await this.rotate(recs[0]!.seq);
    const a = this.active!;
    await this.fs.write(a.fd, Buffer.from(text));
    await this.fs.datasync(a.fd);
    a.bytes += bytes;
    a.seg.lastSeq = recs[recs.length - 1]!.seq;
  }

  private async rotate(firstSeq: number): Promise<void> {
    if (this.active) await this.fs.close(this.active.fd);
    const name = segName(firstSeq);
    const fd = await this.fs.open(path.join(this.opts.dir, name), 'append');
    const seg: Segment = { name, firstSeq, lastSeq: firstSeq - 1 };
    this.segments.push(seg);
    this.active = { fd, seg, bytes: 0 };
    await this.fs.fsyncDir(this.opts.dir).catch(() => {});
  }

  private async load(): Promise<void> {
    const dir = this.opts.dir;
    try {
      await this.fs.mkdirp(dir);
    } catch (err) {
      throw new OutboxError(`outbox: cannot create ${dir}: ${(err as Error).message} (set mqtt.outbox.dir to a writable folder)`);
    }
    this.acked = await readAck(this.fs, dir, this.opts.logger);
    this.persistedAcked = this.acked;
    this.nextSeqValue = this.acked + 1;
    const names = (await this.fs.readdir(dir))
      .filter((n) => SEG_RE.test(n))
      .sort();
    for (const name of names) {
      const file = path.join(dir, name);
      const firstSeq = Number(SEG_RE.exec(name)![1]);
      const seg: Segment = { name, firstSeq, lastSeq: firstSeq - 1 };
      const text = (await this.fs.readFile(file)).toString('utf8');
      let offset = 0;
      for (const line of text.split('\n')) {
        if (line.length === 0) {
          offset += 1;
          continue;
        }
        let rec: OutboxRecord | null = null;
        try {
          const j = JSON.parse(line) as { s: number; t: number; topic: string; p: string };
          if (typeof j.s === 'number' && typeof j.topic === 'string' && typeof j.p === 'string') {
            rec = { seq: j.s, storedAt: j.t, topic: j.topic, payload: j.p };
          }
        } catch {
          rec = null;
        }
        if (!rec) {
          // A torn write (power cut in the middle of a line): it was never fsync'd, so never acknowledged to anyone.
          this.opts.logger.warn(`outbox: ${file} has an unreadable record at byte ${offset}; cutting the file there (an unfinished write)`);
          const fd = await this.fs.open(file, 'append');
          try {
            await this.fs.ftruncate(fd, offset);
          } finally {
            await this.fs.close(fd);
          }
          break;
        }
        offset += Buffer.byteLength(line) + 1;
        seg.lastSeq = rec.seq;
        if (rec.seq >= this.nextSeqValue) this.nextSeqValue = rec.seq + 1;
        if (rec.seq > this.acked && (this.pending.length === 0 || rec.seq > this.pending[this.pending.length - 1]!.seq)) {
          this.pending.push(rec);
        }
      }
      this.segments.push(seg);
    }
    if (this.pending.length > 0) {
      this.opts.logger.info(`outbox: ${this.pending.length} unsent event(s) from before the restart will be sent first (${dir})`);
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

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  private scheduleAckFlush(): void {
    if (!this.opts.durable || this.ackTimer || this.closed) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.flushAck().catch((err: Error) => this.opts.logger.warn(`outbox: cannot write the ack pointer: ${err.message}`));
    }, this.opts.ackFlushMs);
    this.ackTimer.unref();
  }

  private flushAck(): Promise<void> {
    this.ackWrite = this.ackWrite.then(async () => {
      if (!this.opts.durable || this.acked === this.persistedAcked) return;
      const value = this.acked;
      const file = path.join(this.opts.dir, 'ack.json');
      const tmp = file + '.tmp';
      const fd = await this.fs.open(tmp, 'write');
      try {
        await this.fs.write(fd, Buffer.from(JSON.stringify({ acked: value }) + '\n'));
        await this.fs.datasync(fd);
      } finally {
        await this.fs.close(fd);
      }
      await this.fs.rename(tmp, file);
      this.persistedAcked = value;
      await this.deleteAckedSegments();
    });
    return this.ackWrite;
  }

  /** Deletes segments whose records are all acknowledged, except the newest one. */
  private async deleteAckedSegments(): Promise<void> {
    while (this.segments.length > 1 && this.segments[0]!.lastSeq <= this.persistedAcked) {
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
  } catch {
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
