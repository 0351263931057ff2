/** Broker reachability: a short MQTT connect with the config's address, credentials and TLS files. */
import type { KioskConfig } from '../config/index.js';
import { redactUrl } from '../util/index.js';
import { fail, ok, skip, type CheckResult } from './result.js';

export type BrokerProbe = { connected: true; ms: number } | { connected: false; code?: string | number; message: string };

/** The broker URL for messages: the kiosk's one fail-closed redactor (src/util/redact.ts). */

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
  // the kiosk's own options builder (credentials from the URL or the config, TLS files, client certificate), loaded
  // only when a probe runs; the probe connects once and does not retry
  const { brokerAddress, clientOptions, MqttConfigError } = await import('../mqtt/index.js');
  const { connect } = await import('mqtt');
  const started = Date.now();
  let address: string;
  let options: ReturnType<typeof clientOptions>;
  try {
    const settings = {
      url: mqtt.broker,
      username: mqtt.username,
      password: mqtt.password,
      ca: mqtt.ca,
      cert: mqtt.cert,
      key: mqtt.key,
      rejectUnauthorized: mqtt.rejectUnauthorized,
      keepaliveS: mqtt.keepaliveS,
      clientId: `emotion-kiosk-doctor-${process.pid}`,
    };
    address = brokerAddress(settings.url);
    options = clientOptions(settings);
  } catch (err) {
    if (!(err instanceof MqttConfigError)) throw err;
    const m = err.message;
    return { connected: false, code: 'CONFIG', message: /cannot read/.test(m) ? `cannot read a TLS file (mqtt.ca/cert/key): ${m}` : m };
  }
  return new Promise<BrokerProbe>((resolve) => {
    const client = connect(address, { ...options, connectTimeout: timeoutMs, reconnectPeriod: 0 });
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
