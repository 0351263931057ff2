/**
 * The terminal dashboard: one controller (state + view + one refresh timer) fed either over MQTT
 * (`emotion-kiosk dashboard`) or in-process as a transport of the kiosk's telemetry producer (`emotion-kiosk run --dashboard`).
 * While a dashboard owns the terminal, log lines written through `routeLogLine` go to its events panel instead of
 * scribbling on the screen; afterwards they go to stderr again.
 */
import type { KioskConfig } from '../config/index.js';
import type { EventSink, FaceEvent, ModelRef } from '../events/index.js';
import { type Logger, redactUrl } from '../util/index.js';
import { availabilityPayload, TelemetryProducer, type TelemetryMessage, type TelemetryTransport } from '../telemetry/index.js';
import type { EventPayload } from '../contract/index.js';
import { resolveDeviceId, subscribeKiosks, type SubscriberOptions } from '../mqtt/index.js';
import { watchRemote, type RemoteWatch } from '../fleet/index.js';
import { addLog, applyContractMessage, applyMessage, applyRemoteMessage, createDashboardState, noteMalformed, sampleMix, selectNext, setSource, togglePause, type DashboardState } from './model.js';
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
  let remote: RemoteWatch | null = null;
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
    // the command bus: each device's model state and the responses to anyone's requests
    remote = watchRemote(o, {
      onMessage: (message) => {
        applyRemoteMessage(c.state, message, Date.now());
        c.changed();
      },
      onMalformed: (topic, reason) => {
        noteMalformed(c.state, topic, reason);
        o.logger?.debug(`ignored a malformed message on ${printable(topic).slice(0, 200)}: ${printable(reason).slice(0, 200)}`);
        c.changed();
      },
    });
    await c.untilQuit();
  } finally {
    c.stop();
    await sub?.close();
    await remote?.close();
  }
}

/**
 * `emotion-kiosk run --dashboard`: the same view fed by the kiosk's own telemetry producer (a transport beside MQTT).
 * Without MQTT (`mqttOff`) the health panel says so instead of showing a disconnected broker. Closing it (q) stops only
 * the view; the kiosk decides when to stop (`onQuit` lets it stop too). stop() restores the terminal.
 */
export class DashboardTransport implements TelemetryTransport {
  readonly name = 'dashboard';
  private readonly c: DashboardController;

  constructor(
    private readonly deviceId: string,
    private readonly deps: { logger: Logger; onQuit?: () => void; mqttOff: boolean },
  ) {
    this.c = new DashboardController(deviceId, 'in-process');
    this.c.state.mqttOff = deps.mqttOff;
  }

  /** Through the contract like a remote message: what fails it is dropped, counted, and named at debug level. */
  private apply(kind: Parameters<typeof applyMessage>[2], payload: unknown): void {
    if (!applyMessage(this.c.state, this.deviceId, kind, payload, Date.now())) this.deps.logger.debug(`dashboard ignored a malformed ${kind} message: ${this.c.state.malformed.lastReason}`);
    this.c.changed();
  }

  async start(): Promise<void> {
    this.c.start();
    setSource(this.c.state, true, null, Date.now());
    this.apply('availability', availabilityPayload(this.deviceId, 'online', { timestamp: Date.now() }));
    void this.c.untilQuit().then(() => {
      this.deps.logger.info('dashboard closed (q)');
      this.deps.onQuit?.();
    });
  }

  event(_event: FaceEvent, payload: (seq: number) => EventPayload): void {
    this.apply('events', payload(0));
  }

  publish(message: TelemetryMessage): void {
    this.apply(message.kind, message.payload);
  }

  async stop(): Promise<void> {
    this.c.quit();
    this.c.stop();
  }
}

/** The telemetry producer with the dashboard alone (MQTT off): for tools and tests. `run` puts both on one producer. */
export function createInProcessDashboard(config: KioskConfig, deps: { logger: Logger; onQuit?: () => void; model?: ModelRef }): EventSink {
  const deviceId = resolveDeviceId(config);
  return new TelemetryProducer(
    { deviceId, model: deps.model ?? { name: '?', version: '?' }, countsWindowS: config.mqtt.countsWindowS, statsIntervalS: config.mqtt.statsIntervalS, logger: deps.logger },
    [new DashboardTransport(deviceId, { logger: deps.logger, mqttOff: true, ...(deps.onQuit ? { onQuit: deps.onQuit } : {}) })],
  );
}
