/**
 * The one telemetry producer. The pipeline's frames and events come in (it is the kiosk's one telemetry EventSink);
 * what the kiosk says about itself goes out, computed once, to every transport: the MQTT transport (events through
 * the durable outbox, the rest retained) and the in-process dashboard alike.
 *
 * - events: each face event, with a payload builder (the MQTT outbox gives it its sequence number);
 * - state: the faces in view, when faces or their emotions changed, at most every STATE_MIN_INTERVAL_MS, and with
 *   new confidences at most every STATE_REFRESH_MS;
 * - counts: the emotion counts of each closed window (mqtt.countsWindowS), and the partial one at stop;
 * - stats: every mqtt.statsIntervalS seconds and when a transport asks (after a reconnect): frame rate and latencies,
 *   device health, the camera's state, and delivery (broker, outbox) from the transport that has one.
 * Availability is the transports' own business (an MQTT last will, a dashboard that is simply there).
 */
import type { CameraStats } from '../capture/index.js';
import type { EventSink, FaceEvent, FrameReport, ModelRef } from '../events/index.js';
import type { Logger } from '../util/index.js';
import { sampleHealth, type HealthSample } from './health.js';
import { eventPayload, statsPayload } from './payloads.js';
import type { CountsPayload, EventPayload, StatePayload, StatsPayload } from '../contract/index.js';
import { deriveState, FrameStats, stateKey, WindowCounter } from './reducers.js';

/** Least time between two state messages (a flickering detection must not flood a broker). */
export const STATE_MIN_INTERVAL_MS = 250;
/**
 * Same faces and emotions, other confidences: re-sent at most this often, so a viewer sees a face's confidence fall
 * (an emotion the tracker holds by hysteresis while its score drops) without a message for every frame's jitter.
 */
export const STATE_REFRESH_MS = 1000;

export type TelemetryMessage =
  | { kind: 'state'; payload: StatePayload }
  | { kind: 'counts'; payload: CountsPayload }
  | { kind: 'stats'; payload: StatsPayload };

/** What a transport that delivers somewhere can say about it (the MQTT one: broker and outbox). */
export interface DeliveryStatus {
  brokerConnected: boolean;
  outbox: StatsPayload['outbox'];
}

/** What a transport may ask of the producer. */
export interface TelemetryHub {
  /** Send fresh stats now (after a reconnect the retained ones are stale). */
  refreshStats(): void;
  /** Send the current state now, unthrottled (a subscriber asked for it, e.g. Home Assistant restarted). */
  refreshState(): void;
}

export interface TelemetryTransport {
  readonly name: string;
  start?(hub: TelemetryHub): Promise<void>;
  /** One face event; `payload(seq)` builds its message (seq: the transport's own sequence, e.g. the outbox's). */
  event(event: FaceEvent, payload: (seq: number) => EventPayload): void | Promise<void>;
  publish(message: TelemetryMessage): void;
  delivery?(): DeliveryStatus;
  stop?(): Promise<void>;
}

export interface TelemetryOptions {
  deviceId: string;
  model: ModelRef;
  countsWindowS: number;
  statsIntervalS: number;
  logger: Logger;
  /** The camera's state (ResilientFrameSource.cameraStats); a kiosk without one reports a connected source. */
  camera?: () => CameraStats;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
  /** Device health sampler, for tests. */
  health?: () => Promise<HealthSample>;
}

const NO_DELIVERY: DeliveryStatus = { brokerConnected: false, outbox: { pending: 0, dropped: 0, durable: false, unstored: 0 } };
const NO_CAMERA: CameraStats = { state: 'connected', reconnects: 0, droppedFrames: 0 };

export class TelemetryProducer implements EventSink {
  readonly name = 'telemetry';
  private readonly now: () => number;
  private readonly frameStats = new FrameStats();
  private readonly window: WindowCounter;
  private readonly startedAt: number;
  private lastFrame: Pick<FrameReport, 'faces'> = { faces: [] };
  private lastStateKey: string | null = null;
  private lastConfidences = '';
  private lastStateAt = 0;
  private stateTimer: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private started: TelemetryTransport[] = [];
  private running = false;

  constructor(
    private readonly o: TelemetryOptions,
    private readonly transports: readonly TelemetryTransport[],
  ) {
    this.now = o.now ?? Date.now;
    this.window = new WindowCounter(o.deviceId, o.countsWindowS, this.now());
    this.startedAt = this.now();
  }

  get deviceId(): string {
    return this.o.deviceId;
  }

  /** Starts the transports in order; when one fails, the ones already started are stopped and the error rethrown. */
  async start(): Promise<void> {
    const hub: TelemetryHub = { refreshStats: () => void this.publishStats(), refreshState: () => this.publishState(true) };
    for (const t of this.transports) {
      try {
        await t.start?.(hub);
      } catch (err) {
        await this.stopTransports();
        throw err;
      }
      this.started.push(t);
    }
    this.running = true;
    this.publishState(true);
    this.timers.push(
      setInterval(() => void this.publishStats(), this.o.statsIntervalS * 1000),
      setInterval(() => {
        if (this.window.due(this.now())) this.publishCounts();
      }, Math.min(1000, this.o.countsWindowS * 1000)),
    );
    for (const t of this.timers) t.unref();
    void this.publishStats();
  }

  /** Every transport gets the event; one that fails is logged and the others still get it. */
  async onEvent(event: FaceEvent): Promise<void> {
    this.window.onEvent(event);
    const build = (seq: number) => eventPayload(this.o.deviceId, seq, event);
    await Promise.all(
      this.started.map(async (t) => {
        try {
          await t.event(event, build);
        } catch (err) {
          this.o.logger.error(`${t.name}: event ${event.eventId} not delivered: ${(err as Error).message}`);
        }
      }),
    );
  }

  onFrame(report: FrameReport): void {
    this.frameStats.onFrame(report);
    this.window.onFrame(report);
    this.lastFrame = report;
    this.publishState(false);
  }

  /** Stops the timers, sends the partial counts window, then stops the transports in reverse order. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = null;
    if (this.started.length > 0) this.publishCounts();
    await this.stopTransports();
  }

  private async stopTransports(): Promise<void> {
    for (const t of this.started.splice(0).reverse()) {
      try {
        await t.stop?.();
      } catch (err) {
        this.o.logger.error(`stopping ${t.name}: ${(err as Error).message}`);
      }
    }
  }

  private send(message: TelemetryMessage): void {
    for (const t of this.started) {
      try {
        t.publish(message);
      } catch (err) {
        this.o.logger.error(`${t.name}: ${message.kind} not delivered: ${(err as Error).message}`);
      }
    }
  }

  /** The state when faces or their emotions changed (at most every STATE_MIN_INTERVAL_MS, the last one wins). */
  private publishState(force: boolean): void {
    if (!this.running) return;
    const state = deriveState(this.o.deviceId, this.o.model, this.lastFrame, this.now());
    const key = stateKey(state);
    const confidences = state.facesInView.map((f) => f.confidence.toFixed(2)).join(',');
    if (!force && key === this.lastStateKey && (confidences === this.lastConfidences || this.now() - this.lastStateAt < STATE_REFRESH_MS)) return;
    const wait = this.lastStateAt + STATE_MIN_INTERVAL_MS - this.now();
    if (!force && wait > 0) {
      if (!this.stateTimer) {
        this.stateTimer = setTimeout(() => {
          this.stateTimer = null;
          this.publishState(false);
        }, wait);
        this.stateTimer.unref();
      }
      return;
    }
    this.lastStateKey = key;
    this.lastConfidences = confidences;
    this.lastStateAt = this.now();
    this.send({ kind: 'state', payload: state });
  }

  private publishCounts(): void {
    this.send({ kind: 'counts', payload: this.window.close(this.now()) });
  }

  private async publishStats(): Promise<void> {
    const health = await (this.o.health ?? sampleHealth)();
    if (!this.running) return;
    const delivery = this.started.find((t) => t.delivery)?.delivery?.() ?? NO_DELIVERY;
    const stats = statsPayload({
      deviceId: this.o.deviceId,
      now: this.now(),
      startedAt: this.startedAt,
      health,
      frames: this.frameStats.snapshot(),
      outbox: delivery.outbox,
      camera: this.o.camera?.() ?? NO_CAMERA,
      brokerConnected: delivery.brokerConnected,
      model: this.o.model,
    });
    this.send({ kind: 'stats', payload: stats });
  }
}
