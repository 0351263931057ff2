/** Draws the kiosk overlay (boxes, "emotion 87%" labels, fps and face count) onto a BGR frame, in place. */
import { cv, type Mat } from '../vision/index.js';
import type { TrackedFaceView } from '../events/index.js';
import { planOverlay, type Bgr, type MeasureText } from './overlay-layout.js';

const FONT = cv.FONT_HERSHEY_SIMPLEX;

const measure: MeasureText = (text, scale, thickness) => {
  const { size, baseLine } = cv.getTextSize(text, FONT, scale, thickness);
  return { width: size.width, height: size.height, baseline: baseLine };
};

const vec = (c: Bgr) => new cv.Vec3(c[0], c[1], c[2]);

export function drawOverlay(mat: Mat, faces: readonly TrackedFaceView[], info: { fps: number }): void {
  if (mat.type !== cv.CV_8UC3) throw new Error(`drawOverlay needs a BGR 8UC3 frame, got OpenCV type ${mat.type}`);
  const plan = planOverlay(faces, info, { width: mat.cols, height: mat.rows }, measure);
  for (const r of plan.rects) {
    mat.drawRectangle(new cv.Point2(r.x1, r.y1), new cv.Point2(r.x2, r.y2), vec(r.colour), r.thickness, cv.LINE_8);
  }
  for (const t of plan.texts) {
    mat.putText(t.text, new cv.Point2(t.x, t.y), FONT, t.scale, vec(t.colour), t.thickness, cv.LINE_AA);
  }
}
