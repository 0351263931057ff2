/** The outbox's disk: the data dir must be writable by the kiosk's user and have room for queued events. */
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fail, ok, warn, type CheckResult } from './result.js';

export interface DiskFacts {
  /** The directory the outbox lives in (config mqtt.outbox.dir, else <dataDir>/outbox). */
  dir: string;
  /** The nearest existing directory at or above `dir` (dir itself when it exists). */
  existing: string;
  writable: boolean;
  freeBytes: number;
  totalBytes: number;
}

export const MIN_FREE_BYTES = 50 * 1024 * 1024;
export const WARN_FREE_BYTES = 500 * 1024 * 1024;

const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;

export function checkDisk(f: DiskFacts, user: string): CheckResult {
  const where = f.existing === f.dir ? f.dir : `${f.dir} (not created yet; ${f.existing} exists)`;
  const details = [`${mib(f.freeBytes)} free of ${mib(f.totalBytes)} on the file system holding ${f.existing}`];
  if (!f.writable) {
    return fail(
      'disk',
      `${where} is not writable by ${user}`,
      `the event outbox must be writable: sudo chown -R emotion-kiosk: ${f.existing} (or set dataDir in the config to a writable place)`,
      details,
    );
  }
  if (f.freeBytes < MIN_FREE_BYTES) {
    return fail('disk', `only ${mib(f.freeBytes)} free for the outbox at ${where}`, 'free space on that file system (sudo apt clean; journalctl --vacuum-size=100M) or move dataDir to a bigger disk', details);
  }
  if (f.freeBytes < WARN_FREE_BYTES) {
    return warn('disk', `${mib(f.freeBytes)} free for the outbox at ${where}`, 'events pile up while the broker is away; free some space or lower mqtt.outbox.maxEvents', details);
  }
  return ok('disk', `outbox ${where} writable, ${mib(f.freeBytes)} free`);
}

export function gatherDiskFacts(dir: string): DiskFacts {
  const abs = path.resolve(dir);
  let existing = abs;
  for (;;) {
    try {
      if (statSync(existing).isDirectory()) break;
    } catch {
      /* not there yet: look at the parent */
    }
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  let writable = true;
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch {
    writable = false;
  }
  const fs = statfsSync(existing);
  return { dir: abs, existing, writable, freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
}
