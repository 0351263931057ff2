/**
 * FER2013 loaders for both forms users have:
 *  - the image-folder layout: `train/<class>/*.jpg` and `test/<class>/*.jpg`, where test/ may hold both
 *    `PublicTest_*` and `PrivateTest_*` files (split by file-name prefix);
 *  - Kaggle's original `fer2013.csv` (`emotion,pixels,Usage`, 48x48 grey pixels as space-separated integers).
 * Both return the same in-memory form: one Uint8Array of 48x48 grey pixels per split plus labels in FER2013 order.
 * A corrupt or wrong-sized image, or a malformed CSV row, is reported (path or line + reason) and skipped, never
 * silently; `strict: true` turns the first such problem into an error.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import jpeg from 'jpeg-js';
import { JPEG_EXT, listClassFolders, EMOTIONS, type Emotion } from '../model/index.js';

export const FER_SIZE = 48;
const PIXELS = FER_SIZE * FER_SIZE;

/** train = FER2013 "Training"; PublicTest / PrivateTest = the official test splits; test = all of the test folder. */
export type FerSplit = 'train' | 'PublicTest' | 'PrivateTest' | 'test';

export interface FerDataset {
  /** 'validation' = the part of Training held out by the validation split (split.ts). */
  split: FerSplit | 'validation';
  /** n * 48 * 48 grey pixels, row-major, one image after another. */
  images: Uint8Array;
  /** Class index (FER2013 order, see EMOTIONS) per image. */
  labels: Uint8Array;
  /** Where each image came from (file path, or `file.csv:line`). */
  sources: string[];
  /** Problems found and skipped, each `where: reason`. */
  skipped: string[];
}

export interface LoadOptions {
  /** Throw on the first corrupt/wrong-sized image or malformed row instead of skipping it. */
  strict?: boolean;
  /** Load at most this many images per class (small slices for tests and quick checks). */
  limitPerClass?: number;
  /** Parallel file reads (folder layout). */
  concurrency?: number;
}

export class DatasetError extends Error {}

/** Counts per class, in EMOTIONS order. */
export function classCounts(labels: Uint8Array): number[] {
  const c = new Array<number>(EMOTIONS.length).fill(0);
  for (const l of labels) c[l] = (c[l] ?? 0) + 1;
  return c;
}

/** Decodes one JPEG to 48x48 grey, or throws an Error naming the problem (not the path: the caller adds it). */
export function decodeGrey48(buf: Uint8Array): Uint8Array {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: 64 });
  } catch (err) {
    throw new Error(`not a readable JPEG (${(err as Error).message})`);
  }
  if (img.width !== FER_SIZE || img.height !== FER_SIZE) {
    throw new Error(`wrong size ${img.width}x${img.height}, expected ${FER_SIZE}x${FER_SIZE}`);
  }
  const out = new Uint8Array(PIXELS);
  const d = img.data;
  for (let i = 0; i < PIXELS; i++) {
    const r = d[3 * i]!;
    const g = d[3 * i + 1]!;
    const b = d[3 * i + 2]!;
    out[i] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return out;
}

function prefixFor(split: FerSplit): string | null {
  if (split === 'PublicTest') return 'PublicTest_';
  if (split === 'PrivateTest') return 'PrivateTest_';
  return null;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Reads one split of the image-folder layout. */
export async function loadFer2013Folder(root: string, split: FerSplit, opts: LoadOptions = {}): Promise<FerDataset> {
  const sub = split === 'train' ? 'train' : 'test';
  const dir = path.join(root, sub);
  if (!(await isDir(dir))) {
    throw new DatasetError(
      `FER2013 folder ${dir} not found: expected ${root}/train/<class>/*.jpg and ${root}/test/<class>/*.jpg ` +
        `(or pass Kaggle's fer2013.csv instead)`,
    );
  }
  const prefix = prefixFor(split);
  const found = listClassFolders(dir, { extensions: JPEG_EXT, ...(prefix ? { prefix } : {}) });
  const missing = found.missing;
  const otherPrefixCount = found.otherPrefix;
  const files: { file: string; label: number }[] = [];
  for (const c of found.classes) {
    const label = EMOTIONS.indexOf(c.label);
    const names = opts.limitPerClass !== undefined ? c.files.slice(0, opts.limitPerClass) : c.files;
    for (const file of names) files.push({ file, label });
  }
  if (missing.length === EMOTIONS.length) {
    throw new DatasetError(`${dir} has none of the class folders ${EMOTIONS.join(', ')}`);
  }
  if (files.length === 0) {
    const hint = prefix ? ` (no file name starts with ${prefix}; ${otherPrefixCount} other files; use split "test" for all)` : '';
    throw new DatasetError(`no ${split} images under ${dir}${hint}`);
  }
  const skipped: string[] = missing.map((m) => `${path.join(dir, m)}: class folder missing (0 images of ${m})`);
  const images = new Uint8Array(files.length * PIXELS);
  const labels = new Uint8Array(files.length);
  const ok = new Uint8Array(files.length);
  const concurrency = opts.concurrency ?? 64;
  let next = 0;
  let firstError: DatasetError | null = null;
  const worker = async () => {
    while (next < files.length && !firstError) {
      const i = next++;
      const { file, label } = files[i]!;
      try {
        const px = decodeGrey48(await readFile(file));
        images.set(px, i * PIXELS);
        labels[i] = label;
        ok[i] = 1;
      } catch (err) {
        const msg = `${file}: ${(err as NodeJS.ErrnoException).code ? (err as Error).message : (err as Error).message}`;
        if (opts.strict) firstError ??= new DatasetError(msg);
        skipped.push(msg);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  if (firstError) throw firstError;
  return compact(split, images, labels, ok, files.map((f) => f.file), skipped);
}

function compact(split: FerSplit, images: Uint8Array, labels: Uint8Array, ok: Uint8Array, sources: string[], skipped: string[]): FerDataset {
  const n = ok.reduce((a, b) => a + b, 0);
  if (n === ok.length) return { split, images, labels, sources, skipped };
  const im = new Uint8Array(n * PIXELS);
  const lb = new Uint8Array(n);
  const src: string[] = [];
  let j = 0;
  for (let i = 0; i < ok.length; i++) {
    if (!ok[i]) continue;
    im.set(images.subarray(i * PIXELS, (i + 1) * PIXELS), j * PIXELS);
    lb[j] = labels[i]!;
    src.push(sources[i]!);
    j++;
  }
  return { split, images: im, labels: lb, sources: src, skipped };
}

const USAGE: Record<Exclude<FerSplit, 'test'>, string> = { train: 'Training', PublicTest: 'PublicTest', PrivateTest: 'PrivateTest' };

/**
 * Parses one data row of fer2013.csv. Returns the label and pixels, or throws an Error naming what is wrong
 * (the caller adds file and line).
 */
export function parseFer2013CsvRow(line: string): { label: number; usage: string; pixels: Uint8Array } {
  const parts = line.split(',');
  if (parts.length !== 3) throw new Error(`expected 3 fields (emotion,pixels,Usage), found ${parts.length}`);
  const [e, p, u] = parts as [string, string, string];
  const label = Number(e.trim());
  if (!Number.isInteger(label) || label < 0 || label >= EMOTIONS.length) {
    throw new Error(`emotion "${e.trim()}" is not an integer 0..${EMOTIONS.length - 1}`);
  }
  const tokens = p.trim().split(/\s+/);
  if (tokens.length !== PIXELS) throw new Error(`expected ${PIXELS} pixels (48x48), found ${tokens.length}`);
  const pixels = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    const v = Number(tokens[i]);
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new Error(`pixel ${i} is "${tokens[i]}", expected an integer 0..255`);
    pixels[i] = v;
  }
  return { label, usage: u.trim(), pixels };
}

/** Reads one split from Kaggle's fer2013.csv (streamed line by line; the file is ~290 MB). */
export async function loadFer2013Csv(file: string, split: FerSplit, opts: LoadOptions = {}): Promise<FerDataset> {
  try {
    await stat(file);
  } catch (err) {
    throw new DatasetError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const wanted = split === 'test' ? new Set(['PublicTest', 'PrivateTest']) : new Set([USAGE[split]]);
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  const sources: string[] = [];
  const skipped: string[] = [];
  const perClass = new Array<number>(EMOTIONS.length).fill(0);
  let lineNo = 0;
  let header: string[] | null = null;
  for await (const raw of rl) {
    lineNo++;
    const line = raw.trim();
    if (line === '') continue;
    if (!header) {
      header = line.split(',').map((h) => h.trim().toLowerCase());
      if (header.join(',') !== 'emotion,pixels,usage') {
        rl.close();
        throw new DatasetError(`${file}:1: header is "${line}", expected "emotion,pixels,Usage" (Kaggle's fer2013.csv)`);
      }
      continue;
    }
    let row: ReturnType<typeof parseFer2013CsvRow>;
    try {
      row = parseFer2013CsvRow(line);
    } catch (err) {
      const msg = `${file}:${lineNo}: ${(err as Error).message}`;
      if (opts.strict) {
        rl.close();
        throw new DatasetError(msg);
      }
      skipped.push(msg);
      continue;
    }
    if (!wanted.has(row.usage)) {
      if (!['Training', 'PublicTest', 'PrivateTest'].includes(row.usage)) {
        const msg = `${file}:${lineNo}: Usage "${row.usage}" is not Training, PublicTest or PrivateTest`;
        if (opts.strict) {
          rl.close();
          throw new DatasetError(msg);
        }
        skipped.push(msg);
      }
      continue;
    }
    if (opts.limitPerClass !== undefined && perClass[row.label]! >= opts.limitPerClass) continue;
    perClass[row.label]!++;
    chunks.push(row.pixels);
    labels.push(row.label);
    sources.push(`${file}:${lineNo}`);
  }
  if (!header) throw new DatasetError(`${file} is empty (expected Kaggle's fer2013.csv)`);
  if (chunks.length === 0) throw new DatasetError(`${file} has no ${split} rows`);
  const images = new Uint8Array(chunks.length * PIXELS);
  chunks.forEach((c, i) => images.set(c, i * PIXELS));
  return { split, images, labels: Uint8Array.from(labels), sources, skipped };
}

/** Loads a split from either form: a directory (image folders) or a .csv file. */
export async function loadFer2013(dataPath: string, split: FerSplit, opts: LoadOptions = {}): Promise<FerDataset> {
  let st;
  try {
    st = await stat(dataPath);
  } catch (err) {
    throw new DatasetError(`FER2013 data not found at ${dataPath} (${(err as NodeJS.ErrnoException).code}): pass the folder holding train/ and test/, or fer2013.csv`);
  }
  return st.isDirectory() ? loadFer2013Folder(dataPath, split, opts) : loadFer2013Csv(dataPath, split, opts);
}

/** Picks the validation split the data offers: PublicTest when present, otherwise the whole test folder. */
export async function loadValidation(dataPath: string, opts: LoadOptions = {}): Promise<FerDataset> {
  try {
    return await loadFer2013(dataPath, 'PublicTest', opts);
  } catch (err) {
    if (err instanceof DatasetError && /no PublicTest images/.test(err.message)) return loadFer2013(dataPath, 'test', opts);
    throw err;
  }
}
