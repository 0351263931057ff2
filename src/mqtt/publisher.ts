/**
 * Publishes over one mqtt.js connection: outbox records at QoS 1 (acknowledged records leave the outbox), retained
 * topics (latest value wins, re-sent on every connect), and availability with the broker's last will.
 *
 * Order: records are handed to mqtt.js in seq order with at most `window` unacknowledged. mqtt.js keeps those in its
 * outgoing store across a reconnect and re-sends them, one by one, before anything new (its 'connect' event comes
 * after that), so order per device holds. A record whose publish fails (the connection closed while it was still
 * queued) is handed over again, before any newer record.
 */
import type { MqttClient } from 'mqtt';
import { redactUrl, type Logger } from '../util/index.js';
import { connectClient, describeConnectionError, reconnectDelayMs, type ConnectionSettings } from './connection.js';
import type { Outbox } from './outbox.js';

export interface PublisherOptions {
  settings: ConnectionSettings;
  outbox: Outbox;
  logger: Logger;
  /** Most outbox records handed to mqtt.js and not yet acknowledged. */
  window?: number;
  reconnectMaxDelayMs: number;
  /** The first retained messages on every connect (availability `online`, discovery, state...). */
  onConnect?: () => void;
}

export interface PublisherStatus {
  connected: boolean;
  url: string;
  pending: number;
  inflight: number;
  dropped: number;
  lastError: string | null;
  everConnected: boolean;
}

export class Publisher {
  private client: MqttClient | null = null;
  private readonly inflight = new Set<number>();
  private cursor: number;
  private failures = 0;
  private lastLogged: string | null = null;
  private lastError: string | null = null;
  private everConnected = false;
  private readonly retained = new Map<string, string>();
  private readonly subscriptions = new Map<string, (payload: Buffer) => void>();
  private stopping = false;
  private unsubscribeAppend: (() => void) | null = null;
  private readonly window: number;
  private readonly drainWaiters = new Set<() => void>();

  constructor(private readonly o: PublisherOptions) {
    this.cursor = o.outbox.firstPendingSeq();
    this.window = o.window ?? 100;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  status(): PublisherStatus {
    return {
      connected: this.connected,
      url: redactUrl(this.o.settings.url),
      pending: this.o.outbox.size,
      inflight: this.inflight.size,
      dropped: this.o.outbox.dropped,
      lastError: this.lastError,
      everConnected: this.everConnected,
    };
  }

  /** Starts connecting and returns at once: a broker that is down never blocks the caller. */
  start(): void {
    const { settings, logger } = this.o;
    const client = connectClient(settings);
    this.client = client;
    logger.info(`connecting to ${redactUrl(settings.url)} as ${settings.clientId}`);
    client.on('connect', () => {
      if (this.failures > 0 || this.lastError) logger.info(`connected to ${redactUrl(settings.url)} (after ${this.failures} failed attempt(s))`);
      else logger.info(`connected to ${redactUrl(settings.url)}`);
      this.failures = 0;
      this.lastLogged = null;
      this.lastError = null;
      this.everConnected = true;
      client.options.reconnectPeriod = reconnectDelayMs(0, this.o.reconnectMaxDelayMs);
      for (const topic of this.subscriptions.keys()) client.subscribe(topic, { qos: 1 });
      this.o.onConnect?.();
      for (const [topic, payload] of this.retained) this.sendRetained(topic, payload);
      this.o.outbox.enforceBounds(); // events that grew too old while the broker was away are not sent
      if (this.o.outbox.size > 0) logger.info(`sending ${this.o.outbox.size} event(s) waiting in the outbox`);
      this.pump();
    });
    client.on('message', (topic, payload) => this.subscriptions.get(topic)?.(payload));
    client.on('error', (err) => {
      const msg = describeConnectionError(err, settings.url);
      this.lastError = msg;
      if (msg !== this.lastLogged) {
        (this.everConnected || this.failures === 0 ? logger.warn : logger.error).call(logger, msg);
        this.lastLogged = msg;
      } else logger.debug(msg);
    });
    client.on('close', () => {
      if (this.stopping) return;
      if (this.everConnected && this.failures === 0 && !this.lastError) {
        this.lastError = `lost the connection to ${redactUrl(settings.url)}`;
        logger.warn(`${this.lastError}; reconnecting, events wait in the outbox`);
      }
      this.failures += 1;
      client.options.reconnectPeriod = reconnectDelayMs(this.failures - 1, this.o.reconnectMaxDelayMs);
    });
    this.unsubscribeAppend = this.o.outbox.onAppend(() => this.pump());
  }

  /** Publishes a retained message now (QoS 1) or, when disconnected, on the next connect (latest value wins). */
  publishRetained(topic: string, payload: string): void {
    this.retained.set(topic, payload);
    if (this.connected) this.sendRetained(topic, payload);
  }

  /** Publishes a message once, now, only if connected (no retain, no queue): for things that are fine to miss. */
  publishNow(topic: string, payload: string, retain = false): void {
    if (this.connected) this.client!.publish(topic, payload, { qos: 1, retain }, () => {});
  }

  /** Forgets a retained topic (an empty retained payload clears it on the broker). */
  clearRetained(topic: string): void {
    this.retained.delete(topic);
    if (this.connected) this.client!.publish(topic, '', { qos: 1, retain: true }, () => {});
  }

  subscribe(topic: string, handler: (payload: Buffer) => void): void {
    this.subscriptions.set(topic, handler);
    if (this.connected) this.client!.subscribe(topic, { qos: 1 });
  }

  /** Resolves when the outbox is empty (true) or after `timeoutMs` (false). */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.o.outbox.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.drainWaiters.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (this.o.outbox.size === 0) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.drainWaiters.add(check);
    });
  }

  /**
   * Clean shutdown: publishes `lastWords` retained (e.g. availability offline), waits up to `flushMs` for the outbox to
   * empty, then disconnects (the broker then does not send the last will). What is left stays in the outbox.
   */
  async stop(lastWords?: { topic: string; payload: string }, flushMs = 5_000): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (client.connected) await this.drain(flushMs);
    this.stopping = true;
    this.unsubscribeAppend?.();
    if (client.connected && lastWords) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2_000);
        client.publish(lastWords.topic, lastWords.payload, { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve()));
    this.client = null;
    const left = this.o.outbox.size;
    if (left > 0) this.o.logger.info(`${left} event(s) stay in the outbox (${this.o.outbox.dir}) and are sent after the next start`);
  }

  private sendRetained(topic: string, payload: string): void {
    this.client!.publish(topic, payload, { qos: 1, retain: true }, (err) => {
      if (err && !this.stopping) this.o.logger.debug(`retained ${topic} not sent (${err.message}); re-sent on reconnect`);
    });
  }

  /** Hands outbox records to mqtt.js, in order, while connected and the window has room. */
  private pump(): void {
    const client = this.client;
    if (!client || !client.connected || this.stopping) return;
    const room = this.window - this.inflight.size;
    if (room <= 0) return;
    for (const rec of this.o.outbox.from(this.cursor, room)) {
      const seq = rec.seq;
      this.cursor = seq + 1;
      if (this.inflight.has(seq)) continue;
      this.inflight.add(seq);
      client.publish(rec.topic, rec.payload, { qos: 1 }, (err) => {
        this.inflight.delete(seq);
        if (err) {
          // Never reached the broker's store: hand it over again before anything newer.
          if (seq < this.cursor) this.cursor = seq;
          this.o.logger.debug(`event seq ${seq} not acknowledged (${err.message}); will re-send`);
        } else {
          this.o.outbox.ack(seq);
          if (this.drainWaiters.size > 0) for (const w of [...this.drainWaiters]) w();
        }
        this.pump();
      });
    }
  }
}
