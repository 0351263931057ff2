/**
 * The kiosk's OpenCV window: shows annotated frames, optionally full screen, and reports when the operator quits
 * (q or Esc, or closing the window). One of the few modules that import OpenCV.
 */
import { cv, type Mat } from '../vision/index.js';
import type { Logger } from '../util/index.js';
import { checkDisplay } from './display-check.js';
import { letterbox, type Letterbox } from './letterbox.js';
import { probeScreen, type ScreenInfo } from './screen.js';

export class DisplayUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DisplayUnavailableError';
  }
}

export type WindowAction = 'continue' | 'quit';

const ESC = 27;

/** q, Q or Esc quit; waitKey may carry modifier bits above the low byte. -1 = no key. */
export function keyAction(code: number): WindowAction {
  if (code < 0) return 'continue';
  const key = code & 0xff;
  return key === ESC || key === 0x71 || key === 0x51 ? 'quit' : 'continue';
}

export interface KioskWindowOptions {
  windowName: string;
  fullscreen: boolean;
  logger?: Logger;
}

export class KioskWindow {
  readonly windowName: string;
  private shown = false;
  private closed = false;
  private readonly fullscreen: boolean;
  private readonly display: string;
  private readonly logger: Logger | undefined;
  /** Full screen only: the screen as x11-utils saw it when the window opened. */
  private readonly screen: ScreenInfo | undefined;
  /** The black canvas of the screen's shape that frames are centred on (full screen), reused frame after frame. */
  private canvas: { mat: Mat; box: Letterbox; frame: { width: number; height: number } } | undefined;

  constructor({ windowName, fullscreen, logger }: KioskWindowOptions) {
    const check = checkDisplay();
    if (!check.ok) throw new DisplayUnavailableError(check.reason);
    this.windowName = windowName;
    this.fullscreen = fullscreen;
    this.display = check.display;
    this.logger = logger;
    this.screen = fullscreen ? probeScreen(process.env.DISPLAY ?? check.display) : undefined;
    // WINDOW_NORMAL lets the window be resized/full-screened; GUI_NORMAL hides Qt's toolbar and status bar.
    const flags = (fullscreen ? cv.WINDOW_NORMAL : cv.WINDOW_AUTOSIZE) | cv.WINDOW_GUI_NORMAL | cv.WINDOW_KEEPRATIO;
    try {
      cv.namedWindow(windowName, flags);
      if (fullscreen) cv.setWindowProperty(windowName, cv.WND_PROP_FULLSCREEN, cv.WINDOW_FULLSCREEN);
    } catch (err) {
      throw new DisplayUnavailableError(`cannot open the kiosk window on ${check.display}: ${String((err as Error)?.message ?? err)}; run with --headless to go without it`);
    }
  }

  /** Shows a BGR frame and polls the keyboard for 1 ms. 'quit' on q/Esc or when the operator closed the window. */
  show(mat: Mat): WindowAction {
    if (this.closed) return 'quit';
    cv.imshow(this.windowName, this.fitScreen(mat));
    const action = keyAction(cv.waitKey(1));
    if (action === 'quit') return 'quit';
    if (this.shown && cv.getWindowProperty(this.windowName, cv.WND_PROP_VISIBLE) < 1) return 'quit';
    if (!this.shown && this.fullscreen) this.fillScreenWithoutWindowManager();
    this.shown = true;
    return 'continue';
  }

  /**
   * Full screen: the frame centred on black bars to the screen's shape (src/display/letterbox.ts says why). The
   * frame is copied into a canvas kept from the previous frame; a new one only when the frame size changes.
   */
  private fitScreen(mat: Mat): Mat {
    const size = this.screen?.size;
    if (!size) return mat;
    const frame = { width: mat.cols, height: mat.rows };
    if (!this.canvas || this.canvas.frame.width !== frame.width || this.canvas.frame.height !== frame.height) {
      const box = letterbox(frame, size);
      if (!box) return mat;
      this.canvas = { mat: new cv.Mat(box.canvas.height, box.canvas.width, cv.CV_8UC3, [0, 0, 0]), box, frame };
    }
    const { mat: canvas, box } = this.canvas;
    mat.copyTo(canvas.getRegion(new cv.Rect(box.x, box.y, frame.width, frame.height)));
    return canvas;
  }

  /** Without a window manager the full-screen request is ignored: size the window to the screen ourselves. */
  private fillScreenWithoutWindowManager(): void {
    const screen = this.screen ?? probeScreen(process.env.DISPLAY ?? this.display);
    if (screen.windowManager === true) return;
    if (!screen.size) {
      this.logger?.warn(
        'full screen: could not tell whether a window manager runs or read the screen size (install x11-utils for xprop/xdpyinfo); without a window manager the window keeps its size',
      );
      return;
    }
    this.logger?.info(`full screen without a window manager: sizing the window to the screen, ${screen.size.width}x${screen.size.height}`);
    // Without a window manager X places the window at 0,0; moving it as well blanked it under Qt in our tests.
    cv.resizeWindow(this.windowName, screen.size.width, screen.size.height);
    cv.waitKey(1);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      cv.destroyWindow(this.windowName);
      cv.waitKey(1); // let the GUI toolkit process the destroy
    } catch {
      // Already gone (closed by the operator): nothing to release.
    }
  }
}
