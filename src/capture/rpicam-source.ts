/**
 * The Raspberry Pi camera on the libcamera stack (Raspberry Pi OS Bookworm; Bullseye's libcamera-vid has the same
 * options): `rpicam-vid -t 0 -n --codec mjpeg --width W --height H --framerate F -o -` streams MJPEG on stdout; the
 * stream is split into JPEGs by their markers and decoded with OpenCV. stderr is kept for error messages ("no cameras
 * available"). The child is killed on close(); when it dies or stalls, read() throws a retryable SourceError.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../util/logger.js';
import { findFirstBinary } from './find-binary.js';
import { RPICAM_HINT } from './hints.js';
import { decodeJpeg, readDecodable } from './jpeg-decode.js';
import { JpegStreamSplitter } from './jpeg-splitter.js';
import { LatestFrames, QueueTimeoutError } from './latest-frames.js';
import { SourceError, type Frame, type FrameSource } from './types.js';

export interface RpicamOptions {
  /** Programs to try, in order (rpicam-vid, then the Bullseye name libcamera-vid). */
  binaries: string[];
  width: number;
  height: number;
  fps: number;
  logger: Logger;
  /** Extra arguments for the camera program (e.g. ["--hflip", "--vflip"]). */
  extraArgs?: string[];
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

export function rpicamArgs(o: Pick<RpicamOptions, 'width' | 'height' | 'fps' | 'extraArgs'>): string[] {
  return ['-t', '0', '-n', '--codec', 'mjpeg', '--width', String(o.width), '--height', String(o.height), '--framerate', String(o.fps), ...(o.extraArgs ?? []), '-o', '-'];
}

export class RpicamFrameSource implements FrameSource {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private queue = new LatestFrames<Jpeg>(2);
  private stderrTail = '';
  private binary: string | undefined;
  private index = 0;
  private pending: Frame | undefined;
  private closing = false;

  constructor(private readonly options: RpicamOptions) {}

  get description(): string {
    const { width, height, fps } = this.options;
    return `${this.binary ?? this.options.binaries[0]} MJPEG ${width}x${height}@${fps}`;
  }

  get fps(): number | undefined {
    return this.options.fps;
  }

  async open(): Promise<void> {
    const { binaries, logger } = this.options;
    const found = await findFirstBinary(binaries);
    if (!found) {
      throw new SourceError(`cannot start the Raspberry Pi camera: none of ${binaries.join(', ')} is on PATH (${process.env.PATH ?? ''}); ${RPICAM_HINT}`, false);
    }
    const [name, path] = found;
    this.binary = name;
    this.closing = false;
    this.index = 0;
    this.queue = new LatestFrames<Jpeg>(2);
    this.stderrTail = '';
    const args = rpicamArgs(this.options);
    const command = `${path} ${args.join(' ')}`;
    logger.debug(`starting ${command}`);

    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const splitter = new JpegStreamSplitter();
    const queue = this.queue;
    child.stdout!.on('data', (chunk: Buffer) => {
      const receivedAt = Date.now();
      for (const bytes of splitter.push(chunk)) queue.push({ bytes, receivedAt });
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-4000);
    });
    this.exited = new Promise<void>((resolve) => {
      child.on('error', (err) => {
        queue.fail(new SourceError(`${name} could not be started (${err.message}): ${command}`, true));
        resolve();
      });
      child.on('close', (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        queue.fail(new SourceError(`${name} ${how}${this.stderrSummary()}; ${RPICAM_HINT}`, true));
        resolve();
      });
    });

    try {
      const jpeg = await this.nextJpeg(this.options.firstFrameTimeoutMs ?? 15_000, 'starting');
      this.pending = this.decode(jpeg);
    } catch (err) {
      await this.close();
      if (err instanceof SourceError) throw new SourceError(`cannot start the Raspberry Pi camera with "${command}": ${err.message}`, err.retryable);
      throw err;
    }
    const m = this.pending.mat;
    logger.info(`opened ${this.description}: ${m.cols}x${m.rows} frames from ${path}`);
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
      next: () => this.nextJpeg(this.options.stallTimeoutMs ?? 5_000, 'running'),
      decode: (jpeg) => this.decode(jpeg),
      stop: () => this.stopChild(),
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.pending = undefined;
    await this.stopChild();
  }

  /** Frames the splitter dropped because the consumer was behind (live sources keep the newest). */
  get droppedFrames(): number {
    return this.queue.dropped;
  }

  private async nextJpeg(timeoutMs: number, phase: 'starting' | 'running'): Promise<Jpeg> {
    try {
      return await this.queue.next(timeoutMs);
    } catch (err) {
      if (err instanceof QueueTimeoutError) {
        await this.stopChild();
        throw new SourceError(
          `${this.binary} delivered no frame for ${(timeoutMs / 1000).toFixed(1)} s while ${phase}${this.stderrSummary()}; ${RPICAM_HINT}`,
          true,
        );
      }
      throw err;
    }
  }

  private decode(jpeg: Jpeg): Frame {
    const mat = decodeJpeg(jpeg.bytes);
    return { mat, timestamp: jpeg.receivedAt, index: this.index++ };
  }

  private stderrSummary(): string {
    const lines = this.stderrTail
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (lines.length === 0) return '';
    const errors = lines.filter((l) => /error|fail|no cameras|not found|denied|busy/i.test(l));
    return `: ${(errors.length > 0 ? errors : lines).slice(-3).join(' | ')}`;
  }

  private async stopChild(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(killer);
    } else {
      await this.exited;
    }
  }
}
