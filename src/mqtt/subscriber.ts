/**
 * Subscribes to one kiosk or every kiosk under a prefix (for the dashboard, which must not import mqtt itself).
 * Delivers parsed contract payloads; reconnects with backoff; reports connection state in words.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { backoffMs, describeConnectionError, redactUrl } from './connection.js';
import { parseTopic, subscriptionFilters, type TopicKind } from './topics.js';

export interface SubscriberOptions {
  url: string;
  prefix: string;
  device: string | 'all';
  username?: string;
  password?: string;
  ca?: string;
  rejectUnauthorized?: boolean;
}

export interface SubscriberHandlers {
  onMessage(deviceId: string, kind: TopicKind, payload: unknown, retained: boolean): void;
  onStatus(status: { connected: boolean; url: string; error: string | null }): void;
}

export interface KioskSubscription {
  close(): Promise<void>;
}

export function subscribeKiosks(o: SubscriberOptions, h: SubscriberHandlers): KioskSubscription {
  const url = redactUrl(o.url);
  const client = mqtt.connect(o.url, {
    clean: true,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    reconnectOnConnackError: true,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.ca ? { ca: readFileSync(o.ca) } : {}),
    rejectUnauthorized: o.rejectUnauthorized ?? true,
  });
  let failures = 0;
  let lastError: string | null = null;
  client.on('connect', () => {
    failures = 0;
    lastError = null;
    client.options.reconnectPeriod = 1_000;
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
    client.options.reconnectPeriod = backoffMs(failures - 1, 10_000);
    h.onStatus({ connected: false, url, error: lastError ?? 'disconnected; reconnecting' });
  });
  client.on('message', (topic, payload, packet) => {
    const t = parseTopic(o.prefix, topic);
    if (!t || payload.length === 0) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      return; // not ours: the contract is JSON
    }
    h.onMessage(t.deviceId, t.kind, json, packet.retain);
  });
  return {
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}
