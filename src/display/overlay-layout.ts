/**
 * What the kiosk overlay draws, decided without OpenCV: a box per face in its emotion's colour, an "emotion 87%"
 * label above it (inside the box when there is no room above), and "fps · faces" in the top-left corner. Text size
 * comes from an injected measure function so the layout is unit-tested; overlay.ts does the drawing.
 */
import type { Emotion } from '../model/index.js';
import type { TrackedFaceView } from '../events/index.js';
import type { Box } from '../detection/index.js';

/** B, G, R (OpenCV order). Distinct hues so a glance tells emotions apart; text on them is black or white. */
export type Bgr = readonly [number, number, number];

export const EMOTION_COLOURS: Readonly<Record<Emotion, Bgr>> = {
  angry: [0, 0, 255], // red
  disgust: [0, 160, 0], // green
  fear: [200, 0, 200], // purple
  happy: [0, 220, 255], // yellow
  sad: [255, 80, 0], // blue
  surprise: [0, 140, 255], // orange
  neutral: [200, 200, 200], // light grey
};

export interface TextMetrics {
  width: number;
  /** Height above the baseline. */
  height: number;
  /** Depth below the baseline. */
  baseline: number;
}

export type MeasureText = (text: string, scale: number, thickness: number) => TextMetrics;

export interface OverlayRect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  colour: Bgr;
  /** Line thickness; -1 = filled. */
  thickness: number;
}

export interface OverlayText {
  text: string;
  /** Bottom-left of the text's baseline. */
  x: number;
  y: number;
  colour: Bgr;
  scale: number;
  thickness: number;
}

export interface OverlayPlan {
  rects: OverlayRect[];
  texts: OverlayText[];
}

export function formatFaceLabel(face: Pick<TrackedFaceView, 'emotion' | 'confidence'>): string {
  const pct = Math.round(Math.min(1, Math.max(0, face.confidence)) * 100);
  return `${face.emotion} ${pct}%`;
}

export function formatInfoLine(fps: number, faces: number): string {
  const rate = Number.isFinite(fps) && fps >= 0 ? fps.toFixed(1) : '-';
  return `${rate} fps  ${faces} face${faces === 1 ? '' : 's'}`;
}

/** Black on light colours, white on dark ones (perceived luminance). */
export function textColourOn(bg: Bgr): Bgr {
  const [b, g, r] = bg;
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? [0, 0, 0] : [255, 255, 255];
}

/** Scale drawing with the frame so labels stay readable on 1080p and small on 320x240. */
export function overlayScale(frameWidth: number): { fontScale: number; textThickness: number; boxThickness: number; pad: number } {
  const k = Math.max(0.4, Math.min(2, frameWidth / 960));
  return {
    fontScale: Math.round(k * 0.6 * 100) / 100,
    textThickness: k >= 1.2 ? 2 : 1,
    boxThickness: Math.max(2, Math.round(2 * k)),
    pad: Math.max(2, Math.round(4 * k)),
  };
}

function clampBox(box: Box, width: number, height: number): { x1: number; y1: number; x2: number; y2: number } | undefined {
  const x1 = Math.max(0, Math.round(box.x));
  const y1 = Math.max(0, Math.round(box.y));
  const x2 = Math.min(width - 1, Math.round(box.x + box.width - 1));
  const y2 = Math.min(height - 1, Math.round(box.y + box.height - 1));
  if (x2 <= x1 || y2 <= y1) return undefined;
  return { x1, y1, x2, y2 };
}

export function planOverlay(
  faces: readonly Pick<TrackedFaceView, 'box' | 'emotion' | 'confidence'>[],
  info: { fps: number },
  frame: { width: number; height: number },
  measure: MeasureText,
): OverlayPlan {
  const { fontScale, textThickness, boxThickness, pad } = overlayScale(frame.width);
  const rects: OverlayRect[] = [];
  const texts: OverlayText[] = [];

  for (const face of faces) {
    const b = clampBox(face.box, frame.width, frame.height);
    if (!b) continue;
    const colour = EMOTION_COLOURS[face.emotion];
    rects.push({ ...b, colour, thickness: boxThickness });
    const label = formatFaceLabel(face);
    const m = measure(label, fontScale, textThickness);
    const labelH = m.height + m.baseline + 2 * pad;
    const labelW = Math.min(m.width + 2 * pad, frame.width);
    // Above the box when it fits, else just inside its top edge.
    const top = b.y1 - labelH >= 0 ? b.y1 - labelH : b.y1;
    const left = Math.min(b.x1, frame.width - labelW);
    rects.push({ x1: left, y1: top, x2: left + labelW - 1, y2: top + labelH - 1, colour, thickness: -1 });
    texts.push({ text: label, x: left + pad, y: top + pad + m.height, colour: textColourOn(colour), scale: fontScale, thickness: textThickness });
  }

  const line = formatInfoLine(info.fps, faces.length);
  const m = measure(line, fontScale, textThickness);
  const h = m.height + m.baseline + 2 * pad;
  rects.push({ x1: 0, y1: 0, x2: Math.min(frame.width - 1, m.width + 2 * pad), y2: Math.min(frame.height - 1, h), colour: [0, 0, 0], thickness: -1 });
  texts.push({ text: line, x: pad, y: pad + m.height, colour: [255, 255, 255], scale: fontScale, thickness: textThickness });
  return { rects, texts };
}
