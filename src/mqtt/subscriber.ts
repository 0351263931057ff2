/**
 * Subscribes to one kiosk or every kiosk under a prefix (for the dashboard, which must not import mqtt itself).
 * Every message is parsed with the contract (contract.ts) before it is delivered: size, JSON, shape, and that the
 * topic's device id is the payload's. A message that breaks it is reported to `onMalformed`, never delivered.
 * Connects like the kiosk (connection.ts: credentials, CA, client certificate); reconnects with backoff; reports
 * the connection state in words.
 */
import type { MqttClient } from 'mqtt';
import { connectClient, describeConnectionError, reconnectDelayMs } from './connection.js';
import { redactUrl } from '../util/index.js';
import { parseContractBytes, type ContractMessage, parseTopic, subscriptionFilters } from '../contract/index.js';

export interface SubscriberOptions {
  url: string;
  prefix: string;
  device: string | 'all';
  username?: string;
  password?: string;
  ca?: string;
  /** Client certificate and its key (PEM), for brokers that require them. */
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  keepaliveS?: number;
}

export interface SubscriberHandlers {
  onMessage(message: ContractMessage, retained: boolean): void;
  /** A message on one of our topics that broke the contract (dropped). */
  onMalformed?(topic: string, reason: string, retained: boolean): void;
  onStatus(status: { connected: boolean; url: string; error: string | null }): void;
}

export interface KioskSubscription {
  close(): Promise<void>;
}

const MAX_RECONNECT_DELAY_MS = 10_000;

/** A client for a watcher of the kiosks (the dashboard's telemetry and command-bus subscriptions): the options' broker settings, TLS and keepalive. */
export function connectSubscriber(o: SubscriberOptions): MqttClient {
  return connectClient({
    url: o.url,
    username: o.username,
    password: o.password,
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    rejectUnauthorized: o.rejectUnauthorized ?? true,
    keepaliveS: o.keepaliveS ?? 30,
  });
}

export function subscribeKiosks(o: SubscriberOptions, h: SubscriberHandlers): KioskSubscription {
  const url = redactUrl(o.url);
  const client = connectSubscriber(o);
  let failures = 0;
  let lastError: string | null = null;
  client.on('connect', () => {
    failures = 0;
    lastError = null;
    client.options.reconnectPeriod = reconnectDelayMs(0, MAX_RECONNECT_DELAY_MS);
    client.subscribe(subscriptionFilters(o.prefix, o.device), { qos: 1 }, (err) => {
      if (err) {
        lastError = `subscribe failed: ${err.message}`;
        h.onStatus({ connected: true, url, error: lastError });
      }
    });
    h.onStatus({ connected: true, url, error: null });
  });
  client.on('error', (err) => {
    lastError = describeConnectionError(err, o.url, 'subscriber');
    h.onStatus({ connected: false, url, error: lastError });
  });
  client.on('close', () => {
    failures += 1;
    client.options.reconnectPeriod = reconnectDelayMs(failures - 1, MAX_RECONNECT_DELAY_MS);
    h.onStatus({ connected: false, url, error: lastError ?? 'disconnected; reconnecting' });
  });
  client.on('message', (topic, payload, packet) => {
    const t = parseTopic(o.prefix, topic);
    if (!t) return; // not one of our topics (the filters only deliver ours; a wildcard prefix could)
    if (payload.length === 0) return; // a cleared retained topic
    const r = parseContractBytes(t.deviceId, t.kind, payload);
    if (r.ok) h.onMessage(r.message, packet.retain);
    else h.onMalformed?.(topic, r.reason, packet.retain);
  });
  return {
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}
