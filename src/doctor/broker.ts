/** Broker reachability: a short MQTT connect with the config's address, credentials and TLS files. */
import { readFileSync } from 'node:fs';
import type { KioskConfig } from '../config/schema.js';
import { redactUrl } from '../util/redact.js';
import { fail, ok, skip, type CheckResult } from './result.js';

export type BrokerProbe = { connected: true; ms: number } | { connected: false; code?: string | number; message: string };

/** The broker URL for messages: the kiosk's one fail-closed redactor (src/util/redact.ts). */
export { redactUrl as redactBroker } from '../util/redact.js';

export function checkBroker(mqtt: KioskConfig['mqtt'], probe: BrokerProbe | undefined): CheckResult {
  if (mqtt.broker === 'none') return skip('broker', 'mqtt.broker is none: events are not published');
  if (mqtt.broker === 'embedded') return ok('broker', `embedded broker: the kiosk serves MQTT itself on port ${mqtt.embeddedPort}`);
  const url = redactUrl(mqtt.broker);
  if (!probe) return skip('broker', `${url} not checked`);
  if (probe.connected) return ok('broker', `${url} accepted a connection`);
  const code = probe.code;
  let fix = 'check the address (mqtt.broker), that the broker runs, and that the network/firewall lets this device reach it';
  if (code === 'ECONNREFUSED') fix = 'nothing listens there: is the broker running (systemctl status mosquitto)? right port (1883 plain, 8883 TLS)?';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') fix = 'the host name does not resolve: check mqtt.broker and the device\'s DNS';
  else if (code === 4 || code === 5 || code === 134 || code === 135) fix = 'the broker refused the credentials: set mqtt.username / mqtt.password in the config';
  else if (code === 'TIMEOUT' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') fix = 'no answer: is the host up and reachable from this network (ping it)? a firewall?';
  else if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED/.test(code)) fix = 'TLS failed: set mqtt.ca to the broker\'s CA certificate (PEM), or check the host name matches the certificate';
  // Events are not lost while the broker is away (they wait in the outbox), so the kiosk still runs: but say so.
  return fail('broker', `${url} unreachable: ${probe.message}`, `${fix} (events queue in the outbox until it is reachable)`);
}

export async function probeBroker(mqtt: KioskConfig['mqtt'], timeoutMs: number): Promise<BrokerProbe> {
  const { connect } = await import('mqtt');
  const started = Date.now();
  const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
  let tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  try {
    tls = { ca: read(mqtt.ca), cert: read(mqtt.cert), key: read(mqtt.key) };
  } catch (err) {
    return { connected: false, code: (err as NodeJS.ErrnoException).code, message: `cannot read a TLS file (mqtt.ca/cert/key): ${(err as Error).message}` };
  }
  return new Promise<BrokerProbe>((resolve) => {
    const client = connect(mqtt.broker, {
      clientId: `emotion-kiosk-doctor-${process.pid}`,
      connectTimeout: timeoutMs,
      reconnectPeriod: 0,
      clean: true,
      username: mqtt.username,
      password: mqtt.password,
      rejectUnauthorized: mqtt.rejectUnauthorized,
      ...Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)),
    });
    let settled = false;
    const finish = (r: BrokerProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end(true);
      resolve(r);
    };
    const timer = setTimeout(() => finish({ connected: false, code: 'TIMEOUT', message: `no CONNACK within ${timeoutMs} ms` }), timeoutMs + 500);
    client.on('connect', () => finish({ connected: true, ms: Date.now() - started }));
    client.on('error', (err: Error & { code?: string | number }) => finish({ connected: false, code: err.code, message: err.message }));
    client.on('close', () => finish({ connected: false, code: 'CLOSED', message: 'the connection was closed before the broker accepted it' }));
  });
}
