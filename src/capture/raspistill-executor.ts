/**
 * How node-raspistill runs the `raspistill` program, for timelapse to stdout: every chunk of stdout is handed over
 * as it arrives, and the JPEG splitter downstream finds the frames.
 *
 * node-raspistill's own executor only hands over what it has buffered when a stdout chunk *starts* with a JPEG
 * signature. A pipe read does not respect frame boundaries: when the kiosk is busy, or raspistill writes a frame in
 * several pieces, the next frame's first bytes arrive glued to the end of the previous one and no chunk starts with
 * FF D8 again, so it buffers forever (with a quadratic Buffer.concat) and the camera looks stalled. Its timelapse
 * path also never reads stderr, so a chatty raspistill could fill that pipe and block. This executor is passed to
 * node-raspistill through its constructor (`new Raspistill(options, watcher, executor)`, the package's documented
 * IRaspistillExecutor); everything else (arguments, options) stays node-raspistill's.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { RaspistillDefaultError, RaspistillInterruptError, type IRaspistillExecutor } from 'node-raspistill';

const STOP_SIGNAL = 'SIGTERM';
/** stderr kept for error messages (the tail: raspistill puts the reason last). */
const STDERR_KEEP = 4096;

export class StreamingRaspistillExecutor implements IRaspistillExecutor {
  private child: ChildProcess | undefined;

  constructor(private readonly command = 'raspistill') {}

  /** One still with a file name (node-raspistill's file-saving mode). */
  exec(args: string[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.child = execFile(this.command, args, { maxBuffer: 16 * 1024 * 1024, encoding: 'buffer' }, (error, stdout) => {
        if (error) reject(error);
        else resolve(stdout);
      });
    });
  }

  /** One still to stdout; what raspistill wrote on stderr makes the error. */
  spawnAndGetImage(args: string[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      let err = '';
      this.run(args, (chunk) => out.push(chunk), (chunk) => (err = (err + chunk.toString()).slice(-STDERR_KEEP)), (spawnError) => {
        if (spawnError) reject(spawnError);
        else if (err.trim() !== '') reject(new RaspistillDefaultError(RaspistillDefaultError.CODE_SPAWN_PROC_ERROR, err));
        else resolve(Buffer.concat(out));
      }, reject);
    });
  }

  /** Timelapse to stdout: `cb` gets every stdout chunk, not whole images. Resolves when raspistill exits by itself. */
  spawnAndGetImages(args: string[], cb: (chunk: Buffer) => unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      this.run(args, cb, () => undefined, (spawnError) => (spawnError ? reject(spawnError) : resolve()), reject);
    });
  }

  killProcess(): void {
    this.child?.kill(STOP_SIGNAL);
  }

  private run(
    args: string[],
    onStdout: (chunk: Buffer) => unknown,
    onStderr: (chunk: Buffer) => unknown,
    onExit: (spawnError: Error | undefined) => void,
    reject: (err: Error) => void,
  ): void {
    let spawnError: Error | undefined;
    let settled = false;
    const settle = (signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      if (this.child === child) this.child = undefined;
      if (signal === STOP_SIGNAL) reject(new RaspistillInterruptError());
      else onExit(spawnError);
    };
    const child = spawn(this.command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.on('error', (e) => {
      spawnError = e;
      if (child.pid === undefined) settle(null); // never started (ENOENT, EACCES): no 'close' is guaranteed
    });
    child.stdout.on('data', (chunk: Buffer) => onStdout(chunk));
    child.stderr.on('data', (chunk: Buffer) => onStderr(chunk));
    // 'close', not 'exit': every stdout byte has been delivered by then.
    child.on('close', (_code, signal) => settle(signal));
  }
}
