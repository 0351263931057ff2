/**
 * The device id (MQTT client id, topic level, Home Assistant entities) when the config names none. It is the host
 * name, unless that is a distribution default (every unnamed Raspberry Pi is `raspberrypi`): two such kiosks would
 * share one client id and kick each other off the broker every second. Then the id is the host name plus a stable
 * suffix hashed from /etc/machine-id and the board serial, e.g. `raspberrypi-3f9c2a1b`.
 *
 * The machine id is hashed (with an application key, as systemd asks: machine-id(5)), never published as is.
 * `deriveDeviceIdentity` is pure; `readIdentityFacts` is the only part that reads the system.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Host names that distributions and board images give every machine they install. */
const DEFAULT_HOSTNAMES: readonly RegExp[] = [
  /^raspberrypi$/,
  /^raspberry$/,
  /^pi$/,
  /^ubuntu$/,
  /^debian$/,
  /^localhost$/,
  /^localhost\.localdomain$/,
  /^jetson(-.*)?$/,
  /^tegra-ubuntu$/,
  /^nvidia$/,
  /^dietpi$/,
  /^armbian$/,
  /^orangepi.*$/,
  /^(rock|rockpi|radxa|odroid|bananapi|nanopi).*$/,
  /^alarm(pi)?$/,
  /^(fedora|archlinux|kali|buildroot|openwrt|yocto|raspbian|none|\(none\))$/,
  /^$/,
];

export function isDefaultHostname(hostname: string): boolean {
  const h = hostname.trim().toLowerCase();
  return DEFAULT_HOSTNAMES.some((re) => re.test(h));
}

/** A device id from a host name: characters outside [A-Za-z0-9_-] become `_`; never empty. */
export function sanitizeDeviceId(raw: string): string {
  const s = raw.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^_+|_+$/g, '');
  return s.length > 0 ? s : 'kiosk';
}

export interface IdentityFacts {
  hostname: string;
  /** /etc/machine-id (32 hex digits); undefined when missing, empty or `uninitialized`. */
  machineId: string | undefined;
  /** The board serial (device tree serial-number, or the `Serial` line of /proc/cpuinfo); undefined when none. */
  serial: string | undefined;
}

export interface DeviceIdentity {
  id: string;
  /** hostname: the host name as is; derived: host name + hash suffix; configured: mqtt.deviceId. */
  how: 'hostname' | 'derived' | 'configured';
  defaultHostname: boolean;
  hostname: string;
  /** What the suffix was hashed from (derived only). */
  from?: string;
  /** One line for the log. */
  note: string;
}

const SUFFIX_KEY = 'emotion-kiosk device id v1';

export function deriveDeviceIdentity(facts: IdentityFacts, configured?: string): DeviceIdentity {
  const hostname = facts.hostname;
  const defaultHostname = isDefaultHostname(hostname);
  if (configured) {
    return { id: configured, how: 'configured', defaultHostname, hostname, note: `device id ${configured} (mqtt.deviceId)` };
  }
  const base = sanitizeDeviceId(hostname);
  if (!defaultHostname) return { id: base, how: 'hostname', defaultHostname, hostname, note: `device id ${base} (the host name)` };
  const parts: string[] = [];
  const from: string[] = [];
  if (facts.machineId) {
    parts.push(`machine-id=${facts.machineId}`);
    from.push('/etc/machine-id');
  }
  if (facts.serial) {
    parts.push(`serial=${facts.serial}`);
    from.push('the board serial');
  }
  if (parts.length === 0) {
    return {
      id: base,
      how: 'hostname',
      defaultHostname,
      hostname,
      note: `device id ${base}: the host name "${hostname}" is a distribution default and there is no /etc/machine-id or board serial to tell this device apart; another kiosk with this host name will take over its MQTT connection: set a host name or mqtt.deviceId`,
    };
  }
  const suffix = createHash('sha256').update(`${SUFFIX_KEY}\n${parts.join('\n')}`).digest('hex').slice(0, 8);
  const id = `${base}-${suffix}`;
  return {
    id,
    how: 'derived',
    defaultHostname,
    hostname,
    from: from.join(' and '),
    note: `device id ${id}: the host name "${hostname}" is a distribution default, so a stable suffix was derived from ${from.join(' and ')} (set a host name or mqtt.deviceId to choose it)`,
  };
}

function readTrimmed(file: string): string | undefined {
  try {
    // Device-tree strings end in NUL.
    const s = readFileSync(file, 'utf8').replace(/\0/g, '').trim();
    return s.length > 0 ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The `Serial` line of /proc/cpuinfo (Raspberry Pi); all-zero serials (emulators, some boards) count as none. */
export function serialFromCpuinfo(cpuinfo: string): string | undefined {
  const m = /^Serial\s*:\s*([0-9a-fA-F]+)\s*$/m.exec(cpuinfo);
  return m && !/^0+$/.test(m[1]!) ? m[1]!.toLowerCase() : undefined;
}

export function readIdentityFacts(root = '/'): IdentityFacts {
  const p = (f: string) => (root === '/' ? f : `${root.replace(/\/+$/, '')}${f}`);
  const mid = readTrimmed(p('/etc/machine-id')) ?? readTrimmed(p('/var/lib/dbus/machine-id'));
  const machineId = mid && /^[0-9a-f]{32}$/i.test(mid) && !/^0+$/.test(mid) ? mid.toLowerCase() : undefined;
  const dt = readTrimmed(p('/proc/device-tree/serial-number')) ?? readTrimmed(p('/sys/firmware/devicetree/base/serial-number'));
  const serial = dt && !/^0+$/.test(dt) ? dt : serialFromCpuinfo(readTrimmed(p('/proc/cpuinfo')) ?? '');
  return { hostname: os.hostname(), machineId, serial };
}

let cached: DeviceIdentity | undefined;

/** This device's identity when the config names no id (read once per process). */
export function localDeviceIdentity(): DeviceIdentity {
  cached ??= deriveDeviceIdentity(readIdentityFacts());
  return cached;
}

/** The default device id (mqtt.deviceId unset). */
export function defaultDeviceId(): string {
  return localDeviceIdentity().id;
}
