/**
 * The Raspberry Pi camera on the legacy camera stack (Raspberry Pi OS Buster, Bullseye with "Legacy Camera" enabled):
 * node-raspistill runs `raspistill` in timelapse mode writing JPEGs to stdout (`-n -e jpg -w W -h H -t 0 -tl 1000/F
 * -th none -o -`), through our StreamingRaspistillExecutor: stdout chunks come as they arrive (node-raspistill's own
 * executor cuts only where a chunk starts with a JPEG signature, and stalls when none does) and the marker-aware
 * JpegStreamSplitter finds the frames.
 * raspistill's own start-up takes about a second; its frame rate is well below a video mode, which is why Bookworm's
 * rpicam-vid is the first choice where it exists.
 */
import { Raspistill, RaspistillInterruptError } from 'node-raspistill';
import type { Logger } from '../util/logger.js';
import { findFirstBinary } from './find-binary.js';
import { RASPISTILL_HINT } from './hints.js';
import { StreamingRaspistillExecutor } from './raspistill-executor.js';
import { decodeJpeg, readDecodable } from './jpeg-decode.js';
import { JpegStreamSplitter } from './jpeg-splitter.js';
import { LatestFrames, QueueTimeoutError } from './latest-frames.js';
import { SourceError, type Frame, type FrameSource } from './types.js';

export interface RaspistillOptions {
  width: number;
  height: number;
  fps: number;
  logger: Logger;
  firstFrameTimeoutMs?: number;
  stallTimeoutMs?: number;
  maxBadFrames?: number;
}

interface Jpeg {
  bytes: Buffer;
  receivedAt: number;
}

/** node-raspistill spawns the program by this name from PATH. */
const BINARY = 'raspistill';

export class RaspistillFrameSource implements FrameSource {
  private camera: Raspistill | undefined;
  private running: Promise<void> | undefined;
  private queue = new LatestFrames<Jpeg>(2);
  private index = 0;
  private pending: Frame | undefined;
  private closing = false;
  private readonly intervalMs: number;

  constructor(private readonly options: RaspistillOptions) {
    this.intervalMs = Math.max(1, Math.round(1000 / options.fps));
  }

  get description(): string {
    return `raspistill timelapse ${this.options.width}x${this.options.height} every ${this.intervalMs} ms`;
  }

  get fps(): number | undefined {
    return 1000 / this.intervalMs;
  }

  async open(): Promise<void> {
    const { width, height, logger } = this.options;
    const found = await findFirstBinary([BINARY]);
    if (!found) throw new SourceError(`cannot start the Raspberry Pi camera: ${BINARY} is not on PATH (${process.env.PATH ?? ''}); ${RASPISTILL_HINT}`, false);
    this.closing = false;
    this.index = 0;
    const queue = (this.queue = new LatestFrames<Jpeg>(2));
    const splitter = new JpegStreamSplitter();
    const camera = new Raspistill({ noFileSave: true, width, height, encoding: 'jpg', noPreview: true, thumb: 'none' }, undefined, new StreamingRaspistillExecutor(BINARY));
    this.camera = camera;
    logger.debug(`starting ${found[1]} through node-raspistill (timelapse every ${this.intervalMs} ms)`);
    this.running = camera
      .timelapse(this.intervalMs, 0, (chunk: Buffer) => {
        const receivedAt = Date.now();
        for (const bytes of splitter.push(chunk)) queue.push({ bytes, receivedAt });
      })
      .then(
        () => queue.fail(new SourceError(`${BINARY} stopped (the process exited); ${RASPISTILL_HINT}`, true)),
        (err: unknown) => {
          if (err instanceof RaspistillInterruptError) queue.fail(new SourceError(`${BINARY} was stopped`, true));
          else queue.fail(new SourceError(`${BINARY} failed: ${(err as Error)?.message ?? String(err)}; ${RASPISTILL_HINT}`, true));
        },
      );

    try {
      this.pending = this.decode(await this.nextJpeg(this.options.firstFrameTimeoutMs ?? 15_000, 'starting'));
    } catch (err) {
      await this.close();
      const reason = await this.diagnose();
      const message = err instanceof Error ? err.message : String(err);
      throw new SourceError(`cannot start the Raspberry Pi camera with ${BINARY} (${found[1]}): ${message}${reason ? `; a single still says: ${reason}` : ''}`, true);
    }
    logger.info(`opened ${this.description}: ${this.pending.mat.cols}x${this.pending.mat.rows} frames from ${found[1]}`);
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
      logger: this.options.logger,
      maxBad: this.options.maxBadFrames ?? 10,
      next: () => this.nextJpeg(this.options.stallTimeoutMs ?? Math.max(5_000, 3 * this.intervalMs), 'running'),
      decode: (jpeg) => this.decode(jpeg),
      stop: () => this.stopCamera(),
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.pending = undefined;
    await this.stopCamera();
  }

  private async stopCamera(): Promise<void> {
    const camera = this.camera;
    if (!camera) return;
    this.camera = undefined;
    camera.stop();
    await this.running;
  }

  private async nextJpeg(timeoutMs: number, phase: string): Promise<Jpeg> {
    try {
      return await this.queue.next(timeoutMs);
    } catch (err) {
      if (err instanceof QueueTimeoutError) {
        await this.stopCamera();
        throw new SourceError(`${BINARY} delivered no picture for ${(timeoutMs / 1000).toFixed(1)} s while ${phase}; ${RASPISTILL_HINT}`, true);
      }
      throw err;
    }
  }

  private decode(jpeg: Jpeg): Frame {
    return { mat: decodeJpeg(jpeg.bytes), timestamp: jpeg.receivedAt, index: this.index++ };
  }

  /** raspistill's timelapse mode discards its stderr; one still through node-raspistill returns it in the error. */
  private async diagnose(): Promise<string | undefined> {
    const probe = new Raspistill({ noFileSave: true, width: 64, height: 48, encoding: 'jpg', noPreview: true, time: 1 }, undefined, new StreamingRaspistillExecutor(BINARY));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe.takePhoto(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
        }),
      ]);
      return undefined;
    } catch (err) {
      return ((err as Error)?.message ?? String(err)).replace(/\s+/g, ' ').trim().slice(0, 500);
    } finally {
      clearTimeout(timer);
      probe.stop();
    }
  }
}
