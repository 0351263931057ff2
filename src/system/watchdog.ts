/**
 * systemd readiness, watchdog and status (sd_notify) for the kiosk service (Type=notify, WatchdogSec=):
 *   READY=1     once, after the first frame went through the whole pipeline;
 *   WATCHDOG=1  every WatchdogSec/2, but only when frames kept arriving since the previous ping: a stalled camera or a
 *               hung frame loop stops the pings, and systemd kills and restarts the service after WatchdogSec;
 *   STATUS=     fps, faces in view and frames (shown by `systemctl status`), "stalled" while no frames come.
 *
 * How the messages are sent: Node has no unix datagram sockets, so they go through `systemd-notify` (part of systemd
 * on every OS the kiosk runs on), one short child process per message, never awaited by the frame loop. A message
 * from a child process is only accepted with NotifyAccess=all in the unit. (The npm `sd-notify` package is a native
 * addon that needs libsystemd-dev and a compiler on the device; `unix-dgram` is native too.)
 *
 * The policy (what to send when) is pure and takes the time as an argument; the sink and the sender do the I/O.
 */
import { spawn } from 'node:child_process';
import type { EventSink, FrameReport } from '../events/index.js';
import type { Logger } from '../util/index.js';

export interface NotifySettings {
  /** $NOTIFY_SOCKET: set by systemd for Type=notify units; without it nothing is sent. */
  socket: string | undefined;
  /** Half of WatchdogSec ($WATCHDOG_USEC), as systemd recommends; undefined when the watchdog is off. */
  pingIntervalMs: number | undefined;
}

/** What systemd asks for, from the environment (sd_watchdog_enabled's rules: WATCHDOG_PID, when set, must be us). */
export function notifySettingsFromEnv(env: NodeJS.ProcessEnv, pid: number): NotifySettings {
  const socket = env.NOTIFY_SOCKET || undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || Number(env.WATCHDOG_PID) === pid;
  const pingIntervalMs = socket && forUs && Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : undefined;
  return { socket, pingIntervalMs };
}

export interface FrameProgress {
  fps: number;
  faces: number;
}

/** Pure: which notify assignments to send on each frame and each timer tick. */
export class WatchdogPolicy {
  private ready = false;
  private frames = 0;
  private lastFrameAt: number | undefined;
  private framesAtLastTick = 0;
  private last: FrameProgress = { fps: 0, faces: 0 };

  /** A frame went through the pipeline. The first one makes the service ready. */
  onFrame(now: number, progress: FrameProgress): string[] {
    this.frames++;
    this.lastFrameAt = now;
    this.last = progress;
    if (this.ready) return [];
    this.ready = true;
    this.framesAtLastTick = this.frames;
    return ['READY=1', `STATUS=${this.status()}`];
  }

  /** The timer (every pingIntervalMs): WATCHDOG=1 only when frames came since the last tick. */
  tick(now: number): string[] {
    if (!this.ready) return [];
    const moved = this.frames > this.framesAtLastTick;
    this.framesAtLastTick = this.frames;
    if (moved) return ['WATCHDOG=1', `STATUS=${this.status()}`];
    const since = this.lastFrameAt === undefined ? 0 : Math.round((now - this.lastFrameAt) / 1000);
    return [`STATUS=stalled: no frame for ${since} s (watchdog not pinged)`];
  }

  /** At shutdown: systemd then shows why the service is going away. */
  stopping(reason: string): string[] {
    return ['STOPPING=1', `STATUS=${reason}`];
  }

  private status(): string {
    const { fps, faces } = this.last;
    return `running: ${fps.toFixed(1)} fps, ${faces} face${faces === 1 ? '' : 's'} in view, ${this.frames} frames`;
  }
}

/** Sends one notify message (newline-free assignments). */
export type NotifySender = (assignments: string[]) => Promise<void>;

/**
 * The `systemd-notify` sender. It waits for systemd to take each message (systemd >= 246 by default) and carries no
 * MAINPID: systemd attributes the message by the child's cgroup, hence NotifyAccess=all.
 */
export function systemdNotifySender(socket: string, logger: Logger, binary = 'systemd-notify'): NotifySender {
  let warned = false;
  return (assignments) =>
    new Promise<void>((resolve) => {
      const child = spawn(binary, assignments, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: socket } });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const fail = (why: string) => {
        if (!warned) logger.warn(`systemd notify (${assignments[0]}) failed: ${why}; is systemd-notify installed and NotifyAccess=all set?`);
        else logger.debug(`systemd notify failed: ${why}`);
        warned = true;
      };
      child.once('error', (e) => {
        fail(e.message);
        resolve();
      });
      child.once('close', (code) => {
        if (code !== 0 && code !== null) fail(`exit ${code}${err ? `: ${err.trim()}` : ''}`);
        resolve();
      });
    });
}

export interface WatchdogSinkOptions {
  settings: NotifySettings;
  logger: Logger;
  send?: NotifySender;
  now?: () => number;
}

/**
 * The watchdog as an event sink: it sees every processed frame (onFrame) and pings from its own timer. Messages are
 * sent one at a time in order; a timer tick while one is still on its way is skipped (the next tick sends).
 */
export class WatchdogSink implements EventSink {
  readonly name = 'systemd-watchdog';
  private readonly policy = new WatchdogPolicy();
  private readonly send: NotifySender;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  /** Messages queued or on their way. */
  private pending = 0;

  constructor(private readonly o: WatchdogSinkOptions) {
    this.send = o.send ?? systemdNotifySender(o.settings.socket ?? '', o.logger);
    this.now = o.now ?? Date.now;
  }

  async start(): Promise<void> {
    const ms = this.o.settings.pingIntervalMs;
    this.o.logger.info(`systemd notify on${ms ? `, watchdog pinged every ${ms / 1000} s while frames arrive` : ' (no watchdog: WatchdogSec not set)'}`);
    if (ms) {
      this.timer = setInterval(() => {
        if (this.pending === 0) this.queue(this.policy.tick(this.now()));
      }, ms);
      this.timer.unref();
    }
  }

  onEvent(): void {}

  onFrame(report: FrameReport): void {
    this.queue(this.policy.onFrame(this.now(), { fps: report.fps, faces: report.faces.length }));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.queue(this.policy.stopping('stopping'));
    await this.inFlight;
  }

  private queue(assignments: string[]): void {
    if (assignments.length === 0) return;
    this.pending++;
    this.inFlight = this.inFlight
      .then(() => this.send(assignments))
      .catch((err: Error) => this.o.logger.debug(`systemd notify: ${err.message}`))
      .finally(() => void this.pending--);
  }
}

/** The sink when systemd asked for notifications ($NOTIFY_SOCKET), else null. */
export function createWatchdogSink(env: NodeJS.ProcessEnv, logger: Logger): WatchdogSink | null {
  const settings = notifySettingsFromEnv(env, process.pid);
  return settings.socket ? new WatchdogSink({ settings, logger }) : null;
}
