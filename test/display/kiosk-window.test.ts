/**
 * The kiosk window for real: OpenCV's highgui on a private Xvfb server, checked by screenshots of the root window
 * (xwd, Debian package x11-apps) and driven with real key presses (xdotool). Needs: xvfb, x11-apps, xdotool, and
 * x11-utils for the full-screen fallback.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DisplayUnavailableError, KioskWindow, keyAction } from '../../src/display/kiosk-window.js';
import { drawOverlay } from '../../src/display/overlay.js';
import { EMOTION_COLOURS } from '../../src/display/overlay-layout.js';
import { createLogger } from '../../src/util/logger.js';
import { cv, type Mat } from '../../src/vision/opencv.js';
import { MEGAMIND, face } from './faces.js';
import { screenshot, startXvfb, type Xvfb } from './x11.js';

const run = promisify(execFile);
const SCREEN = { width: 1024, height: 768 };
let xvfb: Xvfb;
const savedDisplay = process.env.DISPLAY;

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

function megamindFrame(n: number): Mat {
  const cap = new cv.VideoCapture(MEGAMIND, cv.CAP_FFMPEG);
  for (let i = 0; i < n; i++) cap.read();
  const m = cap.read();
  cap.release();
  return m;
}

const faces = [face(1, 'angry', 0.87, { x: 100, y: 150, width: 150, height: 160 }), face(2, 'happy', 0.5, { x: 400, y: 80, width: 120, height: 120 })];

/** Shows `mat` a few times (the GUI toolkit paints on its event loop) and grabs the screen as a Mat. */
async function showAndGrab(win: KioskWindow, mat: Mat): Promise<Mat> {
  for (let i = 0; i < 15; i++) {
    assert.equal(win.show(mat), 'continue');
    await new Promise((r) => setTimeout(r, 15));
  }
  const shot = await screenshot(xvfb.display);
  return new cv.Mat(shot.bgr, shot.height, shot.width, cv.CV_8UC3);
}

/** Bounding box of the pixels that have exactly this BGR colour. */
function colourBounds(img: Mat, bgr: readonly number[]): { x1: number; y1: number; x2: number; y2: number; n: number } {
  const c = new cv.Vec3(bgr[0]!, bgr[1]!, bgr[2]!);
  const mask = img.inRange(c, c);
  const n = mask.countNonZero();
  if (n === 0) return { x1: -1, y1: -1, x2: -1, y2: -1, n };
  const pts = mask.findNonZero();
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  return { x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys), n };
}

const px = (m: Mat, x: number, y: number) => m.atRaw(y, x) as unknown as number[];

test('keys: q, Q and Esc quit, anything else continues', () => {
  assert.equal(keyAction(-1), 'continue');
  assert.equal(keyAction('q'.charCodeAt(0)), 'quit');
  assert.equal(keyAction('Q'.charCodeAt(0)), 'quit');
  assert.equal(keyAction(27), 'quit');
  assert.equal(keyAction(0x100000 | 27), 'quit', 'modifier bits are ignored');
  assert.equal(keyAction(' '.charCodeAt(0)), 'continue');
});

test('no display: a clear error that says to use --headless (before OpenCV could abort the process)', () => {
  withEnv({ DISPLAY: undefined, WAYLAND_DISPLAY: undefined, QT_QPA_PLATFORM: undefined }, () => {
    assert.throws(
      () => new KioskWindow({ windowName: 'nodisplay', fullscreen: false }),
      (e: unknown) => e instanceof DisplayUnavailableError && /DISPLAY is not set.*--headless/.test(e.message),
    );
  });
  withEnv({ DISPLAY: ':359', QT_QPA_PLATFORM: undefined }, () => {
    assert.throws(() => new KioskWindow({ windowName: 'nodisplay', fullscreen: false }), /no X server is running on DISPLAY=:359/);
  });
});

before(async () => {
  xvfb = await startXvfb(SCREEN.width, SCREEN.height);
  process.env.DISPLAY = xvfb.display;
});

after(async () => {
  cv.destroyAllWindows();
  await xvfb?.stop();
  if (savedDisplay === undefined) delete process.env.DISPLAY;
  else process.env.DISPLAY = savedDisplay;
});

test('the window shows the annotated frame: the screenshot has the boxes in their colours at the box edges', async () => {
  const mat = megamindFrame(60);
  drawOverlay(mat, faces, { fps: 23.4 });
  const win = new KioskWindow({ windowName: 'kiosk-test', fullscreen: false });
  const screen = await showAndGrab(win, mat);
  // Where is the window? Find the frame in the screenshot.
  const match = screen.matchTemplate(mat, cv.TM_SQDIFF).minMaxLoc();
  assert.ok(match.minVal < 1000, `the frame is on screen pixel for pixel (squared difference ${match.minVal})`);
  const { x: ox, y: oy } = match.minLoc;
  for (const f of faces) {
    const { x, y, width, height } = f.box;
    const colour = [...EMOTION_COLOURS[f.emotion]];
    assert.deepEqual(px(screen, ox + x, oy + y + height / 2), colour, `${f.emotion}: left edge on screen`);
    assert.deepEqual(px(screen, ox + x + width - 1, oy + y + height / 2), colour, `${f.emotion}: right edge on screen`);
    assert.deepEqual(px(screen, ox + x + width / 2, oy + y + height - 1), colour, `${f.emotion}: bottom edge on screen`);
  }
  const red = colourBounds(screen, EMOTION_COLOURS.angry);
  assert.deepEqual([red.x1 - ox, red.x2 - ox, red.y2 - oy], [99, 250, 310], 'the red box (2 px lines centred on the edges) and its label, nothing else red');
  win.close();
  await new Promise((r) => setTimeout(r, 100));
  cv.waitKey(1);
  const after = await screenshot(xvfb.display);
  const afterMat = new cv.Mat(after.bgr, after.height, after.width, cv.CV_8UC3);
  assert.equal(colourBounds(afterMat, EMOTION_COLOURS.angry).n, 0, 'the window is gone after close()');
});

test('q and Esc pressed in the window make show() return quit', async () => {
  const mat = megamindFrame(80);
  for (const key of ['q', 'Escape']) {
    const win = new KioskWindow({ windowName: `keys-${key}`, fullscreen: false });
    for (let i = 0; i < 10; i++) win.show(mat);
    const env = { ...process.env, DISPLAY: xvfb.display };
    await run('xdotool', ['mousemove', '200', '200'], { env });
    const { stdout } = await run('xdotool', ['search', '--name', `keys-${key}`], { env });
    const id = stdout.trim().split('\n').at(-1)!;
    await run('xdotool', ['windowfocus', '--sync', id], { env }).catch(() => undefined);
    await run('xdotool', ['key', key], { env });
    let action = 'continue';
    for (let i = 0; i < 100 && action === 'continue'; i++) {
      action = win.show(mat);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(action, 'quit', `${key} quits`);
    win.close();
  }
});

test('full screen: the frame fills the screen (also without a window manager)', async () => {
  const mat = megamindFrame(60);
  drawOverlay(mat, faces, { fps: 23.4 });
  const logs: string[] = [];
  const win = new KioskWindow({ windowName: 'kiosk-fullscreen', fullscreen: true, logger: createLogger('info', '', (l) => logs.push(l)) });
  const screen = await showAndGrab(win, mat);
  const scale = Math.min(SCREEN.width / mat.cols, SCREEN.height / mat.rows);
  const red = colourBounds(screen, EMOTION_COLOURS.angry);
  const redWidth = red.x2 - red.x1 + 1;
  assert.ok(Math.abs(redWidth - 152 * scale) <= 4, `the red box is scaled by ${scale.toFixed(2)}: ${redWidth} px wide`);
  assert.ok(logs.some((l) => /sizing the window to the screen, 1024x768/.test(l)), logs.join('\n'));
  win.close();
});
