/**
 * The Raspberry Pi camera on the libcamera stack (Raspberry Pi OS Bookworm; Bullseye's libcamera-vid has the same
 * options): `rpicam-vid -t 0 -n --codec mjpeg --width W --height H --framerate F -o -` streams MJPEG on stdout; the
 * stream is split into JPEGs by their markers and decoded with OpenCV (JpegStreamSource). stderr is kept for error
 * messages ("no cameras available"). The child is killed on close(); when it dies or stalls, read() throws a
 * retryable SourceError.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../util/index.js';
import { findFirstBinary } from './find-binary.js';
import { RPICAM_HINT } from './hints.js';
import { JpegStreamSource, type JpegSink, type JpegStreamTimeouts } from './jpeg-stream-source.js';
import { SourceError, type Frame } from './types.js';

export interface RpicamOptions extends JpegStreamTimeouts {
  /** Programs to try, in order (rpicam-vid, then the Bullseye name libcamera-vid). */
  binaries: string[];
  width: number;
  height: number;
  fps: number;
  logger: Logger;
  /** Extra arguments for the camera program (e.g. ["--hflip", "--vflip"]). */
  extraArgs?: string[];
}

export function rpicamArgs(o: Pick<RpicamOptions, 'width' | 'height' | 'fps' | 'extraArgs'>): string[] {
  return ['-t', '0', '-n', '--codec', 'mjpeg', '--width', String(o.width), '--height', String(o.height), '--framerate', String(o.fps), ...(o.extraArgs ?? []), '-o', '-'];
}

export class RpicamFrameSource extends JpegStreamSource {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stderrTail = '';
  private binary: string | undefined;
  private binaryPath: string | undefined;
  private command = '';

  constructor(private readonly options: RpicamOptions) {
    super(options.logger, { ...options, stallTimeoutMs: options.stallTimeoutMs ?? 5_000 });
  }

  get description(): string {
    const { width, height, fps } = this.options;
    return `${this.binary ?? this.options.binaries[0]} MJPEG ${width}x${height}@${fps}`;
  }

  get fps(): number | undefined {
    return this.options.fps;
  }

  protected async start(sink: JpegSink): Promise<void> {
    const { binaries } = this.options;
    const found = await findFirstBinary(binaries);
    if (!found) {
      throw new SourceError(`cannot start the Raspberry Pi camera: none of ${binaries.join(', ')} is on PATH (${process.env.PATH ?? ''}); ${RPICAM_HINT}`, false);
    }
    const [name, path] = found;
    this.binary = name;
    this.binaryPath = path;
    this.stderrTail = '';
    const args = rpicamArgs(this.options);
    const command = (this.command = `${path} ${args.join(' ')}`);
    this.logger.debug(`starting ${command}`);

    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => sink.data(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-4000);
    });
    this.exited = new Promise<void>((resolve) => {
      child.on('error', (err) => {
        sink.fail(new SourceError(`${name} could not be started (${err.message}): ${command}`, true));
        resolve();
      });
      child.on('close', (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        sink.fail(new SourceError(`${name} ${how}${this.stderrSummary()}; ${RPICAM_HINT}`, true));
        resolve();
      });
    });
  }

  protected stallMessage(seconds: string, phase: 'starting' | 'running'): string {
    return `${this.binary} delivered no frame for ${seconds} s while ${phase}${this.stderrSummary()}; ${RPICAM_HINT}`;
  }

  protected async openFailure(err: unknown): Promise<SourceError> {
    if (err instanceof SourceError) return new SourceError(`cannot start the Raspberry Pi camera with "${this.command}": ${err.message}`, err.retryable);
    throw err;
  }

  protected openedMessage(frame: Frame): string {
    return `opened ${this.description}: ${frame.mat.cols}x${frame.mat.rows} frames from ${this.binaryPath}`;
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

  protected async stop(): Promise<void> {
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
