/**
 * Reads FER2013-style face images (`<root>/<class>/*.jpg`, 48x48 grey) for calibration and agreement checks, with
 * jpeg-js (pure JS: the training side does not load OpenCV). Unreadable or wrong-sized images are reported with
 * their path, never silently dropped.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { listClassFolders, JPEG_EXT, EMOTIONS, type Emotion } from '../model/index.js';

export interface FaceImage {
  file: string;
  label: Emotion;
}

export class FaceImageError extends Error {}

/** Every image under root/<class>/ (sorted per class, classes in label order), optionally only names starting with `prefix`. */
export function listFaceImages(root: string, prefix?: string): FaceImage[] {
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new FaceImageError(`image folder ${root} does not exist; expected <class>/<image>.jpg under it`);
  const out = listClassFolders(root, { extensions: JPEG_EXT, ...(prefix ? { prefix } : {}) }).classes.flatMap((c) => c.files.map((file) => ({ file, label: c.label })));
  if (out.length === 0) throw new FaceImageError(`no .jpg images under ${root}/<class>/ (classes ${EMOTIONS.join(', ')})${prefix ? ` starting with ${prefix}` : ''}`);
  return out;
}

/** `count` images spread evenly over the list (deterministic; keeps the class proportions of a class-sorted list). */
export function evenlySpaced<T>(items: readonly T[], count: number): T[] {
  if (count >= items.length) return [...items];
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(items[Math.floor(((i + 0.5) * items.length) / count)]!);
  return out;
}

/** Decodes one JPEG face to size*size grey bytes; throws FaceImageError naming the file. */
export function readGreyFace(file: string, size: number): Uint8Array {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(readFileSync(file), { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: 64 });
  } catch (err) {
    throw new FaceImageError(`${file}: not a readable JPEG (${(err as Error).message})`);
  }
  if (img.width !== size || img.height !== size) throw new FaceImageError(`${file}: ${img.width}x${img.height}, the model needs ${size}x${size} face crops`);
  const out = new Uint8Array(size * size);
  const d = img.data;
  const channels = d.length / (size * size);
  for (let i = 0; i < out.length; i++) {
    out[i] = channels === 1 ? d[i]! : Math.round(0.299 * d[channels * i]! + 0.587 * d[channels * i + 1]! + 0.114 * d[channels * i + 2]!);
  }
  return out;
}
