/**
 * A small hand-off between a producer that pushes frames as a camera makes them (a child process's stdout) and a
 * consumer that pulls them when it is ready (the kiosk loop). A live camera must show the newest picture, so when the
 * consumer falls behind the oldest queued frames are dropped (counted), never buffered without bound. A producer
 * failure is delivered after the frames already queued.
 */

export class QueueTimeoutError extends Error {
  constructor(readonly waitedMs: number) {
    super(`no frame within ${waitedMs} ms`);
    this.name = 'QueueTimeoutError';
  }
}

interface Waiter<T> {
  resolve: (item: T) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class LatestFrames<T> {
  private readonly items: T[] = [];
  private waiter: Waiter<T> | undefined;
  private failure: Error | undefined;
  /** Frames discarded because the consumer was behind. */
  dropped = 0;

  constructor(private readonly capacity = 2) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
  }

  get length(): number {
    return this.items.length;
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  push(item: T): void {
    if (this.failure) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.resolve(item);
      return;
    }
    this.items.push(item);
    while (this.items.length > this.capacity) {
      this.items.shift();
      this.dropped++;
    }
  }

  /** The producer is gone: after the queued frames, next() rejects with `error`. The first failure wins. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const w = this.waiter;
    if (w && this.items.length === 0) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.reject(error);
    }
  }

  /** The oldest queued frame, or the next one pushed; rejects with QueueTimeoutError after `timeoutMs` (0 = wait forever). */
  next(timeoutMs = 0): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error('LatestFrames.next() called while another next() is pending'));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, timer: undefined };
      if (timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          if (this.waiter === waiter) this.waiter = undefined;
          reject(new QueueTimeoutError(timeoutMs));
        }, timeoutMs);
      }
      this.waiter = waiter;
    });
  }
}
