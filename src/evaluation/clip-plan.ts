/**
 * The evaluation clip's ground truth (clip.json) and its plan: which labelled face goes where and when. Pure (no
 * OpenCV, no files): scripts/make-eval-clip.ts draws the frames from a plan, `emotion-kiosk evaluate --clip` reads it
 * back. Deterministic under the seed.
 *
 * A clip is a 960x540 (by default) scene with a few fixed slots; each slot shows one item after another:
 * - pair: face A for `holdMs`, then face B (another label) in the same place for `holdMs`;
 * - static: one face for `staticMs`;
 * each followed by an empty gap (`gapMs`, longer than the tracker's maxMissingMs) so the face leaves.
 * Frame ranges are half-open: [startFrame, endFrame).
 */
import type { Box } from '../detection/index.js';
import { isEmotion, type Emotion } from '../model/index.js';
import { seededRandom } from '../util/index.js';

export const CLIP_FORMAT = 'emotion-kiosk-eval-clip/1';

export interface ClipSegment {
  startFrame: number;
  /** Exclusive. */
  endFrame: number;
  label: Emotion;
  /** The source image (absolute path), classified as a native crop for comparison. */
  image: string;
}

export interface ClipItem {
  id: number;
  kind: 'pair' | 'static';
  slot: number;
  /** Where the face is pasted (frame pixels), before jitter. */
  box: Box;
  /** pair: [A, B]; static: [face]. */
  segments: ClipSegment[];
  /** First frame after the item's gap: the slot is free again. */
  gapEndFrame: number;
}

export interface ClipTruth {
  format: typeof CLIP_FORMAT;
  video: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  seed: number;
  faceSize: number;
  holdMs: number;
  staticMs: number;
  gapMs: number;
  /** Each frame a face is shifted by up to this many pixels (uniform, integer) from its box. */
  jitterPx: number;
  /** Standard deviation of the grey noise added to each pasted face, each frame. */
  noiseSigma: number;
  data: string;
  slots: Box[];
  items: ClipItem[];
}

export interface LabelledFace {
  file: string;
  label: Emotion;
}

export interface PlanOptions {
  pairs: number;
  statics: number;
  seed: number;
  fps: number;
  width?: number;
  height?: number;
  faceSize?: number;
  holdMs?: number;
  staticMs?: number;
  gapMs?: number;
  jitterPx?: number;
  noiseSigma?: number;
  columns?: number;
  rows?: number;
  video?: string;
  data?: string;
}


function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Slots on a columns x rows grid, spaced evenly. */
export function slotBoxes(width: number, height: number, faceSize: number, columns: number, rows: number): Box[] {
  const gx = (width - columns * faceSize) / (columns + 1);
  const gy = (height - rows * faceSize) / (rows + 1);
  if (gx < 0 || gy < 0) throw new RangeError(`${columns}x${rows} faces of ${faceSize} px do not fit in ${width}x${height}`);
  const out: Box[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      out.push({ x: Math.round(gx + c * (faceSize + gx)), y: Math.round(gy + r * (faceSize + gy)), width: faceSize, height: faceSize });
    }
  }
  return out;
}

const msToFrames = (ms: number, fps: number) => Math.max(1, Math.round((ms * fps) / 1000));

/**
 * Draws the clip: images without replacement (B of a pair has another label than A), items shuffled, each given to
 * the slot that is free first; slots start a quarter second apart so events of different slots rarely coincide.
 */
export function planClip(faces: readonly LabelledFace[], o: PlanOptions): ClipTruth {
  const width = o.width ?? 960;
  const height = o.height ?? 540;
  const faceSize = o.faceSize ?? 180;
  const holdMs = o.holdMs ?? 1500;
  const staticMs = o.staticMs ?? 3000;
  const gapMs = o.gapMs ?? 1500;
  const slots = slotBoxes(width, height, faceSize, o.columns ?? 3, o.rows ?? 2);
  const rand = seededRandom(o.seed);
  const needed = 2 * o.pairs + o.statics;
  if (faces.length < needed) throw new RangeError(`${o.pairs} pairs and ${o.statics} statics need ${needed} faces; the data has ${faces.length}`);
  const pool = shuffle([...faces], rand);
  const take = (differentFrom?: Emotion): LabelledFace => {
    const i = differentFrom === undefined ? 0 : pool.findIndex((f) => f.label !== differentFrom);
    if (i < 0) throw new RangeError(`no face left with a label other than ${differentFrom}`);
    return pool.splice(i, 1)[0]!;
  };
  const kinds = shuffle([...Array<'pair'>(o.pairs).fill('pair'), ...Array<'static'>(o.statics).fill('static')], rand);
  const hold = msToFrames(holdMs, o.fps);
  const still = msToFrames(staticMs, o.fps);
  const gap = msToFrames(gapMs, o.fps);
  const stagger = msToFrames(250, o.fps);
  const free = slots.map((_, i) => i * stagger);
  const items: ClipItem[] = kinds.map((kind, id) => {
    let slot = 0;
    for (let s = 1; s < free.length; s++) if (free[s]! < free[slot]!) slot = s;
    const start = free[slot]!;
    const segments: ClipSegment[] = [];
    if (kind === 'pair') {
      const a = take();
      const b = take(a.label);
      segments.push({ startFrame: start, endFrame: start + hold, label: a.label, image: a.file });
      segments.push({ startFrame: start + hold, endFrame: start + 2 * hold, label: b.label, image: b.file });
    } else {
      const f = take();
      segments.push({ startFrame: start, endFrame: start + still, label: f.label, image: f.file });
    }
    const gapEndFrame = segments[segments.length - 1]!.endFrame + gap;
    free[slot] = gapEndFrame;
    return { id, kind, slot, box: { ...slots[slot]! }, segments, gapEndFrame };
  });
  return {
    format: CLIP_FORMAT,
    video: o.video ?? 'clip.avi',
    width,
    height,
    fps: o.fps,
    frames: Math.max(0, ...items.map((it) => it.gapEndFrame)),
    seed: o.seed,
    faceSize,
    holdMs,
    staticMs,
    gapMs,
    jitterPx: o.jitterPx ?? 1,
    noiseSigma: o.noiseSigma ?? 2,
    data: o.data ?? '',
    slots,
    items,
  };
}

/** The faces visible on one frame: [item, segment] (at most one per slot). */
export function facesOnFrame(truth: ClipTruth, frame: number): Array<{ item: ClipItem; segment: ClipSegment }> {
  const out: Array<{ item: ClipItem; segment: ClipSegment }> = [];
  for (const item of truth.items) {
    for (const segment of item.segments) if (frame >= segment.startFrame && frame < segment.endFrame) out.push({ item, segment });
  }
  return out;
}

/** Checks a parsed clip.json: the fields the evaluation relies on, with a message naming what is wrong. */
export function parseClipTruth(value: unknown, where = 'clip.json'): ClipTruth {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  if (typeof value !== 'object' || value === null) fail('not a JSON object');
  const t = value as Partial<ClipTruth>;
  if (t.format !== CLIP_FORMAT) fail(`format is ${JSON.stringify(t.format)}, expected ${CLIP_FORMAT}`);
  for (const k of ['width', 'height', 'fps', 'frames', 'gapMs'] as const) if (typeof t[k] !== 'number' || !(t[k] > 0)) fail(`${k} must be a positive number`);
  if (!Array.isArray(t.items)) fail('items must be an array');
  const isBox = (b: unknown) => typeof b === 'object' && b !== null && ['x', 'y', 'width', 'height'].every((k) => typeof (b as Record<string, unknown>)[k] === 'number');
  t.items!.forEach((it, i) => {
    if (it.kind !== 'pair' && it.kind !== 'static') fail(`items[${i}].kind must be pair or static`);
    if (!isBox(it.box)) fail(`items[${i}].box must be {x, y, width, height}`);
    const n = it.kind === 'pair' ? 2 : 1;
    if (!Array.isArray(it.segments) || it.segments.length !== n) fail(`items[${i}] (${it.kind}) must have ${n} segment(s)`);
    for (const s of it.segments) {
      if (!isEmotion(s.label)) fail(`items[${i}]: label ${JSON.stringify(s.label)} is not an emotion`);
      if (!(Number.isInteger(s.startFrame) && Number.isInteger(s.endFrame) && s.endFrame > s.startFrame)) fail(`items[${i}]: bad frame range`);
      if (s.endFrame > t.frames!) fail(`items[${i}]: segment ends after the clip (${s.endFrame} > ${t.frames})`);
      if (typeof s.image !== 'string') fail(`items[${i}]: image must be a path`);
    }
  });
  return t as ClipTruth;
}
