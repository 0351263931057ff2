/** Boxes and their arithmetic for detection and tracking: pure functions, no OpenCV. */

/** An axis-aligned box in frame pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Intersection over union of two boxes (0 when they do not overlap). */
export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  if (inter === 0) return 0;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** Maps a box found on a frame downscaled by `scale` (small = full * scale) back to full-frame pixels, clipped. */
export function scaleBoxToFrame(box: Box, scale: number, frameWidth: number, frameHeight: number): Box {
  const x = Math.max(0, Math.round(box.x / scale));
  const y = Math.max(0, Math.round(box.y / scale));
  const right = Math.min(frameWidth, Math.round((box.x + box.width) / scale));
  const bottom = Math.min(frameHeight, Math.round((box.y + box.height) / scale));
  return { x, y, width: Math.max(0, right - x), height: Math.max(0, bottom - y) };
}

/** The downscale factor for detecting on a frame `downscaleWidth` wide (1 = detect at full size). */
export function detectionScale(frameWidth: number, downscaleWidth: number): number {
  return downscaleWidth > 0 && downscaleWidth < frameWidth ? downscaleWidth / frameWidth : 1;
}
