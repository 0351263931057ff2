/** Test helpers: a real mosquitto on a free port (started and killed by the test), waiting on conditions. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `cond` every 20 ms until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(cond: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `ek-${tag}-`));
}

export interface MosquittoOptions {
  /** Default: a free port. */
  port?: number;
  /** Keep sessions and retained messages across restarts (saved on SIGTERM). */
  persistence?: boolean;
  /** user -> password; when set, anonymous access is off. */
  users?: Record<string, string>;
  /** `requireClientCert`: clients must present a certificate signed by `ca`. */
  tls?: { ca: string; cert: string; key: string; requireClientCert?: boolean };
}

export class Mosquitto {
  proc: ChildProcess | null = null;
  readonly port: number;
  readonly dir: string;
  private readonly conf: string;
  log = '';

  private constructor(port: number, dir: string, opts: MosquittoOptions) {
    this.port = port;
    this.dir = dir;
    // mosquitto started as root drops to the `mosquitto` user, which cannot read our 0700 temp dir: stay root.
    const lines = ['user root', `listener ${port} 127.0.0.1`, 'log_dest stderr', 'log_type error', 'log_type warning', 'max_queued_messages 0', 'max_inflight_messages 0'];
    if (opts.persistence) lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 3600');
    if (opts.users) {
      const pw = path.join(dir, 'passwd');
      writeFileSync(pw, '');
      for (const [u, p] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', pw, u, p]);
      lines.push('allow_anonymous false', `password_file ${pw}`);
    } else lines.push('allow_anonymous true');
    if (opts.tls) lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
    if (opts.tls?.requireClientCert) lines.push('require_certificate true');
    this.conf = path.join(dir, 'mosquitto.conf');
    writeFileSync(this.conf, lines.join('\n') + '\n');
  }

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const m = new Mosquitto(opts.port ?? (await freePort()), tempDir('mosq'), opts);
    await m.up();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Starts the broker and waits until it accepts TCP connections. */
  async up(): Promise<void> {
    const proc = spawn(MOSQUITTO, ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode}): ${this.log}`);
        return canConnect(this.port);
      },
      10_000,
      `mosquitto on port ${this.port}`,
    );
  }

  /** Stops the broker (SIGTERM saves persistence) and waits for it to exit. */
  async down(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await exited;
    this.proc = null;
  }

  async stop(): Promise<void> {
    await this.down('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A test CA, a broker certificate for 127.0.0.1/localhost and a client certificate signed by it, and an unrelated CA (openssl). */
export function makeTestPki(dir: string): { ca: string; cert: string; key: string; otherCa: string; clientCert: string; clientKey: string } {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=emotion-kiosk test CA', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.crt'));
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=other CA', '-keyout', f('other.key'), '-out', f('other.crt'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=emotion-kiosk dashboard', '-keyout', f('client.key'), '-out', f('client.csr'));
  ssl('x509', '-req', '-in', f('client.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f('client.crt'));
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key'), otherCa: f('other.crt'), clientCert: f('client.crt'), clientKey: f('client.key') };
}
