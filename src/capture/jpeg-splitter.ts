/**
 * Splits a byte stream of concatenated JPEG images (MJPEG on a pipe: `rpicam-vid --codec mjpeg -o -`,
 * `raspistill -tl … -o -`) into whole JPEG files. Pure: no I/O, fed with chunks as they arrive.
 *
 * It walks the JPEG marker structure instead of looking for the first FF D9: marker segments are skipped by their
 * length, so an EXIF thumbnail (a complete JPEG with its own SOI/EOI inside APP1, which raspistill embeds by default)
 * does not end the frame early; inside entropy-coded data FF 00 (stuffing) and FF D0–D7 (restart markers) are not
 * frame ends. Bytes outside a frame (garbage, a truncated frame from a restarted camera) are skipped until the next
 * SOI. A frame that grows past `maxFrameBytes` is dropped so a corrupt stream cannot eat memory.
 */

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

export interface JpegSplitterStats {
  /** Whole frames returned so far. */
  frames: number;
  /** Bytes thrown away: garbage between frames, frames that turned out malformed or too large. */
  discardedBytes: number;
  /** Frames dropped because they were malformed or too large. */
  droppedFrames: number;
}

type Phase = 'seek' | 'segments' | 'entropy';

export class JpegStreamSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** Scan position in `buf`. While a frame is open the frame starts at offset 0 of `buf`. */
  private pos = 0;
  private phase: Phase = 'seek';
  readonly stats: JpegSplitterStats = { frames: 0, discardedBytes: 0, droppedFrames: 0 };

  constructor(private readonly maxFrameBytes = 16 * 1024 * 1024) {
    if (!(maxFrameBytes > 4)) throw new RangeError(`maxFrameBytes must be > 4, got ${maxFrameBytes}`);
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buf.length;
  }

  /** Feeds one chunk; returns the frames it completed, in order (each a copy, safe to keep). */
  push(chunk: Uint8Array): Buffer[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const outcome = this.step();
      if (outcome === 'need-more') break;
      if (outcome instanceof Buffer) frames.push(outcome);
    }
    if (this.phase !== 'seek' && this.buf.length > this.maxFrameBytes) this.dropFrame(this.buf.length);
    return frames;
  }

  /** Forgets any partial frame (e.g. after the producing process restarted). */
  reset(): void {
    this.stats.discardedBytes += this.buf.length;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.phase = 'seek';
  }

  /** One parsing step: a completed frame, 'progress' when the state moved, or 'need-more' when input ran out. */
  private step(): Buffer | 'progress' | 'need-more' {
    const b = this.buf;
    if (this.phase === 'seek') {
      // A frame starts with FF D8 followed by the FF of its first marker.
      let i = b.indexOf(0xff, this.pos);
      while (i !== -1 && i + 2 < b.length && !(b[i + 1] === SOI && b[i + 2] === 0xff)) i = b.indexOf(0xff, i + 1);
      if (i === -1) {
        this.discard(b.length);
        return 'need-more';
      }
      if (i + 2 >= b.length) {
        // Maybe the start of a SOI: keep the tail, drop what is before it.
        this.discard(i);
        this.pos = 0;
        return 'need-more';
      }
      this.discard(i);
      this.pos = 2;
      this.phase = 'segments';
      return 'progress';
    }

    if (this.phase === 'segments') {
      let p = this.pos;
      if (p >= b.length) return 'need-more';
      if (b[p] !== 0xff) return this.malformed();
      while (p < b.length && b[p] === 0xff) p++; // fill bytes
      if (p >= b.length) return 'need-more';
      const marker = b[p]!;
      const afterMarker = p + 1;
      if (marker === EOI) return this.complete(afterMarker);
      if (marker === SOI || marker === 0x00) return this.malformed();
      if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        this.pos = afterMarker;
        return 'progress';
      }
      if (afterMarker + 2 > b.length) return 'need-more';
      const length = b.readUInt16BE(afterMarker);
      if (length < 2) return this.malformed();
      const end = afterMarker + length;
      if (end > b.length) return 'need-more';
      this.pos = end;
      if (marker === SOS) this.phase = 'entropy';
      return 'progress';
    }

    // Entropy-coded data: runs until a marker other than stuffing (FF 00) and restarts (FF D0–D7).
    let i = b.indexOf(0xff, this.pos);
    while (i !== -1) {
      if (i + 1 >= b.length) {
        this.pos = i;
        return 'need-more';
      }
      const next = b[i + 1]!;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) {
        i = b.indexOf(0xff, i + 2);
        continue;
      }
      if (next === 0xff) {
        i += 1; // fill byte before a marker
        continue;
      }
      this.pos = i;
      this.phase = 'segments';
      return 'progress';
    }
    this.pos = b.length;
    return 'need-more';
  }

  private complete(end: number): Buffer {
    const frame = Buffer.from(this.buf.subarray(0, end));
    this.buf = this.buf.subarray(end);
    this.pos = 0;
    this.phase = 'seek';
    this.stats.frames++;
    return frame;
  }

  /** The open frame is not a valid JPEG: drop its SOI and look for the next one after it. */
  private malformed(): 'progress' {
    this.dropFrame(2);
    return 'progress';
  }

  private dropFrame(bytes: number): void {
    this.stats.droppedFrames++;
    this.discard(bytes);
    this.pos = 0;
    this.phase = 'seek';
  }

  private discard(bytes: number): void {
    if (bytes <= 0) return;
    this.stats.discardedBytes += bytes;
    this.buf = this.buf.subarray(bytes);
    this.pos = Math.max(0, this.pos - bytes);
  }
}
