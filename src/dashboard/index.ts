/**
 * The terminal dashboard: one controller (state + view + one refresh timer) fed either over MQTT
 * (`emotion-kiosk dashboard`) or in-process from the kiosk's own events and frames (`emotion-kiosk run --dashboard`).
 * While a dashboard owns the terminal, log lines written through `routeLogLine` go to its events panel instead of
 * scribbling on the screen; afterwards they go to stderr again.
 */
import type { KioskConfig } from '../config/schema.js';
import type { EventSink, FaceEvent, FrameReport } from '../events/types.js';
import type { Logger } from '../util/logger.js';
import { sampleHealth } from '../mqtt/health.js';
import { availabilityPayload, eventPayload, statsPayload } from '../mqtt/payloads.js';
import { deriveState, FrameStats, WindowCounter } from '../mqtt/reducers.js';
import { defaultDeviceId } from '../mqtt/topics.js';
import { subscribeKiosks, type SubscriberOptions } from '../mqtt/subscriber.js';
import { redactUrl } from '../util/redact.js';
import { addLog, applyContractMessage, applyMessage, createDashboardState, noteMalformed, sampleMix, selectNext, setSource, togglePause, type DashboardState } from './model.js';
import { printable } from './printable.js';
import { DashboardView } from './view.js';

let activeLogSink: ((line: string) => void) | null = null;

/** A Logger write function: to the active dashboard's panel, else stderr. Pass it to createLogger for `run --dashboard`. */
export function routeLogLine(line: string): void {
  if (activeLogSink) activeLogSink(line);
  else process.stderr.write(line + '\n');
}

const RENDER_MS = 250;
const SAMPLE_MS = 1_000;

class DashboardController {
  readonly state: DashboardState;
  private view: DashboardView | null = null;
  private timers: NodeJS.Timeout[] = [];
  private dirty = true;
  private readonly quitWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly onSignal = () => this.quit();

  constructor(filter: string, sourceLabel: string) {
    this.state = createDashboardState(filter, sourceLabel);
  }

  start(): void {
    this.view = new DashboardView({
      quit: () => this.quit(),
      nextDevice: () => {
        selectNext(this.state);
        this.redraw();
      },
      togglePause: () => {
        togglePause(this.state);
        this.redraw();
      },
    });
    activeLogSink = (line) => {
      addLog(this.state, line.replace(/^\S+ /, ''), Date.now());
      this.dirty = true;
    };
    process.on('SIGTERM', this.onSignal);
    process.on('SIGHUP', this.onSignal);
    this.timers.push(
      setInterval(() => {
        if (this.dirty && !this.state.paused) this.redraw();
      }, RENDER_MS),
      setInterval(() => {
        sampleMix(this.state);
        this.dirty = true;
      }, SAMPLE_MS),
    );
    this.redraw();
  }

  changed(): void {
    this.dirty = true;
  }

  /** Resolves when the user quits (q, Ctrl-C) or a SIGTERM/SIGHUP arrives. */
  untilQuit(): Promise<void> {
    return new Promise((resolve) => this.quitWaiters.push(resolve));
  }

  quit(): void {
    for (const w of this.quitWaiters.splice(0)) w();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    process.off('SIGTERM', this.onSignal);
    process.off('SIGHUP', this.onSignal);
    activeLogSink = null;
    this.view?.destroy();
    this.view = null;
  }

  private redraw(): void {
    this.dirty = false;
    this.view?.draw(this.state);
  }
}

export interface MqttDashboardOptions extends SubscriberOptions {
  /** Its lines go to the events panel; at debug level it names the topic of each malformed message. */
  logger?: Logger;
}

/** `emotion-kiosk dashboard`: watches kiosks over MQTT until the user quits; restores the terminal. */
export async function runMqttDashboard(o: MqttDashboardOptions): Promise<void> {
  const c = new DashboardController(o.device, `${redactUrl(o.url)} ${o.prefix}/${o.device === 'all' ? '+' : o.device}`);
  c.start();
  let sub: { close(): Promise<void> } | null = null;
  try {
    // inside the try: a setting that fails here (an unreadable CA or client certificate) must still restore the terminal
    sub = subscribeKiosks(o, {
      onMessage: (message) => {
        applyContractMessage(c.state, message, Date.now());
        c.changed();
      },
      onMalformed: (topic, reason, retained) => {
        noteMalformed(c.state, topic, reason);
        o.logger?.debug(`ignored a malformed${retained ? ' retained' : ''} message on ${printable(topic).slice(0, 200)}: ${printable(reason).slice(0, 200)}`);
        c.changed();
      },
      onStatus: ({ connected, error }) => {
        setSource(c.state, connected, error, Date.now());
        c.changed();
      },
    });
    await c.untilQuit();
  } finally {
    c.stop();
    await sub?.close();
  }
}

/**
 * `emotion-kiosk run --dashboard`: the same view fed from the pipeline. Without `broker` (MQTT off) the health panel
 * says so instead of showing a disconnected broker. Closing it (q) stops only the view; the
 * kiosk decides when to stop (`onQuit` lets it stop too). stop() restores the terminal.
 */
export function createInProcessDashboard(
  config: KioskConfig,
  deps: { logger: Logger; onQuit?: () => void; broker?: () => { connected: boolean; pending: number; dropped: number; unstored?: number } },
): EventSink {
  const deviceId = config.mqtt.deviceId ?? defaultDeviceId();
  const c = new DashboardController(deviceId, 'in-process');
  c.state.mqttOff = deps.broker === undefined;
  const frameStats = new FrameStats();
  const windowCounter = new WindowCounter(deviceId, config.mqtt.countsWindowS, Date.now());
  let model = { name: '?', version: '?' };
  const startedAt = Date.now();
  let statsTimer: NodeJS.Timeout | null = null;
  let countsTimer: NodeJS.Timeout | null = null;
  let running = false;
  /** Through the contract like a remote message: what fails it is dropped, counted, and named at debug level. */
  const apply = (kind: Parameters<typeof applyMessage>[2], payload: unknown) => {
    if (!applyMessage(c.state, deviceId, kind, payload, Date.now())) deps.logger.debug(`dashboard ignored a malformed ${kind} message: ${c.state.malformed.lastReason}`);
    c.changed();
  };

  const publishStats = async () => {
    const h = await sampleHealth();
    if (!running) return;
    const f = frameStats.snapshot();
    const b = deps.broker?.() ?? { connected: false, pending: 0, dropped: 0 };
    const now = Date.now();
    const stats = statsPayload({
      deviceId,
      now,
      startedAt,
      health: h,
      frames: f,
      outbox: { pending: b.pending, dropped: b.dropped, durable: true, unstored: b.unstored ?? 0 },
      brokerConnected: b.connected,
      model,
    });
    apply('stats', stats);
  };

  return {
    name: 'dashboard',
    async start() {
      running = true;
      c.start();
      setSource(c.state, true, null, Date.now());
      apply('availability', availabilityPayload(deviceId, 'online', { timestamp: Date.now() }));
      void c.untilQuit().then(() => {
        deps.logger.info('dashboard closed (q)');
        deps.onQuit?.();
      });
      statsTimer = setInterval(() => void publishStats(), 2_000);
      countsTimer = setInterval(() => {
        if (windowCounter.due(Date.now())) apply('counts', windowCounter.close(Date.now()));
      }, 1_000);
      void publishStats();
    },
    onEvent(event: FaceEvent) {
      model = event.model;
      windowCounter.onEvent(event);
      apply('events', eventPayload(deviceId, 0, event));
    },
    onFrame(report: FrameReport) {
      frameStats.onFrame(report);
      windowCounter.onFrame(report);
      apply('state', deriveState(deviceId, model, report, Date.now()));
    },
    async stop() {
      running = false;
      if (statsTimer) clearInterval(statsTimer);
      if (countsTimer) clearInterval(countsTimer);
      c.quit();
      c.stop();
    },
  };
}
