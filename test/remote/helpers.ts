/** Test helpers for the command bus: a fake kiosk host and configs. */
import { configSchema, type KioskConfig, type KioskConfigInput } from '../../src/config/schema.js';
import type { RemoteHost } from '../../src/remote/bus.js';

export function remoteConfig(over: Partial<KioskConfigInput> = {}, dataDir = '/nonexistent'): KioskConfig {
  return configSchema.parse({ dataDir, mqtt: { broker: 'none' }, remote: { enabled: true }, ...over });
}

export class FakeHost implements RemoteHost {
  detection: boolean[] = [];
  applied: { keys: string[] }[] = [];
  restarts = 0;
  live = new Set(['tracking.minDwellMs', 'tracking.changeMargin', 'logLevel']);
  frameAgeMs: number | null = 10;
  modelUpdate?: (params: unknown) => Promise<Record<string, unknown>>;
  constructor(public cfg: KioskConfig) {}
  health() {
    return {
      healthy: this.frameAgeMs !== null && this.frameAgeMs < 5000,
      fps: 14.8,
      lastFrameAgeMs: this.frameAgeMs,
      faces: 1,
      broker: { connected: true },
      outbox: { pending: 0, dropped: 0 },
      model: { name: 'deep_emotion', version: 'test-1' },
      uptimeS: 12,
    };
  }
  setDetectionEnabled(enabled: boolean) {
    this.detection.push(enabled);
  }
  config() {
    return this.cfg;
  }
  applyOptions(next: KioskConfig, keys: string[]) {
    this.cfg = next;
    this.applied.push({ keys });
    return keys.filter((k) => this.live.has(k));
  }
  restart() {
    this.restarts += 1;
  }
  async snapshot() {
    return Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
  }
}

import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync as writeFile, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { freePort, MOSQUITTO, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';

/** A mosquitto with password accounts and an ACL file (test/mqtt/helpers/mosquitto.ts has no ACL option). */
export async function mosquittoWithAcl(users: Record<string, string>, acl: string): Promise<{ url: string; log: () => string; stop: () => Promise<void> }> {
  return mosquittoWith((dir) => {
    const pw = path.join(dir, 'passwd');
    writeFile(pw, '');
    for (const [u, p] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', pw, u, p]);
    writeFile(path.join(dir, 'acl'), acl);
    return ['allow_anonymous false', `password_file ${pw}`, `acl_file ${path.join(dir, 'acl')}`];
  });
}

/** A mosquitto with extra configuration lines (e.g. max_packet_size, message_size_limit); anonymous unless they say otherwise. */
export async function mosquittoWith(lines: string[] | ((dir: string) => string[])): Promise<{ url: string; log: () => string; stop: () => Promise<void> }> {
  const dir = tempDir('mosq-conf');
  const port = await freePort();
  const extra = typeof lines === 'function' ? lines(dir) : ['allow_anonymous true', ...lines];
  const conf = path.join(dir, 'mosquitto.conf');
  writeFile(conf, ['user root', `listener ${port} 127.0.0.1`, 'log_dest stderr', 'log_type error', 'log_type warning', ...extra, ''].join('\n'));
  const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode}): ${log}`);
      return new Promise<boolean>((resolve) => {
        const s = createConnection({ port, host: '127.0.0.1' });
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
    },
    10_000,
    'mosquitto with ACL',
  );
  return {
    url: `mqtt://127.0.0.1:${port}`,
    log: () => log,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
