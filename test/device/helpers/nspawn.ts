/**
 * A Debian root booted with systemd as PID 1 in a systemd-nspawn container (`systemd-nspawn --boot`), and commands
 * run inside it. Here (and in most CI sandboxes) the host's PID 1 is not systemd and no machined runs, so the
 * container is started with --register=no (no machined registration) and --keep-unit (no transient scope on the
 * host's bus); it shares the host's network. Commands enter the container's namespaces with nsenter, from the host.
 *
 * A `systemctl reboot` inside makes systemd-nspawn exit with status 133: the caller starts it again (boot()).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT_ENV, sh } from './debian-root.js';

/** systemd-nspawn's exit status after a reboot inside the container. */
export const NSPAWN_REBOOT_STATUS = 133;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BootedRoot {
  private child: ChildProcess | undefined;
  private leader = 0;
  private exitCode: Promise<number> = Promise.resolve(0);

  /**
   * `logFile` gets the container's console (systemd's boot messages), appended across boots. `machine`: the
   * container's name (systemd-nspawn keeps per-name state in /run/systemd/nspawn/), unique per root.
   */
  constructor(
    readonly root: string,
    private readonly logFile: string,
    readonly machine = path.basename(path.dirname(path.resolve(root))).replace(/[^A-Za-z0-9-]/g, '-'),
  ) {}

  /** Starts the container and waits until its systemd has finished booting; returns `systemctl is-system-running`. */
  async boot(timeoutMs = 5 * 60_000): Promise<string> {
    if (this.child) throw new Error('the container is already running');
    const fd = openSync(this.logFile, 'a');
    const child = spawn('systemd-nspawn', ['--quiet', '-D', this.root, `--machine=${this.machine}`, '--boot', '--register=no', '--keep-unit', '--console=read-only'], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    this.exitCode = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.child = undefined;
        this.leader = 0;
        resolve(code ?? (signal ? 128 : -1));
      }),
    );
    const deadline = Date.now() + timeoutMs;
    while (!this.leader) {
      if (!this.child) throw new Error(`systemd-nspawn exited with ${await this.exitCode} before the container started:\n${this.console().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error('the container did not start');
      this.leader = containerInit(child.pid!);
      if (!this.leader) await sleep(200);
    }
    // --wait: until the boot transaction is done (running or degraded).
    for (;;) {
      const r = this.exec(['systemctl', 'is-system-running', '--wait'], { allowFail: true, timeoutMs: Math.max(1000, deadline - Date.now()) });
      const state = r.out.trim().split('\n').pop() ?? '';
      if (state === 'running' || state === 'degraded') return state;
      if (Date.now() > deadline) throw new Error(`the container's systemd did not finish booting: ${r.out}`);
      await sleep(500);
    }
  }

  /** The container's PID 1 as the host sees it (0 when not running). */
  get initPid(): number {
    return this.leader;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Runs a command inside the container (all its namespaces, a clean environment), as root. */
  exec(args: string[], opts: { allowFail?: boolean; timeoutMs?: number; input?: string } = {}): { code: number; out: string } {
    if (!this.leader) throw new Error('the container is not running');
    return sh('nsenter', ['--target', String(this.leader), '--all', '--', '/usr/bin/env', '-i', ...ROOT_ENV, ...args], opts);
  }

  /** Waits for systemd-nspawn to exit (after a poweroff or reboot inside); its exit status. */
  async exited(timeoutMs = 3 * 60_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error('systemd-nspawn did not exit')), timeoutMs)));
    try {
      return await Promise.race([this.exitCode, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Shuts the container down (SIGTERM to systemd-nspawn = an orderly halt inside) and waits for it. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    try {
      await this.exited(2 * 60_000);
    } catch {
      this.child?.kill('SIGKILL');
      await this.exitCode;
    }
  }

  /** The console log so far. */
  console(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}

/** The container's init: the child of systemd-nspawn that is PID 1 in its own PID namespace. */
function containerInit(nspawnPid: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]);
    const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
    if (ppid === nspawnPid && nspid && nspid.length > 1 && nspid[nspid.length - 1] === '1') return Number(entry);
  }
  return 0;
}
