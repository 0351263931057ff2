/**
 * Crop calibration (issue 13): where FER2013's 48x48 face frame sits relative to the kiosk's Haar box, as a
 * square of side `scale` x the box's width, centred at the box's centre moved by (`offsetX`, `offsetY`) box
 * widths/heights. Identity: scale 1, offsets 0 (the Haar box as it is, what the runtime cuts). Pure; measured by
 * scripts/calibrate-crop.ts (fitCropGeometry over detected faces), which also compares the accuracy of crops cut
 * at the fitted geometry and at other scales with the runtime's. On the validation split the Haar box is FER2013's
 * frame within 2-3% (models/reports/<run>/crop-calibration.json), so the runtime keeps cutting the box as it is.
 */
import type { Box } from '../detection/index.js';

export interface CropGeometry {
  scale: number;
  offsetX: number;
  offsetY: number;
}

export const IDENTITY_CROP: CropGeometry = { scale: 1, offsetX: 0, offsetY: 0 };

export function isIdentityCrop(g: CropGeometry): boolean {
  return g.scale === 1 && g.offsetX === 0 && g.offsetY === 0;
}

/** How the true face frame `frame` sits relative to the detected `box` (one sample of the fit). */
export function relativeGeometry(box: Box, frame: Box): CropGeometry {
  if (!(box.width > 0 && box.height > 0)) throw new RangeError(`detector box must have a positive size, got ${box.width}x${box.height}`);
  return {
    scale: frame.width / box.width,
    offsetX: (frame.x + frame.width / 2 - (box.x + box.width / 2)) / box.width,
    offsetY: (frame.y + frame.height / 2 - (box.y + box.height / 2)) / box.height,
  };
}

/** The region to cut for the network from a detector box (may extend past the frame: see clipRegion). */
export function cropRegion(box: Box, g: CropGeometry): Box {
  const side = g.scale * box.width;
  const cx = box.x + box.width / 2 + g.offsetX * box.width;
  const cy = box.y + box.height / 2 + g.offsetY * box.height;
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function quartiles(xs: readonly number[]): [number, number] {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => {
    const p = q * (s.length - 1);
    const lo = Math.floor(p);
    return s[lo]! + (s[Math.min(s.length - 1, lo + 1)]! - s[lo]!) * (p - lo);
  };
  return [at(0.25), at(0.75)];
}

export interface CropFit {
  geometry: CropGeometry;
  n: number;
  /** Interquartile ranges of each parameter over the samples: the detector's spread (for training jitter). */
  iqr: { scale: [number, number]; offsetX: [number, number]; offsetY: [number, number] };
}

/** The median of each parameter over the samples (robust to a detector box that caught half a face). */
export function fitCropGeometry(samples: readonly CropGeometry[]): CropFit {
  if (samples.length === 0) throw new RangeError('crop calibration needs at least one detected face');
  const pick = (k: keyof CropGeometry) => samples.map((s) => s[k]);
  return {
    geometry: { scale: median(pick('scale')), offsetX: median(pick('offsetX')), offsetY: median(pick('offsetY')) },
    n: samples.length,
    iqr: { scale: quartiles(pick('scale')), offsetX: quartiles(pick('offsetX')), offsetY: quartiles(pick('offsetY')) },
  };
}
