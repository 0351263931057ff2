/**
 * The MQTT transport of the kiosk's telemetry: events through the durable outbox, state, counts and stats retained on
 * the documented topic tree, availability with a last will, Home Assistant discovery. What is said comes from the one
 * telemetry producer (src/telemetry/producer.ts); this module only carries it.
 * `createMqttTransport(config, deps)` returns null for `mqtt.broker: none`; with `embedded` it runs an in-process
 * broker. `createMqttSink` is the producer with this transport alone (tests, benchmarks, tools).
 */
import path from 'node:path';
import type { KioskConfig } from '../config/index.js';
import type { EventSink, FaceEvent, ModelRef } from '../events/index.js';
import { availabilityPayload, TelemetryProducer, type DeliveryStatus, type TelemetryHub, type TelemetryMessage, type TelemetryTransport } from '../telemetry/index.js';
import { type Logger, packageVersion } from '../util/index.js';
import { kioskConnectionSettings } from './connection.js';
import { remoteDiscoveryTopics, deviceTopics, type DeviceTopics, type EventPayload } from '../contract/index.js';
import { defaultDeviceId } from '../system/index.js';
import { DISCOVERY_MIN_INTERVAL_MS, DiscoveryThrottle, discoveryMessages } from './discovery.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.js';
import { Outbox } from './outbox.js';
import { Publisher, type PublisherStatus } from './publisher.js';

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

export interface MqttStatus extends PublisherStatus {
  brokerUrl: string;
  unstored: number;
}

export interface MqttSink extends EventSink {
  readonly deviceId: string;
  readonly topics: DeviceTopics;
  /** Broker and outbox state (for the in-process dashboard and the run summary). */
  status(): MqttStatus;
}

export interface MqttSinkDeps {
  logger: Logger;
  model: ModelRef;
  /** Clock, for tests. */
  now?: () => number;
  /** mqtt.js window of unacknowledged events. */
  window?: number;
}

/** The device id a config names, or the one derived from this machine (src/system/identity.ts). */
export function resolveDeviceId(config: KioskConfig): string {
  return config.mqtt.deviceId ?? defaultDeviceId();
}

export function createMqttTransport(config: KioskConfig, deps: MqttSinkDeps): MqttTransport | null {
  if (config.mqtt.broker === 'none') return null;
  return new MqttTransport(config, deps);
}

/** The telemetry producer with the MQTT transport alone: an EventSink that publishes everything the kiosk says. */
export async function createMqttSink(config: KioskConfig, deps: MqttSinkDeps): Promise<MqttSink | null> {
  const transport = createMqttTransport(config, deps);
  if (!transport) return null;
  const producer = new TelemetryProducer(
    {
      deviceId: transport.deviceId,
      model: deps.model,
      countsWindowS: config.mqtt.countsWindowS,
      statsIntervalS: config.mqtt.statsIntervalS,
      logger: deps.logger,
      ...(deps.now ? { now: deps.now } : {}),
    },
    [transport],
  );
  return Object.assign(producer, { name: 'mqtt', topics: transport.topics, status: () => transport.status() }) as unknown as MqttSink;
}

export class MqttTransport implements TelemetryTransport {
  readonly name = 'mqtt';
  readonly deviceId: string;
  readonly topics: DeviceTopics;
  private readonly log: Logger;
  private readonly now: () => number;
  private broker: EmbeddedBroker | null = null;
  private outbox: Outbox | null = null;
  private publisher: Publisher | null = null;
  private url = '';
  private everConnected = false;

  constructor(
    private readonly config: KioskConfig,
    private readonly deps: MqttSinkDeps,
  ) {
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.deviceId = resolveDeviceId(config);
    this.topics = deviceTopics(config.mqtt.topicPrefix, this.deviceId);
  }

  status(): MqttStatus {
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

  delivery(): DeliveryStatus {
    const s = this.status();
    return { brokerConnected: s.connected, outbox: { pending: s.pending, dropped: s.dropped, durable: this.outbox?.durable ?? false, unstored: s.unstored } };
  }

  async start(hub: TelemetryHub): Promise<void> {
    const m = this.config.mqtt;
    if (m.broker === 'embedded') {
      this.broker = await startEmbeddedBroker(m.embeddedPort);
      this.log.info(`embedded MQTT broker listening on ${this.broker.url} (subscribe: mosquitto_sub -h 127.0.0.1 -p ${this.broker.port} -t '${m.topicPrefix}/#' -v)`);
    }
    this.url = this.broker?.url ?? m.broker;
    try {
      this.outbox = await Outbox.open({ dir: outboxDir(this.config), maxEvents: m.outbox.maxEvents, maxAgeMs: m.outbox.maxAgeHours * 3_600_000, logger: this.log });
    } catch (err) {
      await this.broker?.close();
      this.broker = null;
      throw err;
    }
    const settings = kioskConnectionSettings(m, this.url, `emotion-kiosk-${this.deviceId}`, {
      topic: this.topics.availability,
      payload: JSON.stringify(availabilityPayload(this.deviceId, 'offline', { reason: 'connection_lost' })),
    });
    const discovery = m.homeAssistant.enabled
      ? discoveryMessages({
          discoveryPrefix: m.homeAssistant.discoveryPrefix,
          deviceId: this.deviceId,
          topics: this.topics,
          swVersion: packageVersion(),
          modelName: this.deps.model.name,
          ...remoteDiscoveryTopics(this.config.remote, m.topicPrefix, this.deviceId),
        })
      : [];
    let publisher: Publisher;
    try {
      publisher = new Publisher({
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
          if (this.everConnected) hub.refreshStats();
          this.everConnected = true;
        },
      });
    } catch (err) {
      // e.g. an unreadable CA file: nothing of this transport may stay open
      await this.outbox.close();
      await this.broker?.close();
      this.outbox = null;
      this.broker = null;
      throw err;
    }
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
        hub.refreshState();
      });
    }
    publisher.start();
  }

  async event(event: FaceEvent, payload: (seq: number) => EventPayload): Promise<void> {
    const outbox = this.outbox;
    if (!outbox) throw new Error('mqtt transport: event before start()');
    try {
      await outbox.append(this.topics.events, (seq) => JSON.stringify(payload(seq)));
    } catch (err) {
      // The disk is full or failing (the outbox said so once and counts these as outbox.unstored): still try to
      // deliver it (QoS 1, no durability) rather than lose it silently.
      this.log.debug(`${(err as Error).message}; event ${event.eventId} is sent without the durable outbox`);
      this.publisher?.publishNow(this.topics.events, JSON.stringify(payload(-1)));
    }
  }

  publish(message: TelemetryMessage): void {
    this.publisher?.publishRetained(this.topics[message.kind], JSON.stringify(message.payload));
  }

  async stop(): Promise<void> {
    if (this.publisher) {
      await this.publisher.stop({
        topic: this.topics.availability,
        payload: JSON.stringify(availabilityPayload(this.deviceId, 'offline', { reason: 'shutdown', timestamp: this.now() })),
      });
    }
    await this.outbox?.close();
    await this.broker?.close();
    this.publisher = null;
    this.outbox = null;
    this.broker = null;
  }
}

// The rest of the folder's public face (what other folders use).
export { brokerAddress, clientOptions, connectClient, kioskConnectionSettings, MqttConfigError } from './connection.js';
export type { ConnectionSettings } from './connection.js';
export { connectSubscriber, subscribeKiosks } from './subscriber.js';
export type { SubscriberOptions } from './subscriber.js';
