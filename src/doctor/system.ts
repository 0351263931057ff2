/**
 * Checks of the machine itself: a 64-bit OS, a supported Node.js, a sane clock. Each takes the facts as
 * arguments (pure); `gatherClockFacts` is the only part that asks the system.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fail, ok, warn, type CheckResult } from './result.js';

const execFileAsync = promisify(execFile);

/** onnxruntime-node ships CPU binaries for Linux x64 and arm64 only. */
export function checkArchitecture(arch: string, platform: string): CheckResult {
  if (platform !== 'linux') return warn('platform', `${platform}/${arch}: not Linux`, 'the kiosk is built for Linux devices (Raspberry Pi OS, JetPack, Debian/Ubuntu)');
  if (arch === 'arm64' || arch === 'x64') return ok('platform', `64-bit Linux (${arch})`);
  if (arch === 'arm' || arch === 'ia32') {
    return fail(
      'platform',
      `32-bit OS (${arch}): onnxruntime-node has no 32-bit build`,
      'flash a 64-bit OS: Raspberry Pi OS (64-bit) on a Pi 4/5, JetPack on a Jetson (device/flash.sh, README "Provision a device")',
    );
  }
  return fail('platform', `unsupported CPU architecture ${arch}`, 'use an arm64 (Raspberry Pi 4/5, Jetson) or x64 machine');
}

export function checkNodeVersion(version: string, minMajor = 20): CheckResult {
  const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
  if (major >= minMajor) return ok('node', `Node.js ${version}`);
  return fail('node', `Node.js ${version} is too old (need >= ${minMajor})`, 'run device/setup.sh again (it installs Node.js from NodeSource when the OS has an old one)');
}

export interface ClockFacts {
  now: Date;
  /** `timedatectl show -p NTPSynchronized --value`: 'yes' / 'no'; undefined when timedatectl is absent or fails. */
  ntpSynchronized: string | undefined;
  /** `timedatectl show -p NTP --value`: is time sync enabled. */
  ntpEnabled: string | undefined;
}

/** Events carry timestamps and TLS checks certificate dates: a Pi without a real-time clock boots in the past. */
export function checkClock({ now, ntpSynchronized, ntpEnabled }: ClockFacts, minYear = 2025): CheckResult {
  const iso = now.toISOString();
  if (now.getUTCFullYear() < minYear) {
    return fail(
      'clock',
      `the clock says ${iso}, before ${minYear}`,
      'the device has no network time yet (a Raspberry Pi has no battery clock): connect it to a network with NTP (timedatectl set-ntp true), or set it (sudo date -s ...); event times and TLS certificates depend on it',
    );
  }
  if (ntpSynchronized === undefined) return ok('clock', `${iso} (timedatectl not available: NTP sync not checked)`);
  if (ntpSynchronized === 'yes') return ok('clock', `${iso}, NTP synchronized`);
  return warn(
    'clock',
    `${iso}, not NTP-synchronized${ntpEnabled === 'no' ? ' (NTP is off)' : ''}`,
    ntpEnabled === 'no' ? 'turn on network time: sudo timedatectl set-ntp true' : 'wait for the network; check "timedatectl timesync-status" and that UDP port 123 is reachable',
  );
}

async function timedatectl(property: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('timedatectl', ['show', '-p', property, '--value'], { timeout: 3000 });
    const v = stdout.trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined;
  }
}

export async function gatherClockFacts(): Promise<ClockFacts> {
  const [ntpSynchronized, ntpEnabled] = await Promise.all([timedatectl('NTPSynchronized'), timedatectl('NTP')]);
  return { now: new Date(), ntpSynchronized, ntpEnabled };
}
