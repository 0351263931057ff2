/**
 * The device id check: a distribution-default host name (every unnamed Pi is `raspberrypi`) and a second client on
 * the broker using this device's id. Two kiosks with one id share the MQTT client id `emotion-kiosk-<id>`: each
 * connect makes the broker disconnect the other, which reconnects a second later, so the device's availability topic
 * flips between online and offline all the time. The probe watches that topic for a few seconds; it never connects
 * with the kiosk's own client id (that would disconnect the kiosk). `checkIdentity` is pure.
 */
import { readFileSync } from 'node:fs';
import type { KioskConfig } from '../config/index.js';
import { deviceTopics } from '../contract/index.js';
import type { DeviceIdentity } from '../system/index.js';
import { fail, ok, warn, type CheckResult } from './result.js';

export interface AvailabilityMessage {
  state: string;
  reason?: string;
  retained: boolean;
}

export type DuplicateProbe =
  | { watched: true; watchMs: number; messages: AvailabilityMessage[]; serviceActive: boolean }
  | { watched: false; message: string };

const NAME_FIX = 'give each kiosk its own host name (sudo hostnamectl set-hostname kiosk-lobby) or set mqtt.deviceId in the config';

export function checkIdentity(identity: DeviceIdentity, probe?: DuplicateProbe): CheckResult {
  const details = [`MQTT client id emotion-kiosk-${identity.id}`];
  if (probe?.watched) {
    const live = probe.messages.filter((m) => !m.retained);
    const onlines = live.filter((m) => m.state === 'online').length;
    const drops = live.filter((m) => m.state === 'offline' && m.reason === 'connection_lost').length;
    if (onlines >= 2 || (onlines >= 1 && drops >= 1)) {
      return fail(
        'identity',
        `another client uses device id ${identity.id}: in ${probe.watchMs / 1000} s its availability went online ${onlines} time(s)${drops ? ` and was lost ${drops} time(s)` : ''} (two clients with one client id disconnect each other)`,
        `${NAME_FIX}; devices sharing an id also overwrite each other's retained state and Home Assistant entities`,
        details,
      );
    }
    const retained = probe.messages.find((m) => m.retained);
    if (retained?.state === 'online' && !probe.serviceActive) {
      return warn(
        'identity',
        `the broker says device id ${identity.id} is online, but the kiosk service is not running here: another device may use this id`,
        `if another kiosk has this id: ${NAME_FIX}`,
        details,
      );
    }
  }
  const watched = probe?.watched ? `; no other client with this id seen on the broker in ${probe.watchMs / 1000} s` : probe ? `; broker not watched (${probe.message})` : '';
  if (identity.defaultHostname) {
    const why =
      identity.how === 'derived'
        ? `the id is derived from ${identity.from}: ${identity.id}`
        : identity.how === 'configured'
          ? `the id comes from mqtt.deviceId: ${identity.id}`
          : `no machine id or board serial to tell this device apart: the id is ${identity.id}, like every other device with this name`;
    const summary = `host name "${identity.hostname}" is a distribution default; ${why}${watched}`;
    // A configured or derived id is unique; a bare default host name collides with the next unnamed device (a warning
    // all the same: the kiosk works, and the service's preflight must not refuse to start over a name).
    return warn('identity', summary, identity.how === 'hostname' ? NAME_FIX : `for a readable, chosen id: ${NAME_FIX}`, details);
  }
  return ok('identity', `device id ${identity.id} (${identity.how === 'configured' ? 'mqtt.deviceId' : 'the host name'})${watched}`, details);
}

/** Watches `<prefix>/<id>/availability` for `watchMs` with a client id of its own. */
export async function probeDuplicateClient(
  mqtt: KioskConfig['mqtt'],
  deviceId: string,
  { watchMs = 3000, connectTimeoutMs = 5000, serviceActive }: { watchMs?: number; connectTimeoutMs?: number; serviceActive: boolean },
): Promise<DuplicateProbe> {
  const { connect } = await import('mqtt');
  const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
  let tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  try {
    tls = { ca: read(mqtt.ca), cert: read(mqtt.cert), key: read(mqtt.key) };
  } catch (err) {
    return { watched: false, message: `cannot read a TLS file: ${(err as Error).message}` };
  }
  const topic = deviceTopics(mqtt.topicPrefix, deviceId).availability;
  return new Promise<DuplicateProbe>((resolve) => {
    const client = connect(mqtt.broker, {
      clientId: `emotion-kiosk-doctor-id-${process.pid}`,
      connectTimeout: connectTimeoutMs,
      reconnectPeriod: 0,
      clean: true,
      username: mqtt.username,
      password: mqtt.password,
      rejectUnauthorized: mqtt.rejectUnauthorized,
      ...Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)),
    });
    const messages: AvailabilityMessage[] = [];
    let settled = false;
    let watchTimer: NodeJS.Timeout | undefined;
    const finish = (r: DuplicateProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(watchTimer);
      client.end(true);
      resolve(r);
    };
    const connectTimer = setTimeout(() => finish({ watched: false, message: `no CONNACK within ${connectTimeoutMs} ms` }), connectTimeoutMs + 500);
    client.on('message', (_t, payload, packet) => {
      let state = 'unknown';
      let reason: string | undefined;
      try {
        const p = JSON.parse(payload.toString()) as { state?: unknown; reason?: unknown };
        if (typeof p.state === 'string') state = p.state;
        if (typeof p.reason === 'string') reason = p.reason;
      } catch {
        if (payload.length === 0) return; // a cleared retained message
      }
      messages.push({ state, retained: packet.retain, ...(reason ? { reason } : {}) });
    });
    client.on('connect', () => {
      clearTimeout(connectTimer);
      client.subscribe(topic, { qos: 0 }, (err) => {
        if (err) return finish({ watched: false, message: `subscribe to ${topic} failed: ${err.message}` });
        watchTimer = setTimeout(() => finish({ watched: true, watchMs, messages, serviceActive }), watchMs);
      });
    });
    client.on('error', (err) => finish({ watched: false, message: err.message }));
    client.on('close', () => finish({ watched: false, message: 'the connection closed' }));
  });
}
