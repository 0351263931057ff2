/**
 * What the Raspberry Pi camera sources share: a camera program writes JPEGs to a pipe; the bytes go through the
 * marker-aware splitter into a newest-wins queue; the first frame is awaited on open() (start-up timeout), later ones
 * with a stall timeout; undecodable frames are skipped up to a limit; a stall, an exit or too many bad frames stop
 * the program and raise a retryable SourceError (the resilient source restarts it). A subclass only starts and stops
 * its program and words its messages.
 */
import type { Logger } from '../util/index.js';
import { decodeJpeg, readDecodable } from './jpeg-decode.js';
import { JpegStreamSplitter } from './jpeg-splitter.js';
import { LatestFrames, QueueTimeoutError } from './latest-frames.js';
import { SourceError, type Frame, type FrameSource } from './types.js';

export interface JpegStreamTimeouts {
  /** Camera start-up can take a few seconds (sensor tuning). */
  firstFrameTimeoutMs?: number;
  /** No frame for this long while running = the camera is gone. */
  stallTimeoutMs?: number;
  /** Consecutive undecodable frames before the source is declared broken. */
  maxBadFrames?: number;
}

interface Jpeg {
  bytes: Buffer;
  receivedAt: number;
}

/** Handed to a subclass's start(): where its program's stdout and its end go. */
export interface JpegSink {
  /** A chunk of the program's stdout (any size, frames may straddle chunks). */
  data(chunk: Buffer): void;
  /** The program ended or failed: delivered after the frames already queued. */
  fail(error: SourceError): void;
}

export abstract class JpegStreamSource implements FrameSource {
  private queue = new LatestFrames<Jpeg>(2);
  private index = 0;
  private pending: Frame | undefined;
  private closing = false;

  protected constructor(
    protected readonly logger: Logger,
    private readonly timeouts: JpegStreamTimeouts & { stallTimeoutMs: number },
  ) {}

  abstract get description(): string;
  abstract get fps(): number | undefined;

  /** Starts the camera program, feeding `sink`; throws a SourceError when it cannot be started at all. */
  protected abstract start(sink: JpegSink): Promise<void>;
  /** Stops the camera program (idempotent) and waits for it. */
  protected abstract stop(): Promise<void>;
  /** "<program> delivered no frame for 5.0 s while running: <why>; <hint>". */
  protected abstract stallMessage(seconds: string, phase: 'starting' | 'running'): string;
  /** Wraps a failure of open(): the caller gets a SourceError saying which command could not start. */
  protected abstract openFailure(err: unknown): Promise<SourceError>;
  /** Logged once the first frame decoded. */
  protected abstract openedMessage(frame: Frame): string;

  async open(): Promise<void> {
    this.closing = false;
    this.index = 0;
    const queue = (this.queue = new LatestFrames<Jpeg>(2));
    const splitter = new JpegStreamSplitter();
    await this.start({
      data: (chunk) => {
        const receivedAt = Date.now();
        for (const bytes of splitter.push(chunk)) queue.push({ bytes, receivedAt });
      },
      fail: (error) => queue.fail(error),
    });
    try {
      this.pending = this.decode(await this.nextJpeg(this.timeouts.firstFrameTimeoutMs ?? 15_000, 'starting'));
    } catch (err) {
      await this.close();
      throw await this.openFailure(err);
    }
    this.logger.info(this.openedMessage(this.pending));
  }

  async read(): Promise<Frame | null> {
    if (this.closing) return null;
    if (this.pending) {
      const frame = this.pending;
      this.pending = undefined;
      return frame;
    }
    return readDecodable({
      description: this.description,
      logger: this.logger,
      maxBad: this.timeouts.maxBadFrames ?? 10,
      next: () => this.nextJpeg(this.timeouts.stallTimeoutMs, 'running'),
      decode: (jpeg) => this.decode(jpeg),
      stop: () => this.stop(),
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.pending = undefined;
    await this.stop();
  }

  /** Frames the queue dropped because the consumer was behind (live sources keep the newest). */
  get droppedFrames(): number {
    return this.queue.dropped;
  }

  private async nextJpeg(timeoutMs: number, phase: 'starting' | 'running'): Promise<Jpeg> {
    try {
      return await this.queue.next(timeoutMs);
    } catch (err) {
      if (err instanceof QueueTimeoutError) {
        await this.stop();
        throw new SourceError(this.stallMessage((timeoutMs / 1000).toFixed(1), phase), true);
      }
      throw err;
    }
  }

  private decode(jpeg: Jpeg): Frame {
    return { mat: decodeJpeg(jpeg.bytes), timestamp: jpeg.receivedAt, index: this.index++ };
  }
}
