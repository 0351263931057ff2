/** The background faces are pasted on for the evaluation clips and the crop calibration: a soft two-way gradient (BGR, w x h), no edges for the detector to mistake for faces. */
export function sceneBackground(w: number, h: number): Buffer {
  const buf = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      buf[o] = 120 + Math.round((30 * x) / w);
      buf[o + 1] = 105 + Math.round((25 * y) / h);
      buf[o + 2] = 95 + Math.round((15 * (x + y)) / (w + h));
    }
  }
  return buf;
}
