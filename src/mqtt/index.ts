/**
 * The MQTT event sink: the kiosk's events and state on the documented topic tree, with the durable outbox.
 * `createMqttSink(config, deps)` returns null for `mqtt.broker: none`; with `embedded` it runs an in-process broker.
 */
import path from 'node:path';
import type { KioskConfig } from '../config/schema.js';
import type { EventSink, FaceEvent, FrameReport, ModelRef } from '../events/types.js';
import type { Logger } from '../util/logger.js';
import { packageVersion } from '../util/paths.js';
import type { ConnectionSettings } from './connection.js';
import { DISCOVERY_MIN_INTERVAL_MS, DiscoveryThrottle, discoveryMessages } from './discovery.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.js';
import { sampleHealth } from './health.js';
import { Outbox } from './outbox.js';
import { availabilityPayload, eventPayload, statsPayload } from './payloads.js';
import { Publisher, type PublisherStatus } from './publisher.js';
import { deriveState, FrameStats, stateKey, WindowCounter } from './reducers.js';
import { defaultDeviceId, deviceTopics, type DeviceTopics } from './topics.js';

export { defaultDeviceId, deviceTopics } from './topics.js';
export { OutboxLockedError } from './outbox.js';

/** The outbox folder a config uses. */
export function outboxDir(config: KioskConfig): string {
  return config.mqtt.outbox.dir ?? path.join(config.dataDir, 'outbox');
}

/**
 * Throws OutboxLockedError when another running process has this config's outbox open (before the camera is opened:
 * a second kiosk beside the service should hear about the outbox, not about a busy camera). The sink takes the lock.
 */
export async function assertOutboxFree(config: KioskConfig): Promise<void> {
  if (config.mqtt.broker === 'none') return;
  await Outbox.assertNotInUse(outboxDir(config));
}

/** Least time between two retained state messages (a flickering detection must not flood the broker). */
const STATE_MIN_INTERVAL_MS = 250;

export interface MqttSink extends EventSink {
  readonly deviceId: string;
  readonly topics: DeviceTopics;
  /** Broker and outbox state (for the in-process dashboard and the run summary). */
  status(): PublisherStatus & { brokerUrl: string; unstored: number };
}

export interface MqttSinkDeps {
  logger: Logger;
  model: ModelRef;
  /** Clock, for tests. */
  now?: () => number;
  /** mqtt.js window of unacknowledged events. */
  window?: number;
}

export async function createMqttSink(config: KioskConfig, deps: MqttSinkDeps): Promise<MqttSink | null> {
  const m = config.mqtt;
  if (m.broker === 'none') return null;
  return new KioskMqttSink(config, deps);
}

class KioskMqttSink implements MqttSink {
  readonly name = 'mqtt';
  readonly deviceId: string;
  readonly topics: DeviceTopics;
  private readonly log: Logger;
  private readonly now: () => number;
  private broker: EmbeddedBroker | null = null;
  private outbox: Outbox | null = null;
  private publisher: Publisher | null = null;
  private readonly frameStats = new FrameStats();
  private readonly window: WindowCounter;
  private lastFrame: Pick<FrameReport, 'faces'> = { faces: [] };
  private lastStateKey: string | null = null;
  private lastStateAt = 0;
  private stateTimer: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt: number;
  private url = '';
  private everConnected = false;

  constructor(
    private readonly config: KioskConfig,
    private readonly deps: MqttSinkDeps,
  ) {
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.deviceId = config.mqtt.deviceId ?? defaultDeviceId();
    this.topics = deviceTopics(config.mqtt.topicPrefix, this.deviceId);
    this.window = new WindowCounter(this.deviceId, config.mqtt.countsWindowS, this.now());
    this.startedAt = this.now();
  }

  status(): PublisherStatus & { brokerUrl: string; unstored: number } {
    const s = this.publisher?.status() ?? {
      connected: false,
      url: this.url,
      pending: this.outbox?.size ?? 0,
      inflight: 0,
      dropped: this.outbox?.dropped ?? 0,
      lastError: null,
      everConnected: false,
    };
    return { ...s, brokerUrl: this.url, unstored: this.outbox?.unstored ?? 0 };
  }

  async start(): Promise<void> {
    const m = this.config.mqtt;
    if (m.broker === 'embedded') {
      this.broker = await startEmbeddedBroker(m.embeddedPort);
      this.log.info(`embedded MQTT broker listening on ${this.broker.url} (subscribe: mosquitto_sub -h 127.0.0.1 -p ${this.broker.port} -t '${m.topicPrefix}/#' -v)`);
    }
    this.url = this.broker?.url ?? m.broker;
    const dir = outboxDir(this.config);
    this.outbox = await Outbox.open({ dir, maxEvents: m.outbox.maxEvents, maxAgeMs: m.outbox.maxAgeHours * 3_600_000, logger: this.log });
    const settings: ConnectionSettings = {
      url: this.url,
      username: m.username,
      password: m.password,
      ca: m.ca,
      cert: m.cert,
      key: m.key,
      rejectUnauthorized: m.rejectUnauthorized,
      keepaliveS: m.keepaliveS,
      clientId: `emotion-kiosk-${this.deviceId}`,
      will: { topic: this.topics.availability, payload: JSON.stringify(availabilityPayload(this.deviceId, 'offline', { reason: 'connection_lost' })) },
    };
    const discovery = m.homeAssistant.enabled
      ? discoveryMessages({
          discoveryPrefix: m.homeAssistant.discoveryPrefix,
          deviceId: this.deviceId,
          topics: this.topics,
          swVersion: packageVersion(),
          modelName: this.deps.model.name,
        })
      : [];
    const publisher = new Publisher({
      settings,
      outbox: this.outbox,
      logger: this.log,
      reconnectMaxDelayMs: m.reconnectMaxDelayMs,
      window: this.deps.window,
      onConnect: () => {
        // availability first: the state and discovery that follow describe an online device
        publisher.publishNow(this.topics.availability, JSON.stringify(availabilityPayload(this.deviceId, 'online', { timestamp: this.now() })), true);
        for (const d of discovery) publisher.publishNow(d.topic, d.payload, true);
        // fresh stats (broker connected, outbox backlog) rather than the ones kept from before an outage
        if (this.everConnected) void this.publishStats();
        this.everConnected = true;
      },
    });
    this.publisher = publisher;
    if (discovery.length > 0) {
      // Home Assistant asks integrations to re-send discovery (and then state) when it comes online: at most one
      // burst per DISCOVERY_MIN_INTERVAL_MS, whoever publishes there (the configs are retained anyway).
      const statusTopic = `${m.homeAssistant.discoveryPrefix}/status`;
      const throttle = new DiscoveryThrottle(DISCOVERY_MIN_INTERVAL_MS, this.now);
      publisher.subscribe(statusTopic, (payload) => {
        if (payload.toString().trim() !== 'online') return;
        const ago = throttle.sinceLast();
        if (!throttle.take()) {
          this.log.debug(`${statusTopic} online: discovery not re-sent, the last burst was ${((ago ?? 0) / 1000).toFixed(1)} s ago (at most one per ${DISCOVERY_MIN_INTERVAL_MS / 1000} s)`);
          return;
        }
        this.log.info(`${statusTopic} online: Home Assistant restarted, discovery re-sent`);
        for (const d of discovery) publisher.publishNow(d.topic, d.payload, true);
        this.publishState(true);
      });
    }
    publisher.start();
    this.publishState(true);
    this.timers.push(
      setInterval(() => void this.publishStats(), m.statsIntervalS * 1000),
      setInterval(() => {
        if (this.window.due(this.now())) this.publishCounts();
      }, Math.min(1000, m.countsWindowS * 1000)),
    );
    for (const t of this.timers) t.unref();
    void this.publishStats();
  }

  async onEvent(event: FaceEvent): Promise<void> {
    this.window.onEvent(event);
    const outbox = this.outbox;
    if (!outbox) throw new Error('mqtt sink: onEvent before start()');
    try {
      await outbox.append(this.topics.events, (seq) => JSON.stringify(eventPayload(this.deviceId, seq, event)));
    } catch (err) {
      // The disk is full or failing (the outbox said so once and counts these as outbox.unstored): still try to
      // deliver it (QoS 1, no durability) rather than lose it silently.
      this.log.debug(`${(err as Error).message}; event ${event.eventId} is sent without the durable outbox`);
      this.publisher?.publishNow(this.topics.events, JSON.stringify(eventPayload(this.deviceId, -1, event)));
    }
  }

  onFrame(report: FrameReport): void {
    this.frameStats.onFrame(report);
    this.window.onFrame(report);
    this.lastFrame = report;
    this.publishState(false);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = null;
    if (this.publisher) {
      this.publishCounts();
      await this.publisher.stop({
        topic: this.topics.availability,
        payload: JSON.stringify(availabilityPayload(this.deviceId, 'offline', { reason: 'shutdown', timestamp: this.now() })),
      });
    }
    await this.outbox?.close();
    await this.broker?.close();
    this.publisher = null;
    this.broker = null;
  }

  /** Publishes the retained state when faces or their emotions changed (at most every 250 ms, the last one wins). */
  private publishState(force: boolean): void {
    const p = this.publisher;
    if (!p) return;
    const state = deriveState(this.deviceId, this.deps.model, this.lastFrame, this.now());
    const key = stateKey(state);
    if (!force && key === this.lastStateKey) return;
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
    this.lastStateAt = this.now();
    p.publishRetained(this.topics.state, JSON.stringify(state));
  }

  private publishCounts(): void {
    this.publisher?.publishRetained(this.topics.counts, JSON.stringify(this.window.close(this.now())));
  }

  private async publishStats(): Promise<void> {
    const h = await sampleHealth();
    const p = this.publisher;
    if (!p) return;
    const f = this.frameStats.snapshot();
    const s = p.status();
    const stats = statsPayload({
      deviceId: this.deviceId,
      now: this.now(),
      startedAt: this.startedAt,
      health: h,
      frames: f,
      outbox: { pending: s.pending, dropped: s.dropped, durable: this.outbox?.durable ?? false, unstored: this.outbox?.unstored ?? 0 },
      brokerConnected: s.connected,
      model: this.deps.model,
    });
    p.publishRetained(this.topics.stats, JSON.stringify(stats));
  }
}
