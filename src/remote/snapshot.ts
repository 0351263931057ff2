/**
 * The `snapshot` image: one JPEG of a frame, at most maxWidth px wide, every face the detector found in that frame
 * pixelated (a 6x6 mosaic over the box grown to cover hair and chin, which cannot be undone like a light blur can).
 * A face the detector misses in that frame (a profile, a small face) is not covered: the README says so. Works on a copy:
 * the pipeline's frame is never touched.
 */
import type { Box } from '../detection/index.js';
import { cv, type Mat } from '../vision/index.js';

export interface SnapshotOptions {
  blurFaces: boolean;
  maxWidth: number;
}

export function snapshotJpeg(frame: Mat, faces: readonly Box[], o: SnapshotOptions): Buffer {
  // Every Mat made here is released before returning: V8 does not see their pixels (src/vision/opencv.ts), so a
  // snapshot left to the garbage collector would hold a frame's worth of native memory each time.
  const made: Mat[] = [];
  const keep = (m: Mat): Mat => (made.push(m), m);
  try {
    let img = keep(frame.copy());
    if (o.blurFaces) {
      for (const b of faces) {
        // Haar boxes are tight: grow them to cover hair, ears, mouth and chin
        const x = Math.max(0, Math.round(b.x - b.width * 0.25));
        const y = Math.max(0, Math.round(b.y - b.height * 0.25));
        const w = Math.min(img.cols - x, Math.round(b.width * 1.5));
        const h = Math.min(img.rows - y, Math.round(b.height * 2));
        if (w < 2 || h < 2) continue;
        const roi = keep(img.getRegion(new cv.Rect(x, y, w, h)));
        const small = keep(roi.resize(6, 6, 0, 0, cv.INTER_AREA));
        keep(small.resize(h, w, 0, 0, cv.INTER_NEAREST)).copyTo(roi);
      }
    }
    if (img.cols > o.maxWidth) img = keep(img.resize(Math.round((img.rows * o.maxWidth) / img.cols), o.maxWidth, 0, 0, cv.INTER_AREA));
    return cv.imencode('.jpg', img, [cv.IMWRITE_JPEG_QUALITY, 80]);
  } finally {
    for (const m of made) m.release();
  }
}
