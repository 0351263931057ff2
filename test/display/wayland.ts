/**
 * Test helpers for the kiosk screen under cage (Debian packages cage, xwayland, grim): cage on wlroots' headless
 * backend (an output in memory, 1280x720, software rendering), screenshots of it with grim, and the drop-in's
 * ExecStart= turned into the command line to run here. cage refuses to run as root (it cannot drop root for good),
 * so as root it runs as `nobody`, as the service runs as its own user. wlroots 0.15's headless output repaints only
 * when something asks (each grim does; its log says "Basic output test failed for HEADLESS-1" then), so successive
 * screenshots catch up with the kiosk a frame at a time: tests poll screenshots instead of expecting the latest frame.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cv, type Mat } from '../../src/vision/opencv.js';

export const NOBODY = { uid: 65534, gid: 65534 };
export const runsAsRoot = () => process.getuid?.() === 0;

/** spawn options that run a command as the compositor's user (nobody when this test runs as root). */
export function asServiceUser(): { uid?: number; gid?: number } {
  return runsAsRoot() ? { uid: NOBODY.uid, gid: NOBODY.gid } : {};
}

/** Why the cage tests cannot run here, or undefined when they can. */
export function cageMissing(): string | undefined {
  const missing = ['cage', 'grim', 'Xwayland', 'setpriv'].filter((b) => !process.env.PATH!.split(':').some((d) => existsSync(path.join(d, b))));
  return missing.length ? `not installed: ${missing.join(', ')} (apt-get install cage grim xwayland util-linux)` : undefined;
}

/** A directory the compositor's user owns (0700, as XDG_RUNTIME_DIR must be). */
export function userDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (runsAsRoot()) chownSync(dir, NOBODY.uid, NOBODY.gid);
  return dir;
}

/** The last ExecStart= of a unit or drop-in (a drop-in's empty ExecStart= resets the list), split into words. */
export function execStart(unitText: string): string[] {
  const lines = unitText.split('\n').filter((l) => /^ExecStart=/.test(l));
  const last = lines.at(-1)?.slice('ExecStart='.length).trim();
  if (!last) throw new Error('no ExecStart= with a command');
  if (/["'\\$]/.test(last)) throw new Error(`ExecStart= with quotes, escapes or variables is not split here: ${last}`);
  return last.split(/\s+/);
}

/** The shell script of an `ExecStop=/bin/sh -c '...'` line. */
export function execStopScript(unitText: string): string {
  const m = /^ExecStop=\/bin\/sh -c '([^']*)'$/m.exec(unitText);
  if (!m) throw new Error("no ExecStop=/bin/sh -c '...' line");
  return m[1]!;
}

export interface Cage {
  process: ChildProcess;
  /** The Wayland socket's directory and name, for grim. */
  runtimeDir: string;
  socket: string;
  /** Everything cage and the kiosk wrote to stdout and stderr. */
  output(): string;
  /** Resolves with cage's exit code (or the signal that ended it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/**
 * Starts `argv` (a command that runs cage) on the headless backend. `runtimeDir` is where the command's cage puts
 * its socket (the XDG_RUNTIME_DIR it ends up with). Waits for the socket.
 */
export async function startCage(argv: string[], runtimeDir: string, env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Cage> {
  const wrapped = runsAsRoot() ? ['setpriv', `--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups', ...argv] : argv;
  const child = spawn(wrapped[0]!, wrapped.slice(1), {
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      WLR_BACKENDS: 'headless',
      WLR_RENDERER: 'pixman',
      WLR_LIBINPUT_NO_DEVICES: '1',
      XDG_RUNTIME_DIR: runtimeDir,
      DISPLAY: '',
      WAYLAND_DISPLAY: '',
      ...env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  for (let i = 0; i < 400 && !done; i++) {
    const socket = readdirSync(runtimeDir).find((f) => /^wayland-\d+$/.test(f));
    if (socket) {
      return {
        process: child,
        runtimeDir,
        socket,
        output: () => out,
        exited,
        stop: async () => {
          const descendants = (function all(pid: number): number[] {
            return childPids(pid).flatMap((c) => [c, ...all(c)]);
          })(child.pid!);
          if (!done) child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(t);
          // What cage started and left behind (a kiosk without a window would keep running).
          for (const pid of descendants) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        },
      };
    }
    await sleep(50);
  }
  if (!done) child.kill('SIGKILL');
  await exited;
  throw new Error(`cage did not create its Wayland socket in ${runtimeDir}:\n${out}`);
}

/** A screenshot of cage's output (grim, PNG) as a BGR Mat. */
export async function grim(cage: Cage): Promise<Mat> {
  const png = await new Promise<Buffer>((resolve, reject) => {
    const argv = runsAsRoot() ? ['setpriv', `--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups', 'grim', '-'] : ['grim', '-'];
    execFile(
      argv[0]!,
      argv.slice(1),
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, XDG_RUNTIME_DIR: cage.runtimeDir, WAYLAND_DISPLAY: cage.socket } },
      (err, stdout, stderr) => (err ? reject(new Error(`grim failed: ${err.message} ${stderr.toString()}`)) : resolve(stdout)),
    );
  });
  return cv.imdecode(png);
}

/** The direct children of a process (Linux /proc). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Xwayland of this cage (wlroots double-forks it, so it is not cage's child): the one with cage's XDG_RUNTIME_DIR. */
export function xwaylandPid(cage: Cage): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || !commandLine(Number(entry)).startsWith('Xwayland')) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`XDG_RUNTIME_DIR=${cage.runtimeDir}`)) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** Resident memory of a process in MB (VmRSS). */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function cageVersion(): string {
  try {
    return execFileSync('cage', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '').trim() || 'unknown';
  }
}
