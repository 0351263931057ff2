/**
 * Full screen with the frame's own shape: the frame centred on a black canvas of the screen's aspect ratio, so that
 * the GUI toolkit, scaling the canvas to the window, fills the whole screen. Left to itself, OpenCV's Qt window paints
 * only the frame's rectangle and leaves whatever was there before (its first, smaller frame; its toolbar's ghost) in
 * the bars beside it. Pure.
 */
export interface Size {
  width: number;
  height: number;
}

export interface Letterbox {
  /** The canvas: the screen's aspect ratio, at the frame's scale (never smaller than the frame). */
  canvas: Size;
  /** Where the frame goes on it. */
  x: number;
  y: number;
}

/** undefined when the frame already has the screen's shape (to the pixel) or a size is not usable. */
export function letterbox(frame: Size, screen: Size): Letterbox | undefined {
  const valid = (s: Size) => Number.isInteger(s.width) && Number.isInteger(s.height) && s.width > 0 && s.height > 0;
  if (!valid(frame) || !valid(screen)) return undefined;
  // Compare frame.w/frame.h with screen.w/screen.h without rounding: cross products.
  const wider = frame.width * screen.height - screen.width * frame.height;
  let canvas: Size;
  if (wider > 0) canvas = { width: frame.width, height: Math.round((frame.width * screen.height) / screen.width) };
  else canvas = { width: Math.round((frame.height * screen.width) / screen.height), height: frame.height };
  if (canvas.width === frame.width && canvas.height === frame.height) return undefined;
  return { canvas, x: Math.floor((canvas.width - frame.width) / 2), y: Math.floor((canvas.height - frame.height) / 2) };
}
