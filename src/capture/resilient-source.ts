/**
 * Keeps a kiosk running through camera trouble. At start, a source that cannot open is fatal (open() rethrows: the
 * caller exits non-zero with the message). After a good start, a retryable failure (camera unplugged, stream dropped,
 * rpicam-vid died) closes the source and reopens it with exponential backoff (camera.retry), reporting each step via
 * onStateChange and the logger; read() resumes with the reconnected source's frames. Only a non-retryable error or
 * running out of attempts (maxAttempts > 0) ends read() with a SourceError.
 */
import { backoffDelayMs, type Logger } from '../util/index.js';
import { mayRetry, type RetryPolicy } from './backoff.js';
import { SourceError, type CameraStats, type Frame, type FrameSource } from './types.js';

export type SourceState = 'connected' | 'reconnecting' | 'failed';

export interface SourceStateChange {
  state: SourceState;
  /** 0 for the first connect; the reconnect attempt number (1-based) otherwise. */
  attempt: number;
  /** For 'reconnecting': the wait before this attempt. */
  delayMs: number;
  /** What went wrong (the failure that started reconnecting, the failed attempt, or the final error). */
  error?: Error;
}

export class ResilientFrameSource implements FrameSource {
  private source: FrameSource;
  private index = 0;
  private closed = false;
  private opened = false;
  private wakeSleep: (() => void) | undefined;
  /** Reconnects that succeeded over the life of this source. */
  reconnects = 0;
  private state: SourceState = 'connected';
  /** Frames dropped by the sources replaced at reconnects (the current one counts its own). */
  private droppedBefore = 0;

  constructor(
    private readonly inner: FrameSource | (() => FrameSource),
    private readonly retry: RetryPolicy,
    private readonly logger: Logger,
    private readonly onStateChange?: (change: SourceStateChange) => void,
  ) {
    this.source = typeof inner === 'function' ? inner() : inner;
  }

  get description(): string {
    return this.source.description;
  }

  get fps(): number | undefined {
    return this.source.fps;
  }

  /** The camera's state for telemetry: connected / reconnecting / failed, reconnects, frames dropped by live sources. */
  cameraStats(): CameraStats {
    return { state: this.state, reconnects: this.reconnects, droppedFrames: this.droppedBefore + droppedBy(this.source) };
  }

  async open(): Promise<void> {
    this.closed = false;
    await this.source.open();
    this.opened = true;
    this.emit({ state: 'connected', attempt: 0, delayMs: 0 });
  }

  async read(): Promise<Frame | null> {
    if (!this.opened) throw new SourceError(`${this.description}: read() before open()`, false);
    for (;;) {
      if (this.closed) return null;
      let frame: Frame | null;
      try {
        frame = await this.source.read();
      } catch (err) {
        if (this.closed) return null;
        const error = asError(err);
        if (err instanceof SourceError && !err.retryable) {
          this.emit({ state: 'failed', attempt: 0, delayMs: 0, error });
          throw err;
        }
        this.logger.warn(`${this.description} failed: ${error.message}`);
        await this.reconnect(error);
        continue;
      }
      if (frame === null) return null;
      return { ...frame, index: this.index++ };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeSleep?.();
    await this.source.close();
  }

  /** Closes the failed source and reopens (a fresh one when built from a factory) until it works or attempts run out. */
  private async reconnect(cause: Error): Promise<void> {
    await this.source.close().catch((e: unknown) => this.logger.debug(`closing the failed source: ${asError(e).message}`));
    let lastError = cause;
    for (let attempt = 1; ; attempt++) {
      if (!mayRetry(attempt - 1, this.retry)) {
        const error = new SourceError(
          `${this.description}: gave up after ${attempt - 1} reconnect attempt${attempt - 1 === 1 ? '' : 's'} (camera.retry.maxAttempts = ${this.retry.maxAttempts}); last error: ${lastError.message}`,
          false,
        );
        this.emit({ state: 'failed', attempt: attempt - 1, delayMs: 0, error });
        throw error;
      }
      const delayMs = backoffDelayMs(attempt, this.retry);
      this.emit({ state: 'reconnecting', attempt, delayMs, error: lastError });
      this.logger.warn(`reconnecting to ${this.description} in ${formatDelay(delayMs)} (attempt ${attempt}${this.retry.maxAttempts ? ` of ${this.retry.maxAttempts}` : ''})`);
      await this.sleep(delayMs);
      if (this.closed) return;
      try {
        // A factory builds a fresh source per attempt; it may throw too (e.g. the video file was deleted).
        if (typeof this.inner === 'function') {
          this.droppedBefore += droppedBy(this.source);
          this.source = this.inner();
        }
        await this.source.open();
      } catch (err) {
        lastError = asError(err);
        this.logger.warn(`reconnect attempt ${attempt} to ${this.description} failed: ${lastError.message}`);
        await this.source.close().catch(() => undefined);
        if (err instanceof SourceError && !err.retryable) {
          this.emit({ state: 'failed', attempt, delayMs: 0, error: lastError });
          throw err;
        }
        continue;
      }
      if (this.closed) {
        await this.source.close();
        return;
      }
      this.reconnects++;
      this.logger.info(`reconnected to ${this.description} after ${attempt} attempt${attempt === 1 ? '' : 's'}`);
      this.emit({ state: 'connected', attempt, delayMs: 0 });
      return;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeSleep = undefined;
        resolve();
      }
      this.wakeSleep = done;
    });
  }

  private emit(change: SourceStateChange): void {
    this.state = change.state;
    try {
      this.onStateChange?.(change);
    } catch (err) {
      this.logger.error(`source state listener threw: ${asError(err).message}`);
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

/** Frames a live source dropped because the consumer was behind (sources that have no such counter drop none). */
function droppedBy(source: FrameSource): number {
  const n = (source as { droppedFrames?: unknown }).droppedFrames;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}
