/**
 * Full screen on a bare X server. OpenCV asks the window manager for full screen (_NET_WM_STATE_FULLSCREEN); a kiosk
 * started with plain `xinit` has no window manager, so nothing happens. Then the window is sized to the screen
 * instead, using x11-utils (xprop: is there an EWMH window manager?, xdpyinfo: the screen size). Parsers are pure.
 */
import { execFileSync } from 'node:child_process';

/** `xdpyinfo` output -> the first screen's size. */
export function parseXdpyinfoDimensions(text: string): { width: number; height: number } | undefined {
  const m = /dimensions:\s+(\d+)x(\d+) pixels/.exec(text);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
}

/** `xprop -root _NET_SUPPORTING_WM_CHECK` output -> whether an EWMH window manager runs. */
export function parseWmCheck(text: string): boolean {
  return /_NET_SUPPORTING_WM_CHECK\(WINDOW\): window id # 0x[0-9a-f]+/i.test(text);
}

function run(cmd: string, args: string[], display: string): string | undefined {
  try {
    return execFileSync(cmd, [...args], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, DISPLAY: display } });
  } catch {
    return undefined;
  }
}

export interface ScreenInfo {
  /** undefined when xprop is not installed. */
  windowManager: boolean | undefined;
  size: { width: number; height: number } | undefined;
}

export function probeScreen(display: string): ScreenInfo {
  const wm = run('xprop', ['-root', '_NET_SUPPORTING_WM_CHECK'], display);
  const info = run('xdpyinfo', [], display);
  return { windowManager: wm === undefined ? undefined : parseWmCheck(wm), size: info === undefined ? undefined : parseXdpyinfoDimensions(info) };
}
