/**
 * Is there a screen to open a window on? Checked before the first OpenCV highgui call, because Qt and GTK abort the
 * whole process (not an exception) when they cannot reach a display. Pure apart from the injected existence check.
 */
import { existsSync } from 'node:fs';

export type DisplayCheck = { ok: true; display: string } | { ok: false; reason: string };

const HEADLESS_ADVICE =
  'run with --headless (no window; events still go to the console/MQTT), or start it from the kiosk\'s desktop session ' +
  '(or set DISPLAY=:0 with access to that X server, e.g. from the same user)';

export function checkDisplay(env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): DisplayCheck {
  const qpa = env.QT_QPA_PLATFORM;
  if (qpa && !/^(xcb|wayland)/.test(qpa)) return { ok: true, display: `Qt platform ${qpa}` };
  const display = env.DISPLAY?.trim();
  const wayland = env.WAYLAND_DISPLAY?.trim();
  if (!display) {
    if (wayland) {
      return {
        ok: false,
        reason: `no X display: DISPLAY is not set (only WAYLAND_DISPLAY=${wayland}); OpenCV's window needs X or XWayland: set DISPLAY (usually :0), or ${HEADLESS_ADVICE}`,
      };
    }
    return { ok: false, reason: `no display: DISPLAY is not set, so the kiosk window cannot open; ${HEADLESS_ADVICE}` };
  }
  // Local displays (":0", ":1.0", "unix:0") have a socket in /tmp/.X11-unix; remote ones ("host:10") are not checked.
  const local = /^(?:unix)?:(\d+)(?:\.\d+)?$/.exec(display);
  if (local && !exists(`/tmp/.X11-unix/X${local[1]}`)) {
    return { ok: false, reason: `no X server is running on DISPLAY=${display} (/tmp/.X11-unix/X${local[1]} does not exist); ${HEADLESS_ADVICE}` };
  }
  return { ok: true, display };
}
