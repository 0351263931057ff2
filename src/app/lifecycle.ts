/**
 * The one owner of start and stop: each resource the kiosk starts (model, detector, source, sinks, display, signal
 * handlers) is started through a Lifecycle, which pushes its teardown on a stack once the start succeeded. A failure
 * while starting, or a stop, unwinds the stack in reverse order; each teardown is isolated (one that throws is
 * logged and the others still run). Pure of any kiosk knowledge, so it is tested on its own.
 */

/** "This run cannot start" (config, model, cascade, source, MQTT config, display, port in use...): exit code 2, no stack. */
export class StartupError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

export interface LifecycleLogger {
  error(message: string): void;
  debug(message: string): void;
}

interface Teardown {
  name: string;
  stop: () => void | Promise<void>;
}

export interface StopFailure {
  name: string;
  error: unknown;
}

export class Lifecycle {
  private readonly stack: Teardown[] = [];
  private stopping: Promise<StopFailure[]> | undefined;

  constructor(private readonly logger: LifecycleLogger) {}

  /**
   * Starts one resource; on success its teardown goes on the stack, on failure nothing does (a half-started resource
   * cleans up after itself) and the error is re-thrown, wrapped as a StartupError when `asStartupError` says so.
   */
  async start<T>(
    name: string,
    start: () => T | Promise<T>,
    stop: (resource: T) => void | Promise<void>,
    asStartupError: (err: unknown) => boolean = () => false,
  ): Promise<T> {
    if (this.stopping) throw new Error(`cannot start ${name}: the kiosk is stopping`);
    let resource: T;
    try {
      resource = await start();
    } catch (err) {
      if (err instanceof StartupError) throw err;
      // the resources' own messages say what failed and how to fix it; `name` is for the log of the unwinding
      if (asStartupError(err)) throw new StartupError(err instanceof Error ? err.message : `${name}: ${String(err)}`, { cause: err });
      throw err;
    }
    this.stack.push({ name, stop: () => stop(resource) });
    return resource;
  }

  /** Pushes a teardown for something already set up (a signal handler, a timer). */
  defer(name: string, stop: () => void | Promise<void>): void {
    if (this.stopping) throw new Error(`cannot register ${name}: the kiosk is stopping`);
    this.stack.push({ name, stop });
  }

  /** How many teardowns are waiting (for tests and the log). */
  get size(): number {
    return this.stack.length;
  }

  /** Unwinds everything in reverse order, each step isolated; idempotent (a second call waits for the first). */
  stop(): Promise<StopFailure[]> {
    this.stopping ??= (async () => {
      const failures: StopFailure[] = [];
      for (let t = this.stack.pop(); t; t = this.stack.pop()) {
        try {
          this.logger.debug(`stopping ${t.name}`);
          await t.stop();
        } catch (error) {
          failures.push({ name: t.name, error });
          this.logger.error(`stopping ${t.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return failures;
    })();
    return this.stopping;
  }

  /** Runs `body` with the stack unwound afterwards whatever happens (start failures included). */
  static async run<R>(logger: LifecycleLogger, body: (life: Lifecycle) => Promise<R>): Promise<R> {
    const life = new Lifecycle(logger);
    try {
      return await body(life);
    } finally {
      await life.stop();
    }
  }
}
