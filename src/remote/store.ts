/**
 * What the command bus keeps in the data dir (the system config stays read-only for the service):
 *   <dataDir>/remote/detection.json   {"enabled": bool, "since": ms}
 *   <dataDir>/remote/options.json     {"set": {"tracking.minDwellMs": 500, ...}}   layered over the config file at start
 * Written atomically (temp file, fsync, rename), so a power cut leaves the old or the new file, never half of one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { KioskConfig } from '../config/index.js';
import { validateChanges, refusedReason } from './options.js';

export function remoteDir(dataDir: string): string {
  return path.join(dataDir, 'remote');
}

export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(value, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface DetectionRecord {
  enabled: boolean;
  since: number;
}

export class RemoteStore {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = remoteDir(dataDir);
  }

  /** Detection as last set remotely; enabled when never set or unreadable (a broken file never silences a kiosk for good). */
  readDetection(now: number): DetectionRecord {
    try {
      const j = readJson(path.join(this.dir, 'detection.json')) as Partial<DetectionRecord> | undefined;
      if (j && typeof j.enabled === 'boolean' && typeof j.since === 'number') return { enabled: j.enabled, since: j.since };
    } catch {
      /* unreadable: the default */
    }
    return { enabled: true, since: now };
  }

  writeDetection(rec: DetectionRecord): void {
    writeJsonAtomic(path.join(this.dir, 'detection.json'), rec);
  }

  readOptions(): Record<string, unknown> {
    try {
      const j = readJson(path.join(this.dir, 'options.json')) as { set?: unknown } | undefined;
      if (j && j.set && typeof j.set === 'object' && !Array.isArray(j.set)) return j.set as Record<string, unknown>;
    } catch {
      /* unreadable: none */
    }
    return {};
  }

  /** Adds `changes` to the stored overrides (later sets of a key win). */
  addOptions(changes: Record<string, unknown>): void {
    writeJsonAtomic(path.join(this.dir, 'options.json'), { set: { ...this.readOptions(), ...changes } });
  }
}

/**
 * The config with the remotely set options layered over it (at start, before anything uses the config). Each stored
 * key is checked again: one this release refuses or rejects (after an upgrade) is skipped with a note, never fatal.
 */
export function applyStoredOptions(config: KioskConfig, store: RemoteStore): { config: KioskConfig; notes: string[] } {
  const notes: string[] = [];
  let cur = config;
  for (const [key, value] of Object.entries(store.readOptions())) {
    const refused = refusedReason(key);
    if (refused) {
      notes.push(`remote option ${key} skipped: ${refused}`);
      continue;
    }
    const r = validateChanges(cur, { [key]: value });
    if (r.ok) {
      cur = r.config;
      notes.push(`remote option ${key} = ${JSON.stringify(value)} (set over MQTT; ${store.dir}/options.json)`);
    } else notes.push(`remote option ${key} skipped: ${r.error}`);
  }
  return { config: cur, notes };
}
