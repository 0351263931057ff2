/**
 * Reads the next frame while the kiosk works on this one, so that capture and decoding (OpenCV's readAsync, on libuv's
 * thread pool) overlap detection and classification (the main thread, OpenCV's and onnxruntime's threads) instead of
 * taking turns with them: on a machine with idle cores that is frames per second gained. Bounded: at most `depth`
 * frames (default 1) wait, and one read runs at a time.
 *
 *   finite sources (video files, image sequences): every frame, in order, none dropped; the next read starts only while
 *     fewer than `depth` frames wait. Frames, indexes and media clock times are the inner source's own.
 *   live sources (cameras, streams): reading goes on while the consumer is busy and only the newest `depth` frames are
 *     kept (older ones are released and counted in droppedFrames), so the consumer always gets the latest picture.
 *
 * A failure of the inner source is delivered after the frames read before it, and reading stops there. close() with a
 * read in flight releases that frame when the read returns: for finite sources close() waits for it (a file read
 * returns promptly), for live ones the blocked read is left to the inner source, which releases its capture after it.
 */
import { SourceError, type Frame, type FrameSource } from './types.js';

export interface PrefetchOptions {
  /** A camera or stream (newest frame wins) rather than a file (every frame). */
  live: boolean;
  /** Frames that may wait, 1 or 2. */
  depth?: number;
}

interface Waiter {
  resolve: (frame: Frame | null) => void;
  reject: (error: Error) => void;
}

export class PrefetchingFrameSource implements FrameSource {
  private readonly depth: number;
  private readonly queue: Frame[] = [];
  private inFlight: Promise<void> | undefined;
  private waiter: Waiter | undefined;
  private failure: Error | undefined;
  private ended = false;
  private state: 'new' | 'open' | 'closed' = 'new';
  /** Bumped by close(): a read that returns after it belongs to the closed run and its frame is released. */
  private generation = 0;
  private dropped = 0;

  constructor(
    private readonly inner: FrameSource,
    private readonly options: PrefetchOptions,
  ) {
    const depth = options.depth ?? 1;
    if (depth !== 1 && depth !== 2) throw new RangeError(`prefetch depth must be 1 or 2 frames, got ${depth}`);
    this.depth = depth;
  }

  get description(): string {
    return this.inner.description;
  }

  get fps(): number | undefined {
    return this.inner.fps;
  }

  /** Live frames dropped here because the consumer was behind, plus any the inner source dropped itself. */
  get droppedFrames(): number {
    const inner = (this.inner as { droppedFrames?: unknown }).droppedFrames;
    return this.dropped + (typeof inner === 'number' && Number.isFinite(inner) ? inner : 0);
  }

  async open(): Promise<void> {
    this.queue.length = 0;
    this.failure = undefined;
    this.ended = false;
    await this.inner.open();
    this.state = 'open';
    this.fill();
  }

  read(): Promise<Frame | null> {
    if (this.state === 'closed') return Promise.resolve(null);
    if (this.state === 'new') return Promise.reject(new SourceError(`${this.description}: read() before open()`, false));
    const next = this.queue.shift();
    if (next) {
      this.fill();
      return Promise.resolve(next);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    if (this.waiter) return Promise.reject(new Error('PrefetchingFrameSource.read() called while another read() is pending'));
    this.fill();
    return new Promise<Frame | null>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.generation++;
    for (const frame of this.queue.splice(0)) frame.mat.release();
    this.takeWaiter()?.resolve(null);
    const inFlight = this.inFlight;
    if (inFlight && !this.options.live) await inFlight;
    await this.inner.close();
  }

  /** Starts the next read if there is room for its frame (files) or always (live: the newest frame wins). */
  private fill(): void {
    if (this.state !== 'open' || this.inFlight || this.failure || this.ended) return;
    if (!this.options.live && this.queue.length >= this.depth) return;
    const generation = this.generation;
    this.inFlight = this.inner.read().then(
      (frame) => {
        this.inFlight = undefined;
        if (generation !== this.generation) {
          frame?.mat.release();
          return;
        }
        this.deliver(frame);
        this.fill();
      },
      (err: unknown) => {
        this.inFlight = undefined;
        if (generation !== this.generation) return;
        this.failure = err instanceof Error ? err : new Error(String(err));
        if (this.queue.length === 0) this.takeWaiter()?.reject(this.failure);
      },
    );
  }

  private deliver(frame: Frame | null): void {
    if (frame === null) {
      this.ended = true;
      if (this.queue.length === 0) this.takeWaiter()?.resolve(null);
      return;
    }
    const waiter = this.takeWaiter();
    if (waiter) {
      waiter.resolve(frame);
      return;
    }
    this.queue.push(frame);
    while (this.queue.length > this.depth) {
      // only live sources read past `depth`: the oldest waiting frame gives way to the newest
      this.queue.shift()!.mat.release();
      this.dropped++;
    }
  }

  private takeWaiter(): Waiter | undefined {
    const w = this.waiter;
    this.waiter = undefined;
    return w;
  }
}
