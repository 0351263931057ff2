/**
 * The Raspberry Pi camera on the legacy camera stack (Raspberry Pi OS Buster, Bullseye with "Legacy Camera" enabled):
 * node-raspistill runs `raspistill` in timelapse mode writing JPEGs to stdout (`-n -e jpg -w W -h H -t 0 -tl 1000/F
 * -th none -o -`), through our StreamingRaspistillExecutor: stdout chunks come as they arrive (node-raspistill's own
 * executor cuts only where a chunk starts with a JPEG signature, and stalls when none does) and JpegStreamSource's
 * marker-aware splitter finds the frames.
 * raspistill's own start-up takes about a second; its frame rate is well below a video mode, which is why Bookworm's
 * rpicam-vid is the first choice where it exists.
 */
import { Raspistill, RaspistillInterruptError } from 'node-raspistill';
import type { Logger } from '../util/index.js';
import { findFirstBinary } from './find-binary.js';
import { RASPISTILL_HINT } from './hints.js';
import { JpegStreamSource, type JpegSink, type JpegStreamTimeouts } from './jpeg-stream-source.js';
import { StreamingRaspistillExecutor } from './raspistill-executor.js';
import { SourceError, type Frame } from './types.js';

export interface RaspistillOptions extends JpegStreamTimeouts {
  width: number;
  height: number;
  fps: number;
  logger: Logger;
}

/** node-raspistill spawns the program by this name from PATH. */
const BINARY = 'raspistill';

export class RaspistillFrameSource extends JpegStreamSource {
  private camera: Raspistill | undefined;
  private running: Promise<void> | undefined;
  private binaryPath = BINARY;
  private readonly intervalMs: number;

  constructor(private readonly options: RaspistillOptions) {
    const intervalMs = Math.max(1, Math.round(1000 / options.fps));
    super(options.logger, { ...options, stallTimeoutMs: options.stallTimeoutMs ?? Math.max(5_000, 3 * intervalMs) });
    this.intervalMs = intervalMs;
  }

  get description(): string {
    return `raspistill timelapse ${this.options.width}x${this.options.height} every ${this.intervalMs} ms`;
  }

  get fps(): number | undefined {
    return 1000 / this.intervalMs;
  }

  protected async start(sink: JpegSink): Promise<void> {
    const { width, height } = this.options;
    const found = await findFirstBinary([BINARY]);
    if (!found) throw new SourceError(`cannot start the Raspberry Pi camera: ${BINARY} is not on PATH (${process.env.PATH ?? ''}); ${RASPISTILL_HINT}`, false);
    this.binaryPath = found[1];
    const camera = new Raspistill({ noFileSave: true, width, height, encoding: 'jpg', noPreview: true, thumb: 'none' }, undefined, new StreamingRaspistillExecutor(BINARY));
    this.camera = camera;
    this.logger.debug(`starting ${found[1]} through node-raspistill (timelapse every ${this.intervalMs} ms)`);
    this.running = camera.timelapse(this.intervalMs, 0, (chunk: Buffer) => sink.data(chunk)).then(
      () => sink.fail(new SourceError(`${BINARY} stopped (the process exited); ${RASPISTILL_HINT}`, true)),
      (err: unknown) => {
        if (err instanceof RaspistillInterruptError) sink.fail(new SourceError(`${BINARY} was stopped`, true));
        else sink.fail(new SourceError(`${BINARY} failed: ${(err as Error)?.message ?? String(err)}; ${RASPISTILL_HINT}`, true));
      },
    );
  }

  protected stallMessage(seconds: string, phase: 'starting' | 'running'): string {
    return `${BINARY} delivered no picture for ${seconds} s while ${phase}; ${RASPISTILL_HINT}`;
  }

  protected async openFailure(err: unknown): Promise<SourceError> {
    const reason = await this.diagnose();
    const message = err instanceof Error ? err.message : String(err);
    return new SourceError(`cannot start the Raspberry Pi camera with ${BINARY} (${this.binaryPath}): ${message}${reason ? `; a single still says: ${reason}` : ''}`, true);
  }

  protected openedMessage(frame: Frame): string {
    return `opened ${this.description}: ${frame.mat.cols}x${frame.mat.rows} frames from ${this.binaryPath}`;
  }

  protected async stop(): Promise<void> {
    const camera = this.camera;
    if (!camera) return;
    this.camera = undefined;
    camera.stop();
    await this.running;
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
