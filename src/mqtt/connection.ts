/**
 * Broker connections, one way for every client (the kiosk's publisher and the dashboard's subscriber): mqtt.js
 * options from the settings (credentials, TLS files with client certificates, keepalive, last will), the reconnect
 * backoff, and plain-language descriptions of connection errors. URLs in messages go through the one redactor.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { KioskConfig } from '../config/index.js';
import { backoffDelayMs, redactUrl, splitCredentials } from '../util/index.js';
import { fillPacketLengthCache } from './packet-length-cache.js';


export class MqttConfigError extends Error {}

export interface ConnectionSettings {
  url: string;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  keepaliveS: number;
  /** Default: one made up by mqtt.js (the dashboard). */
  clientId?: string;
  will?: { topic: string; payload: string };
}

/** A kiosk's broker settings from its config: the one place the mqtt section becomes ConnectionSettings. */
export function kioskConnectionSettings(mqttConfig: KioskConfig['mqtt'], url: string, clientId: string, will?: ConnectionSettings['will']): ConnectionSettings {
  const m = mqttConfig;
  return {
    url,
    username: m.username,
    password: m.password,
    ca: m.ca,
    cert: m.cert,
    key: m.key,
    rejectUnauthorized: m.rejectUnauthorized,
    keepaliveS: m.keepaliveS,
    clientId,
    ...(will ? { will } : {}),
  };
}

/**
 * The URL to hand mqtt.js: without its userinfo (mqtt.js's legacy parser splits `user:pa:ss` at the last colon and
 * lets the URL's credentials override the options), checked so that it cannot connect somewhere else.
 */
export function brokerAddress(url: string): string {
  const c = splitCredentials(url);
  if (!c.ok) throw new MqttConfigError(`broker URL ${redactUrl(url)} ${c.problem}; or put the credentials in mqtt.username / mqtt.password`);
  return c.address;
}

/** Connects (and keeps reconnecting) with the options below; returns at once. */
export function connectClient(s: ConnectionSettings): MqttClient {
  // Once per process, before the first packet: a kiosk runs for months (src/mqtt/packet-length-cache.ts).
  fillPacketLengthCache();
  return mqtt.connect(brokerAddress(s.url), clientOptions(s));
}

/** mqtt.js options; reads the PEM files now so a wrong path is reported at start, naming the config key. */
export function clientOptions(s: ConnectionSettings): IClientOptions {
  const pem = (file: string | undefined, key: string): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new MqttConfigError(`mqtt.${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const tls = /^(mqtts|wss):/.test(s.url);
  if (!tls && (s.ca || s.cert || s.key)) {
    throw new MqttConfigError(`mqtt.ca/cert/key are set but the broker URL ${redactUrl(s.url)} is not mqtts:// (use mqtts://host:8883)`);
  }
  const fromUrl = splitCredentials(s.url);
  const username = s.username ?? (fromUrl.ok ? fromUrl.username : undefined);
  const password = s.password ?? (fromUrl.ok ? fromUrl.password : undefined);
  if ((s.cert && !s.key) || (s.key && !s.cert)) {
    throw new MqttConfigError('mqtt.cert and mqtt.key go together (client certificate and its private key)');
  }
  return {
    ...(s.clientId !== undefined ? { clientId: s.clientId } : {}),
    clean: true,
    keepalive: s.keepaliveS,
    protocolVersion: 4,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    reconnectOnConnackError: true,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls
      ? {
          ca: pem(s.ca, 'ca'),
          cert: pem(s.cert, 'cert'),
          key: pem(s.key, 'key'),
          rejectUnauthorized: s.rejectUnauthorized,
        }
      : {}),
    ...(s.will ? { will: { topic: s.will.topic, payload: Buffer.from(s.will.payload), qos: 1, retain: true } } : {}),
  };
}

/** Reconnect delay after `failures` consecutive failed attempts (0 = before the first retry): 1 s, 2 s, 4 s, ... up to `maxMs`. */
export function reconnectDelayMs(failures: number, maxMs: number): number {
  return backoffDelayMs(Math.max(0, Math.floor(failures)) + 1, { initialDelayMs: 1_000, maxDelayMs: maxMs });
}

/** What went wrong connecting, in words an operator can act on. */
export function describeConnectionError(err: Error & { code?: string | number }, url: string, role: 'publisher' | 'subscriber' = 'publisher'): string {
  const where = redactUrl(url);
  const waiting = role === 'publisher' ? '; retrying, events wait in the outbox' : '; retrying';
  const code = err.code;
  if (code === 4 || code === 134 || /bad user ?name or password/i.test(err.message)) {
    return `broker ${where} refused the login: bad username or password (check mqtt.username / mqtt.password)`;
  }
  if (code === 5 || code === 135 || /not authori[sz]ed/i.test(err.message)) {
    return `broker ${where} refused the connection: not authorized (check the credentials and the broker's ACL)`;
  }
  if (code === 'ECONNREFUSED') return `broker ${where} is not accepting connections (is it running? right host and port?)${waiting}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `broker host in ${where} cannot be resolved (DNS)${waiting}`;
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return `broker ${where} is unreachable (${code}: network down?)${waiting}`;
  }
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/i.test(code)) {
    return `TLS to ${where} failed: ${err.message} (${code}); check mqtt.ca (the CA that signed the broker's certificate) and the host name`;
  }
  return `broker ${where}: ${err.message}${code !== undefined ? ` (${code})` : ''}`;
}
