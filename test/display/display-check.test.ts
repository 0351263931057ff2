import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDisplay } from '../../src/display/display-check.js';

const sockets = (...n: number[]) => (p: string) => n.some((i) => p === `/tmp/.X11-unix/X${i}`);

test('no DISPLAY: tells the user to use --headless', () => {
  const r = checkDisplay({}, sockets());
  assert.equal(r.ok, false);
  assert.match((r as { reason: string }).reason, /DISPLAY is not set.*--headless/);
});

test('Wayland only: explains that the OpenCV window needs X (XWayland)', () => {
  const r = checkDisplay({ WAYLAND_DISPLAY: 'wayland-1' }, sockets());
  assert.match((r as { reason: string }).reason, /only WAYLAND_DISPLAY=wayland-1.*--headless/);
});

test('a local display needs its X socket', () => {
  assert.deepEqual(checkDisplay({ DISPLAY: ':0' }, sockets(0)), { ok: true, display: ':0' });
  assert.deepEqual(checkDisplay({ DISPLAY: ':1.0' }, sockets(1)), { ok: true, display: ':1.0' });
  const r = checkDisplay({ DISPLAY: ':7' }, sockets(0));
  assert.match((r as { reason: string }).reason, /no X server is running on DISPLAY=:7 \(\/tmp\/\.X11-unix\/X7 does not exist\)/);
});

test('remote displays and non-X Qt platforms are not second-guessed', () => {
  assert.equal(checkDisplay({ DISPLAY: 'kiosk-host:10.0' }, sockets()).ok, true);
  assert.deepEqual(checkDisplay({ QT_QPA_PLATFORM: 'eglfs' }, sockets()), { ok: true, display: 'Qt platform eglfs' });
  assert.equal(checkDisplay({ QT_QPA_PLATFORM: 'xcb' }, sockets()).ok, false, 'xcb still needs DISPLAY');
});
