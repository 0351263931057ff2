/**
 * The command bus over MQTT: subscribes to <prefix>/<device>/request/#, hands each request to the CommandBus one at a
 * time (in arrival order, so two `options set` never race), publishes the one response, the retained detection state
 * and snapshots. It reaches the broker through the RemoteTransport port (mqttTransport(): its own mqtt.js connection
 * with the kiosk's credentials), so the logic is tested with an in-memory transport too.
 */
import type { MqttClient } from 'mqtt';
import type { KioskConfig } from '../config/index.js';
import type { EventSink, FrameReport } from '../events/index.js';
import { connectClient, kioskConnectionSettings, type ConnectionSettings } from '../mqtt/index.js';
import { commandOfTopic, remoteTopics, type RemoteTopics } from '../contract/index.js';
import type { Logger } from '../util/index.js';
import { CommandBus, type RemoteHost } from './bus.js';
import { RemoteStore } from './store.js';

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

export interface RemoteTransport {
  /**
   * `filter` may end in /#; the handler gets every matching message (retained ones are ignored by the service).
   * Resolves once the broker granted the subscription (the first time).
   */
  subscribe(filter: string, handler: (topic: string, payload: Buffer, retained: boolean) => void): Promise<void>;
  publish(topic: string, payload: string | Buffer, opts: PublishOptions): Promise<void>;
  close(): Promise<void>;
}

/** Most requests waiting; more are answered "busy" at once (a flood cannot grow memory). */
const MAX_QUEUE = 100;

export class RemoteService {
  readonly topics: RemoteTopics;
  readonly bus: CommandBus;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private closed = false;

  constructor(
    private readonly o: { deviceId: string; prefix: string; host: RemoteHost; store: RemoteStore; transport: RemoteTransport; logger: Logger; now?: () => number },
  ) {
    this.topics = remoteTopics(o.prefix, o.deviceId);
    this.bus = new CommandBus({ deviceId: o.deviceId, host: o.host, store: o.store, now: o.now });
  }

  start(): void {
    this.o.host.setDetectionEnabled(this.bus.detectionEnabled);
    const subscribed = this.o.transport.subscribe(this.topics.requests, (topic, payload, retained) => {
      const command = commandOfTopic(this.topics, topic);
      if (command === null || this.closed) return;
      if (retained) {
        // a request left retained on the broker would run again at every start: refuse it (and say so once)
        this.o.logger.warn(`ignored a retained request on ${topic}: requests must not be retained (clear it: mosquitto_pub -r -n -t '${topic}')`);
        return;
      }
      if (this.queued >= MAX_QUEUE) {
        void this.respond(command, this.busy(command));
        return;
      }
      this.queued += 1;
      this.queue = this.queue.then(async () => {
        try {
          await this.handleOne(command, payload);
        } finally {
          this.queued -= 1;
        }
      });
    });
    // the retained state goes out once requests are heard: a subscriber that sees it can send requests
    void subscribed.then(async () => {
      await this.publishDetection();
      await this.publishModelState();
    });
  }

  /** The retained <prefix>/<device>/model state (also on an automatic rollback). */
  async publishModelState(): Promise<void> {
    const m = this.o.host.modelState?.();
    if (!m) return;
    await this.safePublish(this.topics.model, JSON.stringify({ version: 1, deviceId: this.o.deviceId, model: m }), { qos: 1, retain: true });
  }

  /** Resolves when every request received so far has been answered (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  async stop(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.o.transport.close();
  }

  private async handleOne(command: string, payload: Buffer): Promise<void> {
    const h = await this.bus.handle(command, payload);
    if (h.detection) await this.publishDetection();
    if (h.modelState) await this.publishModelState();
    if (h.snapshot) await this.safePublish(this.topics.snapshot, h.snapshot, { qos: 1, retain: false });
    await this.respond(command, JSON.stringify(h.response));
    if (h.response.status === 'error') this.o.logger.info(`request ${command}: ${h.response.error}`);
    else this.o.logger.info(`request ${command}: ok`);
    h.after?.();
  }

  private busy(command: string): string {
    return JSON.stringify({ version: 1, deviceId: this.o.deviceId, command, status: 'error', error: `busy: ${MAX_QUEUE} requests are waiting; try again` });
  }

  private respond(command: string, payload: string): Promise<void> {
    return this.safePublish(this.topics.response(command.replace(/[+#\u0000]/g, '_')), payload, { qos: 1, retain: false });
  }

  private async publishDetection(): Promise<void> {
    await this.safePublish(this.topics.detection, JSON.stringify(this.bus.detectionState()), { qos: 1, retain: true });
  }

  private async safePublish(topic: string, payload: string | Buffer, opts: PublishOptions): Promise<void> {
    try {
      await this.o.transport.publish(topic, payload, opts);
    } catch (err) {
      this.o.logger.warn(`could not publish ${topic}: ${(err as Error).message}`);
    }
  }
}

/** True when `topic` matches an MQTT filter with + and a trailing #. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The broker connection settings of a kiosk config (the embedded broker is on localhost). */
export function remoteConnectionSettings(config: KioskConfig, deviceId: string): ConnectionSettings {
  const m = config.mqtt;
  return kioskConnectionSettings(m, m.broker === 'embedded' ? `mqtt://127.0.0.1:${m.embeddedPort}` : m.broker, `emotion-kiosk-${deviceId}-remote`);
}

/** A transport on its own mqtt.js connection (reconnects by itself; subscriptions are renewed on every connect). */
export function mqttTransport(settings: ConnectionSettings, logger: Logger): RemoteTransport {
  const client: MqttClient = connectClient(settings);
  const subs: { filter: string; handler: (topic: string, payload: Buffer, retained: boolean) => void; granted: () => void }[] = [];
  const subscribe = (s: (typeof subs)[number]) =>
    client.subscribe(s.filter, { qos: 1 }, (err) => {
      if (err) logger.warn(`remote: subscribing to ${s.filter} failed: ${err.message}`);
      else s.granted();
    });
  client.on('connect', () => {
    for (const s of subs) subscribe(s);
  });
  client.on('error', (err) => logger.debug(`remote connection: ${err.message}`));
  client.on('message', (topic, payload, packet) => {
    for (const s of subs) if (topicMatches(s.filter, topic)) s.handler(topic, payload, packet.retain);
  });
  return {
    subscribe(filter, handler) {
      return new Promise((resolve) => {
        const s = { filter, handler, granted: resolve };
        subs.push(s);
        if (client.connected) subscribe(s);
      });
    },
    publish(topic, payload, opts) {
      // mqtt.js queues while disconnected and sends after the reconnect
      return new Promise((resolve, reject) => client.publish(topic, payload, opts, (err) => (err ? reject(err) : resolve())));
    },
    close() {
      // not connected: end at once (a graceful end would wait for a connection that may never come)
      return new Promise((resolve) => client.end(!client.connected, {}, () => resolve()));
    },
  };
}

/** Frame health for health_check, fed as an event sink (fps, faces, age of the last frame). */
export class FrameHealthSink implements EventSink {
  readonly name = 'remote-health';
  private last: { at: number; fps: number; faces: number } | null = null;
  constructor(private readonly now: () => number = Date.now) {}
  onEvent(): void {}
  onFrame(report: FrameReport): void {
    this.last = { at: this.now(), fps: report.fps, faces: report.faces.length };
  }
  read(stallMs: number): { healthy: boolean; fps: number; lastFrameAgeMs: number | null; faces: number } {
    if (!this.last) return { healthy: false, fps: 0, lastFrameAgeMs: null, faces: 0 };
    const age = Math.max(0, Math.round(this.now() - this.last.at));
    return { healthy: age <= stallMs, fps: Math.round(this.last.fps * 10) / 10, lastFrameAgeMs: age, faces: this.last.faces };
  }
}
