/**
 * Broker connection settings: mqtt.js client options from the kiosk config (TLS files, credentials, last will),
 * exponential reconnect backoff, and plain-language descriptions of connection errors.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';

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
  clientId: string;
  will?: { topic: string; payload: string };
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
    throw new MqttConfigError(`mqtt.ca/cert/key are set but the broker URL ${s.url} is not mqtts:// (use mqtts://host:8883)`);
  }
  if ((s.cert && !s.key) || (s.key && !s.cert)) {
    throw new MqttConfigError('mqtt.cert and mqtt.key go together (client certificate and its private key)');
  }
  return {
    clientId: s.clientId,
    clean: true,
    keepalive: s.keepaliveS,
    protocolVersion: 4,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    reconnectOnConnackError: true,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
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

/** Reconnect delay after `failures` consecutive failed attempts: 1 s, 2 s, 4 s, ... up to `maxMs`. */
export function backoffMs(failures: number, maxMs: number): number {
  return Math.min(maxMs, 1_000 * 2 ** Math.max(0, Math.min(failures, 20)));
}

/** A URL safe to log (no password). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
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
