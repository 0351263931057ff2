/**
 * Which kiosk mode device/setup.sh set up (`--kiosk headless|dashboard|display`, remembered in setup.conf beside
 * the config), and whether what that mode runs on is there: for `display`, cage (the kiosk compositor) and
 * Xwayland (through which the OpenCV window reaches it), seatd (which gives cage the screen and input devices) and
 * xdpyinfo (the screen size, to fill it); for both screen
 * modes, the unit's drop-in. The check is
 * pure; `gatherKioskFacts` reads the files and looks the programs up.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findFirstBinary } from '../capture/index.js';
import { fail, ok, skip, warn, type CheckResult } from './result.js';

const execFileAsync = promisify(execFile);

export const KIOSK_MODES = ['headless', 'dashboard', 'display'] as const;
export type KioskMode = (typeof KIOSK_MODES)[number];

/** The drop-in setup.sh installs for each screen mode. */
export const KIOSK_DROP_INS: Readonly<Record<Exclude<KioskMode, 'headless'>, string>> = {
  dashboard: '/etc/systemd/system/emotion-kiosk.service.d/30-dashboard.conf',
  display: '/etc/systemd/system/emotion-kiosk.service.d/30-display.conf',
};

export interface KioskFacts {
  /** The setup.conf read (or looked for). */
  setupConf: string;
  /** Its `kiosk=` value as written; undefined when there is no setup.conf or no kiosk= line. */
  mode: string | undefined;
  /** The mode's drop-in is installed (screen modes). */
  dropIn: boolean;
  /** cage: its path and `cage -v` (undefined: not on PATH). */
  cage: { path: string; version: string | undefined } | undefined;
  /** Xwayland's path (undefined: not on PATH). */
  xwayland: string | undefined;
  /** xdpyinfo (x11-utils): the kiosk reads the screen size with it to fill the screen. */
  xdpyinfo: string | undefined;
  /** seatd: its program (undefined: not installed) and whether its socket is there (it runs). */
  seatd: { path: string | undefined; running: boolean };
}

/** Where Debian's seatd.service listens (libseat's default). */
export const SEATD_SOCKET = '/run/seatd.sock';

/** `kiosk=` from setup.sh's choices file (key=value lines, # comments). */
export function parseSetupConf(text: string): string | undefined {
  let mode: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*kiosk\s*=\s*(\S*)\s*$/.exec(line);
    if (m) mode = m[1];
  }
  return mode;
}

const RERUN = 'run device/setup.sh again (sudo /opt/emotion-kiosk/current/device/setup.sh)';

export function checkKioskMode(f: KioskFacts): CheckResult {
  if (f.mode === undefined) return skip('kiosk', `no kiosk mode set (${f.setupConf} not found or has no kiosk= line): not provisioned by device/setup.sh`);
  if (!(KIOSK_MODES as readonly string[]).includes(f.mode)) {
    return fail('kiosk', `kiosk=${f.mode} in ${f.setupConf} is not a kiosk mode (headless, dashboard or display)`, `fix that line, or ${RERUN} with --kiosk headless|dashboard|display`);
  }
  const mode = f.mode as KioskMode;
  if (mode === 'headless') return ok('kiosk', 'headless: nothing on the attached screen (--kiosk dashboard or display puts the kiosk there)');
  const missingDropIn = !f.dropIn ? `the ${mode} drop-in ${KIOSK_DROP_INS[mode]} is missing, so the service runs headless` : undefined;
  if (mode === 'dashboard') {
    return missingDropIn ? warn('kiosk', `dashboard: ${missingDropIn}`, RERUN) : ok('kiosk', 'dashboard: the terminal dashboard on the attached screen (tty1)');
  }
  const lacking = [!f.cage && 'cage (the kiosk compositor)', !f.xwayland && 'Xwayland (the OpenCV window reaches cage through it)'].filter(Boolean);
  if (lacking.length > 0) {
    return fail(
      'kiosk',
      `display: ${lacking.join(' and ')} not installed: the screen stays dark and the service restarts over and over`,
      `sudo apt-get install ${[!f.cage && 'cage', !f.xwayland && 'xwayland'].filter(Boolean).join(' ')}, or ${RERUN}`,
    );
  }
  if (!f.seatd.path) {
    return fail('kiosk', 'display: seatd is not installed: cage cannot take the screen and input devices, the screen stays dark and the service restarts over and over', `sudo apt-get install seatd && sudo systemctl enable --now seatd, or ${RERUN}`);
  }
  const found = `${f.cage!.version ?? 'cage'} at ${f.cage!.path}, Xwayland at ${f.xwayland}`;
  if (!f.seatd.running) {
    return warn('kiosk', `display: seatd is installed but not running (${SEATD_SOCKET} is missing): cage gets no screen until it runs (${found})`, 'sudo systemctl enable --now seatd');
  }
  if (missingDropIn) return warn('kiosk', `display: ${missingDropIn} (${found})`, RERUN);
  if (!f.xdpyinfo) {
    return warn('kiosk', `display: xdpyinfo is not installed, so the kiosk cannot read the screen size: beside a picture of another shape the screen may show stale pixels (${found})`, `sudo apt-get install x11-utils, or ${RERUN}`);
  }
  return ok('kiosk', `display: the camera view full screen on the attached screen, in cage (${found})`);
}

async function cageVersion(binary: string): Promise<string | undefined> {
  // cage 0.1.x prints "Cage version 0.1.4" (to stdout or stderr, depending on the version).
  const text = await execFileAsync(binary, ['-v'], { timeout: 3000 }).then(
    ({ stdout, stderr }) => stdout + stderr,
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
  const version = /version\s+(\S+)/i.exec(text)?.[1];
  return version ? `cage ${version}` : undefined;
}

/** setup.conf beside the config file (setup.sh keeps both in /etc/emotion-kiosk), else /etc/emotion-kiosk's. */
export async function gatherKioskFacts(configFile: string | undefined, env: NodeJS.ProcessEnv = process.env, seatdSocket = SEATD_SOCKET): Promise<KioskFacts> {
  const candidates = [configFile ? path.join(path.dirname(path.resolve(configFile)), 'setup.conf') : undefined, '/etc/emotion-kiosk/setup.conf'].filter(
    (p): p is string => p !== undefined,
  );
  const setupConf = candidates.find((p) => existsSync(p)) ?? candidates[0]!;
  let mode: string | undefined;
  try {
    mode = parseSetupConf(readFileSync(setupConf, 'utf8'));
  } catch {
    mode = undefined;
  }
  const dropInPath = mode === 'dashboard' || mode === 'display' ? KIOSK_DROP_INS[mode] : undefined;
  const searchPath = env.PATH ?? '';
  const cagePath = mode === 'display' ? (await findFirstBinary(['cage'], searchPath))?.[1] : undefined;
  const xwayland = mode === 'display' ? (await findFirstBinary(['Xwayland'], searchPath))?.[1] : undefined;
  const xdpyinfo = mode === 'display' ? (await findFirstBinary(['xdpyinfo'], searchPath))?.[1] : undefined;
  const seatd = mode === 'display' ? (await findFirstBinary(['seatd'], searchPath))?.[1] : undefined;
  return {
    setupConf,
    mode,
    dropIn: dropInPath !== undefined && existsSync(dropInPath),
    cage: cagePath ? { path: cagePath, version: await cageVersion(cagePath) } : undefined,
    xwayland,
    xdpyinfo,
    seatd: { path: seatd, running: mode === 'display' && existsSync(seatdSocket) },
  };
}
