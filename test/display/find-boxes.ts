/**
 * Finds the overlay's face boxes in a screenshot, whatever the frame's scaling: for each emotion colour, the pixels
 * near it (a smooth scaling would blend the 2 px lines), and among their connected pieces the hollow rectangles:
 * lines along most of the left, right and bottom sides (the label tab sits on top; another box may cross a side).
 * A patch of video that happens to have the colour is a blob, not a rectangle outline.
 */
import { cv, type Mat } from '../../src/vision/opencv.js';
import { EMOTION_COLOURS } from '../../src/display/overlay-layout.js';
import type { Emotion } from '../../src/model/labels.js';

export interface FoundBox {
  emotion: Emotion;
  x: number;
  y: number;
  width: number;
  height: number;
}

const TOLERANCE = 40;
const MIN_SIDE = 30;

export function findBoxes(screen: Mat): FoundBox[] {
  const found: FoundBox[] = [];
  for (const [emotion, bgr] of Object.entries(EMOTION_COLOURS) as [Emotion, readonly number[]][]) {
    const lo = new cv.Vec3(...(bgr.map((c) => Math.max(0, c - TOLERANCE)) as [number, number, number]));
    const hi = new cv.Vec3(...(bgr.map((c) => Math.min(255, c + TOLERANCE)) as [number, number, number]));
    const mask = screen.inRange(lo, hi);
    if (mask.countNonZero() < 4 * MIN_SIDE) continue;
    const { stats } = mask.connectedComponentsWithStats(8);
    const data = mask.getData();
    const w = mask.cols;
    const at = (x: number, y: number) => data[y * w + x]! > 0;
    /** Fraction of positions along a side where the 4 px band across it has a mask pixel. */
    const side = (n: number, hit: (i: number) => boolean) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (hit(i)) k++;
      return k / n;
    };
    for (let label = 1; label < stats.rows; label++) {
      const [x, y, bw, bh, area] = [0, 1, 2, 3, 4].map((c) => stats.at(label, c));
      if (bw! < MIN_SIDE || bh! < MIN_SIDE || area! > 0.5 * bw! * bh!) continue;
      const band = (from: number, to: number, f: (j: number) => boolean) => {
        for (let j = from; j < to; j++) if (f(j)) return true;
        return false;
      };
      const y0 = y! + Math.floor(bh! * 0.3); // below the label tab
      const rows = y! + bh! - y0;
      const left = side(rows, (i) => band(x!, x! + 4, (j) => at(j, y0 + i)));
      const right = side(rows, (i) => band(x! + bw! - 4, x! + bw!, (j) => at(j, y0 + i)));
      const bottom = side(bw!, (i) => band(y! + bh! - 4, y! + bh!, (j) => at(x! + i, j)));
      if (left >= 0.75 && right >= 0.75 && bottom >= 0.75) found.push({ emotion, x: x!, y: y!, width: bw!, height: bh! });
    }
  }
  return found;
}

/** Max channel value and standard deviation of a region: a black bar is 0 and 0, a video frame is neither. */
export function regionStats(img: Mat, x: number, y: number, width: number, height: number): { max: number; std: number } {
  const roi = img.getRegion(new cv.Rect(x, y, width, height)).copy();
  const max = Math.max(...roi.splitChannels().map((c) => c.minMaxLoc().maxVal));
  const { stddev } = roi.cvtColor(cv.COLOR_BGR2GRAY).meanStdDev();
  return { max, std: stddev.at(0, 0) };
}
